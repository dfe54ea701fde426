// Appends, reads and following, against a real redis-server.
#include <map>

#include "redis/store_fixture.h"

namespace weft::testing {
namespace {

using redis::BadEntry;
using redis::DocImage;
using redis::Entry;
using redis::StreamId;

class DocStoreTest : public StoreFixture {};

TEST_F(DocStoreTest, AppendConfirmsWithIncreasingIdsAndReadReturnsTheExactBytes) {
  redis::DocStore* s = ConnectedStore();
  std::string binary("\x00\x01\xff\r\n*3\r\n", 9);  // RESP-looking, NUL inside
  std::vector<std::string> updates = {"first", binary, std::string(16384, 'x')};
  StreamId prev;
  for (const std::string& u : updates) {
    Result<StreamId> id = AppendNow(s, "notes", u);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    EXPECT_GT(*id, prev);
    prev = *id;
  }
  Result<DocImage> image = ReadNow(s, "notes");
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_FALSE(image->snapshot_covers.has_value());
  EXPECT_EQ(Updates(*image), updates);
  EXPECT_EQ(image->tail[0].node, s->options().node_id);
  EXPECT_EQ(image->last, prev);
  EXPECT_EQ(s->stats().appends_confirmed, 3u);
}

TEST_F(DocStoreTest, PipelinedAppendsConfirmInOrder) {
  redis::DocStore* s = ConnectedStore();
  std::vector<StreamId> ids;
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(s->Append("doc", AsBytes("op" + std::to_string(i)), [&](Result<StreamId> r) {
                   ASSERT_TRUE(r.ok());
                   ids.push_back(*r);
                 }).ok());
  }
  ASSERT_TRUE(RunUntil([&] { return ids.size() == 500; }));
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  Result<DocImage> image = ReadNow(s, "doc");
  ASSERT_TRUE(image.ok());
  ASSERT_EQ(image->tail.size(), 500u);
  EXPECT_EQ(image->tail[499].update, "op499");
}

TEST_F(DocStoreTest, ReadOfANewDocumentIsEmptyAndReadPagesThroughLongTails) {
  redis::StoreOptions o = Options();
  o.page_entries = 3;
  redis::DocStore* s = ConnectedStore(o);
  Result<DocImage> empty = ReadNow(s, "never-written");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->tail.empty());
  EXPECT_TRUE(empty->last.is_zero());
  std::vector<std::string> want;
  for (int i = 0; i < 10; ++i) {
    want.push_back("u" + std::to_string(i));
    ASSERT_TRUE(AppendNow(s, "long", want.back()).ok());
  }
  Result<DocImage> image = ReadNow(s, "long");
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(Updates(*image), want);
}

TEST_F(DocStoreTest, DocumentsAreKeptApartUnderTheirHashTags) {
  redis::DocStore* s = ConnectedStore();
  ASSERT_TRUE(AppendNow(s, "a", "for a").ok());
  ASSERT_TRUE(AppendNow(s, "a}b", "for a}b").ok());
  EXPECT_EQ(Updates(*ReadNow(s, "a")), std::vector<std::string>{"for a"});
  EXPECT_EQ(Updates(*ReadNow(s, "a}b")), std::vector<std::string>{"for a}b"});
  RedisServer::Reply keys = server_->Command({"KEYS", "*"});
  ASSERT_TRUE(keys);
  EXPECT_EQ(keys->elements, 2u);
  EXPECT_TRUE(server_->Command({"EXISTS", "weft:{a}:ops"})->integer == 1);
}

TEST_F(DocStoreTest, RefusesBadNamesAndOversizedUpdatesWithoutACallback) {
  redis::StoreOptions o = Options();
  o.max_entry_bytes = 100;
  redis::DocStore* s = ConnectedStore(o);
  bool called = false;
  auto cb = [&](Result<StreamId>) { called = true; };
  EXPECT_EQ(s->Append("", AsBytes("x"), cb).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s->Append("}x", AsBytes("x"), cb).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s->Append("d", AsBytes(std::string(101, 'x')), cb).code(),
            StatusCode::kInvalidArgument);
  EXPECT_FALSE(called);
}

