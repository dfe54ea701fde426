// SingleProducerSequencer: claims ring entries for the one producer and
// publishes them, never letting the producer lap the slowest reader.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "weft/ringbuf/detail/asymmetric_fence.h"
#include "weft/ringbuf/sequence.h"
#include "weft/status.h"

namespace weft::ringbuf {

// The registered readers' cursors, in a fixed table sized at construction so
// that registering a reader never allocates. Registration takes a mutex (it
// is rare); everything the producer and readers do per entry is lock-free.
class ReaderTable {
 public:
  explicit ReaderTable(size_t max_readers)
      : max_(max_readers), cursors_(new Sequence[max_readers]) {}
  ~ReaderTable() { delete[] cursors_; }
  ReaderTable(const ReaderTable&) = delete;
  ReaderTable& operator=(const ReaderTable&) = delete;

  // Claims the next cursor and sets it to start(). `start` is called twice:
  // once before the producer can see the new cursor and once after, so that
  // a producer that had not yet seen it cannot have lapped its first entry.
  // Fails with ResourceExhausted when max_readers cursors have been handed
  // out, and with Unavailable in the one case the handshake below cannot be
  // made (the process-wide barrier failed; see detail::HeavyFence).
  template <typename StartFn>
  Result<Sequence*> Register(StartFn&& start) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = count_.load(std::memory_order_relaxed);
    if (n == max_) return Status::ResourceExhausted("ring has no free reader slot");
    Sequence* cursor = &cursors_[n];
    cursor->Store(start());
    // seq_cst store, then the heavy fence: the registering half of a Dekker
    // pair with the light fence in MinCursor(). Either the producer's next
    // scan sees this reader, or the second start() below sees every entry the
    // producer published before that scan, so the reader starts past any
    // entry the producer could still overwrite. Registering is rare and the
    // scan runs every few dozen publishes, so the scan gets the cheap half.
    count_.store(n + 1, std::memory_order_seq_cst);
    if (!detail::HeavyFence()) {
      // The pair is not established: this cursor must not hold anyone back,
      // and the reader cannot be handed out.
      Detach(cursor);
      return Status::Unavailable("membarrier failed: cannot add a reader to a running ring");
    }
    cursor->Store(start());
    return cursor;
  }

  // Marks a reader gone: its cursor stops holding the producer or any reader
  // gated behind it.
  static void Detach(Sequence* cursor) { cursor->Store(kDetachedSequence); }

  // The lowest cursor of all registered readers, or `upper` if lower.
  int64_t MinCursor(int64_t upper) const {
    // Producer's half of the Dekker pair with Register(). Only a compiler
    // barrier when membarrier is available: a seq_cst fence here waited for
    // the store buffer (full of the producer's stores to slots the readers
    // hold in their caches) on every scan, and cost fan-out about 1.4x.
    detail::LightFence();
    // Acquire pairs with the seq_cst store in Register(): we see the cursor's
    // initial value along with the count.
    size_t n = count_.load(std::memory_order_acquire);
    int64_t min = upper;
    // Sequence::Load is acquire, pairing with each reader's release commit:
    // the reader is done with every entry up to its cursor.
    for (size_t i = 0; i < n; ++i) min = std::min(min, cursors_[i].Load());
    return min;
  }

  size_t count() const { return count_.load(std::memory_order_acquire); }
  size_t max_readers() const { return max_; }
  const Sequence& cursor(size_t i) const { return cursors_[i]; }

 private:
  const size_t max_;
  Sequence* const cursors_;
  std::atomic<size_t> count_{0};
  std::mutex mu_;
};

// Producer-side bookkeeping. Touched only by the producer thread (debug
// builds assert it), so nothing here is atomic but the published cursor.
class SingleProducerSequencer {
 public:
  SingleProducerSequencer(size_t capacity, ReaderTable* readers)
      : capacity_(static_cast<int64_t>(capacity)), readers_(readers) {}

  // Claims up to `n` entries; returns how many (0 when the ring is full).
  // The claimed sequences are next()..next()+count-1 until Publish.
  size_t TryClaim(size_t n) {
    AssertProducerThread();
    int64_t want = static_cast<int64_t>(n);
    int64_t room = Room();
    if (room < want) {
      RefreshGate();
      room = Room();
      if (room <= 0) {
        // Relaxed and not an RMW: only the producer writes it; Stats reads it.
        full_count_.store(full_count_.load(std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
        return 0;
      }
    }
    return static_cast<size_t>(std::min(room, want));
  }

  // The first sequence the next claim would return.
  int64_t next() const { return last_published_ + 1; }

  // Makes every entry up to `last` visible to readers.
  // REQUIRES: next() <= last, and the entries up to it were claimed.
  void Publish(int64_t last) {
    last_published_ = last;
    // Sequence::Store is release: entries written before it are visible to
    // a reader whose Barrier loads this value.
    published_.Store(last);
  }

  // The last published sequence, from the producer's own copy.
  int64_t last_published() const { return last_published_; }

  // Re-reads the slowest reader's cursor; returns it. Entries at or below it
  // are finished by every reader.
  int64_t RefreshGate() {
    cached_gate_ = readers_->MinCursor(last_published_);
    return cached_gate_;
  }

  bool HasRoom(size_t n) {
    if (Room() >= static_cast<int64_t>(n)) return true;
    RefreshGate();
    return Room() >= static_cast<int64_t>(n);
  }

  int64_t cached_gate() const { return cached_gate_; }
  const Sequence& published() const { return published_; }
  // Claims refused because the ring was full. Any thread.
  uint64_t full_count() const { return full_count_.load(std::memory_order_relaxed); }

 private:
  // Entries claimable without overwriting one the slowest reader (as last
  // read) has not passed: sequences next() .. cached_gate_ + capacity_.
  int64_t Room() const { return cached_gate_ + capacity_ - last_published_; }

  void AssertProducerThread() {
#ifndef NDEBUG
    static thread_local const char token = 0;
    if (producer_ == nullptr) producer_ = &token;
    assert(producer_ == &token && "a ring has exactly one producer thread");
#endif
  }

  // The cursor readers poll; its own line (Sequence is padded). The producer
  // only stores to it: every reader poll takes the line away, and a load by
  // the producer would then wait a cross-core round trip, where a store just
  // queues in the store buffer. It reads last_published_ instead.
  Sequence published_;
  // Producer-only fields below share one line, away from published_.
  const int64_t capacity_;
  ReaderTable* const readers_;
  int64_t last_published_ = kInitialSequence;
  int64_t cached_gate_ = kInitialSequence;  // slowest reader, as last read
  std::atomic<uint64_t> full_count_{0};
#ifndef NDEBUG
  const char* producer_ = nullptr;
#endif
};

}  // namespace weft::ringbuf
