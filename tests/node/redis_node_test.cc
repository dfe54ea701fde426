// Nodes that keep their documents in a real redis-server (`--redis`): acks
// wait for Redis, are held while it is away, and resume without a restart.
#include <gtest/gtest.h>

#include <string>

#include "node_test_util.h"
#include "redis/redis_server.h"
#include "weft/crc32c.h"

namespace weft::node {
namespace {

using weft::testing::RedisServer;

std::unique_ptr<RedisServer> StartRedis() {
  Result<std::unique_ptr<RedisServer>> r = RedisServer::Start();
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(*r) : nullptr;
}

long long StreamLength(const RedisServer& redis, const std::string& doc) {
  RedisServer::Reply r = redis.Command({"XLEN", "weft:{" + doc + "}:ops"});
  return r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
}

int Healthz(uint16_t port) {
  RawPeer p(port);
  p.Write("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string response = p.ReadExactly(12, kDeadline);
  return response.size() == 12 ? std::stoi(response.substr(9, 3)) : 0;
}

NodeOptions OnRedis(const RedisServer& redis) {
  NodeOptions o;
  o.redis_url = redis.url();
  o.http = HostPort{"127.0.0.1", 0};
  return o;
}

TEST(RedisNode, AcksOnlyWhatRedisHas) {
  std::unique_ptr<RedisServer> redis = StartRedis();
  ASSERT_TRUE(redis);
  TestNode n(OnRedis(*redis));  // no data directory
  Peer writer(n, 1, "d");
  for (int i = 0; i < 20; ++i) writer.Type(writer.doc.size(), "x");
  ASSERT_TRUE(writer.WaitForAcks());
  // Every batch acked is an entry of the document's stream.
  EXPECT_GE(StreamLength(*redis, "d"), 1);
  EXPECT_LE(StreamLength(*redis, "d"), 20);
  EXPECT_EQ(Healthz(n.http_port()), 200);
}

TEST(RedisNode, HoldsAcksWhileRedisIsDownAndCarriesOn) {
  std::unique_ptr<RedisServer> redis = StartRedis();
  ASSERT_TRUE(redis);
  TestNode n(OnRedis(*redis));
  Peer writer(n, 1, "d");
  writer.Type(0, "a");
  ASSERT_TRUE(writer.WaitForAcks());
  redis->Kill(SIGKILL);
  // Unhealthy once the node noticed; what is typed meanwhile is not acked.
  auto deadline = std::chrono::steady_clock::now() + kDeadline;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline && (status = Healthz(n.http_port())) != 503) {
    (void)writer.client->RunUntil([] { return false; }, milliseconds(20));
  }
  ASSERT_EQ(status, 503);
  writer.Type(1, "bc");
  // A reader is still served from memory.
  Peer reader(n, 2, "d");
  ASSERT_TRUE(reader.WaitFor([&] { return reader.doc.Text() == "abc"; }));
  EXPECT_EQ(writer.client->acked("d").Get(1), 1u);
  // Back from its append-only file: the held batch goes in, then the ack.
  ASSERT_TRUE(redis->Restart().ok());
  ASSERT_TRUE(writer.WaitForAcks());
  EXPECT_GE(StreamLength(*redis, "d"), 2);
  writer.Type(3, "d");
  ASSERT_TRUE(writer.WaitForAcks());
  EXPECT_EQ(Healthz(n.http_port()), 200);
}

// No --peer: three nodes see each other's edits through Redis alone, and a
// node started later (holding nothing) gets the document from Redis.
TEST(RedisNode, ThreeNodesShareADocumentThroughRedis) {
  std::unique_ptr<RedisServer> redis = StartRedis();
  ASSERT_TRUE(redis);
  TestNode n1(OnRedis(*redis)), n2(OnRedis(*redis)), n3(OnRedis(*redis));
  Peer a(n1, 1, "shared"), b(n2, 2, "shared"), c(n3, 3, "shared");
  a.Type(0, "from one;");
  c.Type(0, "from three;");
  auto both = [](const Peer& p) {
    std::string t = p.doc.Text();
    return t.find("from one;") != std::string::npos && t.find("from three;") != std::string::npos;
  };
  ASSERT_TRUE(a.WaitFor([&] { return both(a); })) << a.doc.Text();
  ASSERT_TRUE(b.WaitFor([&] { return both(b); })) << b.doc.Text();
  ASSERT_TRUE(c.WaitFor([&] { return both(c); })) << c.doc.Text();
  EXPECT_EQ(a.doc.Text(), b.doc.Text());
  EXPECT_EQ(a.doc.Text(), c.doc.Text());
  TestNode fresh(OnRedis(*redis));
  Peer d(fresh, 4, "shared");
  ASSERT_TRUE(d.WaitFor([&] { return d.doc.Text() == a.doc.Text(); })) << d.doc.Text();
}

// A node that does not hold a document reads it from Redis before it
// answers the subscription: the catch-up itself is the whole document.
TEST(RedisNode, AFreshNodeCatchesUpFromRedisBeforeSyncDone) {
  std::unique_ptr<RedisServer> redis = StartRedis();
  ASSERT_TRUE(redis);
  TestNode n1(OnRedis(*redis));
  Peer writer(n1, 1, "d");
  for (int i = 0; i < 100; ++i) writer.Type(writer.doc.size(), std::to_string(i % 10));
  ASSERT_TRUE(writer.WaitForAcks());
  TestNode fresh(OnRedis(*redis));
  Peer reader(fresh, 2, "d");  // returns at SyncDone
  EXPECT_EQ(reader.doc.Text(), writer.doc.Text());
  EXPECT_EQ(reader.client->synced_version("d"), writer.doc.version());
}

// While Redis is away a subscription is answered with what the node holds
// (nothing, for a fresh one) rather than left waiting; the document follows
// once Redis is back, without a restart.
TEST(RedisNode, AFreshNodeServesWhatItHoldsWhileRedisIsAwayThenCatchesUp) {
  std::unique_ptr<RedisServer> redis = StartRedis();
  ASSERT_TRUE(redis);
  TestNode n1(OnRedis(*redis));
  Peer writer(n1, 1, "d");
  writer.Type(0, "kept in redis");
  ASSERT_TRUE(writer.WaitForAcks());
  redis->Kill(SIGKILL);
  TestNode fresh(OnRedis(*redis));
  Peer reader(fresh, 2, "d");  // returns at SyncDone
  ASSERT_TRUE(reader.client);
  EXPECT_EQ(reader.doc.Text(), "");
  ASSERT_TRUE(redis->Restart().ok());
  ASSERT_TRUE(reader.WaitFor([&] { return reader.doc.Text() == "kept in redis"; }))
      << reader.doc.Text();
}

std::string SnapshotCovers(const RedisServer& redis, const std::string& doc) {
  RedisServer::Reply r = redis.Command({"HGET", "weft:{" + doc + "}:snap", "id"});
  return r && r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : std::string();
}

// Past redis_compact_every batches a node stores a snapshot and trims the
// stream under it; a fresh node then loads snapshot plus tail, and a node
// following all along keeps up across the trim.
TEST(RedisNode, CompactedDocumentsAreServedWholeFromSnapshotAndTail) {
  std::unique_ptr<RedisServer> redis = StartRedis();
  ASSERT_TRUE(redis);
  NodeOptions o = OnRedis(*redis);
  o.redis_compact_every = 40;
  o.redis_trim_min_age = milliseconds(0);
  TestNode n1(o), n2(o);
  Peer writer(n1, 1, "d"), follower(n2, 2, "d");
  for (int i = 0; i < 200; ++i) writer.Type(writer.doc.size(), std::to_string(i % 10));
  ASSERT_TRUE(writer.WaitForAcks());
  // Compaction runs behind the acks: wait for a snapshot and a trim.
  ASSERT_TRUE(writer.WaitFor([&] {
    return !SnapshotCovers(*redis, "d").empty() && StreamLength(*redis, "d") < 200;
  })) << "stream length "
      << StreamLength(*redis, "d");
  for (int i = 0; i < 10; ++i) writer.Type(writer.doc.size(), "t");
  ASSERT_TRUE(writer.WaitForAcks());
  ASSERT_TRUE(follower.WaitFor([&] { return follower.doc.Text() == writer.doc.Text(); }))
      << follower.doc.size() << " of " << writer.doc.size();
  TestNode fresh(o);
  Peer reader(fresh, 3, "d");
  EXPECT_EQ(reader.doc.Text(), writer.doc.Text());
}

// A node whose pools are nearly empty takes followed entries as slots come
// back; none is skipped.
TEST(RedisNode, FollowedEntriesWaitForSlotsInsteadOfBeingSkipped) {
  std::unique_ptr<RedisServer> redis = StartRedis();
  ASSERT_TRUE(redis);
  TestNode n1(OnRedis(*redis));
  NodeOptions small = OnRedis(*redis);
  small.budget.pools = ringbuf::PoolCapacities{4, 4, 4, 4, 4};
  TestNode n2(small);
  Peer reader(n2, 2, "d");
  Peer writer(n1, 1, "d");
  for (int i = 0; i < 500; ++i) writer.Type(writer.doc.size(), std::to_string(i % 10));
  ASSERT_TRUE(writer.WaitForAcks());
  ASSERT_TRUE(reader.WaitFor([&] { return reader.doc.Text() == writer.doc.Text(); }))
      << reader.doc.size() << " of " << writer.doc.size();
}

// Without a data directory an idle document leaves memory at once (Redis
// holds it) and is read from Redis again at its next use.
TEST(RedisNode, IdleDocumentsLeaveMemoryAndAreReadAgain) {
  std::unique_ptr<RedisServer> redis = StartRedis();
  ASSERT_TRUE(redis);
  NodeOptions o = OnRedis(*redis);
  o.stats_interval = milliseconds(20);
  o.budget.evict_idle = milliseconds(50);
  TestNode n(o);
  {
    Peer writer(n, 1, "d");
    writer.Type(0, "kept in redis");
    ASSERT_TRUE(writer.WaitForAcks());
  }
  ASSERT_TRUE(n.Logged(" resident=0 resident_bytes=0 evicted=1 "));
  Peer reader(n, 2, "d");
  EXPECT_EQ(reader.doc.Text(), "kept in redis");
  reader.Type(13, "!");
  ASSERT_TRUE(reader.WaitForAcks());
  EXPECT_EQ(StreamLength(*redis, "d"), 2);
}

// A node on Redis following one real document, which `writer` wrote, and
// a stats line every 20 ms.
class FollowedNames : public ::testing::Test {
 protected:
  void Start(size_t max_followed_docs = NodeBudget{}.max_followed_docs) {
    redis = StartRedis();
    ASSERT_TRUE(redis);
    options = OnRedis(*redis);
    options.stats_interval = milliseconds(20);
    options.budget.max_followed_docs = max_followed_docs;
    node = std::make_unique<TestNode>(options);
    writer = std::make_unique<Peer>(*node, 1, "real");
    writer->Type(0, "x");
    ASSERT_TRUE(writer->WaitForAcks());
  }

