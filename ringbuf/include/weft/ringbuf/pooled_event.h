// PooledEvent<N> and the T-shirt sizes that pick a pool for an event.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

namespace weft::ringbuf {

// One cache line. Slots, cursors and other hot fields are aligned to it so
// that two threads writing neighbouring objects never share a line.
inline constexpr size_t kCacheLine = 64;

// The header every pooled event starts with. An event's payload always begins
// at offset 8, whatever its size class, so code that only knows an event's
// size at run time can read it through this header.
struct EventHeader {
  uint32_t len;         // payload bytes in use
  uint32_t event_type;  // application-defined tag
};

// A fixed-capacity event: header plus N bytes of payload. Trivially copyable
// so that it can live in a pool slot, be copied with memcpy, and be written
// straight from a socket. 64-byte aligned: a slot never straddles another
// slot's first cache line.
template <size_t N>
struct alignas(kCacheLine) PooledEvent {
  static constexpr size_t kCapacity = N;

  uint32_t len;
  uint32_t event_type;
  std::byte data[N];

  std::span<std::byte> payload() { return {data, len}; }
  std::span<const std::byte> payload() const { return {data, len}; }
  std::string_view text() const { return {reinterpret_cast<const char*>(data), len}; }
};

// The payload of an event known only by its header (see EventAllocator::
// AllocateEvent). REQUIRES: `header` is the start of a pooled event.
inline std::span<const std::byte> PayloadOf(const EventHeader& header) {
  return {reinterpret_cast<const std::byte*>(&header) + sizeof(EventHeader), header.len};
}
inline std::span<std::byte> PayloadOf(EventHeader& header, size_t capacity) {
  return {reinterpret_cast<std::byte*>(&header) + sizeof(EventHeader), capacity};
}

static_assert(std::is_trivially_copyable_v<PooledEvent<64>>);
static_assert(std::is_standard_layout_v<PooledEvent<64>>);
static_assert(offsetof(PooledEvent<64>, data) == sizeof(EventHeader),
              "payload must follow the header directly for EventHeader-typed access");
static_assert(offsetof(PooledEvent<16384>, data) == sizeof(EventHeader));

// T-shirt sizes: payload capacity of each pool. XXL means "larger than any
// pool": the caller must split the payload.
enum class EventSize : uint8_t { XS = 0, S, M, L, XL, XXL };

inline constexpr size_t kPoolCount = 5;
inline constexpr size_t kPayloadBytes[kPoolCount] = {64, 256, 1024, 4096, 16384};
inline constexpr size_t kMaxPayloadBytes = kPayloadBytes[kPoolCount - 1];

using XsEvent = PooledEvent<64>;
using SEvent = PooledEvent<256>;
using MEvent = PooledEvent<1024>;
using LEvent = PooledEvent<4096>;
using XlEvent = PooledEvent<16384>;

// The smallest size class whose payload holds `len` bytes; XXL past 16 KiB.
constexpr EventSize estimate_size(size_t len) {
  for (size_t i = 0; i < kPoolCount; ++i) {
    if (len <= kPayloadBytes[i]) return static_cast<EventSize>(i);
  }
  return EventSize::XXL;
}

constexpr std::string_view EventSizeName(EventSize size) {
  constexpr std::string_view kNames[] = {"XS", "S", "M", "L", "XL", "XXL"};
  return kNames[static_cast<size_t>(size)];
}

// Names one of the five pools. Built from a payload size; XXL has no pool.
struct PoolId {
  EventSize size;

  // The pool for a payload of `len` bytes, or nullopt when it is XXL.
  static constexpr std::optional<PoolId> from_size(size_t len) {
    EventSize s = estimate_size(len);
    if (s == EventSize::XXL) return std::nullopt;
    return PoolId{s};
  }

  // The pool whose slots hold an object of type T (header included), chosen
  // at compile time.
  template <typename T>
  static constexpr PoolId ForType() {
    static_assert(sizeof(T) <= sizeof(XlEvent), "type is larger than the largest slot (XL)");
    static_assert(alignof(T) <= kCacheLine, "slots are only 64-byte aligned");
    for (size_t i = 0; i < kPoolCount; ++i) {
      if (sizeof(T) <= SlotBytes(i)) return PoolId{static_cast<EventSize>(i)};
    }
    return PoolId{EventSize::XL};
  }

  // Bytes of one slot of pool `i`: sizeof(PooledEvent<payload>).
  static constexpr size_t SlotBytes(size_t i) {
    constexpr size_t kSlot[kPoolCount] = {sizeof(XsEvent), sizeof(SEvent), sizeof(MEvent),
                                          sizeof(LEvent), sizeof(XlEvent)};
    return kSlot[i];
  }

  constexpr size_t index() const { return static_cast<size_t>(size); }
  constexpr size_t payload_capacity() const { return kPayloadBytes[index()]; }
  friend constexpr bool operator==(PoolId, PoolId) = default;
};

static_assert(estimate_size(0) == EventSize::XS);
static_assert(estimate_size(64) == EventSize::XS);
static_assert(estimate_size(65) == EventSize::S);
static_assert(estimate_size(16384) == EventSize::XL);
static_assert(estimate_size(16385) == EventSize::XXL);

}  // namespace weft::ringbuf
