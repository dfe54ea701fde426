// Sequence: a padded 64-bit counter, the unit of progress in a ring. The
// producer's cursor and each reader's cursor are Sequences.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>

#include "weft/ringbuf/pooled_event.h"

namespace weft::ringbuf {

// Nothing published or consumed yet: the first entry is sequence 0.
inline constexpr int64_t kInitialSequence = -1;
// The cursor of a reader that left: it no longer holds anything back.
inline constexpr int64_t kDetachedSequence = std::numeric_limits<int64_t>::max();

// One writer, many pollers. Alone on its cache line (both sides padded) so
// that polling it never invalidates the writer's neighbouring hot fields, and
// writing it never invalidates theirs.
class alignas(kCacheLine) Sequence {
 public:
  explicit Sequence(int64_t initial = kInitialSequence) : value_(initial) {}
  Sequence(const Sequence&) = delete;
  Sequence& operator=(const Sequence&) = delete;

  // Acquire pairs with the release in Store(): the caller sees everything
  // the writer did before it published this value.
  int64_t Load() const { return value_.load(std::memory_order_acquire); }
  // For the writer's own reads of its value; no ordering needed.
  int64_t LoadRelaxed() const { return value_.load(std::memory_order_relaxed); }
  // Release pairs with the acquire in Load(): whatever was written for the
  // entries up to `value` is visible to a thread that sees `value`.
  void Store(int64_t value) { value_.store(value, std::memory_order_release); }

 private:
  std::atomic<int64_t> value_;
  // Keeps the next Sequence off this cache line; never read.
  [[maybe_unused]] char pad_[kCacheLine - sizeof(std::atomic<int64_t>)];
};
static_assert(sizeof(Sequence) == kCacheLine, "a Sequence fills exactly one cache line");

}  // namespace weft::ringbuf
