// WaitStrategy: how a ring's producer waits for room and its readers wait
// for entries. A policy type with two members:
//   template <class Ready> void WaitUntil(Ready ready);  // returns once ready()
//   void Notify();     // called after every publish and every reader commit
//   void NotifyAll();  // called once on close: wake everyone, unconditionally
// and optionally
//   void BeforePoll(size_t previous_batch);  // Reader::WaitPoll, before polling
// ready() re-reads the ring's cursors with acquire loads.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>

#include "weft/ringbuf/detail/asymmetric_fence.h"
#include "weft/ringbuf/pooled_event.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace weft::ringbuf {

// A hint to the core that we are spinning: on x86 `pause` eases the memory
// pipeline and yields the core's other hyperthread.
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins on the cursor. The lowest latency when each thread has a core to
// itself; collapses when threads outnumber cores (a spinner can starve the
// thread it waits for). Notify costs nothing.
struct BusySpinWait {
  template <typename Ready>
  void WaitUntil(Ready&& ready) {
    while (!ready()) CpuRelax();
  }
  void Notify() {}
  void NotifyAll() {}
};

// Spins briefly, then yields the core on every retry. Good throughput when
// threads outnumber cores; an idle thread still burns its timeslices.
struct YieldingWait {
  static constexpr int kSpins = 64;

  template <typename Ready>
  void WaitUntil(Ready&& ready) {
    for (int i = 0; i < kSpins; ++i) {
      if (ready()) return;
      CpuRelax();
    }
    while (!ready()) std::this_thread::yield();
  }
  void Notify() {}
  void NotifyAll() {}
};

// The default: spin, then yield, then sleep on a futex (C++20 atomic::wait)
// so an idle thread costs nothing. Notify pays a compiler barrier and a load
// when no thread sleeps, and a wake-up only when one does.
//
// Lost-wake-up argument (Dekker): a sleeper increments sleepers_, issues a
// HeavyFence, and re-checks ready() before sleeping; a notifier publishes its
// cursor, issues a LightFence, and reads sleepers_. The two fences order like
// a pair of seq_cst fences (detail/asymmetric_fence.h), so either the
// notifier sees the sleeper (and bumps epoch_, which makes the sleeper's wait
// return), or the sleeper's re-check sees the cursor (and it does not sleep).
// The asymmetry matters: a seq_cst fence in Notify made every publish wait
// for its cursor store to drain, which cost 1-to-1 throughput about 3x.
//
// The spin phase re-checks ready() only every kPausesPerCheck pauses (about
// 1.5 us on the EPYC VM of bench/README.md). A reader that keeps pace with
// the producer then takes entries in batches instead of pulling the cursor's
// line, and the line of entries the producer is writing, across cores every
// few entries: each such pull makes the producer's next store wait for the
// line to come back. Measured there against 8 checks every 8 pauses: 1-to-1
// 99 -> 150 M/s and fan-out 38 -> 47 M/s when a cross-core round trip costs
// 55 ns, 19 -> 40 M/s and 6.4 -> 12.5 M/s when it costs 370 ns. The price is
// up to that much extra latency while spinning (the node's per-hop latency
// is hundreds of microseconds), and two checks keep the spin phase short.
//
// BackoffConfig tunes it for two kinds of user:
//  - BackoffWait, for rings that carry bursts (the defaults above): 64
//    yields keep a reader awake between bursts, BeforePoll paces readers
//    of a busy producer, and the fences are asymmetric.
//  - LightBackoffWait, for a pipeline whose threads outnumber the cores and
//    whose stages pass one entry at a time (the node at typing rates).
//    There each yield is a system call, and a yielding thread competes for
//    the core with the stage it waits for; and the heavy fence (membarrier:
//    an interrupt to every core running the process) costs tens of
//    microseconds in a VM, while a seq_cst fence per publish costs little at
//    thousands of entries a second. So: 4 yields, no pacing, and a seq_cst
//    fence on both sides.
struct BackoffConfig {
  int yields;               // times a waiter gives up the core before it sleeps
  bool pace_small_batches;  // BeforePoll yields and pauses after a small batch
  bool asymmetric_fences;   // membarrier for the sleeper, a compiler barrier for Notify
};

template <BackoffConfig kConfig>
class BasicBackoffWait {
 public:
  static constexpr int kSpins = 2;  // checks in the spin phase
  static constexpr int kPausesPerCheck = 64;
  static constexpr int kYields = kConfig.yields;
  static constexpr size_t kSmallBatch = 128;  // see BeforePoll

