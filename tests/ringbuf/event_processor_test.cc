#include "weft/ringbuf/event_processor.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <semaphore>
#include <thread>
#include <vector>

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
    // Asleep on the futex: only a notification can bring it back. (Where
    // it never sleeps, the Wake below still has to reach it.)
    auto until = std::chrono::steady_clock::now() + kDeadline;
    while (ring.wait_strategy().sleepers() == 0 && std::chrono::steady_clock::now() < until) {
      std::this_thread::yield();
    }
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

}  // namespace
}  // namespace weft::ringbuf
