// Ring<E>: a single-producer, multi-consumer broadcast ring in the style of
// the LMAX Disruptor. Every reader sees every entry, in order.
//
//            Writer (one thread)
//                 │ Claim → write entries in place → Publish
//                 ▼
//   ┌───────────────────────────────────┐  capacity = 2^k entries
//   │ e0 │ e1 │ e2 │ ...                │  entries_[seq & mask]
//   └───────────────────────────────────┘
//        ▲ cursor A          ▲ cursor B (gated behind A: B <= A)
//
// - The producer never overwrites an entry some reader has not passed:
//   TryPublish reports full, Publish waits (through the WaitStrategy).
// - Readers borrow entries in place and consume in batches: one acquire load
//   of the barrier and one release store of the cursor per batch, no atomic
//   read-modify-write per entry.
// - When entries own something (E = RingPtr<T>, or RingPtrWith<T, Record>:
//   a RingPtr plus a small record), the ring's reference is
//   dropped by the producer once the slowest reader has passed the entry: as
//   it publishes (every `reclaim_interval` entries), whenever it finds the
//   ring full, and when Reclaim() is called (e.g. when a pool runs dry or the
//   producer goes idle). A reader that keeps an entry past its turn copies it.
// - For entries holding a RingPtr the producer keeps its own record of the slot each
//   entry holds and drops references through that: after publishing, it
//   only ever stores to the shared entries, never loads them (see
//   Writer::held_).
//
// Lifetime: the Ring outlives its Writer and Readers; for entries holding a
// RingPtr the pools outlive the Ring. Threads: Writer methods on one thread at a time
// (debug builds assert a single producer thread); each Reader on one thread.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

#include "weft/ringbuf/barrier.h"
#include "weft/ringbuf/inline_storage.h"
#include "weft/ringbuf/ring_ptr.h"
#include "weft/ringbuf/ring_ptr_with.h"
#include "weft/ringbuf/sequence.h"
#include "weft/ringbuf/sequencer.h"
#include "weft/ringbuf/wait_strategy.h"
#include "weft/status.h"

namespace weft::ringbuf {

struct RingOptions {
  size_t capacity = 1024;  // entries; must be a power of two
  size_t max_readers = 8;  // readers that may ever register
  // For entries that own something: drop the ring's references at least
  // every this many publishes (and whenever the ring is full or Reclaim()
  // is called). Smaller returns slots sooner; each reclaim reads every
  // reader's cursor, a cross-core miss per reader. Fan-out benchmark, 256
  // against 64: 1.05x when a round trip costs 55 ns, 1.2-1.4x at 370 ns;
  // 512 adds little more.
  size_t reclaim_interval = 256;
};

// A snapshot of one reader's position, for statistics.
struct ReaderStats {
  int64_t cursor = kInitialSequence;
  int64_t lag = 0;  // published - cursor
  double backpressure = 0;
};

struct RingStats {
  size_t capacity = 0;
  int64_t published = kInitialSequence;
  uint64_t full = 0;  // claims refused because the ring was full
  size_t readers = 0;
};

template <typename E, typename Wait>
class Reader;
template <typename E, typename Wait>
class Writer;

template <typename E, typename Wait = BackoffWait>
class Ring {
  static_assert(std::is_default_constructible_v<E> && std::is_move_assignable_v<E>,
                "ring entries are default-constructible and move-assignable");

 public:
  using Entry = E;
  using Writer = ringbuf::Writer<E, Wait>;
  using Reader = ringbuf::Reader<E, Wait>;

  // Allocates the entries, the reader table and, for RingPtr entries, the
  // writer's record of their slots: the only allocations.
  // REQUIRES: options.capacity is a power of two.
  explicit Ring(const RingOptions& options = {})
      : Ring(options, std::make_unique<E[]>(options.capacity), nullptr) {}

