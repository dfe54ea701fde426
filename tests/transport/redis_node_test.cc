// Nodes that keep their documents in a real redis-server (`--redis`): acks
// wait for Redis, are held while it is away, and resume without a restart.
#include <gtest/gtest.h>

#include <string>

#include "node_test_util.h"
#include "redis/redis_server.h"

namespace weft::transport {
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
  ASSERT_TRUE(writer.WaitFor([&] { return writer.client->acked("d").Get(1) == 20; }));
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
  ASSERT_TRUE(writer.WaitFor([&] { return writer.client->acked("d").Get(1) == 1; }));
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
  ASSERT_TRUE(writer.WaitFor([&] { return writer.client->acked("d").Get(1) == 3; }));
  EXPECT_GE(StreamLength(*redis, "d"), 2);
  writer.Type(3, "d");
  ASSERT_TRUE(writer.WaitFor([&] { return writer.client->acked("d").Get(1) == 4; }));
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

// A stop does not wait for a Redis that is gone: what it did not confirm
// was never acked.
TEST(RedisNode, StopsWhileRedisIsDown) {
  std::unique_ptr<RedisServer> redis = StartRedis();
  ASSERT_TRUE(redis);
  TestNode n(OnRedis(*redis));
  Peer writer(n, 1, "d");
  writer.Type(0, "a");
  ASSERT_TRUE(writer.WaitFor([&] { return writer.client->acked("d").Get(1) == 1; }));
  redis->Kill(SIGKILL);
  for (int i = 0; i < 50; ++i) writer.Type(writer.doc.size(), "x");
  Peer reader(n, 2, "d");
  ASSERT_TRUE(reader.WaitFor([&] { return reader.doc.size() == 51; }));
  n.Stop();  // returns (a hang here fails the test by its timeout)
  EXPECT_EQ(writer.client->acked("d").Get(1), 1u);
}

}  // namespace
}  // namespace weft::transport
