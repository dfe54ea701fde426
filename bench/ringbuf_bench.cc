// Throughput of ringbuf's slot pools, RingPtr and Ring, each next to the
// baseline weft would otherwise use, in the same process and back to back:
//
//   allocation   BM_PoolAllocFree/256   vs BM_MallocFree/256, BM_MakeShared/256
//   handles      BM_RingPtrCloneDrop    vs BM_SharedPtrCloneDrop
//   1 to 1       BM_Spmc_1to1           vs BM_MutexDeque_1to1, BM_BoostSpsc_1to1
//   fan-out      BM_Spmc_1to2_RingPtr   vs BM_SharedPtrQueues_1to2
//                (BM_Spmc_1to2_RingPtrWith: the same with the node's entry,
//                a RingPtr plus a record)
//
// Every benchmark reports items/s and checks its result (each consumer saw
// every event, in order, with the producer's checksum; every slot is back in
// its pool), so a broken build cannot look fast.
//
// Cross-thread figures on a small VM swing with the cross-core round trip
// (on the 2-core EPYC VM this was written for it flips between about 57 ns
// and 358 ns for minutes at a time, and every cross-thread number moves 3-5x
// with it). main() therefore measures the round trip with a ping-pong probe
// before and after the run, and every multi-threaded benchmark measures it
// again just before it starts and reports it as the counter `rt_ns`. Compare
// ratios between benchmarks that ran in the same latency state.
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <boost/lockfree/spsc_queue.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "weft/ringbuf/ringbuf.h"

namespace weft::ringbuf {
namespace {

// The producer, or the allocating thread, runs on core 0; consumers on core 1.
constexpr int kProducerCore = 0;
constexpr int kConsumerCore = 1;

// Events moved per timed iteration of every multi-threaded benchmark, so that
// items/s compares like with like. A power of two: consumers report progress
// at multiples of it with a mask.
constexpr uint64_t kEventsPerIteration = uint64_t{1} << 20;
constexpr uint64_t kIterationMask = kEventsPerIteration - 1;

// Entries in every ring and queue, weft's and the baselines'.
constexpr size_t kQueueCapacity = 1024;

// ---------------------------------------------------------------------------
// Threads, cores and the round-trip probe.

// Pins the calling thread to `core`. On a machine without that core the
// thread keeps floating, which only makes the numbers noisier.
void PinToCore(int core) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

// Pins the benchmark's own thread (the producer) for one run and restores its
// previous affinity afterwards, so single-threaded benchmarks float again.
class ScopedPin {
 public:
  explicit ScopedPin(int core) {
    CPU_ZERO(&saved_);
    pthread_getaffinity_np(pthread_self(), sizeof(saved_), &saved_);
    PinToCore(core);
  }
  ~ScopedPin() { pthread_setaffinity_np(pthread_self(), sizeof(saved_), &saved_); }
  ScopedPin(const ScopedPin&) = delete;
  ScopedPin& operator=(const ScopedPin&) = delete;

 private:
  cpu_set_t saved_;
};

// A std::thread pinned to a core, joined when it goes out of scope.
class PinnedThread {
 public:
  template <typename F>
  PinnedThread(int core, F&& body)
      : thread_([core, body = std::forward<F>(body)]() mutable {
          PinToCore(core);
          body();
        }) {}
  ~PinnedThread() { Join(); }
  PinnedThread(const PinnedThread&) = delete;
  PinnedThread& operator=(const PinnedThread&) = delete;