TEST_F(DocStoreTest, AFollowerSeesAnotherStoresAppendsInOrder) {
  std::map<std::string, std::vector<std::string>> seen;
  redis::StoreOptions fo = Options();
  // A long block: a document followed while XREAD blocks must join at once
  // (CLIENT UNBLOCK), not when the block times out.
  fo.block = std::chrono::milliseconds(120000);
  fo.command_timeout = std::chrono::milliseconds(5000);
  fo.follow.entries = [&](std::string_view doc, std::span<const Entry> entries) {
    for (const Entry& e : entries) seen[std::string(doc)].push_back(AsString(e.update));
  };
  redis::DocStore* follower = ConnectedStore(fo);
  redis::DocStore* writer = ConnectedStore();
  ASSERT_TRUE(AppendNow(writer, "one", "before").ok());
  ASSERT_TRUE(follower->Follow("one", StreamId{}).ok());
  ASSERT_TRUE(RunUntil([&] { return seen["one"].size() == 1; }));
  // Now blocked in XREAD on "one"; "two" joins through CLIENT UNBLOCK.
  ASSERT_TRUE(follower->Follow("two", StreamId{}).ok());
  for (int i = 0; i < 50; ++i) {
    (void)writer->Append("one", AsBytes("one" + std::to_string(i)), nullptr);
    (void)writer->Append("two", AsBytes("two" + std::to_string(i)), nullptr);
  }
  ASSERT_TRUE(
      RunUntil([&] { return seen["one"].size() == 51 && seen["two"].size() == 50; }, Seconds(20)));
  EXPECT_EQ(seen["one"][0], "before");
  EXPECT_EQ(seen["one"][50], "one49");
  EXPECT_EQ(seen["two"][49], "two49");
  // Unfollowed: nothing more arrives for it.
  follower->Unfollow("two");
  EXPECT_FALSE(follower->following("two"));
  ASSERT_TRUE(AppendNow(writer, "two", "late").ok());
  ASSERT_TRUE(AppendNow(writer, "one", "marker").ok());
  ASSERT_TRUE(RunUntil([&] { return seen["one"].size() == 52; }));
  EXPECT_EQ(seen["two"].size(), 50u);
}

TEST_F(DocStoreTest, FollowFromAPositionSkipsWhatCameBefore) {
  std::vector<std::string> seen;
  redis::StoreOptions fo = Options();
  fo.follow.entries = [&](std::string_view, std::span<const Entry> entries) {
    for (const Entry& e : entries) seen.push_back(AsString(e.update));
  };
  redis::DocStore* follower = ConnectedStore(fo);
  redis::DocStore* writer = ConnectedStore();
  ASSERT_TRUE(AppendNow(writer, "d", "a").ok());
  Result<StreamId> b = AppendNow(writer, "d", "b");
  ASSERT_TRUE(AppendNow(writer, "d", "c").ok());
  ASSERT_TRUE(follower->Follow("d", *b).ok());
  ASSERT_TRUE(RunUntil([&] { return !seen.empty(); }));
  EXPECT_EQ(seen, std::vector<std::string>{"c"});
}

TEST_F(DocStoreTest, APausedFollowerHoldsBackAndResumesWhereItStopped) {
  std::vector<std::string> seen;
  redis::StoreOptions fo = Options();
  fo.page_entries = 5;
  fo.follow.entries = [&](std::string_view, std::span<const Entry> entries) {
    for (const Entry& e : entries) seen.push_back(AsString(e.update));
  };
  redis::DocStore* follower = ConnectedStore(fo);
  redis::DocStore* writer = ConnectedStore();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(AppendNow(writer, "d", "e" + std::to_string(i)).ok());
  follower->PauseFollowing();
  ASSERT_TRUE(follower->Follow("d", StreamId{}).ok());
  // Nothing is read while paused: a read that came back would have
  // delivered; a marker append on a followed-by-nobody doc proves the loop
  // turned.
  ASSERT_TRUE(AppendNow(writer, "other", "turn").ok());
  EXPECT_TRUE(seen.empty());
  follower->ResumeFollowing();
  ASSERT_TRUE(RunUntil([&] { return seen.size() == 20; }));
  EXPECT_EQ(seen.front(), "e0");
  EXPECT_EQ(seen.back(), "e19");
}

// Entries this store could not have written: reported, skipped, and the
// ones around them delivered.
class BadEntryTest : public StoreFixture {
 protected:
  void AddForeign(const std::string& doc, std::vector<std::string> fields) {
    std::vector<std::string> argv = {"XADD", "weft:{" + doc + "}:ops", "*"};
    argv.insert(argv.end(), fields.begin(), fields.end());
    RedisServer::Reply r = server_->Command(argv);
    ASSERT_TRUE(r && r->type == REDIS_REPLY_STRING);
  }
};

