// SlotPool<N>: a fixed number of PooledEvent<N>-sized slots handed out as
// RingPtr<T> handles. Allocated once; never calls malloc afterwards.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>

#include "weft/ringbuf/detail/slot_pool_core.h"
#include "weft/ringbuf/inline_storage.h"
#include "weft/ringbuf/pooled_event.h"
#include "weft/ringbuf/ring_ptr.h"
#include "weft/status.h"

namespace weft::ringbuf {

namespace detail {

// Owns the slot and metadata arrays on the heap (one allocation each, at
// construction) or inline; the pool logic is in SlotPoolCore either way.
template <size_t kSlotBytes>
struct HeapSlotStorage {
  explicit HeapSlotStorage(uint32_t capacity)
      : data(static_cast<std::byte*>(
            ::operator new (size_t{capacity} * kSlotBytes, std::align_val_t{kCacheLine}))),
        meta(std::make_unique<SlotMetadata[]>(capacity)) {}
  ~HeapSlotStorage() { ::operator delete (data, std::align_val_t{kCacheLine}); }
  HeapSlotStorage(const HeapSlotStorage&) = delete;
  HeapSlotStorage& operator=(const HeapSlotStorage&) = delete;

  std::byte* data;
  std::unique_ptr<SlotMetadata[]> meta;
};

// Takes a slot from `core` and starts the lifetime of a default-initialized T
// in it; shared by the heap and inline pools.
template <typename T, size_t kSlotBytes>
Result<RingPtr<T>> AllocateIn(SlotPoolCore& core) {
  static_assert(sizeof(T) <= kSlotBytes, "T does not fit this pool's slots");
  static_assert(alignof(T) <= kCacheLine, "slots are only 64-byte aligned");
  static_assert(std::is_trivially_copyable_v<T>, "slots hold trivially copyable types");
  uint32_t generation = 0;
  uint32_t index = core.Acquire(&generation);
  if (index == kNoSlot) return Status::ResourceExhausted("slot pool exhausted");
  ::new (static_cast<void*>(core.slot(index))) T;
  return RingPtr<T>::Adopt(&core, index, generation);
}

}  // namespace detail

// A pool of `capacity` slots, each holding one PooledEvent<N> (or any
// trivially copyable T no larger than it).
//
// Thread safety: Allocate and every RingPtr operation are safe from any
// thread and lock-free; the owning thread (the constructor's caller, or the
// last to call AdoptCurrentThread) allocates and frees without atomic
// read-modify-writes. See detail/slot_pool_core.h for how the free lists work.
// Lifetime: the pool must outlive every RingPtr it handed out; it is not
// movable, since handles point at it.
template <size_t N>
class SlotPool {
 public:
  using Event = PooledEvent<N>;
  static constexpr size_t kSlotBytes = sizeof(Event);

  // Allocates the slot and metadata arrays: the only allocations the pool
  // makes. REQUIRES: capacity < 2^32 - 1.
  explicit SlotPool(uint32_t capacity)
      : storage_(capacity), core_(storage_.data, storage_.meta.get(), kSlotBytes, capacity) {}

  SlotPool(const SlotPool&) = delete;
  SlotPool& operator=(const SlotPool&) = delete;

  // A slot holding a default-initialized T (for trivial types: its bytes are
  // whatever the last user left; the caller fills it). Fails with
  // ResourceExhausted when no slot is free; never blocks, never allocates.
  template <typename T = Event>
  Result<RingPtr<T>> Allocate() {
    return detail::AllocateIn<T, kSlotBytes>(core_);
  }

  // An event of `event_type` whose payload is a copy of `payload`. Fails with
  // TooLarge when the payload exceeds N bytes, ResourceExhausted when empty.
  Result<RingPtr<Event>> AllocateEvent(uint32_t event_type, std::span<const std::byte> payload) {
    if (payload.size() > N) return Status::TooLarge("payload larger than the slot");
    Result<RingPtr<Event>> slot = Allocate<Event>();
    if (!slot.ok()) return slot;
    Event& e = **slot;
    e.len = static_cast<uint32_t>(payload.size());
    e.event_type = event_type;
    if (!payload.empty()) std::memcpy(e.data, payload.data(), payload.size());
    return slot;
  }

  // See SlotPoolCore::AdoptCurrentThread for the handoff rule.
  void AdoptCurrentThread() { core_.AdoptCurrentThread(); }

  uint32_t capacity() const { return core_.capacity(); }
  SlotPoolStats Stats() const { return core_.Stats(); }
  // REQUIRES: no concurrent allocation or release.
  uint32_t CountFreeQuiescent() const { return core_.CountFreeQuiescent(); }

  // Bytes this pool holds: the object, the slots and the metadata.
  size_t footprint_bytes() const {
    return sizeof(*this) + size_t{capacity()} * (kSlotBytes + sizeof(SlotMetadata));
  }

  detail::SlotPoolCore& core() { return core_; }

 private:
  detail::HeapSlotStorage<kSlotBytes> storage_;
  detail::SlotPoolCore core_;
};

// A SlotPool whose slots live inside the object itself, for pools placed in
// static storage or inside another object. Limited to 1 MiB at compile time.
template <size_t N, uint32_t kCapacity>
class InlineSlotPool {
 public:
  using Event = PooledEvent<N>;
  static constexpr size_t kSlotBytes = sizeof(Event);
  static constexpr size_t kStorageBytes = kCapacity * (kSlotBytes + sizeof(SlotMetadata));
  static_assert(FitsInlineStorage(kStorageBytes),
                "inline slot pool over 1 MiB: use SlotPool, which allocates on the heap");

  InlineSlotPool()
      : core_(reinterpret_cast<std::byte*>(slots_.data()), meta_.data(), kSlotBytes, kCapacity) {}
  InlineSlotPool(const InlineSlotPool&) = delete;
  InlineSlotPool& operator=(const InlineSlotPool&) = delete;

  template <typename T = Event>
  Result<RingPtr<T>> Allocate() {
    return detail::AllocateIn<T, kSlotBytes>(core_);
  }

  void AdoptCurrentThread() { core_.AdoptCurrentThread(); }
  uint32_t capacity() const { return kCapacity; }
  SlotPoolStats Stats() const { return core_.Stats(); }
  uint32_t CountFreeQuiescent() const { return core_.CountFreeQuiescent(); }

 private:
  std::array<Event, kCapacity> slots_;
  std::array<SlotMetadata, kCapacity> meta_;
  detail::SlotPoolCore core_;
};

}  // namespace weft::ringbuf
