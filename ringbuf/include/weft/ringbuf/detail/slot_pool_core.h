// The type-erased engine behind SlotPool<N>: a fixed array of equal-sized
// slots, their metadata in a separate array, and two free lists.
//
// Free lists. One thread owns the pool (by default the one that built it;
// see AdoptCurrentThread). The owner keeps a private free list it pops and
// pushes with plain loads and stores. Every other thread returns slots to a
// shared lock-free stack (a Treiber stack whose head packs a 32-bit index with
// a 32-bit tag, so a pop cannot be fooled by ABA). When the owner's private
// list runs dry it takes the whole shared stack in one compare-and-swap.
// That is the common weft pattern: the loop thread allocates, any thread
// frees; the owner's allocate-and-free costs no atomic read-modify-write and
// a remote free costs one.
//
// Threads other than the owner may allocate too: they pop the shared stack.
// They cannot see slots parked in the owner's private list, so a non-owner
// may find the pool exhausted while the owner still has free slots cached.
// Pools meant to be allocated from several threads should be owned by the
// thread that allocates most, or split per thread.
#pragma once

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "weft/ringbuf/pooled_event.h"

namespace weft::ringbuf {

inline constexpr uint32_t kNoSlot = ~uint32_t{0};

// Bookkeeping for one slot, kept in its own array apart from slot data: the
// refcount traffic of one slot never evicts another slot's payload, and a
// metadata scan (Stats) never touches payload lines.
struct SlotMetadata {
  // Live RingPtr handles to the slot; 0 while it is free.
  std::atomic<uint32_t> refs{0};
  // Bumped each time the slot returns to its pool; a RingPtr remembers the
  // generation it was made in, so a stale handle is detectable (ABA).
  std::atomic<uint32_t> generation{0};
  // Link in whichever free list holds the slot. Atomic because a non-owner
  // pop may read it while another thread has just taken and relinked the slot
  // (the tag makes that pop's CAS fail; the read itself must not be a race).
  std::atomic<uint32_t> next_free{kNoSlot};
  uint32_t reserved = 0;
};
static_assert(sizeof(SlotMetadata) == 16, "four metadata entries per cache line");

// Counters a pool keeps for its statistics.
struct SlotPoolStats {
  uint32_t capacity = 0;
  uint32_t in_use = 0;       // slots with a live handle right now (a scan)
  uint64_t allocations = 0;  // successful allocations since construction
  uint64_t exhausted = 0;    // allocations refused because no slot was free
  size_t slot_bytes = 0;
};

namespace detail {

// Each thread's address for this variable is distinct and cheap to compute
// (one TLS-relative lea), which makes it a faster thread identity than
// std::this_thread::get_id().
inline thread_local char tls_thread_token;
inline const void* CurrentThreadToken() { return &tls_thread_token; }

class SlotPoolCore {
 public:
  // `data` holds `capacity` slots of `stride` bytes; `meta` holds `capacity`
  // entries. Both must outlive the core. The calling thread becomes the owner.
  SlotPoolCore(std::byte* data, SlotMetadata* meta, size_t stride, uint32_t capacity)
      : data_(data), meta_(meta), stride_(stride), capacity_(capacity) {
    assert(capacity < kNoSlot);
    // Every slot starts on the shared stack, in index order: the owner's
    // first allocation moves them all to its private list, and a pool used
    // only by other threads works from the start.
    for (uint32_t i = 0; i < capacity; ++i) {
      meta_[i].next_free.store(i + 1 < capacity ? i + 1 : kNoSlot, std::memory_order_relaxed);
    }
    shared_head_.store(Pack(capacity > 0 ? 0 : kNoSlot, 0), std::memory_order_relaxed);
    // Relaxed: construction completes before the pool is shared with other
    // threads, by whatever handoff (thread start, a release store) shares it.
    owner_.store(CurrentThreadToken(), std::memory_order_relaxed);
  }

  SlotPoolCore(const SlotPoolCore&) = delete;
  SlotPoolCore& operator=(const SlotPoolCore&) = delete;