  void Join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::thread thread_;
};

struct RoundTrip {
  double median_ns = 0;  // median over batches: what a benchmark experiences
  double min_ns = 0;     // best batch: the hardware's state
};

// Between the two states the VM is known to flip between (57 and 358 ns).
constexpr double kSlowRoundTripNs = 150;

const char* LatencyState(const RoundTrip& rt) {
  return rt.median_ns < kSlowRoundTripNs ? "fast" : "slow";
}

// Two threads pinned to cores 0 and 1 bounce one counter: core 0 writes an
// odd value, core 1 answers with the next even one. Returns the time of one
// round trip (two cache-line transfers).
RoundTrip MeasureRoundTrip(int batches = 5, int rounds_per_batch = 4000) {
  struct alignas(kCacheLine) Ball {
    std::atomic<uint64_t> value{0};
  } ball;
  const uint64_t rounds = static_cast<uint64_t>(batches) * static_cast<uint64_t>(rounds_per_batch);
  std::vector<double> batch_ns;
  {
    PinnedThread pong(kConsumerCore, [&] {
      for (uint64_t i = 0; i < rounds; ++i) {
        // Acquire/release pair with the ping side's release/acquire; the
        // value itself carries the whole message.
        while (ball.value.load(std::memory_order_acquire) != 2 * i + 1) CpuRelax();
        ball.value.store(2 * i + 2, std::memory_order_release);
      }
    });
    PinnedThread ping(kProducerCore, [&] {
      uint64_t i = 0;
      for (int b = 0; b < batches; ++b) {
        auto start = std::chrono::steady_clock::now();
        for (int r = 0; r < rounds_per_batch; ++r, ++i) {
          ball.value.store(2 * i + 1, std::memory_order_release);
          while (ball.value.load(std::memory_order_acquire) != 2 * i + 2) CpuRelax();
        }
        std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
        batch_ns.push_back(took.count() / rounds_per_batch);
      }
    });
  }
  std::sort(batch_ns.begin(), batch_ns.end());
  return RoundTrip{batch_ns[batch_ns.size() / 2], batch_ns.front()};
}

// ---------------------------------------------------------------------------
// Events and result checks.

// The 64-byte event of the 1-to-1 benchmarks: trivially copyable, one line.
struct Event64 {
  uint64_t seq;
  uint64_t value;
  uint64_t pad[6];
};
static_assert(sizeof(Event64) == 64 && std::is_trivially_copyable_v<Event64>,
              "the 1-to-1 benchmarks move 64-byte trivially copyable events");

// The same 256-byte event as SEvent, without the pool: what a plain
// std::make_shared or malloc allocates.
struct PlainEvent256 {
  uint32_t len;
  uint32_t event_type;
  std::byte data[256];
};

// The value carried by event `seq`; consumers sum it into their checksum.
constexpr uint64_t ValueOf(uint64_t seq) { return seq * 0x9E3779B97F4A7C15ull; }

// Writes seq and its value into an event payload (the fan-out events).
template <typename Event>
void FillPayload(Event& e, uint64_t seq) {
  const uint64_t words[2] = {seq, ValueOf(seq)};
  e.len = sizeof(words);
  e.event_type = 1;
  std::memcpy(e.data, words, sizeof(words));
}
template <typename Event>
std::pair<uint64_t, uint64_t> ReadPayload(const Event& e) {
  uint64_t words[2];
  std::memcpy(words, e.data, sizeof(words));
  return {words[0], words[1]};
}

// What one side of a benchmark saw: how many events, whether in order, and
// the sum of their values. The producer keeps one too, to compare. Each on
// its own cache line: the producer's and every consumer's tallies are written
// per event by different threads and must not share a line.
struct alignas(kCacheLine) Tally {
  uint64_t count = 0;
  uint64_t sum = 0;
  bool in_order = true;

  void Add(uint64_t seq, uint64_t value) {
    in_order &= seq == count;
    sum += value;
    ++count;
  }
};

// How far a consumer has got, published once per iteration's worth of
// events. The producer ends each timed iteration only once every consumer has
// drained it, without adding per-event traffic.
class Progress {
 public:
  // Call after every event; stores only at iteration boundaries.
  void Consumed(uint64_t count) {
    // Release pairs with the acquire in WaitFor(): the count is a plain
    // counter, nothing else is published through it.
    if ((count & kIterationMask) == 0) count_.store(count, std::memory_order_release);
  }
  void WaitFor(uint64_t count) const {
    // Acquire pairs with the release in Consumed().
    YieldingWait().WaitUntil([&] { return count_.load(std::memory_order_acquire) >= count; });
  }

