// Ranges of bits in arrays of 64-bit words, a word at a time.
#pragma once

#include <cstdint>

namespace weft::engine::detail {

// Calls f(k, mask) for each word k holding bits [first, last] (inclusive),
// in order, `mask` selecting the range's bits in word k; stops at the first
// f that returns false and returns false then. Most ranges lie in one word.
template <typename F>
inline bool ForBitWords(uint64_t first, uint64_t last, F f) {
  const uint64_t fw = first / 64, lw = last / 64;
  const uint64_t low = ~uint64_t{0} << (first % 64);
  const uint64_t high = ~uint64_t{0} >> (63 - last % 64);
  if (fw == lw) return f(fw, low & high);
  if (!f(fw, low)) return false;
  for (uint64_t k = fw + 1; k < lw; ++k) {
    if (!f(k, ~uint64_t{0})) return false;
  }
  return f(lw, high);
}

}  // namespace weft::engine::detail
