#include "weft/ringbuf/pooled_event.h"

#include <gtest/gtest.h>

#include <cstring>
#include <type_traits>

namespace weft::ringbuf {
namespace {

TEST(PooledEvent, IsTriviallyCopyableAndCacheLineAligned) {
  static_assert(std::is_trivially_copyable_v<PooledEvent<256>>);
  EXPECT_EQ(alignof(PooledEvent<64>), 64u);
  EXPECT_EQ(sizeof(PooledEvent<64>) % 64, 0u);
  EXPECT_GE(sizeof(PooledEvent<16384>), 16384u + sizeof(EventHeader));
}

TEST(PooledEvent, PayloadAndTextViewTheFirstLenBytes) {
  PooledEvent<64> e{};
  e.len = 5;
  std::memcpy(e.data, "hello, world", 12);
  EXPECT_EQ(e.text(), "hello");
  EXPECT_EQ(e.payload().size(), 5u);
  EXPECT_EQ(PayloadOf(reinterpret_cast<const EventHeader&>(e)).size(), 5u);
  EXPECT_EQ(static_cast<const void*>(PayloadOf(reinterpret_cast<const EventHeader&>(e)).data()),
            static_cast<const void*>(e.data));
}

TEST(EventSize, EstimateSizePicksTheSmallestPoolThatFits) {
  struct Case {
    size_t len;
    EventSize want;
  };
  const Case cases[] = {{0, EventSize::XS},       {1, EventSize::XS},     {64, EventSize::XS},
                        {65, EventSize::S},       {256, EventSize::S},    {257, EventSize::M},
                        {1024, EventSize::M},     {1025, EventSize::L},   {4096, EventSize::L},
                        {4097, EventSize::XL},    {16384, EventSize::XL}, {16385, EventSize::XXL},
                        {1 << 30, EventSize::XXL}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.len);
    EXPECT_EQ(estimate_size(c.len), c.want);
  }
}

TEST(PoolId, FromSizeHasNoPoolForXxl) {
  EXPECT_EQ(PoolId::from_size(100)->size, EventSize::S);
  EXPECT_EQ(PoolId::from_size(100)->payload_capacity(), 256u);
  EXPECT_FALSE(PoolId::from_size(16385).has_value());
}

TEST(PoolId, ForTypeCountsTheWholeObject) {
  struct Small {
    char bytes[sizeof(PooledEvent<64>)];
  };
  struct OneMore {
    char bytes[sizeof(PooledEvent<64>) + 1];
  };
  static_assert(PoolId::ForType<Small>().size == EventSize::XS);
  static_assert(PoolId::ForType<OneMore>().size == EventSize::S);
  static_assert(PoolId::ForType<PooledEvent<4096>>().size == EventSize::L);
  SUCCEED();
}

}  // namespace
}  // namespace weft::ringbuf