  // The entries' destructors then drop the references not yet reclaimed.
  ~Ring() { writer_.ForgetReclaimedEntries(); }

  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // Checks the options a caller is about to construct a Ring with.
  static Status Validate(const RingOptions& options) {
    if (options.capacity == 0 || !std::has_single_bit(options.capacity)) {
      return Status::InvalidArgument("ring capacity must be a power of two");
    }
    if (options.max_readers == 0) return Status::InvalidArgument("ring needs max_readers >= 1");
    if (options.reclaim_interval == 0) return Status::InvalidArgument("reclaim_interval >= 1");
    return Status::Ok();
  }

  // The producer's handle. There is one per ring.
  Writer& writer() { return writer_; }

  // Registers a reader that sees every entry published from now on, gated
  // behind `gates` (readers of this ring that must finish an entry first).
  // Fails when max_readers readers have registered or more than
  // Barrier::kMaxGates gates are given. Any thread; safe while the producer
  // runs. (Registering makes every thread of the process run a memory
  // barrier: cheap for the producer, but not for a tight loop of AddReader.)
  Result<Reader> AddReader(std::initializer_list<const Reader*> gates = {}) {
    if (gates.size() > Barrier::kMaxGates) return Status::InvalidArgument("too many gates");
    Barrier barrier(&sequencer_.published());
    for (const Reader* g : gates) {
      if (g == nullptr || g->ring_ != this) return Status::InvalidArgument("gate on another ring");
      barrier.AddGate(g->cursor_);
    }
    Result<Sequence*> cursor = readers_.Register([&] { return barrier.Available(); });
    if (!cursor.ok()) return cursor.status();
    return Reader(this, *cursor, barrier);
  }

  size_t capacity() const { return mask_ + 1; }

  RingStats Stats() const {
    RingStats s;
    s.capacity = capacity();
    s.published = sequencer_.published().Load();
    s.full = sequencer_.full_count();
    s.readers = readers_.count();
    return s;
  }

  // The ring's wait strategy, for its statistics (e.g. BackoffWait::sleepers).
  const Wait& wait_strategy() const { return wait_; }

  // Wakes readers waiting in WaitPollOr so they check its `woken`
  // condition again. Call after the store that makes it true: the wait
  // strategy's Notify orders that store as it orders a published cursor.
  // Any thread.
  void NotifyReaders() { wait_.Notify(); }

  // True once the writer closed the ring.
  bool closed() const {
    // Acquire pairs with the release in Writer::Close(): a reader that sees
    // the ring closed also sees the last published cursor.
    return closed_.load(std::memory_order_acquire);
  }

 protected:
  // For InlineRing: entries supplied by the caller, not owned.
  Ring(const RingOptions& options, E* entries) : Ring(options, std::unique_ptr<E[]>(), entries) {}

 private:
  friend Writer;
  friend Reader;

  Ring(const RingOptions& options, std::unique_ptr<E[]> owned, E* external)
      : owned_(std::move(owned)),
        entries_(owned_ ? owned_.get() : external),
        mask_(options.capacity - 1),
        reclaim_interval_(static_cast<int64_t>(options.reclaim_interval)),
        readers_(options.max_readers),
        sequencer_(options.capacity, &readers_),
        writer_(this) {
    assert(Validate(options).ok());
  }

  E& entry(int64_t seq) { return entries_[static_cast<size_t>(seq) & mask_]; }

  std::unique_ptr<E[]> owned_;
  E* const entries_;
  const size_t mask_;
  const int64_t reclaim_interval_;
  ReaderTable readers_;
  SingleProducerSequencer sequencer_;
  Wait wait_;
  alignas(kCacheLine) std::atomic<bool> closed_{false};
  // Producer-only (reclaimed_ is written on every claim of owning entries).
  // On its own line, away from closed_, which every waiting reader polls.
  alignas(kCacheLine) Writer writer_;
};

// The producer's side of a Ring. Not thread-safe: one producer thread.
template <typename E, typename Wait>
class Writer {
 public:
  // Entries claimed by TryClaim, written in place, then published together.
  class Claim {
   public:
    size_t size() const { return count_; }
    bool empty() const { return count_ == 0; }
    int64_t first_sequence() const { return first_; }
    // REQUIRES: i < size().
    E& operator[](size_t i) {
      assert(i < count_);
      written_in_place_ = true;
      return ring_->entry(first_ + static_cast<int64_t>(i));
    }

