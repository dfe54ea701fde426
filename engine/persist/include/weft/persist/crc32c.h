// CRC-32C (Castagnoli), the checksum of every log record and snapshot.
// Uses the SSE 4.2 crc32 instruction where the CPU has it, a bitwise
// fallback elsewhere (slow, but only on CPUs without the instruction).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace weft::persist {

// Extends `crc` (0 to start) over `data`.
uint32_t Crc32c(uint32_t crc, std::span<const std::byte> data);

inline uint32_t Crc32c(std::span<const std::byte> data) { return Crc32c(0, data); }

}  // namespace weft::persist