TEST_F(BadEntryTest, ReadAndFollowSkipForeignTruncatedAndOversizedEntries) {
  std::vector<BadEntry> bad;
  std::vector<std::string> followed;
  redis::StoreOptions o = Options();
  o.max_entry_bytes = 1024;
  o.page_entries = 4;
  o.max_snapshot_bytes = 4096;
  o.max_reply_bytes = 64 << 10;
  o.max_reply_elements = 4 * 16 + 64;
  o.bad_entry = [&](const BadEntry& b) { bad.push_back(b); };
  o.follow.entries = [&](std::string_view, std::span<const Entry> entries) {
    for (const Entry& e : entries) followed.push_back(AsString(e.update));
  };
  redis::DocStore* s = ConnectedStore(o);
  ASSERT_TRUE(s->Follow("d", StreamId{}).ok());
  ASSERT_TRUE(AppendNow(s, "d", "good1").ok());
  ASSERT_TRUE(RunUntil([&] { return followed.size() == 1; }));
  AddForeign("d", {"foo", "bar"});                                           // foreign
  AddForeign("d", {"u", "good", "n", "0000000000000009", "c", "00000000"});  // truncated
  AddForeign("d", {"u", std::string(2048, 'x'), "n", "0000000000000009", "c", "00000000"});
  AddForeign("d", {"u", "x", "n", "nothex", "c", "zz"});  // malformed
  // Over the whole reply cap: refused while it is being read, then passed
  // over by a bounded page read.
  AddForeign("d", {"u", std::string(1 << 20, 'y')});
  // Over the reply's element cap, in few bytes: likewise.
  std::vector<std::string> many;
  for (int i = 0; i < 200; ++i) {
    many.push_back("f" + std::to_string(i));
    many.push_back("v");
  }
  AddForeign("d", many);
  ASSERT_TRUE(AppendNow(s, "d", "good2").ok());
  ASSERT_TRUE(RunUntil([&] { return followed.size() == 2; }));
  EXPECT_EQ(followed, (std::vector<std::string>{"good1", "good2"}));
  EXPECT_EQ(bad.size(), 6u);
  ASSERT_TRUE(RunUntil([&] { return s->health().ok(); }));

  bad.clear();
  Result<DocImage> image = ReadNow(s, "d");
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(Updates(*image), (std::vector<std::string>{"good1", "good2"}));
  EXPECT_EQ(image->skipped, 6u);
  ASSERT_EQ(bad.size(), 6u);
  EXPECT_NE(bad[0].reason.find("not a weft entry"), std::string::npos);
  EXPECT_NE(bad[1].reason.find("checksum"), std::string::npos);
  EXPECT_NE(bad[2].reason.find("over the cap"), std::string::npos);
  EXPECT_NE(bad[4].reason.find("over the cap"), std::string::npos);
  EXPECT_NE(bad[5].reason.find("fields"), std::string::npos);
}

TEST_F(BadEntryTest, KeysOfTheWrongTypeAreRefusedAndOtherDocumentsGoOn) {
  std::vector<std::string> refused;
  std::vector<std::string> followed;
  redis::StoreOptions o = Options();
  o.follow.refused = [&](std::string_view doc, const Status&) { refused.emplace_back(doc); };
  o.follow.entries = [&](std::string_view, std::span<const Entry> entries) {
    for (const Entry& e : entries) followed.push_back(AsString(e.update));
  };
  redis::DocStore* s = ConnectedStore(o);
  ASSERT_TRUE(server_->Command({"SET", "weft:{bad}:ops", "a string"}));
  Result<StreamId> append = AppendNow(s, "bad", "x");
  EXPECT_EQ(append.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadNow(s, "bad").status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(s->Follow("good", StreamId{}).ok());
  ASSERT_TRUE(s->Follow("bad", StreamId{}).ok());
  ASSERT_TRUE(RunUntil([&] { return refused.size() == 1; }));
  EXPECT_EQ(refused[0], "bad");
  ASSERT_TRUE(AppendNow(s, "good", "fine").ok());
  ASSERT_TRUE(RunUntil([&] { return followed.size() == 1; }));
}

TEST_F(BadEntryTest, ADamagedSnapshotRefusesTheDocument) {
  redis::DocStore* s = ConnectedStore();
  ASSERT_TRUE(AppendNow(s, "d", "x").ok());
  for (std::vector<std::string> snap : std::vector<std::vector<std::string>>{
           {"v", "1", "id", "1-0", "s", "abc", "c", "00000000"},  // checksum
           {"v", "2", "id", "1-0", "s", "abc", "c", "00000000"},  // version
           {"v", "1", "id", "junk", "s", "", "c", "00000000"},    // id
           {"s", "abc"},                                          // no id
       }) {
    SCOPED_TRACE(snap[1]);
    ASSERT_TRUE(server_->Command({"DEL", "weft:{d}:snap"}));
    std::vector<std::string> argv = {"HSET", "weft:{d}:snap"};
    argv.insert(argv.end(), snap.begin(), snap.end());
    ASSERT_TRUE(server_->Command(argv));
    Result<DocImage> image = ReadNow(s, "d");
    EXPECT_FALSE(image.ok());
  }
}

}  // namespace
}  // namespace weft::testing