    // Stores `value` as entry i, like (*this)[i] = value, but for RingPtr
    // entries without reading the entry first (see Writer::Put): the faster
    // way to fill a claim.
    // REQUIRES: i < size().
    template <typename U>
    void Put(size_t i, U&& value) {
      assert(i < count_);
      ring_->writer_.Put(first_ + static_cast<int64_t>(i), std::forward<U>(value));
    }

   private:
    friend class Writer;
    Ring<E, Wait>* ring_ = nullptr;
    int64_t first_ = 0;
    size_t count_ = 0;
    bool written_in_place_ = false;  // through operator[]: Publish reads them back
  };

  // Claims up to `n` entries without waiting (fewer, or none, when readers
  // lag). Each holds an empty E. Write them through the Claim, then Publish
  // it. One claim at a time; a claim that is never published is given back
  // (the next claim starts at the same sequence), and whatever was written
  // into it is lost without being destroyed.
  Claim TryClaim(size_t n) {
    Claim c = ClaimEntries(n);
    if constexpr (kTracksSlots) {
      // Reclaimed RingPtr entries keep stale bits (see held_); give the
      // caller real empty handles to assign to. Stores only.
      for (size_t i = 0; i < c.size(); ++i) {
        std::construct_at(&ring_->entry(c.first_ + static_cast<int64_t>(i)));
      }
    }
    return c;
  }

  // Claims exactly `n` entries, waiting for readers as needed.
  // REQUIRES: n <= capacity.
  Claim ClaimBlocking(size_t n) {
    WaitForRoom(n);
    return TryClaim(n);
  }

  // Publishes the claim's entries.
  void Publish(const Claim& c) {
    if (c.empty()) return;
    int64_t last = c.first_ + static_cast<int64_t>(c.count_) - 1;
    if constexpr (kTracksSlots) {
      // Put recorded what it stored; entries assigned through operator[]
      // are read back here (the slower path).
      if (c.written_in_place_) {
        for (int64_t s = c.first_; s <= last; ++s) Record(s, ring_->entry(s));
      }
    }
    ring_->sequencer_.Publish(last);
    ring_->wait_.Notify();
    if constexpr (kOwnsEntries) {
      if (last - reclaimed_ >= ring_->reclaim_interval_) Reclaim();
    }
  }

  // Publishes one entry; false (and `value` untouched) when the ring is full.
  template <typename U>
  bool TryPublish(U&& value) {
    Claim c = ClaimEntries(1);
    if (c.empty()) return false;
    c.Put(0, std::forward<U>(value));
    Publish(c);
    return true;
  }

  // Publishes one entry, waiting while the ring is full.
  template <typename U>
  requires(!std::is_same_v<std::remove_cvref_t<U>, Claim>) void Publish(U&& value) {
    WaitForRoom(1);
    Claim c = ClaimEntries(1);
    c.Put(0, std::forward<U>(value));
    Publish(c);
  }

  // Moves as many of `values` as fit into the ring under one publish;
  // returns how many.
  size_t TryPublishBatch(std::span<E> values) {
    Claim c = ClaimEntries(values.size());
    for (size_t i = 0; i < c.size(); ++i) c.Put(i, std::move(values[i]));
    Publish(c);
    return c.size();
  }

  // Drops the ring's references to every entry all readers have passed, and
  // returns how many it dropped. Call when a pool runs dry or before the
  // producer goes idle; publishing also does it as it goes.
  size_t Reclaim() {
    if constexpr (!kOwnsEntries) {
      return 0;
    } else {
      int64_t before = reclaimed_;
      ReclaimUpTo(ring_->sequencer_.RefreshGate());
      return static_cast<size_t>(reclaimed_ - before);
    }
  }

  // Tells readers nothing more will come; WaitPoll returns 0 once a reader
  // has drained the ring. Publishing after Close is a bug.
  void Close() {
    // Release pairs with the acquire in Ring::closed().
    ring_->closed_.store(true, std::memory_order_release);
    ring_->wait_.NotifyAll();
  }

