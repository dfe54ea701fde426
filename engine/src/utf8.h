// UTF-8 helpers: validation and code point <-> byte offsets.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace weft::engine::detail {

// Width in bytes of the valid UTF-8 code point at p[i] (i < n), or 0 if
// none starts there: overlong forms, surrogates, code points above
// U+10FFFF and truncated sequences are all invalid.
inline size_t CodePointWidth(const unsigned char* p, size_t n, size_t i) {
  const unsigned char c = p[i];
  if (c < 0x80) return 1;
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
    return 0;
  }
  if (n - i <= extra) return 0;
  for (size_t k = 1; k <= extra; ++k) {
    unsigned char cc = p[i + k];
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  if ((extra == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
      (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
    return 0;
  }
  return extra + 1;
}

// How many leading bytes of the eight at `p` are ASCII (8: all of them).
inline size_t AsciiPrefix(const unsigned char* p) {
  uint64_t word;
  std::memcpy(&word, p, 8);
  if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
  const uint64_t high = word & 0x8080808080808080ull;
  return high == 0 ? 8 : static_cast<size_t>(std::countr_zero(high)) / 8;
}

// Bytes taken by the first `k` code points of `s`, or no value if `s` is
// not valid UTF-8 that far or holds fewer than `k` code points. Validating
// and measuring in one pass lets a decoder cut a text into runs while it
// checks it, reading each byte once.
inline std::optional<size_t> Utf8Prefix(std::string_view s, uint64_t k) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (k > 0) {
    // ASCII a word at a time; in mixed text, the ASCII before the next
    // other byte in one step.
    if (n - i >= 8) {
      const size_t ascii = std::min<uint64_t>(AsciiPrefix(p + i), k);
      i += ascii;
      k -= ascii;
      if (k == 0) break;
      if (ascii == 8) continue;
    }
    if (i >= n) return std::nullopt;
    size_t width = CodePointWidth(p, n, i);
    if (width == 0) return std::nullopt;
    i += width;
    --k;
  }
  return i;
}

// Number of code points in `s`, or no value if `s` is not valid UTF-8.
inline std::optional<uint64_t> CountUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  uint64_t count = 0;
  size_t i = 0;
  while (i < n) {
    // ASCII a word at a time (most text is mostly ASCII); in mixed text,
    // the ASCII before the next other byte in one step.
    if (n - i >= 8) {
      size_t ascii = AsciiPrefix(p + i);
      i += ascii;
      count += ascii;
      if (ascii == 8) continue;
    }
    size_t width = CodePointWidth(p, n, i);
    if (width == 0) return std::nullopt;
    i += width;
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

// How many of the eight bytes at `p` start a code point: a byte does
// unless it is 10xxxxxx. Bytes are flagged in place and the flags summed
// into the top byte by one multiply, so the byte order does not matter.
inline uint64_t CodePointStartsIn8(const unsigned char* p) {
  constexpr uint64_t kLow = 0x0101010101010101ull;
  uint64_t w;
  std::memcpy(&w, p, 8);
  const uint64_t continuation = (w >> 7) & ~(w >> 6) & kLow;
  return 8 - ((continuation * kLow) >> 56);
}

// Byte offset of code point `k` in valid UTF-8 `s` (s.size() if k is the
// number of code points). REQUIRES: s is valid and has at least k code points.
inline size_t Utf8Offset(std::string_view s, uint64_t k) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  // Eight bytes at a time while the k-th code point lies beyond them, so a
  // long paste costs a few instructions per eight bytes wherever it is cut.
  while (k >= 8 && n - i >= 8) {
    const uint64_t starts = CodePointStartsIn8(p + i);
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

// Utf8Offset for `s` of `n` code points, counted from whichever end of `s`
// is nearer. Cutting a long non-ASCII text again and again (edits applied
// from the end of a pasted file up, as codemods do) then reads, over all
// the cuts, at most length * log2(length) bytes, not the offset of every
// cut: a cut reads about the smaller of the two parts it makes, and a byte
// can be in the smaller part of at most log2(length) cuts.
// REQUIRES: s is valid, has n code points, k <= n.
inline size_t Utf8OffsetNear(std::string_view s, uint64_t n, uint64_t k) {
  if (k <= n / 2) return Utf8Offset(s, k);
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = s.size();
  // Code point k starts at the (n - k)-th code point start from the end.
  uint64_t m = n - k;
  // Whole words while more than eight starts remain (a word holds at most
  // eight, so the one sought is not in it).
  while (m > 8 && i >= 8) {
    m -= CodePointStartsIn8(p + i - 8);
    i -= 8;
  }
  while (m > 0 && i > 0) {
    --i;
    if ((p[i] & 0xC0) != 0x80) --m;
  }
  return i;
}

}  // namespace weft::engine::detail