 private:
  // Written by one consumer; apart from whatever the benchmark keeps beside it.
  alignas(kCacheLine) std::atomic<uint64_t> count_{0};
};

// Checks that every consumer saw exactly what the producer sent. On a
// mismatch, marks the benchmark failed and returns false.
bool Verify(benchmark::State& state, const Tally& produced,
            std::initializer_list<const Tally*> consumed) {
  for (const Tally* t : consumed) {
    if (t->count != produced.count || t->sum != produced.sum || !t->in_order) {
      state.SkipWithError("a consumer's count, order or checksum differs from the producer's");
      return false;
    }
  }
  return true;
}

// Reports a verified multi-threaded run: the events the producer sent, and
// the round trip measured just before its threads started (counter rt_ns).
void ReportRun(benchmark::State& state, const Tally& produced, const RoundTrip& rt) {
  state.SetItemsProcessed(static_cast<int64_t>(produced.count));
  state.counters["rt_ns"] = rt.median_ns;
}

// The baselines' wait: spin briefly, then yield, as the ring's YieldingWait
// does, so they also make progress when threads outnumber cores.
class SpinThenYield {
 public:
  void Pause() {
    if (spins_ < YieldingWait::kSpins) {
      ++spins_;
      CpuRelax();
    } else {
      std::this_thread::yield();
    }
  }
  void Reset() { spins_ = 0; }

 private:
  int spins_ = 0;
};

// ---------------------------------------------------------------------------
// Allocation: one 256-byte event allocated and freed on the same thread.

void BM_PoolAllocFree(benchmark::State& state) {
  if (state.range(0) != 256) {
    state.SkipWithError("only the 256-byte pool is instantiated");
    return;
  }
  SlotPool<256> pool(64);
  uint64_t sum = 0;
  for (auto _ : state) {
    Result<RingPtr<SEvent>> slot = pool.Allocate();
    if (!slot.ok()) {
      state.SkipWithError("pool exhausted");
      return;
    }
    (*slot)->len = 1;
    benchmark::DoNotOptimize((*slot).get());
    sum += (*slot)->len;
  }
  if (sum != static_cast<uint64_t>(state.iterations()) || pool.Stats().allocations != sum ||
      pool.CountFreeQuiescent() != pool.capacity()) {
    state.SkipWithError("allocation count or free slots wrong");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PoolAllocFree)->Arg(256);

void BM_MallocFree(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0));
  uint64_t sum = 0;
  for (auto _ : state) {
    auto* e = static_cast<PlainEvent256*>(std::malloc(bytes));
    if (e == nullptr) {
      state.SkipWithError("malloc failed");
      return;
    }
    e->len = 1;
    benchmark::DoNotOptimize(e);
    sum += e->len;
    std::free(e);
  }
  if (sum != static_cast<uint64_t>(state.iterations())) state.SkipWithError("count wrong");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MallocFree)->Arg(256);

// make_shared value-initializes (zeroes) the event, as code calling plain
// std::make_shared<T>() gets.
void BM_MakeShared(benchmark::State& state) {
  if (state.range(0) != 256) {
    state.SkipWithError("only the 256-byte event is defined");
    return;
  }
  uint64_t sum = 0;
  for (auto _ : state) {
    auto e = std::make_shared<PlainEvent256>();
    e->len = 1;
    benchmark::DoNotOptimize(e.get());
    sum += e->len;
  }
  if (sum != static_cast<uint64_t>(state.iterations())) state.SkipWithError("count wrong");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MakeShared)->Arg(256);

// ---------------------------------------------------------------------------
// Allocation with remote frees: the weft pattern, where the loop thread
// allocates and any thread frees.
//
//   Owner (core 0) ── allocates batches of 256, hands each over ──▶ Freer (core 1)
//                  ◀──────────── the batch buffer, emptied ────────
//
// Two batch buffers alternate, so the owner fills one while the freer empties
// the other.

// A pool allocation, for CrossThreadFree.
struct PoolHandles {
  using Handle = RingPtr<SEvent>;
  SlotPool<256> pool{4 * 256};

  bool Allocate(Handle* out) {
    Result<Handle> slot = pool.Allocate();
    if (!slot.ok()) return false;
    *out = std::move(*slot);
    return true;
  }
  static SEvent& Get(const Handle& h) { return *h; }
  static void Free(Handle* h) { h->reset(); }
  bool AllReturned() const { return pool.CountFreeQuiescent() == pool.capacity(); }
};

// The malloc baseline for CrossThreadFree.
struct MallocHandles {
  using Handle = PlainEvent256*;