  // The sequence of the last published entry (-1 before the first).
  int64_t published() const { return ring_->sequencer_.last_published(); }

  // Entries at or below this sequence were reclaimed: every reader passed
  // them and, for owning entries, the ring dropped what they held. A
  // producer that keeps data beside the entries (indexed like them) may
  // drop it up to here.
  int64_t reclaimed() const { return reclaimed_; }

 private:
  friend class Ring<E, Wait>;
  static constexpr bool kOwnsEntries = !std::is_trivially_destructible_v<E>;
  static constexpr bool kTracksSlots = detail::EntrySlot<E>::kHoldsSlot;

  explicit Writer(Ring<E, Wait>* ring) : ring_(ring) {
    if constexpr (kTracksSlots) held_ = std::make_unique<HeldSlot[]>(ring->capacity());
  }

  size_t Index(int64_t seq) const { return static_cast<size_t>(seq) & ring_->mask_; }

  void WaitForRoom(size_t n) {
    assert(n <= ring_->capacity());
    ring_->wait_.WaitUntil([&] { return ring_->sequencer_.HasRoom(n); });
  }

  // Claims entries as they are: reclaimed RingPtr entries hold stale bits,
  // which only Put may write over.
  Claim ClaimEntries(size_t n) {
    Claim c;
    c.ring_ = ring_;
    c.first_ = ring_->sequencer_.next();
    c.count_ = ring_->sequencer_.TryClaim(n);
    // Drop the references every reader has passed, as far as the producer
    // last looked. That covers the entries this claim overwrites: the claim
    // only reaches one lap past that point.
    if constexpr (kOwnsEntries) ReclaimUpTo(ring_->sequencer_.cached_gate());
    return c;
  }

  // Stores into claimed entry `seq`, which holds nothing: it was never used,
  // or its reference was dropped when it was reclaimed. A RingPtr is built
  // over it without reading it first, as assignment would (to drop the old
  // reference), and recorded in held_ from the value in hand: readers keep
  // taking the entries' lines (they read the neighbours), and any load from
  // the entry then waits a cross-core round trip (over a third of the
  // producer's time in the fan-out benchmark when Publish read entries back),
  // where a store only queues in the store buffer. Other types are assigned.
  template <typename U>
  void Put(int64_t seq, U&& value) {
    if constexpr (kTracksSlots) {
      E handle(std::forward<U>(value));
      Record(seq, handle);
      std::construct_at(&ring_->entry(seq), std::move(handle));
    } else {
      ring_->entry(seq) = std::forward<U>(value);
    }
  }

  void Record(int64_t seq, const E& handle) {
    const auto& ptr = detail::EntrySlot<E>::Of(handle);
    held_[Index(seq)] = HeldSlot{detail::RingPtrAccess::pool(ptr), ptr.slot_index()};
  }

  // Drops the ring's references in (reclaimed_, upto].
  // REQUIRES: every reader passed upto.
  void ReclaimUpTo(int64_t upto) {
    if constexpr (kTracksSlots) {
      // Through held_: the shared entries are not touched (they keep stale
      // bits until Put overwrites them, and readers never look at them).
      for (int64_t s = reclaimed_ + 1; s <= upto; ++s) {
        const HeldSlot& h = held_[Index(s)];
        if (h.pool != nullptr) h.pool->Drop(h.index);
      }
    } else {
      for (int64_t s = reclaimed_ + 1; s <= upto; ++s) ring_->entry(s) = E{};
    }
    reclaimed_ = std::max(reclaimed_, upto);
  }

  // Before the entries are destroyed: empties the reclaimed ones, whose
  // stale bits would otherwise drop their references a second time.
  void ForgetReclaimedEntries() {
    if constexpr (kTracksSlots) {
      int64_t oldest = ring_->sequencer_.last_published() - static_cast<int64_t>(ring_->capacity());
      for (int64_t s = std::max<int64_t>(oldest + 1, 0); s <= reclaimed_; ++s) {
        std::construct_at(&ring_->entry(s));
      }
    }
  }

