// RingPtr<T>: a reference-counted handle to an object living in a pool slot.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include "weft/ringbuf/detail/slot_pool_core.h"

namespace weft::ringbuf {

namespace detail {
struct RingPtrAccess;
}  // namespace detail

// Behaves like std::shared_ptr<T>, but the object lives in a pre-allocated
// pool slot and the count lives in that slot's SlotMetadata:
//   - copying adds a reference (one relaxed increment);
//   - moving transfers the reference and touches no counter;
//   - dropping the last reference bumps the slot's generation and returns the
//     slot to its pool, from whichever thread drops it.
// Dereferencing is a direct pointer computation, no indirection through a
// control block. In debug builds every dereference checks that the slot's
// generation still matches the handle's, which catches a handle used after
// its slot was recycled (ABA).
//
// T must be trivially copyable (slot memory is reused without destructors)
// and is placed in the slot by the pool's Allocate<T>(), which checks at
// compile time that T fits the slot.
//
// A RingPtr is 16 bytes: the pool, the slot index and the generation.
// Thread safety: like std::shared_ptr, distinct handles to one slot may be
// copied and dropped concurrently; one handle object is not itself atomic.
template <typename T>
class RingPtr {
  static_assert(std::is_trivially_copyable_v<T>,
                "RingPtr<T> requires a trivially copyable T: slots are reused without destructors");

 public:
  RingPtr() = default;
  RingPtr(std::nullptr_t) {}  // NOLINT: implicit, like shared_ptr

  RingPtr(const RingPtr& other)
      : pool_(other.pool_), index_(other.index_), generation_(other.generation_) {
    if (pool_ != nullptr) pool_->AddRef(index_);
  }
  RingPtr(RingPtr&& other) noexcept
      : pool_(std::exchange(other.pool_, nullptr)),
        index_(other.index_),
        generation_(other.generation_) {}

  RingPtr& operator=(const RingPtr& other) {
    if (this != &other) RingPtr(other).swap(*this);
    return *this;
  }
  RingPtr& operator=(RingPtr&& other) noexcept {
    if (this != &other) {
      reset();
      pool_ = std::exchange(other.pool_, nullptr);
      index_ = other.index_;
      generation_ = other.generation_;
    }
    return *this;
  }
  RingPtr& operator=(std::nullptr_t) {
    reset();
    return *this;
  }

  ~RingPtr() { reset(); }

  // Drops this handle's reference (returning the slot if it was the last)
  // and leaves the handle empty.
  void reset() {
    if (pool_ != nullptr) {
      CheckGeneration();
      std::exchange(pool_, nullptr)->Drop(index_);
    }
  }

  void swap(RingPtr& other) noexcept {
    std::swap(pool_, other.pool_);
    std::swap(index_, other.index_);
    std::swap(generation_, other.generation_);
  }

  // REQUIRES for get/*/->: the handle is not empty (get returns nullptr if it is).
  T* get() const {
    if (pool_ == nullptr) return nullptr;
    CheckGeneration();
    return std::launder(reinterpret_cast<T*>(pool_->slot(index_)));
  }
  T& operator*() const {
    assert(pool_ != nullptr);
    return *get();
  }
  T* operator->() const {
    assert(pool_ != nullptr);
    return get();
  }
  explicit operator bool() const { return pool_ != nullptr; }

  // Live handles to this slot (0 for an empty handle). Like
  // shared_ptr::use_count, a snapshot that other threads may change at once.
  long use_count() const {
    // Relaxed: an informational snapshot.
    return pool_ == nullptr ? 0 : pool_->meta(index_).refs.load(std::memory_order_relaxed);
  }

  // Bytes of the slot this handle points into (0 for an empty handle).
  size_t slot_bytes() const { return pool_ == nullptr ? 0 : pool_->stride(); }

  // The slot's index in its pool and the generation this handle was made in.
  uint32_t slot_index() const { return index_; }
  uint32_t generation() const { return generation_; }

  // True when the slot was recycled since this handle was made. Only a bug
  // can make this true for a live handle; tests and debug checks use it.
  bool is_stale() const {
    // Relaxed: a diagnostic read.
    return pool_ != nullptr &&
           pool_->meta(index_).generation.load(std::memory_order_relaxed) != generation_;
  }

  friend bool operator==(const RingPtr& a, const RingPtr& b) {
    return a.pool_ == b.pool_ && (a.pool_ == nullptr || a.index_ == b.index_);
  }
  friend bool operator==(const RingPtr& a, std::nullptr_t) { return a.pool_ == nullptr; }

  // Takes ownership of one reference already counted in `pool`'s metadata
  // for slot `index` at `generation`. For pools, not for users.
  static RingPtr Adopt(detail::SlotPoolCore* pool, uint32_t index, uint32_t generation) {
    RingPtr p;
    p.pool_ = pool;
    p.index_ = index;
    p.generation_ = generation;
    return p;
  }

 private:
  friend struct detail::RingPtrAccess;

  void CheckGeneration() const {
    // A debug-only check: a mismatch means this handle outlived its slot's
    // last counted reference, i.e. a refcount bug somewhere.
    assert(!is_stale() && "RingPtr used after its slot was recycled (ABA)");
  }

  detail::SlotPoolCore* pool_ = nullptr;
  uint32_t index_ = 0;
  uint32_t generation_ = 0;
};

static_assert(sizeof(RingPtr<int>) == 16, "a RingPtr is a pointer and two 32-bit words");

namespace detail {
// The slot a handle refers to, for the ring's writer (see Writer::held_).
struct RingPtrAccess {
  template <typename T>
  static SlotPoolCore* pool(const RingPtr<T>& p) {
    return p.pool_;
  }
};
}  // namespace detail

}  // namespace weft::ringbuf