  bool Allocate(Handle* out) {
    *out = static_cast<PlainEvent256*>(std::malloc(sizeof(PlainEvent256)));
    return *out != nullptr;
  }
  static PlainEvent256& Get(Handle h) { return *h; }
  static void Free(Handle* h) { std::free(std::exchange(*h, nullptr)); }
  bool AllReturned() const { return true; }
};

template <typename Handles>
void CrossThreadFree(benchmark::State& state) {
  constexpr size_t kBatch = 256;
  struct alignas(kCacheLine) Buffer {
    // True while the freer owns the buffer. Release/acquire pairs between
    // the owner's handoff and the freer's return: each side sees the
    // handles the other wrote.
    std::atomic<bool> full{false};
    typename Handles::Handle handles[kBatch];
  };
  const RoundTrip rt = MeasureRoundTrip();
  Handles handles;
  Buffer buffers[2];
  std::atomic<bool> done{false};
  Tally produced;
  Tally freed;
  bool exhausted = false;
  {
    PinnedThread freer(kConsumerCore, [&] {
      SpinThenYield wait;
      for (size_t b = 0;; b ^= 1) {
        // Acquire pairs with the owner's release handoff of this buffer.
        while (!buffers[b].full.load(std::memory_order_acquire)) {
          // Acquire pairs with the release in the owner's final store.
          if (done.load(std::memory_order_acquire)) return;
          wait.Pause();
        }
        wait.Reset();
        for (auto& h : buffers[b].handles) {
          auto [seq, value] = ReadPayload(Handles::Get(h));
          freed.Add(seq, value);
          Handles::Free(&h);
        }
        // Release pairs with the owner's acquire before refilling.
        buffers[b].full.store(false, std::memory_order_release);
      }
    });
    ScopedPin pin(kProducerCore);
    SpinThenYield wait;
    size_t b = 0;
    for (auto _ : state) {
      for (uint64_t n = 0; n < kEventsPerIteration; n += kBatch, b ^= 1) {
        // Acquire pairs with the freer's release when it emptied the buffer.
        while (buffers[b].full.load(std::memory_order_acquire)) wait.Pause();
        wait.Reset();
        for (auto& h : buffers[b].handles) {
          while (!handles.Allocate(&h)) {
            exhausted = true;
            wait.Pause();
          }
          FillPayload(Handles::Get(h), produced.count);
          produced.Add(produced.count, ValueOf(produced.count));
        }
        // Release pairs with the freer's acquire: it sees the handles.
        buffers[b].full.store(true, std::memory_order_release);
      }
    }
    // Wait until the freer has emptied both buffers, then let it go.
    for (Buffer& buf : buffers) {
      // Acquire pairs with the freer's release.
      while (buf.full.load(std::memory_order_acquire)) wait.Pause();
    }
    // Release pairs with the freer's acquire of `done`.
    done.store(true, std::memory_order_release);
  }
  if (!Verify(state, produced, {&freed})) return;
  if (exhausted || !handles.AllReturned()) {
    state.SkipWithError("the pool ran dry or did not get every slot back");
    return;
  }
  ReportRun(state, produced, rt);
}

void BM_PoolCrossThreadFree(benchmark::State& state) { CrossThreadFree<PoolHandles>(state); }
void BM_MallocCrossThreadFree(benchmark::State& state) { CrossThreadFree<MallocHandles>(state); }
BENCHMARK(BM_PoolCrossThreadFree)->Arg(256)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MallocCrossThreadFree)->Arg(256)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------
// Handles: copy one and drop the copy (the other handle keeps the slot).

void BM_RingPtrCloneDrop(benchmark::State& state) {
  SlotPool<64> pool(4);
  Result<RingPtr<XsEvent>> held = pool.Allocate();
  if (!held.ok()) {
    state.SkipWithError("pool exhausted");
    return;
  }
  for (auto _ : state) {
    RingPtr<XsEvent> copy(*held);
    benchmark::DoNotOptimize(copy);
  }
  if (held->use_count() != 1) state.SkipWithError("clones leaked a reference");
  held->reset();
  if (pool.CountFreeQuiescent() != pool.capacity()) state.SkipWithError("slot not returned");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RingPtrCloneDrop);

