// Snapshots, trimming and the compaction lease, with stores racing.
#include <algorithm>
#include <map>
#include <random>

#include "redis/store_fixture.h"

namespace weft::testing {
namespace {

using redis::CompactResult;
using redis::DocImage;
using redis::StreamId;

class CompactionTest : public StoreFixture {
 protected:
  // Appends n updates "u0".."u<n-1>" and returns their ids.
  std::vector<StreamId> Fill(redis::DocStore* s, std::string_view doc, int n) {
    std::vector<StreamId> ids;
    for (int i = 0; i < n; ++i) {
      Result<StreamId> id = AppendNow(s, doc, "u" + std::to_string(i));
      EXPECT_TRUE(id.ok());
      if (id.ok()) ids.push_back(*id);
    }
    return ids;
  }
  uint64_t StreamLength(std::string_view doc) {
    return static_cast<uint64_t>(
        server_->Command({"XLEN", "weft:{" + std::string(doc) + "}:ops"})->integer);
  }
};

TEST_F(CompactionTest, OnlyTheLeaseHolderCompactsAndTrimsNoFurtherThanItsSnapshot) {
  redis::DocStore* a = ConnectedStore();
  redis::DocStore* b = ConnectedStore();
  std::vector<StreamId> ids = Fill(a, "d", 10);
  EXPECT_TRUE(*LeaseNow(a, "d"));
  EXPECT_FALSE(*LeaseNow(b, "d"));
  EXPECT_TRUE(*LeaseNow(a, "d"));  // held already: renewed

  Result<CompactResult> refused = CompactNow(b, "d", ids[4], "snapshot of u0..u4");
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(StreamLength("d"), 10u);

  Result<CompactResult> done = CompactNow(a, "d", ids[4], "snapshot of u0..u4");
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_TRUE(done->stored);
  EXPECT_EQ(done->trimmed, 5u);
  Result<DocImage> image = ReadNow(b, "d");
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(image->snapshot_covers, ids[4]);
  EXPECT_EQ(image->snapshot, "snapshot of u0..u4");
  EXPECT_EQ(Updates(*image), (std::vector<std::string>{"u5", "u6", "u7", "u8", "u9"}));

  // Older than what is stored: kept as it is, nothing trimmed.
  Result<CompactResult> stale = CompactNow(a, "d", ids[2], "older");
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(stale->stored);
  EXPECT_EQ(ReadNow(b, "d")->snapshot, "snapshot of u0..u4");
  // Past the stream's last entry: refused.
  EXPECT_EQ(CompactNow(a, "d", ids[9].Next(), "future").status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(StreamLength("d"), 5u);

  // Released: the other store may take it.
  EXPECT_TRUE(*LeaseNow(a, "d", /*acquire=*/false));
  EXPECT_FALSE(*LeaseNow(a, "d", /*acquire=*/false));  // no longer held
  EXPECT_TRUE(*LeaseNow(b, "d"));
  EXPECT_FALSE(*LeaseNow(a, "d", /*acquire=*/false));  // b's lease stays
  EXPECT_TRUE(CompactNow(b, "d", ids[9], "all").ok());
  EXPECT_EQ(StreamLength("d"), 0u);
  EXPECT_TRUE(ReadNow(a, "d")->tail.empty());
}

TEST_F(CompactionTest, AnExpiredLeaseStopsItsFormerHolder) {
  redis::StoreOptions o = Options();
  o.lease_ttl = std::chrono::milliseconds(150);
  redis::DocStore* a = ConnectedStore(o);
  redis::DocStore* b = ConnectedStore(o);
  std::vector<StreamId> ids = Fill(a, "d", 3);
  ASSERT_TRUE(*LeaseNow(a, "d"));
  // b keeps asking until the lease runs out.
  bool b_holds = false;
  std::function<void()> ask = [&] {
    (void)b->AcquireLease("d", [&](Result<bool> r) {
      if (r.ok() && *r) {
        b_holds = true;
      } else {
        ask();
      }
    });
  };
  ask();
  ASSERT_TRUE(RunUntil([&] { return b_holds; }));
  EXPECT_EQ(CompactNow(a, "d", ids[1], "late").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(ReadNow(a, "d")->snapshot_covers.has_value());
}

TEST_F(CompactionTest, RacingStoresCompactOneAtATime) {
  // Four stores race for the lease of each of 20 documents at once: every
  // document gets exactly one holder, and only the holders' compactions
  // land.
  std::vector<redis::DocStore*> stores;
  for (int i = 0; i < 4; ++i) stores.push_back(ConnectedStore());
  std::map<std::string, StreamId> last;
  for (int d = 0; d < 20; ++d) {
    std::string doc = "doc" + std::to_string(d);
    last[doc] = Fill(stores[0], doc, 3).back();
  }
  std::map<std::string, std::vector<int>> holders;
  int answers = 0;
  for (auto& [doc, id] : last) {
    for (int i = 0; i < 4; ++i) {
      ASSERT_TRUE(stores[i]
                      ->AcquireLease(doc,
                                     [&, doc, i](Result<bool> r) {
                                       ++answers;
                                       if (r.ok() && *r) holders[doc].push_back(i);
                                     })
                      .ok());
    }
  }
  ASSERT_TRUE(RunUntil([&] { return answers == 80; }));
  int compacted = 0, refused = 0, answered = 0;
  for (auto& [doc, id] : last) {
    ASSERT_EQ(holders[doc].size(), 1u) << doc;
    for (int i = 0; i < 4; ++i) {
      std::string snap = "by " + std::to_string(i);
      ASSERT_TRUE(stores[i]
                      ->Compact(doc, id, AsBytes(snap),
                                [&](Result<CompactResult> r) {
                                  ++answered;
                                  if (r.ok() && r->stored) ++compacted;
                                  if (!r.ok()) ++refused;
                                })
                      .ok());
    }
  }
  ASSERT_TRUE(RunUntil([&] { return answered == 80; }));
  EXPECT_EQ(compacted, 20);
  EXPECT_EQ(refused, 60);
  for (auto& [doc, id] : last) {
    EXPECT_EQ(ReadNow(stores[1], doc)->snapshot, "by " + std::to_string(holders[doc][0]));
  }
}

TEST_F(CompactionTest, AReadPagingWhileAnotherStoreCompactsSeesEveryEntry) {
  // The reader pages two entries at a time while the compactor trims under
  // it: each image must still be a snapshot plus every entry after it.
  redis::StoreOptions ro = Options();
  ro.page_entries = 2;
  redis::DocStore* reader = ConnectedStore(ro);
  redis::DocStore* compactor = ConnectedStore();
  ASSERT_TRUE(*LeaseNow(compactor, "d"));
  std::vector<StreamId> ids;
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    SCOPED_TRACE(round);
    for (StreamId id : Fill(compactor, "d", 12)) ids.push_back(id);
    size_t cut = ids.size() - 1 - rng() % 10;
    std::optional<Result<DocImage>> image;
    std::optional<Result<CompactResult>> compacted;
    ASSERT_TRUE(reader->Read("d", [&](Result<DocImage> r) { image = std::move(r); }).ok());
    std::string snap = "covers " + ids[cut].ToString();
    ASSERT_TRUE(
        compactor
            ->Compact("d", ids[cut], AsBytes(snap), [&](Result<CompactResult> r) { compacted = r; })
            .ok());
    ASSERT_TRUE(RunUntil([&] { return image.has_value() && compacted.has_value(); }));
    ASSERT_TRUE(image->ok()) << image->status().ToString();
    const DocImage& im = **image;
    size_t first = 0;  // index in ids of the first entry the tail must hold
    if (im.snapshot_covers) {
      EXPECT_EQ(im.snapshot, "covers " + im.snapshot_covers->ToString());
      first = static_cast<size_t>(std::find(ids.begin(), ids.end(), *im.snapshot_covers) -
                                  ids.begin()) +
              1;
    }
    ASSERT_EQ(im.tail.size(), ids.size() - first);
    for (size_t i = 0; i < im.tail.size(); ++i) EXPECT_EQ(im.tail[i].id, ids[first + i]);
  }
}

TEST_F(CompactionTest, YoungEntriesOutliveTheTrim) {
  // With trim_min_age, entries younger than it stay even if a snapshot
  // covers them: a follower slightly behind never loses one under it.
  redis::StoreOptions o = Options();
  o.trim_min_age = std::chrono::milliseconds(3600 * 1000);
  redis::DocStore* s = ConnectedStore(o);
  std::vector<StreamId> ids = Fill(s, "d", 5);
  ASSERT_TRUE(*LeaseNow(s, "d"));
  Result<CompactResult> r = CompactNow(s, "d", ids[3], "snap");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->stored);
  EXPECT_EQ(r->trimmed, 0u);
  Result<DocImage> image = ReadNow(s, "d");
  EXPECT_EQ(Updates(*image), std::vector<std::string>{"u4"});
}

TEST_F(CompactionTest, AFollowerBehindATrimIsToldOfTheGap) {
  std::vector<std::pair<std::string, StreamId>> gaps;
  redis::StoreOptions fo = Options();
  fo.follow.gap = [&](std::string_view doc, StreamId covers) {
    gaps.emplace_back(std::string(doc), covers);
  };
  redis::DocStore* follower = ConnectedStore(fo);
  redis::DocStore* s = ConnectedStore();
  std::vector<StreamId> ids = Fill(s, "d", 5);
  ASSERT_TRUE(*LeaseNow(s, "d"));
  ASSERT_TRUE(CompactNow(s, "d", ids[3], "snap").ok());
  // Following from before the snapshot: entries u1..u3 are gone.
  ASSERT_TRUE(follower->Follow("d", ids[0]).ok());
  ASSERT_TRUE(RunUntil([&] { return !gaps.empty(); }));
  EXPECT_EQ(gaps[0].first, "d");
  EXPECT_EQ(gaps[0].second, ids[3]);
  EXPECT_FALSE(follower->following("d"));
}

// XREAD returns what a trim left, so a follower that a trim passed between
// two reads would go on without the entries it took; the check after the
// read reports the gap instead.
TEST_F(CompactionTest, AFollowerThatATrimPassesBetweenReadsIsToldOfTheGap) {
  std::vector<std::string> seen;
  std::vector<std::pair<std::string, StreamId>> gaps;
  redis::StoreOptions fo = Options();
  fo.gap_check = std::chrono::milliseconds(0);  // each read checked before the next
  fo.follow.entries = [&](std::string_view, std::span<const redis::Entry> entries) {
    for (const redis::Entry& e : entries) seen.push_back(AsString(e.update));
  };
  fo.follow.gap = [&](std::string_view doc, StreamId covers) {
    gaps.emplace_back(std::string(doc), covers);
  };
  redis::DocStore* follower = ConnectedStore(fo);
  redis::DocStore* s = ConnectedStore();
  ASSERT_TRUE(follower->Follow("d", StreamId{}).ok());
  std::vector<StreamId> ids = {*AppendNow(s, "d", "u0")};
  ASSERT_TRUE(RunUntil([&] { return seen.size() == 1; }));
  // A read is in flight now; it brings u1 and no other read follows.
  follower->PauseFollowing();
  ids.push_back(*AppendNow(s, "d", "u1"));
  ASSERT_TRUE(RunUntil([&] { return seen.size() == 2; }));
  // u2 and u3 arrive, and a snapshot covering u2 trims u0..u2 while the
  // follower still stands at u1.
  ids.push_back(*AppendNow(s, "d", "u2"));
  ids.push_back(*AppendNow(s, "d", "u3"));
  ASSERT_TRUE(*LeaseNow(s, "d"));
  Result<CompactResult> r = CompactNow(s, "d", ids[2], "snap");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->trimmed, 3u);
  follower->ResumeFollowing();
  ASSERT_TRUE(RunUntil([&] { return !gaps.empty(); }));
  EXPECT_EQ(gaps[0].first, "d");
  EXPECT_EQ(gaps[0].second, ids[2]);
  EXPECT_FALSE(follower->following("d"));
  EXPECT_EQ(seen, (std::vector<std::string>{"u0", "u1"}));
}

// A check not yet answered when the link drops is made after the
// reconnect: the probes that follow a reconnect compare the snapshot with
// the position the read moved to, and cannot see a hole before it.
TEST_F(CompactionTest, ACheckCutOffByALostLinkIsMadeAfterTheReconnect) {
  std::vector<std::string> seen;
  std::vector<std::pair<std::string, StreamId>> gaps;
  redis::DocStore* follower = nullptr;
  redis::StoreOptions fo = Options();
  fo.gap_check = std::chrono::milliseconds(0);
  fo.follow.entries = [&](std::string_view, std::span<const redis::Entry> entries) {
    for (const redis::Entry& e : entries) seen.push_back(AsString(e.update));
    // Held before the read's check goes out.
    if (seen.back() == "u3") follower->PauseFollowing();
  };
  fo.follow.gap = [&](std::string_view doc, StreamId covers) {
    gaps.emplace_back(std::string(doc), covers);
  };
  follower = ConnectedStore(fo);
  redis::DocStore* s = ConnectedStore();
  ASSERT_TRUE(follower->Follow("d", StreamId{}).ok());
  ASSERT_TRUE(AppendNow(s, "d", "u0").ok());
  ASSERT_TRUE(RunUntil([&] { return seen.size() == 1; }));
  // Out of its blocking read (following another document unblocks it) and
  // held there: u1..u3 arrive and u0..u2 are trimmed while it reads none.
  auto blocked = [&] {
    RedisServer::Reply r = server_->Command({"CLIENT", "LIST"});
    return r && r->type == REDIS_REPLY_STRING &&
           std::string_view(r->str, r->len).find(" flags=b ") != std::string_view::npos;
  };
  ASSERT_TRUE(RunUntil(blocked));
  follower->PauseFollowing();
  ASSERT_TRUE(follower->Follow("other", StreamId{}).ok());
  ASSERT_TRUE(RunUntil([&] { return !blocked(); }));
  std::vector<StreamId> ids = {*AppendNow(s, "d", "u1"), *AppendNow(s, "d", "u2"),
                               *AppendNow(s, "d", "u3")};
  ASSERT_TRUE(*LeaseNow(s, "d"));
  ASSERT_TRUE(CompactNow(s, "d", ids[1], "snap").ok());
  // The read brings u3 alone, past the hole; the handler holds its check.
  follower->ResumeFollowing();
  ASSERT_TRUE(RunUntil([&] { return seen.size() == 2; }));
  EXPECT_EQ(seen.back(), "u3");
  uint64_t reconnects = follower->stats().reconnects;
  server_->Command({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"});
  ASSERT_TRUE(RunUntil([&] { return follower->stats().reconnects > reconnects; }));
  follower->ResumeFollowing();
  ASSERT_TRUE(RunUntil([&] { return !gaps.empty(); }));
  EXPECT_EQ(gaps[0].first, "d");
  EXPECT_EQ(gaps[0].second, ids[1]);
}

// The check errs only when a trim passed where a read started: a follower
// that keeps up with a document compacted behind it is never told of a gap.
TEST_F(CompactionTest, AFollowerThatKeepsUpIsNotToldOfAGap) {
  std::vector<std::string> seen;
  redis::StoreOptions fo = Options();
  fo.gap_check = std::chrono::milliseconds(0);  // each read checked before the next
  fo.follow.entries = [&](std::string_view, std::span<const redis::Entry> entries) {
    for (const redis::Entry& e : entries) seen.push_back(AsString(e.update));
  };
  redis::DocStore* follower = ConnectedStore(fo);
  redis::DocStore* s = ConnectedStore();
  ASSERT_TRUE(follower->Follow("d", StreamId{}).ok());
  for (size_t round = 1; round <= 3; ++round) {
    std::vector<StreamId> ids = Fill(s, "d", 4);
    // One more entry, read alone: the reads before it were checked (on the
    // same connection, ahead of it), and the one bringing it starts at
    // ids[3], which the trim below does not pass.
    ASSERT_TRUE(RunUntil([&] { return seen.size() == 5 * round - 1; }));
    ASSERT_TRUE(AppendNow(s, "d", "x").ok());
    ASSERT_TRUE(RunUntil([&] { return seen.size() == 5 * round; }));
    ASSERT_TRUE(*LeaseNow(s, "d"));
    Result<CompactResult> r = CompactNow(s, "d", ids[2], "snap " + std::to_string(round));
    ASSERT_TRUE(r.ok());
    EXPECT_GT(r->trimmed, 0u);
  }
  ASSERT_TRUE(AppendNow(s, "d", "end").ok());
  ASSERT_TRUE(RunUntil([&] { return seen.size() == 16; }));
  EXPECT_TRUE(follower->following("d"));
  EXPECT_EQ(follower->stats().gaps, 0u);
}

}  // namespace
}  // namespace weft::testing
