// Names and ids: no Redis needed.
#include "weft/redis/key_layout.h"

#include <gtest/gtest.h>

#include "weft/redis/address.h"
#include "weft/redis/stream_id.h"

namespace weft::redis {
namespace {

TEST(KeyLayout, EveryKeyOfADocumentSharesOneClusterSlot) {
  for (std::string_view doc : {"notes", "a}b", "x{y}z", "ü-ñ", "{", "doc:with:colons"}) {
    SCOPED_TRACE(doc);
    ASSERT_TRUE(ValidateDocName(doc).ok());
    DocKeys k = KeysFor("weft", doc);
    EXPECT_EQ(ClusterSlot(k.ops), ClusterSlot(k.snap));
    EXPECT_EQ(ClusterSlot(k.ops), ClusterSlot(k.lease));
  }
  EXPECT_EQ(KeysFor("weft", "notes").ops, "weft:{notes}:ops");
  EXPECT_EQ(KeysFor("app1", "notes").snap, "app1:{notes}:snap");
}

TEST(KeyLayout, ClusterSlotMatchesRedis) {
  // Values from CLUSTER KEYSLOT on a Redis server.
  EXPECT_EQ(ClusterSlot("foo"), 12182);
  EXPECT_EQ(ClusterSlot("{user1000}.following"), ClusterSlot("{user1000}.followers"));
  EXPECT_EQ(ClusterSlot("123456789"), 0x31c3 % 16384);  // CRC16/XMODEM check value
  EXPECT_EQ(ClusterSlot("foo{}{bar}"), ClusterSlot("foo{}{bar}"));
}

TEST(KeyLayout, RefusesNamesThatWouldSplitATag) {
  EXPECT_FALSE(ValidateDocName("").ok());
  EXPECT_FALSE(ValidateDocName("}x").ok());
  EXPECT_FALSE(ValidateDocName(std::string(kMaxDocNameBytes + 1, 'a')).ok());
  EXPECT_FALSE(ValidatePrefix("").ok());
  EXPECT_FALSE(ValidatePrefix("we{ft").ok());
  EXPECT_TRUE(ValidatePrefix("weft").ok());
}

TEST(StreamId, ParsesOrdersAndSteps) {
  Result<StreamId> a = StreamId::Parse("1700000000000-5");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->ms, 1700000000000u);
  EXPECT_EQ(a->seq, 5u);
  EXPECT_EQ(a->ToString(), "1700000000000-5");
  EXPECT_LT(*a, (StreamId{1700000000000, 6}));
  EXPECT_LT(*a, (StreamId{1700000000001, 0}));
  EXPECT_EQ((StreamId{7, UINT64_MAX}.Next()), (StreamId{8, 0}));
  for (std::string_view bad :
       {"", "1", "-1", "1-", "a-1", "1-2-3", "+1-2", "1-2 ", "99999999999999999999-0"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(StreamId::Parse(bad).ok());
  }
}

TEST(RedisUrl, ParsesHostPortDbAndCredentials) {
  Result<RedisAddress> a = ParseRedisUrl("redis://10.0.0.5:7000/3");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "10.0.0.5");
  EXPECT_EQ(a->port, 7000);
  EXPECT_EQ(a->db, 3u);
  Result<RedisAddress> b = ParseRedisUrl("redis://app:s3cret@cache.local");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "cache.local");
  EXPECT_EQ(b->port, 6379);
  EXPECT_EQ(b->user, "app");
  EXPECT_EQ(b->password, "s3cret");
  EXPECT_EQ(b->ToString(), "redis://cache.local:6379/0");  // no credentials in logs
  Result<RedisAddress> c = ParseRedisUrl("redis://[::1]:6380");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 6380);
  for (std::string_view bad : {"http://x", "redis://", "redis://h:0", "redis://h:99999",
                               "redis://h:1/x", "redis://nopass@h"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(ParseRedisUrl(bad).ok());
  }
}

}  // namespace
}  // namespace weft::redis