void BM_SharedPtrCloneDrop(benchmark::State& state) {
  auto held = std::make_shared<PlainEvent256>();
  for (auto _ : state) {
    std::shared_ptr<PlainEvent256> copy(held);
    benchmark::DoNotOptimize(copy);
  }
  if (held.use_count() != 1) state.SkipWithError("clones leaked a reference");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SharedPtrCloneDrop);

// ---------------------------------------------------------------------------
// One producer, one consumer, 64-byte events.
//
//   Producer (core 0) ── queue of 1024 Event64 ──▶ Consumer (core 1)
//
// The producer sends 2^20 events per iteration; an iteration ends when the
// consumer has received all of them.

// Producer side shared by the 1-to-1 benchmarks: sends kEventsPerIteration
// events per iteration through `send(const Event64&)` on core 0, waiting for
// the consumer after each, then calls `finish()`.
template <typename Send, typename Finish>
Tally Produce1to1(benchmark::State& state, const Progress& progress, Send&& send, Finish&& finish) {
  ScopedPin pin(kProducerCore);
  Tally produced;
  for (auto _ : state) {
    for (uint64_t n = 0; n < kEventsPerIteration; ++n) {
      const uint64_t seq = produced.count;
      send(Event64{seq, ValueOf(seq), {}});
      produced.Add(seq, ValueOf(seq));
    }
    progress.WaitFor(produced.count);
  }
  finish();
  return produced;
}

// Ring<Event64>: per-event Publish, or Claim/Publish of kBatch entries.
template <typename Wait, size_t kBatch>
void Spmc1to1(benchmark::State& state) {
  static_assert(kEventsPerIteration % kBatch == 0, "batches tile an iteration");
  const RoundTrip rt = MeasureRoundTrip();
  RingOptions options;
  options.capacity = kQueueCapacity;
  options.max_readers = 1;
  Ring<Event64, Wait> ring(options);
  Result<Reader<Event64, Wait>> reader = ring.AddReader();
  if (!reader.ok()) {
    state.SkipWithError("AddReader failed");
    return;
  }
  Progress progress;
  Tally received;
  Tally produced;
  {
    PinnedThread consumer(kConsumerCore, [&, r = std::move(*reader)]() mutable {
      auto on_event = [&](const Event64& e, int64_t) {
        received.Add(e.seq, e.value);
        progress.Consumed(received.count);
      };
      while (r.WaitPoll(on_event) != 0) {
      }
    });
    Writer<Event64, Wait>& writer = ring.writer();
    if constexpr (kBatch == 1) {
      produced = Produce1to1(
          state, progress, [&](const Event64& e) { writer.Publish(e); }, [&] { writer.Close(); });
    } else {
      ScopedPin pin(kProducerCore);
      for (auto _ : state) {
        for (uint64_t n = 0; n < kEventsPerIteration; n += kBatch) {
          typename Writer<Event64, Wait>::Claim claim = writer.ClaimBlocking(kBatch);
          for (size_t i = 0; i < kBatch; ++i) {
            const uint64_t seq = produced.count;
            Event64& e = claim[i];
            e.seq = seq;
            e.value = ValueOf(seq);
            produced.Add(seq, e.value);
          }
          writer.Publish(claim);
        }
        progress.WaitFor(produced.count);
      }
      writer.Close();
    }
  }
  if (!Verify(state, produced, {&received})) return;
  ReportRun(state, produced, rt);
}

void BM_Spmc_1to1(benchmark::State& state) { Spmc1to1<BackoffWait, 1>(state); }
void BM_Spmc_1to1_Batch64(benchmark::State& state) { Spmc1to1<BackoffWait, 64>(state); }
void BM_Spmc_1to1_Yield(benchmark::State& state) { Spmc1to1<YieldingWait, 1>(state); }
void BM_Spmc_1to1_BusySpin(benchmark::State& state) { Spmc1to1<BusySpinWait, 1>(state); }

