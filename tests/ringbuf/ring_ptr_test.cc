#include "weft/ringbuf/ring_ptr.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <utility>
#include <vector>

#include "weft/ringbuf/slot_pool.h"

namespace weft::ringbuf {
namespace {

struct Counter {
  uint64_t value;
};

class RingPtrTest : public ::testing::Test {
 protected:
  RingPtr<Counter> Make(uint64_t v) {
    Result<RingPtr<Counter>> p = pool_.Allocate<Counter>();
    EXPECT_TRUE(p.ok());
    (*p)->value = v;
    return std::move(*p);
  }
  uint32_t InUse() const { return pool_.Stats().in_use; }

  SlotPool<64> pool_{8};
};

TEST_F(RingPtrTest, CopyCountsMoveDoesNot) {
  RingPtr<Counter> a = Make(1);
  EXPECT_EQ(a.use_count(), 1);
  RingPtr<Counter> b = a;
  EXPECT_EQ(a.use_count(), 2);
  RingPtr<Counter> c = std::move(b);
  EXPECT_FALSE(b);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_EQ(a.use_count(), 2);
  EXPECT_EQ(c.get(), a.get());
  EXPECT_EQ(c->value, 1u);
}

TEST_F(RingPtrTest, LastDropReturnsTheSlot) {
  RingPtr<Counter> a = Make(1);
  RingPtr<Counter> b = a;
  a.reset();
  EXPECT_EQ(InUse(), 1u);
  EXPECT_EQ(b.use_count(), 1);
  b = nullptr;
  EXPECT_EQ(InUse(), 0u);
  EXPECT_EQ(pool_.CountFreeQuiescent(), 8u);
}

TEST_F(RingPtrTest, AssignmentDropsTheOldReference) {
  RingPtr<Counter> a = Make(1);
  RingPtr<Counter> b = Make(2);
  EXPECT_EQ(InUse(), 2u);
  a = b;
  EXPECT_EQ(InUse(), 1u);
  EXPECT_EQ(a->value, 2u);
  EXPECT_EQ(b.use_count(), 2);
  a = std::move(b);
  EXPECT_EQ(a.use_count(), 1);
  a = a;  // NOLINT: self-assignment must keep the reference
  EXPECT_EQ(a.use_count(), 1);
  EXPECT_EQ(a->value, 2u);
}

TEST_F(RingPtrTest, EmptyHandleBehavesLikeNull) {
  RingPtr<Counter> empty;
  EXPECT_FALSE(empty);
  EXPECT_EQ(empty.get(), nullptr);
  EXPECT_EQ(empty.use_count(), 0);
  EXPECT_TRUE(empty == nullptr);
  empty.reset();  // harmless
}

TEST_F(RingPtrTest, RecycledSlotMakesAnOldHandleStale) {
  RingPtr<Counter> a = Make(1);
  // A duplicate of the handle's identity without a counted reference: what a
  // refcount bug would leave behind. Built in raw storage and never destroyed,
  // so it never drops a reference it does not hold.
  alignas(RingPtr<Counter>) unsigned char storage[sizeof(RingPtr<Counter>)];
  auto* forged = new (storage)
      RingPtr<Counter>(RingPtr<Counter>::Adopt(&pool_.core(), a.slot_index(), a.generation()));
  EXPECT_FALSE(forged->is_stale());
  a.reset();
  EXPECT_TRUE(forged->is_stale());
  RingPtr<Counter> reuse = Make(2);  // the same slot, next generation
  EXPECT_EQ(reuse.slot_index(), forged->slot_index());
  EXPECT_NE(reuse.generation(), forged->generation());
  EXPECT_TRUE(forged->is_stale());
  EXPECT_FALSE(reuse.is_stale());
#ifndef NDEBUG
  // Debug builds refuse to dereference a stale handle.
  EXPECT_DEATH((void)forged->get(), "recycled");
#endif
}

TEST_F(RingPtrTest, ConcurrentClonesAndDropsBalance) {
  // Four threads each clone and drop the same handles many times while the
  // main thread keeps one reference; afterwards exactly that one remains.
  constexpr int kThreads = 4;
  constexpr int kRounds = 20000;
  std::vector<RingPtr<Counter>> shared;
  for (int i = 0; i < 4; ++i) shared.push_back(Make(static_cast<uint64_t>(i)));
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      std::vector<RingPtr<Counter>> mine;
      for (int r = 0; r < kRounds; ++r) {
        mine.push_back(shared[static_cast<size_t>((r + t) % 4)]);
        if (mine.size() > 8) mine.erase(mine.begin(), mine.begin() + 4);
      }
    });
  }
  go.store(true, std::memory_order_release);
  for (std::thread& th : threads) th.join();
  for (const RingPtr<Counter>& p : shared) EXPECT_EQ(p.use_count(), 1);
  EXPECT_EQ(InUse(), 4u);
  // The last references go on another thread: the slots come back anyway.
  std::thread dropper([&] { shared.clear(); });
  dropper.join();
  EXPECT_EQ(InUse(), 0u);
  EXPECT_EQ(pool_.CountFreeQuiescent(), 8u);
}

TEST_F(RingPtrTest, ConcurrentLastDropsReturnEachSlotOnce) {
  // Two threads race to drop the last two references of many slots: each slot
  // must come back exactly once (a double return would over-count the pool).
  constexpr int kRounds = 5000;
  for (int r = 0; r < kRounds; ++r) {
    RingPtr<Counter> a = Make(static_cast<uint64_t>(r));
    RingPtr<Counter> b = a;
    std::thread t([p = std::move(a)]() mutable { p.reset(); });
    b.reset();
    t.join();
  }
  EXPECT_EQ(InUse(), 0u);
  EXPECT_EQ(pool_.CountFreeQuiescent(), 8u);
}

}  // namespace
}  // namespace weft::ringbuf
