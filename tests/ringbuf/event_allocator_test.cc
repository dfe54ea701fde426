#include "weft/ringbuf/event_allocator.h"

#include <gtest/gtest.h>

#include <vector>

namespace weft::ringbuf {
namespace {

TEST(EventAllocator, DefaultCapacitiesAndExactFootprint) {
  EventAllocator alloc;
  const EventPools& p = alloc.pools();
  EXPECT_EQ(p.xs.capacity(), 2000u);
  EXPECT_EQ(p.s.capacity(), 1000u);
  EXPECT_EQ(p.m.capacity(), 300u);
  EXPECT_EQ(p.l.capacity(), 60u);
  EXPECT_EQ(p.xl.capacity(), 15u);
  size_t expected = sizeof(EventAllocator) + 2000 * (sizeof(XsEvent) + sizeof(SlotMetadata)) +
                    1000 * (sizeof(SEvent) + sizeof(SlotMetadata)) +
                    300 * (sizeof(MEvent) + sizeof(SlotMetadata)) +
                    60 * (sizeof(LEvent) + sizeof(SlotMetadata)) +
                    15 * (sizeof(XlEvent) + sizeof(SlotMetadata));
  EXPECT_EQ(alloc.footprint_bytes(), expected);
  EXPECT_EQ(alloc.Stats().footprint_bytes, expected);
}

TEST(EventAllocator, CapacitiesAreConfigurable) {
  EventAllocator alloc(PoolCapacities{1, 2, 3, 4, 5});
  EXPECT_EQ(alloc.pools().xs.capacity(), 1u);
  EXPECT_EQ(alloc.pools().xl.capacity(), 5u);
}

TEST(EventAllocator, AllocateEventPicksThePoolBySize) {
  EventAllocator alloc(PoolCapacities{4, 4, 4, 4, 4});
  struct Case {
    size_t len;
    size_t pool;
  };
  const Case cases[] = {{10, 0}, {64, 0}, {65, 1}, {1000, 2}, {4000, 3}, {16384, 4}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.len);
    std::vector<std::byte> payload(c.len, std::byte{0x5a});
    Result<RingPtr<EventHeader>> e = alloc.AllocateEvent(9, payload);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_EQ((*e)->len, c.len);
    EXPECT_EQ((*e)->event_type, 9u);
    std::span<const std::byte> got = PayloadOf(**e);
    EXPECT_TRUE(std::equal(got.begin(), got.end(), payload.begin(), payload.end()));
    EXPECT_EQ(e->slot_bytes(), PoolId::SlotBytes(c.pool));
    EXPECT_EQ(alloc.Stats().pools[c.pool].in_use, 1u);
  }
}

TEST(EventAllocator, XxlIsTooLargeAndTakesNoSlot) {
  EventAllocator alloc;
  std::vector<std::byte> huge(16385);
  Result<RingPtr<EventHeader>> e = alloc.AllocateEvent(1, huge);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kTooLarge);
  EXPECT_EQ(alloc.AllocateForSize(1 << 20).status().code(), StatusCode::kTooLarge);
  EXPECT_EQ(alloc.AllocateFromPool(PoolId{EventSize::XXL}).status().code(), StatusCode::kTooLarge);
  for (const SlotPoolStats& s : alloc.Stats().pools) EXPECT_EQ(s.in_use, 0u);
}

TEST(EventAllocator, ExhaustedPoolIsAnErrorTheCallerCanActOn) {
  EventAllocator alloc(PoolCapacities{2, 1, 1, 1, 1});
  std::vector<RingPtr<EventHeader>> held;
  for (int i = 0; i < 2; ++i) held.push_back(std::move(*alloc.AllocateForSize(8)));
  Result<RingPtr<EventHeader>> third = alloc.AllocateForSize(8);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), StatusCode::kResourceExhausted);
  // A bigger pool still has room: exhaustion is per size class.
  EXPECT_TRUE(alloc.AllocateForSize(100).ok());
  held.pop_back();
  EXPECT_TRUE(alloc.AllocateForSize(8).ok());
}

TEST(EventAllocator, TypedAllocationUsesTheSmallestFittingPool) {
  struct Op {
    char bytes[400];  // over an S slot (320 bytes with its header), within M
  };
  EventAllocator alloc;
  Result<RingPtr<Op>> op = alloc.Allocate<Op>();
  ASSERT_TRUE(op.ok());
  EXPECT_EQ(alloc.Stats().pools[static_cast<size_t>(EventSize::M)].in_use, 1u);
}

}  // namespace
}  // namespace weft::ringbuf