// A bounded std::deque behind one std::mutex, with a condition_variable for
// each direction: the queue most code reaches for first.
class MutexDeque {
 public:
  void Push(const Event64& e) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return items_.size() < kQueueCapacity; });
    items_.push_back(e);
    lock.unlock();
    not_empty_.notify_one();
  }
  // False once closed and drained.
  bool Pop(Event64* out) {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return !items_.empty() || closed_; });
    if (items_.empty()) return false;
    *out = items_.front();
    items_.pop_front();
    lock.unlock();
    not_full_.notify_one();
    return true;
  }
  void Close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    not_empty_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<Event64> items_;
  bool closed_ = false;
};

void BM_MutexDeque_1to1(benchmark::State& state) {
  const RoundTrip rt = MeasureRoundTrip();
  MutexDeque queue;
  Progress progress;
  Tally received;
  Tally produced;
  {
    PinnedThread consumer(kConsumerCore, [&] {
      Event64 e;
      while (queue.Pop(&e)) {
        received.Add(e.seq, e.value);
        progress.Consumed(received.count);
      }
    });
    produced = Produce1to1(
        state, progress, [&](const Event64& e) { queue.Push(e); }, [&] { queue.Close(); });
  }
  if (!Verify(state, produced, {&received})) return;
  ReportRun(state, produced, rt);
}

// Both sides spin, then yield, on a full or empty queue.
void BM_BoostSpsc_1to1(benchmark::State& state) {
  using Queue = boost::lockfree::spsc_queue<Event64, boost::lockfree::capacity<kQueueCapacity>>;
  const RoundTrip rt = MeasureRoundTrip();
  auto queue = std::make_unique<Queue>();
  std::atomic<bool> closed{false};
  Progress progress;
  Tally received;
  Tally produced;
  {
    PinnedThread consumer(kConsumerCore, [&] {
      SpinThenYield wait;
      Event64 e;
      while (true) {
        if (queue->pop(e)) {
          wait.Reset();
          received.Add(e.seq, e.value);
          progress.Consumed(received.count);
        } else if (
            // Acquire pairs with the release in the producer's close: once
            // we see it, an empty queue stays empty.
            closed.load(std::memory_order_acquire) && queue->read_available() == 0) {
          return;
        } else {
          wait.Pause();
        }
      }
    });
    SpinThenYield wait;
    produced = Produce1to1(
        state, progress,
        [&](const Event64& e) {
          while (!queue->push(e)) wait.Pause();
          wait.Reset();
        },
        // Release pairs with the consumer's acquire: every push happens before.
        [&] { closed.store(true, std::memory_order_release); });
  }
  if (!Verify(state, produced, {&received})) return;
  ReportRun(state, produced, rt);
}

BENCHMARK(BM_Spmc_1to1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_MutexDeque_1to1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BoostSpsc_1to1)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Spmc_1to1_Batch64)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Spmc_1to1_Yield)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Spmc_1to1_BusySpin)->UseRealTime()->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------
// Fan-out: one producer, two consumers that each see every event. 3 threads
// on 2 cores.
//
//                       ┌──▶ Reader A (core 1)
//   Producer (core 0) ──┤
//                       └──▶ Reader B (core 1)
//
// The producer allocates each 256-byte event (a 16-byte payload written into
// it) and shares it with both readers; an iteration ends when both readers
// have received 2^20 events.

// What a node's rings carry beside the frame's slot (RingPtrWith), in the
// shape of the larger of the two, the egress record (node/src/pipeline.h):
// what the stage made of the frame, where its document name and update lie
// in it, its connection, the ack it earns and when it arrived. 48 bytes:
// with the RingPtr, one cache line per entry.
struct FrameRecord {
  uint8_t kind;
  bool relay;
  uint16_t doc_offset, doc_size, update_offset, update_size;
  uint32_t batch_bytes;
  uint64_t conn;
  uint64_t ack_agent;
  uint64_t ack_next_seq;
  uint64_t received_micros;
};
static_assert(sizeof(FrameRecord) == 48);

// Entry types of the fan-out: the bare RingPtr, or the RingPtr with a record.
template <bool kWithRecord>
using FanOutEntry =
    std::conditional_t<kWithRecord, RingPtrWith<SEvent, FrameRecord>, RingPtr<SEvent>>;

template <bool kWithRecord>
const RingPtr<SEvent>& SlotOf(const FanOutEntry<kWithRecord>& e) {
  if constexpr (kWithRecord) {
    return e.ptr;
  } else {
    return e;
  }
}

