// UTF-8 helpers: validation and code point <-> byte offsets.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace weft::engine::detail {

// Number of code points in `s`, or no value if `s` is not valid UTF-8
// (overlong forms, surrogates, code points above U+10FFFF and truncated
// sequences are all invalid).
inline std::optional<uint64_t> CountUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  uint64_t count = 0;
  size_t i = 0;
  while (i < n) {
    // Eight ASCII bytes at a time: most text is mostly ASCII.
    if (n - i >= 8) {
      uint64_t word;
      std::memcpy(&word, p + i, 8);
      if ((word & 0x8080808080808080ull) == 0) {
        i += 8;
        count += 8;
        continue;
      }
    }
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      ++count;
      continue;
    }
    size_t extra;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      extra = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return std::nullopt;
    }
    if (n - i <= extra) return std::nullopt;
    for (size_t k = 1; k <= extra; ++k) {
      unsigned char cc = p[i + k];
      if ((cc & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((extra == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
      return std::nullopt;
    }
    i += extra + 1;
    ++count;
  }
  return count;
}

// Number of code points in `n` bytes of valid UTF-8 from `p`: the bytes
// that are not continuation bytes (10xxxxxx), counted a word at a time.
// `end` bounds what may be read: a last partial word is read whole (and
// masked) when it lies before `end`. REQUIRES: the bytes are part of valid
// UTF-8, p + n <= end.
inline uint64_t CountCodePoints(const char* p, size_t n, const char* end) {
  // Bit 7 set and bit 6 clear, in every byte at once; then the bytes' flags
  // summed into the top byte by one multiply (no popcount instruction).
  auto continuation_in = [](uint64_t word) {
    uint64_t flags = (word & ~(word << 1) & 0x8080808080808080ull) >> 7;
    return (flags * 0x0101010101010101ull) >> 56;
  };
  // Byte i in bits 8i..8i+7 whatever the platform's byte order, so the
  // mask below keeps the first bytes.
  auto load = [](const char* at) {
    uint64_t word;
    std::memcpy(&word, at, 8);
    if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
    return word;
  };
  uint64_t continuation = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) continuation += continuation_in(load(p + i));
  if (i < n) {
    if (end - (p + i) >= 8) {
      continuation += continuation_in(load(p + i) & (~uint64_t{0} >> (8 * (8 - (n - i)))));
    } else {
      for (; i < n; ++i) continuation += (static_cast<unsigned char>(p[i]) & 0xC0) == 0x80;
    }
  }
  return n - continuation;
}

// Byte offset of code point `k` in valid UTF-8 `s` (s.size() if k is the
// number of code points). REQUIRES: s is valid and has at least k code points.
inline size_t Utf8Offset(std::string_view s, uint64_t k) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  // Eight bytes at a time while the k-th code point lies beyond them: a
  // byte starts a code point unless it is 10xxxxxx, so a long paste costs
  // a few instructions per eight bytes wherever it is cut.
  constexpr uint64_t kLow = 0x0101010101010101ull;
  while (k >= 8 && n - i >= 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    uint64_t continuation = (w >> 7) & ~(w >> 6) & kLow;
    uint64_t starts = 8 - ((continuation * kLow) >> 56);  // the sum of its bytes
    if (starts > k) break;
    k -= starts;
    i += 8;
  }
  // Then the k-th byte that starts a code point (or the end).
  for (; i < n; ++i) {
    if ((p[i] & 0xC0) == 0x80) continue;
    if (k == 0) return i;
    --k;
  }
  return n;
}

}  // namespace weft::engine::detail
