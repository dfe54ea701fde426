// CRC-32C (Castagnoli): the checksum of the engine's Update and Snapshot
// bytes and of every op log record and snapshot file. Shared by all modules
// and header-only for the same reason as status.h: ringbuf depends on
// nothing, so the engine (also built for WebAssembly) can use it too.
//
// Uses the SSE 4.2 crc32 instruction where the CPU has it, and otherwise a
// portable table method (slicing by 8) that reads bytes one at a time, so
// the value never depends on the platform's byte order.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define WEFT_CRC32C_SSE42 1
#endif

namespace weft {
namespace crc32c_detail {

inline constexpr uint32_t kPolyReflected = 0x82f63b78;

// kTables[0] is the byte-at-a-time table; kTables[k][b] is the CRC of byte
// b followed by k zero bytes, so eight bytes fold in with eight lookups.
constexpr std::array<std::array<uint32_t, 256>, 8> MakeTables() {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t crc = b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (kPolyReflected & (0u - (crc & 1)));
    t[0][b] = crc;
  }
  for (size_t k = 1; k < 8; ++k) {
    for (uint32_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
  }
  return t;
}
inline constexpr std::array<std::array<uint32_t, 256>, 8> kTables = MakeTables();

inline uint32_t Le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

inline uint32_t Portable(uint32_t crc, const uint8_t* p, size_t n) {
  crc = ~crc;
  for (; n >= 8; p += 8, n -= 8) {
    uint32_t lo = crc ^ Le32(p);
    uint32_t hi = Le32(p + 4);
    crc = kTables[7][lo & 0xff] ^ kTables[6][(lo >> 8) & 0xff] ^ kTables[5][(lo >> 16) & 0xff] ^
          kTables[4][lo >> 24] ^ kTables[3][hi & 0xff] ^ kTables[2][(hi >> 8) & 0xff] ^
          kTables[1][(hi >> 16) & 0xff] ^ kTables[0][hi >> 24];
  }
  while (n-- > 0) crc = (crc >> 8) ^ kTables[0][(crc ^ *p++) & 0xff];
  return ~crc;
}

#ifdef WEFT_CRC32C_SSE42
__attribute__((target("sse4.2"))) inline uint32_t Hardware(uint32_t crc, const uint8_t* p,
                                                           size_t n) {
  uint64_t c = ~crc;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);  // x86-64 is little-endian, as the CRC expects
    c = _mm_crc32_u64(c, word);
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}

inline bool HasSse42() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

}  // namespace crc32c_detail

// Extends `crc` (0 to start) over `data`.
inline uint32_t Crc32c(uint32_t crc, std::span<const std::byte> data) {
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
#ifdef WEFT_CRC32C_SSE42
  if (crc32c_detail::HasSse42()) return crc32c_detail::Hardware(crc, p, data.size());
#endif
  return crc32c_detail::Portable(crc, p, data.size());
}

inline uint32_t Crc32c(std::span<const std::byte> data) { return Crc32c(0, data); }

}  // namespace weft