// Ring<RingPtr<SEvent>>: events from a weft pool, borrowed in place by both
// readers; the producer drops the ring's reference once both have passed it.
// With kWithRecord each entry also carries a FrameRecord, which the readers
// check against the payload.
template <typename Wait, size_t kBatch = 1, bool kWithRecord = false>
void Spmc1to2RingPtr(benchmark::State& state) {
  using Entry = FanOutEntry<kWithRecord>;
  const RoundTrip rt = MeasureRoundTrip();
  // Enough slots for a full ring plus entries passed but not yet reclaimed.
  PoolCapacities capacities;
  capacities.s = 2 * kQueueCapacity;
  EventAllocator allocator(capacities);
  RingOptions options;
  options.capacity = kQueueCapacity;
  options.max_readers = 2;
  Ring<Entry, Wait> ring(options);
  Result<Reader<Entry, Wait>> reader_a = ring.AddReader();
  Result<Reader<Entry, Wait>> reader_b = ring.AddReader();
  if (!reader_a.ok() || !reader_b.ok()) {
    state.SkipWithError("AddReader failed");
    return;
  }
  Progress progress[2];
  Tally received[2];
  Tally produced;
  Writer<Entry, Wait>& writer = ring.writer();
  {
    auto read = [&](int i, Reader<Entry, Wait> r) {
      return [&, i, r = std::move(r)]() mutable {
        auto on_event = [&](const Entry& e, int64_t) {
          auto [seq, value] = ReadPayload(*SlotOf<kWithRecord>(e));
          if constexpr (kWithRecord) {
            // A record that disagrees with its payload poisons the checksum.
            if (e.record.conn != seq) value = ~value;
          }
          received[i].Add(seq, value);
          progress[i].Consumed(received[i].count);
        };
        while (r.WaitPoll(on_event) != 0) {
        }
      };
    };
    PinnedThread a(kConsumerCore, read(0, std::move(*reader_a)));
    PinnedThread b(kConsumerCore, read(1, std::move(*reader_b)));
    // The producer built the pools, so it owns them: no atomic read-modify-
    // write to allocate, nor to free the slots it reclaims.
    ScopedPin pin(kProducerCore);
    for (auto _ : state) {
      for (uint64_t n = 0; n < kEventsPerIteration; n += kBatch) {
        Entry batch[kBatch];
        for (Entry& slot : batch) {
          Result<RingPtr<SEvent>> event = allocator.Allocate<SEvent>();
          while (!event.ok()) {
            // The pool ran dry: take back what the readers finished, as a
            // producer in weft would.
            if (writer.Reclaim() == 0) std::this_thread::yield();
            event = allocator.Allocate<SEvent>();
          }
          FillPayload(**event, produced.count);
          if constexpr (kWithRecord) {
            FrameRecord record{};
            record.kind = 1;
            record.update_size = 16;
            record.batch_bytes = 16;
            record.conn = produced.count;
            slot = Entry{std::move(*event), record};
          } else {
            slot = std::move(*event);
          }
          produced.Add(produced.count, ValueOf(produced.count));
        }
        if constexpr (kBatch == 1) {
          writer.Publish(std::move(batch[0]));
        } else {
          // One claim and one publish for the whole batch.
          typename Writer<Entry, Wait>::Claim claim = writer.ClaimBlocking(kBatch);
          for (size_t b = 0; b < kBatch; ++b) claim.Put(b, std::move(batch[b]));
          writer.Publish(claim);
        }
      }
      progress[0].WaitFor(produced.count);
      progress[1].WaitFor(produced.count);
    }
    writer.Close();
  }
  if (!Verify(state, produced, {&received[0], &received[1]})) return;
  // Both readers are gone: every entry is reclaimable.
  writer.Reclaim();
  const SlotPool<256>& pool = allocator.pools().s;
  if (pool.CountFreeQuiescent() != pool.capacity()) {
    state.SkipWithError("slots not back in the pool after the run");
    return;
  }
  ReportRun(state, produced, rt);
}