  std::unique_ptr<RedisServer> redis;
  NodeOptions options;
  std::unique_ptr<TestNode> node;
  std::unique_ptr<Peer> writer;
};

// Subscriptions to names that are no document (nothing in Redis, nothing
// here) are not followed once their subscribers are gone: made-up names
// cannot make a node follow ever more streams.
TEST_F(FollowedNames, NamesThatAreNoDocumentsAreNotFollowedOnceUnsubscribed) {
  ASSERT_NO_FATAL_FAILURE(Start());
  size_t mark = 0;
  {
    std::unique_ptr<Client> c = Connect(*node, 2);
    ASSERT_TRUE(c);
    engine::Doc replica(2);
    for (int i = 0; i < 20; ++i)
      ASSERT_TRUE(c->Subscribe("nothing" + std::to_string(i), &replica).ok());
    ASSERT_TRUE(node->Logged(" redis_docs=21 "));
    mark = node->LogSize();
  }
  // The real document stays followed.
  EXPECT_TRUE(node->Logged(" redis_docs=1 ", kDeadline, mark));
}

// The same when the subscribers leave before Redis answered the reads:
// their held subscriptions go with them, and the images that arrive later
// are neither loaded nor followed.
TEST_F(FollowedNames, NamesWhoseSubscribersLeftBeforeRedisAnsweredAreNotFollowed) {
  ASSERT_NO_FATAL_FAILURE(Start());
  redis->Pause();  // reads go out and stay unanswered
  size_t mark = 0;
  {
    RawPeer raw(node->port());
    raw.Handshake();
    // As many as may catch up at once: a further one would wait unread.
    const size_t n = options.budget.max_catch_ups;
    for (size_t i = 0; i < n; ++i) raw.WriteFrame(Subscribe{"nothing" + std::to_string(i), {}});
    ASSERT_TRUE(node->Logged(" redis_docs=" + std::to_string(n + 1) + " "));
    mark = node->LogSize();
  }
  ASSERT_TRUE(node->Logged("disconnect", kDeadline, mark));
  redis->Resume();
  EXPECT_TRUE(node->Logged(" redis_docs=1 ", kDeadline, node->LogSize()));
  // The real document is still followed: what another node appends arrives.
  TestNode other(OnRedis(*redis));
  Peer typist(other, 2, "real");
  typist.Type(1, "y");
  ASSERT_TRUE(writer->WaitFor([&] { return writer->doc.Text() == "xy"; })) << writer->doc.Text();
}

// A node follows at most max_followed_docs documents: one subscription
// more is refused (OVERLOADED, retry shortly), and the node serves on.
TEST_F(FollowedNames, SubscriptionsPastTheBoundAreRefused) {
  ASSERT_NO_FATAL_FAILURE(Start(/*max_followed_docs=*/3));
  RawPeer raw(node->port());
  raw.Handshake();
  for (const char* doc : {"a", "b"}) {
    raw.WriteFrame(Subscribe{doc, {}});
    std::optional<SyncDone> done = raw.ReadUntil<SyncDone>();
    ASSERT_TRUE(done.has_value());
    EXPECT_EQ(done->doc, doc);
  }
  size_t mark = node->LogSize();
  raw.WriteFrame(Subscribe{"c", {}});
  std::optional<ErrorFrame> e = raw.ReadUntil<ErrorFrame>();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, ErrorCode::kOverloaded);
  EXPECT_NE(e->reason.find("retry"), std::string::npos) << e->reason;
  // Its subscriptions are gone with it: room again.
  ASSERT_TRUE(node->Logged("disconnect", kDeadline, mark));
  Peer reader(*node, 2, "c");
  EXPECT_TRUE(reader.client);
  writer->Type(1, "y");
  ASSERT_TRUE(writer->WaitForAcks());
}

// An entry no node could have written (an update larger than any frame,
// with a valid checksum) is skipped; what follows it still arrives.
TEST(RedisNode, AnOversizedForeignEntryIsSkippedNotWaitedFor) {
  std::unique_ptr<RedisServer> redis = StartRedis();
  ASSERT_TRUE(redis);
  TestNode n(OnRedis(*redis));
  Peer reader(n, 1, "d");
  reader.Type(0, "a");
  ASSERT_TRUE(reader.WaitForAcks());
  auto append = [&](const std::string& update) {
    char crc[9];
    std::snprintf(crc, sizeof crc, "%08x",
                  Crc32c(std::as_bytes(std::span(update.data(), update.size()))));
    RedisServer::Reply r = redis->Command(
        {"XADD", "weft:{d}:ops", "*", "u", update, "n", "00000000000000ff", "c", crc});
    ASSERT_TRUE(r && r->type == REDIS_REPLY_STRING);
  };
  append(std::string(20 << 10, 'x'));
  engine::Doc other(9);
  ASSERT_TRUE(other.Insert(0, "after").ok());
  append(other.EncodeOpsSince(engine::VersionVector()));
  ASSERT_TRUE(reader.WaitFor([&] { return reader.doc.size() == 6; })) << reader.doc.Text();
  EXPECT_TRUE(n.Logged("skipping entry"));
}

// A stop does not wait for a Redis that is gone: what it did not confirm
// was never acked.
TEST(RedisNode, StopsWhileRedisIsDown) {
  std::unique_ptr<RedisServer> redis = StartRedis();
  ASSERT_TRUE(redis);
  TestNode n(OnRedis(*redis));
  Peer writer(n, 1, "d");
  writer.Type(0, "a");
  ASSERT_TRUE(writer.WaitForAcks());
  redis->Kill(SIGKILL);
  for (int i = 0; i < 50; ++i) writer.Type(writer.doc.size(), "x");
  Peer reader(n, 2, "d");
  ASSERT_TRUE(reader.WaitFor([&] { return reader.doc.size() == 51; }));
  n.Stop();  // returns (a hang here fails the test by its timeout)
  EXPECT_EQ(writer.client->acked("d").Get(1), 1u);
}

}  // namespace
}  // namespace weft::node
