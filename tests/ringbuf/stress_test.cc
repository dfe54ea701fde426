// Multi-threaded stress: one producer, several readers, pooled slots. Each
// reader checks that it saw 0..n-1 in order with the right payloads; at the
// end every slot must be back in its pool. Run under ThreadSanitizer too.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <deque>
#include <thread>
#include <vector>

#include "weft/ringbuf/ringbuf.h"

namespace weft::ringbuf {
namespace {

// Events per stress run: 10 million by default; WEFT_STRESS_EVENTS overrides
// (longer soak runs, or quick local iterations).
uint64_t StressEvents() {
  if (const char* env = std::getenv("WEFT_STRESS_EVENTS")) return std::strtoull(env, nullptr, 10);
  return 10'000'000;
}

struct Payload {
  uint64_t index;
  uint64_t mixed;  // a function of index, to catch torn or stale slot contents
};

uint64_t Mix(uint64_t i) { return i * 0x9E3779B97F4A7C15ull ^ (i >> 7); }

struct Tally {
  uint64_t seen = 0;
  uint64_t sum = 0;
  bool in_order = true;
  bool intact = true;

  void Check(const Payload& p, int64_t seq) {
    in_order = in_order && p.index == seen && static_cast<int64_t>(p.index) == seq;
    intact = intact && p.mixed == Mix(p.index);
    sum += p.mixed;
    ++seen;
  }
};

// Publishes payloads 0..n-1 through slots of `pool`, then closes the ring.
// When the pool is empty it reclaims the ring's references and retries: the
// back-pressure loop every weft producer runs. Returns how often it waited.
template <typename Pool, typename R>
uint64_t ProducePooled(Pool& pool, R& ring, uint64_t n) {
  pool.AdoptCurrentThread();
  auto& w = ring.writer();
  uint64_t waits = 0;
  for (uint64_t i = 0; i < n; ++i) {
    Result<RingPtr<Payload>> slot = pool.template Allocate<Payload>();
    while (!slot.ok()) {
      ++waits;
      if (w.Reclaim() == 0) std::this_thread::yield();
      slot = pool.template Allocate<Payload>();
    }
    **slot = Payload{i, Mix(i)};
    w.Publish(std::move(*slot));
  }
  w.Close();
  return waits;
}

TEST(Stress, OneProducerTwoReadersMoveTenMillionPooledEvents) {
  const uint64_t n = StressEvents();
  SlotPool<64> pool(512);
  RingOptions o;
  o.capacity = 256;
  Ring<RingPtr<Payload>> ring(o);
  auto a = ring.AddReader();
  auto b = ring.AddReader();
  ASSERT_TRUE(a.ok() && b.ok());

  Tally ta, tb;
  auto consume = [](auto& reader, Tally& t) {
    while (
        reader.WaitPoll([&](const RingPtr<Payload>& p, int64_t seq) { t.Check(*p, seq); }, 128)) {
    }
  };
  std::thread ra([&] { consume(*a, ta); });
  std::thread rb([&] { consume(*b, tb); });

  uint64_t expected_sum = 0;
  for (uint64_t i = 0; i < n; ++i) expected_sum += Mix(i);
  uint64_t pool_waits = 0;
  std::thread producer([&] { pool_waits = ProducePooled(pool, ring, n); });
  producer.join();
  ra.join();
  rb.join();

  for (const Tally* t : {&ta, &tb}) {
    EXPECT_EQ(t->seen, n);
    EXPECT_TRUE(t->in_order);
    EXPECT_TRUE(t->intact);
    EXPECT_EQ(t->sum, expected_sum);
  }
  ring.writer().Reclaim();
  EXPECT_EQ(pool.Stats().in_use, 0u);
  EXPECT_EQ(pool.CountFreeQuiescent(), 512u);
  RecordProperty("pool_waits", std::to_string(pool_waits));
}

// A gated reader that keeps clones past its turn (as a broadcaster keeps an
// event until its socket write completes) and drops them on its own thread.
TEST(Stress, GatedReaderHoldingClonesNeverRunsAheadAndReturnsSlots) {
  const uint64_t n = StressEvents() / 10;
  SlotPool<64> pool(256);
  RingOptions o;
  o.capacity = 64;
  Ring<RingPtr<Payload>> ring(o);
  auto merge = ring.AddReader();
  auto broadcast = ring.AddReader({&*merge});
  ASSERT_TRUE(merge.ok() && broadcast.ok());

  // merge marks each index done before committing; broadcast checks the mark.
  std::vector<std::atomic<uint8_t>> done(n);
  Tally tm, tbc;
  bool gate_respected = true;
  std::thread merge_thread([&] {
    while (merge->WaitPoll([&](const RingPtr<Payload>& p, int64_t seq) {
      tm.Check(*p, seq);
      // Relaxed: the reader's release commit publishes it to gated readers.
      done[p->index].store(1, std::memory_order_relaxed);
    })) {
    }
  });
  std::thread broadcast_thread([&] {
    std::deque<RingPtr<Payload>> in_flight;
    while (broadcast->WaitPoll([&](const RingPtr<Payload>& p, int64_t seq) {
      tbc.Check(*p, seq);
      // Relaxed: visibility comes from the barrier's acquire of merge's cursor.
      gate_respected = gate_respected && done[p->index].load(std::memory_order_relaxed) == 1;
      in_flight.push_back(p);
      if (in_flight.size() > 32) in_flight.pop_front();
    })) {
    }
  });
  std::thread producer([&] { ProducePooled(pool, ring, n); });
  producer.join();
  merge_thread.join();
  broadcast_thread.join();
  EXPECT_EQ(tm.seen, n);
  EXPECT_EQ(tbc.seen, n);
  EXPECT_TRUE(tm.in_order && tbc.in_order && tm.intact && tbc.intact);
  EXPECT_TRUE(gate_respected);
  ring.writer().Reclaim();
  EXPECT_EQ(pool.Stats().in_use, 0u);
  EXPECT_EQ(pool.CountFreeQuiescent(), 256u);
}

// Readers registering while the producer runs start cleanly: each sees a
// gap-free, in-order suffix of the stream.
TEST(Stress, ReadersJoiningMidStreamSeeAnUnbrokenSuffix) {
  const uint64_t n = 200000;
  RingOptions o;
  o.capacity = 64;
  o.max_readers = 8;
  Ring<uint64_t> ring(o);
  auto first = ring.AddReader();
  std::atomic<bool> producing{true};
  std::thread producer([&] {
    for (uint64_t i = 0; i < n; ++i) ring.writer().Publish(i);
    ring.writer().Close();
    producing.store(false, std::memory_order_release);
  });
  std::vector<std::thread> joiners;
  std::atomic<int> broken{0};
  for (int j = 0; j < 6; ++j) {
    joiners.emplace_back([&] {
      auto r = ring.AddReader();
      if (!r.ok()) return;
      int64_t expected_seq = r->cursor() + 1;
      while (r->WaitPoll([&](const uint64_t& v, int64_t seq) {
        if (seq != expected_seq || v != static_cast<uint64_t>(seq)) broken.fetch_add(1);
        ++expected_seq;
      })) {
      }
    });
  }
  uint64_t seen = 0;
  while (first->WaitPoll([&](const uint64_t& v, int64_t) {
    if (v != seen) broken.fetch_add(1);
    ++seen;
  })) {
  }
  producer.join();
  for (std::thread& t : joiners) t.join();
  EXPECT_EQ(seen, n);
  EXPECT_EQ(broken.load(), 0);
}

}  // namespace
}  // namespace weft::ringbuf