void BM_Spmc_1to2_RingPtr(benchmark::State& state) { Spmc1to2RingPtr<BackoffWait>(state); }
void BM_Spmc_1to2_RingPtr_Yield(benchmark::State& state) { Spmc1to2RingPtr<YieldingWait>(state); }
// The node's entry: the slot plus a 48-byte record, one entry per publish.
void BM_Spmc_1to2_RingPtrWith(benchmark::State& state) {
  Spmc1to2RingPtr<BackoffWait, 1, true>(state);
}
// The same, the producer publishing 16 events at a time (one claim, one
// publish), as a producer does that has several ready (frames from one read).
void BM_Spmc_1to2_RingPtr_Batch16(benchmark::State& state) {
  Spmc1to2RingPtr<BackoffWait, 16>(state);
}

// Two boost spsc queues of std::shared_ptr, one per consumer: the event is
// allocated with std::make_shared, and each consumer drops its reference.
void BM_SharedPtrQueues_1to2(benchmark::State& state) {
  using Event = std::shared_ptr<PlainEvent256>;
  using Queue = boost::lockfree::spsc_queue<Event, boost::lockfree::capacity<kQueueCapacity>>;
  const RoundTrip rt = MeasureRoundTrip();
  auto queues = std::make_unique<Queue[]>(2);
  std::atomic<bool> closed{false};
  Progress progress[2];
  Tally received[2];
  Tally produced;
  {
    auto read = [&](int i) {
      return [&, i] {
        SpinThenYield wait;
        auto on_event = [&](const Event& e) {
          auto [seq, value] = ReadPayload(*e);
          received[i].Add(seq, value);
          progress[i].Consumed(received[i].count);
        };
        while (true) {
          if (queues[i].consume_one(on_event)) {
            wait.Reset();
          } else if (
              // Acquire pairs with the producer's release on close: once we
              // see it, an empty queue stays empty.
              closed.load(std::memory_order_acquire) && queues[i].read_available() == 0) {
            return;
          } else {
            wait.Pause();
          }
        }
      };
    };
    PinnedThread a(kConsumerCore, read(0));
    PinnedThread b(kConsumerCore, read(1));
    ScopedPin pin(kProducerCore);
    SpinThenYield wait;
    for (auto _ : state) {
      for (uint64_t n = 0; n < kEventsPerIteration; ++n) {
        Event event = std::make_shared<PlainEvent256>();
        FillPayload(*event, produced.count);
        produced.Add(produced.count, ValueOf(produced.count));
        while (!queues[0].push(event)) wait.Pause();
        wait.Reset();
        while (!queues[1].push(event)) wait.Pause();
        wait.Reset();
      }
      progress[0].WaitFor(produced.count);
      progress[1].WaitFor(produced.count);
    }
    // Release pairs with the consumers' acquire: every push happens before.
    closed.store(true, std::memory_order_release);
  }
  if (!Verify(state, produced, {&received[0], &received[1]})) return;
  ReportRun(state, produced, rt);
}

BENCHMARK(BM_Spmc_1to2_RingPtr)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SharedPtrQueues_1to2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Spmc_1to2_RingPtrWith)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Spmc_1to2_RingPtr_Yield)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Spmc_1to2_RingPtr_Batch16)->UseRealTime()->Unit(benchmark::kMillisecond);

std::string Describe(const RoundTrip& rt) {
  char text[96];
  std::snprintf(text, sizeof(text), "median %.0f ns, best %.0f ns (%s state)", rt.median_ns,
                rt.min_ns, LatencyState(rt));
  return text;
}

}  // namespace
}  // namespace weft::ringbuf

// Measures the cross-core round trip before and after the benchmarks, so a
// reader of the output knows which latency state each part ran in.
int main(int argc, char** argv) {
  using weft::ringbuf::Describe;
  using weft::ringbuf::MeasureRoundTrip;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const std::string before = Describe(MeasureRoundTrip(9, 10000));
  benchmark::AddCustomContext("round_trip_before", before);
  std::printf("cross-core round trip before: %s\n", before.c_str());
  std::fflush(stdout);
  benchmark::RunSpecifiedBenchmarks();
  std::printf("cross-core round trip after: %s\n", Describe(MeasureRoundTrip(9, 10000)).c_str());
  benchmark::Shutdown();
  return 0;
}