  // Takes a free slot and gives it one reference. Returns its index and
  // generation, or kNoSlot when the pool is exhausted. Any thread.
  uint32_t Acquire(uint32_t* generation) {
    // The owner popping its private list is the whole fast path; refills,
    // non-owner pops and exhaustion live out of line in AcquireSlow, so this
    // stays small enough to inline wherever a slot is allocated. (When it was
    // one function, whether g++ inlined it depended on the rest of the
    // translation unit, and allocation cost about 2x more when it did not.)
    uint32_t index = IsOwner() && local_head_ != kNoSlot ? PopLocal() : AcquireSlow();
    if (index == kNoSlot) return kNoSlot;
    SlotMetadata& m = meta_[index];
    // Relaxed: the slot came to us through a free list whose acquire (in
    // AcquireShared or Refill) pairs with the release that published it.
    m.refs.store(1, std::memory_order_relaxed);
    *generation = m.generation.load(std::memory_order_relaxed);
    return index;
  }

  // Adds a reference for a copied handle. The caller holds a live reference,
  // so the count cannot be 0 and the slot cannot be recycled meanwhile.
  void AddRef(uint32_t index) {
    // Relaxed: ordering comes from the decrement in Drop (acq_rel), as for
    // std::shared_ptr; an increment publishes nothing.
    meta_[index].refs.fetch_add(1, std::memory_order_relaxed);
  }