  // What a RingPtr entry holds, recorded by the producer as it publishes.
  // Reclaiming reads this instead of the entries: the readers read those
  // lines, so the producer's loads of them waited a cross-core round trip
  // (in the fan-out benchmark, most of the time spent reclaiming).
  struct HeldSlot {
    detail::SlotPoolCore* pool = nullptr;
    uint32_t index = 0;
  };

  Ring<E, Wait>* const ring_;
  int64_t reclaimed_ = kInitialSequence;  // entries at or below hold nothing
  std::unique_ptr<HeldSlot[]> held_;      // per entry, for RingPtr entries
};

// One reader of a Ring: sees every entry published after it registered,
// in order, and never one its gates have not finished. Movable; detaches
// from the ring when destroyed.
template <typename E, typename Wait>
class Reader {
 public:
  Reader(Reader&& other) noexcept
      : ring_(std::exchange(other.ring_, nullptr)),
        cursor_(std::exchange(other.cursor_, nullptr)),
        barrier_(other.barrier_),
        next_(other.next_),
        last_batch_(other.last_batch_) {}
  Reader& operator=(Reader&& other) noexcept {
    if (this != &other) {
      Detach();
      ring_ = std::exchange(other.ring_, nullptr);
      cursor_ = std::exchange(other.cursor_, nullptr);
      barrier_ = other.barrier_;
      next_ = other.next_;
      last_batch_ = other.last_batch_;
    }
    return *this;
  }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
  ~Reader() { Detach(); }

  // Calls handler(const E& entry, int64_t sequence) for each entry ready now,
  // at most `max_batch` of them, then marks them consumed. The entry is
  // borrowed: valid during the call only; copy it to keep it. Returns the
  // number handled (0 when none is ready). Never waits.
  template <typename Handler>
  size_t Poll(Handler&& handler, size_t max_batch = SIZE_MAX) {
    size_t handled = Peek(handler, max_batch);
    if (handled != 0) Commit(next_ - 1);
    return handled;
  }

  // Like Poll, but leaves the entries unconsumed: they stay borrowed (the
  // producer cannot reuse them and gated readers do not see them) until
  // Release(). For a reader that must finish a batch as a whole before
  // letting go of it, e.g. persistence, which fsyncs before acks may pass.
  // Successive Peeks extend the borrowed range.
  template <typename Handler>
  size_t Peek(Handler&& handler, size_t max_batch = SIZE_MAX) {
    // One barrier read per batch: the acquire loads inside it make every
    // entry up to `last` visible.
    int64_t last = barrier_.Available();
    if (last < next_) return 0;
    if (static_cast<uint64_t>(last - next_) >= max_batch) {
      last = next_ + static_cast<int64_t>(max_batch) - 1;
    }
    for (int64_t s = next_; s <= last; ++s) handler(std::as_const(ring_->entry(s)), s);
    size_t handled = static_cast<size_t>(last - next_ + 1);
    next_ = last + 1;
    return handled;
  }

  // Marks everything peeked so far consumed. (Poll also releases whatever
  // was peeked before it.)
  void Release() {
    if (cursor_->LoadRelaxed() != next_ - 1) Commit(next_ - 1);
  }

  // Like Poll, but first waits (by the ring's WaitStrategy) until an entry is
  // ready. Returns 0 only when the writer closed the ring and this reader has
  // consumed everything it will ever see.
  template <typename Handler>
  size_t WaitPoll(Handler&& handler, size_t max_batch = SIZE_MAX) {
    bool finished = false;
    auto never = [] { return false; };
    return WaitPollImpl(handler, max_batch, never, &finished);
  }

  // Like WaitPoll, but also returns, having handled nothing, once `woken()`
  // is true: a consumer thread can be called to other work (see
  // EventProcessor) without an entry on the ring. `woken` is checked
  // alongside the cursor; whoever makes it true calls Ring::NotifyReaders
  // after. Sets *finished (and returns 0) once the writer closed the ring
  // and this reader has consumed everything it will ever see.
  template <typename Handler, typename Woken>
  size_t WaitPollOr(Handler&& handler, size_t max_batch, Woken&& woken, bool* finished) {
    *finished = false;
    return WaitPollImpl(handler, max_batch, woken, finished);
  }

