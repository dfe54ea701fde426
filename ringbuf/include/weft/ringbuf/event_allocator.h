// EventPools and EventAllocator: the five T-shirt-sized slot pools, and the
// helpers that pick one by size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "weft/ringbuf/pooled_event.h"
#include "weft/ringbuf/ring_ptr.h"
#include "weft/ringbuf/slot_pool.h"
#include "weft/status.h"

namespace weft::ringbuf {

// Slots per pool. The defaults suit one node: many small ops, a few pastes.
struct PoolCapacities {
  uint32_t xs = 2000;
  uint32_t s = 1000;
  uint32_t m = 300;
  uint32_t l = 60;
  uint32_t xl = 15;

  uint32_t operator[](size_t i) const {
    const uint32_t all[kPoolCount] = {xs, s, m, l, xl};
    return all[i];
  }
};

// The five pools, XS to XL. Everything is allocated by the constructor.
// Thread safety and ownership: as SlotPool (AdoptCurrentThread adopts all five).
struct EventPools {
  explicit EventPools(const PoolCapacities& capacities = {})
      : xs(capacities.xs), s(capacities.s), m(capacities.m), l(capacities.l), xl(capacities.xl) {}
  EventPools(const EventPools&) = delete;
  EventPools& operator=(const EventPools&) = delete;

  // Calls f(pool) for each of the five pools, XS first.
  template <typename F>
  void ForEach(F&& f) {
    f(xs), f(s), f(m), f(l), f(xl);
  }
  template <typename F>
  void ForEach(F&& f) const {
    f(xs), f(s), f(m), f(l), f(xl);
  }

  SlotPool<64> xs;
  SlotPool<256> s;
  SlotPool<1024> m;
  SlotPool<4096> l;
  SlotPool<16384> xl;
};

// Statistics of all five pools, XS first.
struct EventPoolsStats {
  SlotPoolStats pools[kPoolCount];
  size_t footprint_bytes = 0;
};

// Allocation by size over EventPools: the API the rest of weft uses.
class EventAllocator {
 public:
  explicit EventAllocator(const PoolCapacities& capacities = {}) : pools_(capacities) {}

  // A slot for a T, from the smallest pool that holds it (chosen at compile
  // time; a T larger than an XL slot does not compile).
  template <typename T>
  Result<RingPtr<T>> Allocate() {
    constexpr PoolId kPool = PoolId::ForType<T>();
    return PoolFor<kPool.size>().template Allocate<T>();
  }

  // An event of `event_type` carrying a copy of `payload`, in the smallest
  // pool that holds it. TooLarge past 16 KiB (split it), ResourceExhausted
  // when that pool is empty (back off: slots return as readers finish).
  Result<RingPtr<EventHeader>> AllocateEvent(uint32_t event_type,
                                             std::span<const std::byte> payload) {
    std::optional<PoolId> pool = PoolId::from_size(payload.size());
    if (!pool) return Status::TooLarge("event payload larger than an XL slot (16 KiB)");
    Result<RingPtr<EventHeader>> slot = AllocateFromPool(*pool);
    if (!slot.ok()) return slot;
    EventHeader& h = **slot;
    h.len = static_cast<uint32_t>(payload.size());
    h.event_type = event_type;
    if (!payload.empty())
      std::memcpy(PayloadOf(h, payload.size()).data(), payload.data(), payload.size());
    return slot;
  }

  // An uninitialized event slot from the given pool; its payload capacity is
  // pool.payload_capacity(). For callers that write the payload in place
  // (a socket read lands straight in the slot).
  Result<RingPtr<EventHeader>> AllocateFromPool(PoolId pool) {
    switch (pool.size) {
      case EventSize::XS:
        return pools_.xs.Allocate<EventHeader>();
      case EventSize::S:
        return pools_.s.Allocate<EventHeader>();
      case EventSize::M:
        return pools_.m.Allocate<EventHeader>();
      case EventSize::L:
        return pools_.l.Allocate<EventHeader>();
      case EventSize::XL:
        return pools_.xl.Allocate<EventHeader>();
      case EventSize::XXL:
        break;
    }
    return Status::TooLarge("no pool for XXL events");
  }

  // Like AllocateFromPool(PoolId::from_size(len)): the smallest pool for len bytes.
  Result<RingPtr<EventHeader>> AllocateForSize(size_t len) {
    std::optional<PoolId> pool = PoolId::from_size(len);
    if (!pool) return Status::TooLarge("event payload larger than an XL slot (16 KiB)");
    return AllocateFromPool(*pool);
  }

  void AdoptCurrentThread() {
    pools_.ForEach([](auto& p) { p.AdoptCurrentThread(); });
  }

  EventPools& pools() { return pools_; }
  const EventPools& pools() const { return pools_; }

  // Exact bytes held: this object plus every pool's slots and metadata.
  size_t footprint_bytes() const {
    size_t total = sizeof(*this);
    pools_.ForEach([&](const auto& p) { total += p.footprint_bytes() - sizeof(p); });
    return total;
  }

  EventPoolsStats Stats() const {
    EventPoolsStats out;
    size_t i = 0;
    pools_.ForEach([&](const auto& p) { out.pools[i++] = p.Stats(); });
    out.footprint_bytes = footprint_bytes();
    return out;
  }

 private:
  template <EventSize kSize>
  auto& PoolFor() {
    if constexpr (kSize == EventSize::XS)
      return pools_.xs;
    else if constexpr (kSize == EventSize::S)
      return pools_.s;
    else if constexpr (kSize == EventSize::M)
      return pools_.m;
    else if constexpr (kSize == EventSize::L)
      return pools_.l;
    else
      return pools_.xl;
  }

  EventPools pools_;
};

}  // namespace weft::ringbuf