  // Drops one reference; the last one returns the slot to the pool. Any thread.
  void Drop(uint32_t index) {
    SlotMetadata& m = meta_[index];
    // Acquire pairs with the release half of other owners' fetch_sub below: if
    // we see 1, every other owner has finished with the slot. Seeing 1 also
    // means we hold the only reference, and only a holder can add one, so the
    // count cannot rise again: the slot is ours to recycle without an RMW.
    if (m.refs.load(std::memory_order_acquire) != 1) {
      // acq_rel: release publishes our writes to the slot to the last owner;
      // acquire (when we are last) takes everyone else's.
      if (m.refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    } else {
      // Relaxed: the free-list push below (release) orders it for the next owner.
      m.refs.store(0, std::memory_order_relaxed);
    }
    // Relaxed, for the same reason: the push publishes it.
    m.generation.store(m.generation.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    Recycle(index);
  }

  // Makes the calling thread the owner. REQUIRES: the previous owner makes no
  // further calls on this pool until it hands ownership back (for instance:
  // build the pools on one thread, hand them to the loop thread, which adopts
  // them before its first allocation). The private free list moves with it.
  void AdoptCurrentThread() {
    // Release pairs with the acquire in IsOwner(): the new owner reads the
    // private list as the previous owner left it. (The handoff between the two
    // threads must itself synchronize, e.g. a thread start.)
    owner_.store(CurrentThreadToken(), std::memory_order_release);
  }

  bool IsOwner() const {
    // Acquire pairs with the release in AdoptCurrentThread().
    return owner_.load(std::memory_order_acquire) == CurrentThreadToken();
  }

  std::byte* slot(uint32_t index) const { return data_ + size_t{index} * stride_; }
  SlotMetadata& meta(uint32_t index) const { return meta_[index]; }
  uint32_t capacity() const { return capacity_; }
  size_t stride() const { return stride_; }

  // Slots not in use. REQUIRES: no concurrent Acquire or Drop (tests, shutdown).
  uint32_t CountFreeQuiescent() const {
    uint32_t n = 0;
    for (uint32_t i = local_head_; i != kNoSlot;
         i = meta_[i].next_free.load(std::memory_order_relaxed)) {
      ++n;
    }
    // Acquire pairs with the release in PushShared().
    uint64_t head = shared_head_.load(std::memory_order_acquire);
    for (uint32_t i = IndexOf(head); i != kNoSlot;
         i = meta_[i].next_free.load(std::memory_order_relaxed)) {
      ++n;
    }
    return n;
  }

  // A snapshot of the counters; `in_use` scans the metadata array. Any thread.
  SlotPoolStats Stats() const {
    SlotPoolStats s;
    s.capacity = capacity_;
    s.slot_bytes = stride_;
    for (uint32_t i = 0; i < capacity_; ++i) {
      // Relaxed: statistics only.
      if (meta_[i].refs.load(std::memory_order_relaxed) != 0) ++s.in_use;
    }
    // Relaxed: statistics only.
    s.allocations = owner_allocations_.load(std::memory_order_relaxed) +
                    shared_allocations_.load(std::memory_order_relaxed);
    s.exhausted = exhausted_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  static constexpr uint32_t IndexOf(uint64_t head) { return static_cast<uint32_t>(head); }
  static constexpr uint32_t TagOf(uint64_t head) { return static_cast<uint32_t>(head >> 32); }
  static constexpr uint64_t Pack(uint32_t index, uint32_t tag) {
    return (uint64_t{tag} << 32) | index;
  }

  [[gnu::noinline]] uint32_t AcquireSlow() {
    uint32_t index = kNoSlot;
    if (!IsOwner()) {
      index = AcquireShared();
    } else if (local_head_ != kNoSlot || Refill()) {
      index = PopLocal();
    }
    if (index == kNoSlot) {
      // Relaxed: a statistic; nobody orders anything on it.
      exhausted_.fetch_add(1, std::memory_order_relaxed);
    }
    return index;
  }

  // REQUIRES: the calling thread is the owner and local_head_ != kNoSlot.
  uint32_t PopLocal() {
    uint32_t index = local_head_;
    // Relaxed: the private list is touched by the owner alone.
    local_head_ = meta_[index].next_free.load(std::memory_order_relaxed);
    // Relaxed and not an RMW: only the owner writes this counter.
    owner_allocations_.store(owner_allocations_.load(std::memory_order_relaxed) + 1,
                             std::memory_order_relaxed);
    return index;
  }

  // Moves the whole shared stack into the private list. Owner only.
  bool Refill() {
    // Acquire pairs with the release CAS in PushShared(): the pushed slots'
    // links and their last owners' writes are visible before we reuse them.
    uint64_t head = shared_head_.load(std::memory_order_acquire);
    while (IndexOf(head) != kNoSlot) {
      if (shared_head_.compare_exchange_weak(head, Pack(kNoSlot, TagOf(head) + 1),
                                             std::memory_order_acquire,
                                             std::memory_order_acquire)) {
        local_head_ = IndexOf(head);
        return true;
      }
    }
    return false;
  }

  uint32_t AcquireShared() {
    // Acquire pairs with the release CAS in PushShared().
    uint64_t head = shared_head_.load(std::memory_order_acquire);
    while (IndexOf(head) != kNoSlot) {
      // Relaxed: if another thread popped this slot meanwhile, the tag changed
      // and the CAS below fails, so a stale link is never installed.
      uint32_t next = meta_[IndexOf(head)].next_free.load(std::memory_order_relaxed);
      if (shared_head_.compare_exchange_weak(head, Pack(next, TagOf(head) + 1),
                                             std::memory_order_acquire,
                                             std::memory_order_acquire)) {
        // Relaxed: a statistic.
        shared_allocations_.fetch_add(1, std::memory_order_relaxed);
        return IndexOf(head);
      }
    }
    return kNoSlot;
  }

  void Recycle(uint32_t index) {
    if (IsOwner()) {
      // Relaxed: private list, owner only.
      meta_[index].next_free.store(local_head_, std::memory_order_relaxed);
      local_head_ = index;
      // No prefetch of the slot for writing here: a ring's reclaim frees
      // hundreds at once, and that burst of ownership requests held up the
      // producer's own misses (fan-out benchmark, 370 ns cross-core round
      // trip: 21.8 -> 25.0 M/s without it). The store that fills the slot
      // requests the line from the store buffer, a few at a time.
    } else {
      PushShared(index);
    }
  }

  // Out of line: keeps Drop, whose common case is an owner-local push, small.
  [[gnu::noinline]] void PushShared(uint32_t index) {
    // Relaxed load: the CAS below validates it.
    uint64_t head = shared_head_.load(std::memory_order_relaxed);
    do {
      // Relaxed: published by the release CAS that links the slot in.
      meta_[index].next_free.store(IndexOf(head), std::memory_order_relaxed);
      // Release pairs with the acquire in Refill() and AcquireShared(): the
      // link above and every write to the slot by its last owner are visible
      // to whoever takes the slot next.
    } while (!shared_head_.compare_exchange_weak(
        head, Pack(index, TagOf(head) + 1), std::memory_order_release, std::memory_order_relaxed));
  }

  // Read-only after construction.
  std::byte* const data_;
  SlotMetadata* const meta_;
  const size_t stride_;
  const uint32_t capacity_;

  // Owner-side state, on its own line so remote frees (which write
  // shared_head_) do not invalidate it.
  alignas(kCacheLine) std::atomic<const void*> owner_{nullptr};
  uint32_t local_head_ = kNoSlot;
  std::atomic<uint64_t> owner_allocations_{0};

  // Written by every thread that frees remotely; its own line.
  alignas(kCacheLine) std::atomic<uint64_t> shared_head_{Pack(kNoSlot, 0)};
  std::atomic<uint64_t> shared_allocations_{0};
  std::atomic<uint64_t> exhausted_{0};
};

}  // namespace detail
}  // namespace weft::ringbuf
