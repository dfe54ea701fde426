#include "weft/ringbuf/slot_pool.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace weft::ringbuf {
namespace {

struct Point {
  int x;
  int y;
};

TEST(SlotPool, AllocateGivesDistinctSlotsUntilExhausted) {
  SlotPool<64> pool(4);
  std::vector<RingPtr<XsEvent>> held;
  std::set<const void*> addresses;
  for (int i = 0; i < 4; ++i) {
    Result<RingPtr<XsEvent>> p = pool.Allocate();
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    addresses.insert(p->get());
    held.push_back(std::move(*p));
  }
  EXPECT_EQ(addresses.size(), 4u);
  Result<RingPtr<XsEvent>> none = pool.Allocate();
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(pool.Stats().exhausted, 1u);
  EXPECT_EQ(pool.Stats().in_use, 4u);
}

TEST(SlotPool, ReleasedSlotIsReusedWithANewGeneration) {
  SlotPool<64> pool(1);
  Result<RingPtr<Point>> first = pool.Allocate<Point>();
  ASSERT_TRUE(first.ok());
  uint32_t index = first->slot_index();
  uint32_t generation = first->generation();
  first->reset();
  EXPECT_EQ(pool.Stats().in_use, 0u);
  Result<RingPtr<Point>> second = pool.Allocate<Point>();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->slot_index(), index);
  EXPECT_NE(second->generation(), generation);
}

TEST(SlotPool, SlotsAreSixtyFourByteAligned) {
  SlotPool<256> pool(8);
  std::vector<RingPtr<SEvent>> held;
  for (int i = 0; i < 8; ++i) {
    Result<RingPtr<SEvent>> p = pool.Allocate();
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p->get()) % 64, 0u);
    held.push_back(std::move(*p));
  }
}

TEST(SlotPool, AllocateEventCopiesThePayloadAndRefusesOversize) {
  SlotPool<64> pool(2);
  const char text[] = "op bytes";
  Result<RingPtr<XsEvent>> e =
      pool.AllocateEvent(7, std::as_bytes(std::span(text, sizeof text - 1)));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->event_type, 7u);
  EXPECT_EQ((*e)->text(), "op bytes");
  std::vector<std::byte> big(65);
  Result<RingPtr<XsEvent>> too_big = pool.AllocateEvent(1, big);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.status().code(), StatusCode::kTooLarge);
  EXPECT_EQ(pool.Stats().in_use, 1u);  // the refusal took no slot
}

TEST(SlotPool, SlotsFreedOnAnotherThreadReturnToTheOwner) {
  SlotPool<64> pool(16);
  for (int round = 0; round < 3; ++round) {
    std::vector<RingPtr<XsEvent>> held;
    for (int i = 0; i < 16; ++i) {
      Result<RingPtr<XsEvent>> p = pool.Allocate();
      ASSERT_TRUE(p.ok()) << "round " << round << " slot " << i;
      held.push_back(std::move(*p));
    }
    std::thread releaser([&] { held.clear(); });
    releaser.join();
    EXPECT_EQ(pool.CountFreeQuiescent(), 16u);
  }
  EXPECT_EQ(pool.Stats().allocations, 48u);
  EXPECT_EQ(pool.Stats().exhausted, 0u);
}

TEST(SlotPool, AThreadThatIsNotTheOwnerCanAllocate) {
  SlotPool<64> pool(8);
  std::vector<RingPtr<XsEvent>> got;
  std::thread other([&] {
    for (int i = 0; i < 8; ++i) {
      Result<RingPtr<XsEvent>> p = pool.Allocate();
      if (p.ok()) got.push_back(std::move(*p));
    }
  });
  other.join();
  EXPECT_EQ(got.size(), 8u);
  got.clear();
  EXPECT_EQ(pool.CountFreeQuiescent(), 8u);
}

TEST(SlotPool, AdoptedPoolIsOwnedByTheAdoptingThread) {
  SlotPool<64> pool(4);
  std::thread loop([&] {
    pool.AdoptCurrentThread();
    for (int i = 0; i < 100; ++i) {
      Result<RingPtr<XsEvent>> p = pool.Allocate();
      ASSERT_TRUE(p.ok());
    }
  });
  loop.join();
  EXPECT_EQ(pool.Stats().allocations, 100u);
  EXPECT_EQ(pool.Stats().in_use, 0u);
}

TEST(SlotPool, FootprintCountsSlotsAndMetadata) {
  SlotPool<256> pool(10);
  EXPECT_EQ(pool.footprint_bytes(),
            sizeof(pool) + 10 * (sizeof(PooledEvent<256>) + sizeof(SlotMetadata)));
}

TEST(InlineSlotPool, WorksLikeTheHeapPool) {
  static InlineSlotPool<64, 32> pool;  // static storage: the case it exists for
  Result<RingPtr<Point>> p = pool.Allocate<Point>();
  ASSERT_TRUE(p.ok());
  (*p)->x = 3;
  RingPtr<Point> copy = *p;
  EXPECT_EQ(copy->x, 3);
  EXPECT_EQ(copy.use_count(), 2);
  p->reset();
  copy.reset();
  EXPECT_EQ(pool.CountFreeQuiescent(), 32u);
}

}  // namespace
}  // namespace weft::ringbuf
