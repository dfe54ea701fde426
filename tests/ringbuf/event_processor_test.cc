#include "weft/ringbuf/event_processor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <semaphore>
#include <thread>
#include <vector>

#include "weft/ringbuf/event_allocator.h"
#include "weft/ringbuf/ring.h"

namespace weft::ringbuf {
namespace {

// A way out for every wait below: a broken wake-up fails the test instead
// of hanging it.
constexpr auto kDeadline = std::chrono::seconds(60);

TEST(EventProcessor, HandsOutEveryEntryAndStopsOnClose) {
  RingOptions o;
  o.capacity = 16;
  Ring<int64_t> ring(o);
  auto p = EventProcessor<int64_t>::Create(ring);
  ASSERT_TRUE(p.ok());
  int64_t expected = 0;
  bool in_order = true;
  std::thread consumer([&] {
    (*p)->Run(
        [&](const int64_t& v, int64_t) {
          in_order = in_order && v == expected;
          ++expected;
        },
        [](bool) {});
  });
  for (int64_t i = 0; i < 10000; ++i) ring.writer().Publish(i);
  ring.writer().Close();
  consumer.join();
  EXPECT_TRUE(in_order);
  EXPECT_EQ(expected, 10000);
}

// Wake() reaches a consumer asleep on an empty ring, with nothing on it.
TEST(EventProcessor, WakeReachesASleepingConsumerWithoutAnEntry) {
  Ring<int64_t> ring;
  auto p = EventProcessor<int64_t>::Create(ring);
  ASSERT_TRUE(p.ok());
  std::binary_semaphore woken(0);
  std::atomic<int> entries{0};
  std::thread consumer([&] {
    (*p)->Run([&](const int64_t&, int64_t) { entries.fetch_add(1); },
              [&](bool was_woken) {
                if (was_woken) woken.release();
              });
  });
  for (int round = 0; round < 3; ++round) {
    // Asleep on the futex: only a notification can bring it back.
    while (ring.wait_strategy().sleepers() == 0) std::this_thread::yield();
    (*p)->Wake();
    EXPECT_TRUE(woken.try_acquire_for(kDeadline)) << "round " << round;
  }
  ring.writer().Close();
  consumer.join();
  EXPECT_EQ(entries.load(), 0);
}

// A producer that never blocks (an event loop) publishes with TryPublish
// only: when the ring is full it watches for room and waits for on_room,
// never polling. Every entry gets through. A lost notification (either
// half of the Dekker pair) leaves the producer waiting forever.
TEST(EventProcessor, AProducerThatWatchesForRoomNeverNeedsToPoll) {
  RingOptions o;
  o.capacity = 4;
  Ring<int64_t> ring(o);
  std::counting_semaphore<> room(0);
  auto p = EventProcessor<int64_t>::Create(ring, [&] { room.release(); });
  ASSERT_TRUE(p.ok());
  int64_t sum = 0;
  std::thread consumer(
      [&] { (*p)->Run([&](const int64_t& v, int64_t) { sum += v; }, [](bool) {}); });
  constexpr int64_t kCount = 200000;
  int64_t waits = 0;
  bool stuck = false;
  for (int64_t i = 0; i < kCount && !stuck; ++i) {
    while (!ring.writer().TryPublish(i)) {
      // Newly watched: the consumer may have made room just before, so
      // try again first; otherwise its next commit calls back.
      if ((*p)->WatchRoom()) continue;
      ++waits;
      if (!room.try_acquire_for(kDeadline)) {
        stuck = true;
        break;
      }
    }
  }
  ring.writer().Close();
  consumer.join();
  EXPECT_FALSE(stuck);
  EXPECT_EQ(sum, kCount * (kCount - 1) / 2);
  EXPECT_GT(waits, 0);  // the ring did fill
}

// The pools' release hook: a thread that found a pool empty watches it and
// hears of the next slot another thread releases.
TEST(SlotPoolReleaseHook, RunsOnceForTheNextReleaseAfterAWatch) {
  SlotPool<64> pool(1);
  std::atomic<int> calls{0};
  pool.core().SetReleaseHook([](void* c) { static_cast<std::atomic<int>*>(c)->fetch_add(1); },
                             &calls);
  auto a = pool.Allocate();
  ASSERT_TRUE(a.ok());
  RingPtr<PooledEvent<64>> held = std::move(*a);
  EXPECT_FALSE(pool.Allocate().ok());
  // Not watched: a release runs nothing.
  std::thread([h = std::move(held)]() mutable { h.reset(); }).join();
  EXPECT_EQ(calls.load(), 0);
  held = std::move(*pool.Allocate());
  EXPECT_TRUE(pool.core().WatchRelease());   // newly watched: retry, then wait
  EXPECT_FALSE(pool.core().WatchRelease());  // still pending: just wait
  std::thread([h = std::move(held)]() mutable { h.reset(); }).join();
  EXPECT_EQ(calls.load(), 1);
  // Once run, the watch is gone.
  held = std::move(*pool.Allocate());
  std::thread([h = std::move(held)]() mutable { h.reset(); }).join();
  EXPECT_EQ(calls.load(), 1);
}

// Under contention, the node's arrangement: the producer owns the pools
// and never blocks. A slot's last reference goes either with the consumer's
// copy (on its thread) or with the ring's, which only the producer drops
// (Reclaim) once the consumer has passed the entry. So when the pools are
// dry the producer watches both the pools (release hook) and the consumer
// (on_room, after each commit) and waits for either, never polling.
TEST(SlotPoolReleaseHook, AnAllocatorThatWatchesNeverNeedsToPoll) {
  EventAllocator alloc(PoolCapacities{2, 2, 2, 2, 2});
  std::counting_semaphore<> signal(0);
  alloc.SetReleaseHook([](void* s) { static_cast<std::counting_semaphore<>*>(s)->release(); },
                       &signal);
  Ring<RingPtr<EventHeader>> ring(RingOptions{.capacity = 8});
  auto p = EventProcessor<RingPtr<EventHeader>>::Create(ring, [&] { signal.release(); });
  ASSERT_TRUE(p.ok());
  // The consumer keeps each batch's entries until the batch is over.
  std::thread consumer([&] {
    std::vector<RingPtr<EventHeader>> kept;
    (*p)->Run([&](const RingPtr<EventHeader>& e, int64_t) { kept.push_back(e); },
              [&](bool) { kept.clear(); });
  });
  constexpr int kCount = 50000;
  int waits = 0;
  bool stuck = false;
  for (int i = 0; i < kCount && !stuck; ++i) {
    while (true) {
      Result<RingPtr<EventHeader>> slot = alloc.AllocateForSize(16);
      if (slot.ok()) {
        ring.writer().Publish(std::move(*slot));
        break;
      }
      // Drops the ring's references to what the consumer passed: the
      // owner's own releases run no hook, so it retries after them.
      if (ring.writer().Reclaim() != 0) continue;
      // Both watches first (each newly set one needs a retry after it).
      const bool released = alloc.WatchRelease();
      const bool room = (*p)->WatchRoom();
      if (released || room) continue;
      ++waits;
      if (!signal.try_acquire_for(kDeadline)) {
        stuck = true;
        break;
      }
    }
  }
  ring.writer().Close();
  consumer.join();
  EXPECT_FALSE(stuck);
  EXPECT_GT(waits, 0);
}

}  // namespace
}  // namespace weft::ringbuf