  template <typename Ready>
  void WaitUntil(Ready&& ready) {
    for (int i = 0; i < kSpins; ++i) {
      if (ready()) return;
      for (int p = 0; p < kPausesPerCheck; ++p) CpuRelax();
    }
    for (int i = 0; i < kYields; ++i) {
      if (ready()) return;
      std::this_thread::yield();
    }
    while (true) {
      // seq_cst: this increment and the fence below are the sleeper's half
      // of the Dekker pair with Notify()'s fence and sleepers_ load.
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      if constexpr (!kConfig.asymmetric_fences) {
        // Pairs with the seq_cst fence in Notify(): two seq_cst fences order
        // as the asymmetric pair does.
        std::atomic_thread_fence(std::memory_order_seq_cst);
      } else if (!detail::HeavyFence()) {
        // The pair is not established, so sleeping could miss a wake-up:
        // keep yielding instead. Relaxed: as below.
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
        if (ready()) return;
        std::this_thread::yield();
        continue;
      }
      // Acquire pairs with the seq_cst bump in Wake(): a changed epoch means a
      // notifier ran after this load, so wait() below returns at once.
      uint32_t epoch = epoch_.load(std::memory_order_acquire);
      if (ready()) {
        // Relaxed: the count only steers notifiers; no data hangs on it.
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
        return;
      }
      epoch_.wait(epoch, std::memory_order_acquire);
      // Relaxed: as above.
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      if (ready()) return;
    }
  }

  // Called by Reader::WaitPoll before it polls, with the size of the batch
  // it handed out last. A reader that keeps pace with a busy producer finds
  // a few entries each time, and every poll pulls the published cursor's
  // line (and the line of entries being written) away from the producer,
  // whose next store then waits for it. So after a batch that does not look
  // like a backlog, the reader first gives up the core, then lets one check
  // interval go by before polling again:
  //  - The yield matters when threads outnumber cores. In the fan-out
  //    benchmark (two readers on one core) a reader that only paused kept
  //    the core until the ring filled behind the other reader; the producer
  //    then stalled 10-20 us once per lap of the ring, half its time.
  //  - The pause matters when the yield returns at once (nobody else wanted
  //    the core): entries accumulate, and the next poll takes them in one
  //    batch. Yielding alone, when a cross-core round trip costs 370 ns:
  //    1-to-1 34-37 M/s, fan-out 24 M/s; with the pause 47, 28-31.
  // A batch of kSmallBatch or more (an eighth of the default ring) means the
  // reader is behind: it polls at once. So does a reader that was idle. (At
  // 8, readers of a producer publishing 16 at a time never yielded, and the
  // lap-long stall came back for them.)
  static void BeforePoll(size_t previous_batch) {
    if (!kConfig.pace_small_batches) return;
    if (previous_batch != 0 && previous_batch < kSmallBatch) {
      std::this_thread::yield();
      for (int p = 0; p < kPausesPerCheck; ++p) CpuRelax();
    }
  }

  void Notify() {
    // Notifier's half of the Dekker pair: with the sleeper's fence, orders
    // the cursor store the caller just made before the sleepers_ load.
    if constexpr (kConfig.asymmetric_fences) {
      detail::LightFence();
    } else {
      std::atomic_thread_fence(std::memory_order_seq_cst);
    }
    // Relaxed: the fence above, paired with the sleeper's, orders it.
    if (sleepers_.load(std::memory_order_relaxed) != 0) Wake();
  }

  void NotifyAll() {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    Wake();
  }

  // Threads asleep (or about to sleep) right now; for tests and statistics.
  uint32_t sleepers() const {
    // Acquire pairs with the seq_cst increment in WaitUntil.
    return sleepers_.load(std::memory_order_acquire);
  }

 private:
  void Wake() {
    // seq_cst, paired with the acquire epoch load in WaitUntil().
    epoch_.fetch_add(1, std::memory_order_seq_cst);
    epoch_.notify_all();
  }

  // Sleepers write these; on their own line, away from the ring's cursors.
  alignas(kCacheLine) std::atomic<uint32_t> sleepers_{0};
  std::atomic<uint32_t> epoch_{0};
};

using BackoffWait = BasicBackoffWait<BackoffConfig{64, true, true}>;
using LightBackoffWait = BasicBackoffWait<BackoffConfig{4, false, false}>;

// The blocking strategy is the backoff one: it blocks once spinning and
// yielding have not paid off.
using BlockingWait = BackoffWait;

}  // namespace weft::ringbuf