  // Entries published but not yet consumed by this reader, over capacity.
  double backpressure_ratio() const {
    int64_t lag = ring_->sequencer_.published().Load() - (next_ - 1);
    return static_cast<double>(lag) / static_cast<double>(ring_->capacity());
  }
  bool is_under_pressure() const { return backpressure_ratio() > 0.8; }
  bool should_throttle() const { return backpressure_ratio() >= 0.9; }

  // The last sequence this reader consumed (-1 before the first).
  int64_t cursor() const { return next_ - 1; }

  ReaderStats Stats() const {
    ReaderStats s;
    s.cursor = cursor();
    s.lag = ring_->sequencer_.published().Load() - s.cursor;
    s.backpressure = backpressure_ratio();
    return s;
  }

 private:
  friend class Ring<E, Wait>;

  Reader(Ring<E, Wait>* ring, Sequence* cursor, const Barrier& barrier)
      : ring_(ring), cursor_(cursor), barrier_(barrier) {
    next_ = cursor_->LoadRelaxed() + 1;
  }

  // WaitPoll and WaitPollOr: for WaitPoll `woken` is a constant false, and
  // its check compiles away.
  template <typename Handler, typename Woken>
  size_t WaitPollImpl(Handler& handler, size_t max_batch, Woken& woken, bool* finished_out) {
    // Lets the wait strategy hold back a reader that keeps pace with the
    // producer (see BackoffWait::BeforePoll); optional for strategies.
    if constexpr (requires(Wait & w) { w.BeforePoll(size_t{}); }) {
      ring_->wait_.BeforePoll(last_batch_);
    }
    while (true) {
      size_t n = Poll(handler, max_batch);
      last_batch_ = n;
      if (n != 0) return n;
      bool finished = false;
      bool called = false;
      ring_->wait_.WaitUntil([&] {
        if (barrier_.Available() >= next_) return true;
        if (woken()) {
          called = true;
          return true;
        }
        // Closed and nothing past what we have: nothing more will come.
        finished = ring_->closed() && ring_->sequencer_.published().Load() < next_;
        return finished;
      });
      if (finished) {
        *finished_out = true;
        return 0;
      }
      if (called) return 0;
    }
  }

  void Commit(int64_t last) {
    // Sequence::Store is release, pairing with the producer's acquire in
    // ReaderTable::MinCursor and gated readers' in Barrier::Available: our
    // reads of these entries happen before they are reused or shown to a
    // reader gated behind us.
    cursor_->Store(last);
    ring_->wait_.Notify();
  }

  void Detach() {
    if (cursor_ == nullptr) return;
    ReaderTable::Detach(cursor_);
    ring_->wait_.NotifyAll();
    cursor_ = nullptr;
  }

  Ring<E, Wait>* ring_;
  Sequence* cursor_;
  Barrier barrier_;
  int64_t next_ = 0;       // the next sequence to consume
  size_t last_batch_ = 0;  // what the last WaitPoll handed out
};

namespace detail {
template <typename E, size_t kCapacity>
struct InlineEntries {
  std::array<E, kCapacity> entries{};
};
}  // namespace detail

// A Ring whose entries live inside the object (for a ring in static storage
// or embedded in another object). Limited to 1 MiB of entries at compile
// time; the reader table is still allocated once at construction.
template <typename E, size_t kCapacity, typename Wait = BackoffWait>
class InlineRing : private detail::InlineEntries<E, kCapacity>, public Ring<E, Wait> {
  static_assert(std::has_single_bit(kCapacity), "ring capacity must be a power of two");
  static_assert(FitsInlineStorage(sizeof(E) * kCapacity),
                "inline ring over 1 MiB: use Ring, which allocates on the heap");

 public:
  explicit InlineRing(size_t max_readers = 8,
                      size_t reclaim_interval = RingOptions{}.reclaim_interval)
      : Ring<E, Wait>(RingOptions{kCapacity, max_readers, reclaim_interval}, this->entries.data()) {
  }
};

}  // namespace weft::ringbuf
