// Envelope: the outer frame of encoded Updates and Snapshots (format
// version, payload kind, optional zstd compression). See proto/README.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "weft/status.h"

namespace weft::engine::detail {

enum class PayloadKind { kUpdate = 1, kSnapshot = 2 };

// Frames `raw` (a serialized Update or Snapshot), zstd-compressed when
// `compress` is set and that is smaller.
std::string Seal(PayloadKind kind, const std::string& raw, bool compress);

// The most bytes a compressed payload of `compressed_bytes` may expand to:
// a fixed multiple of its size (with a small floor). Unseal refuses a
// payload that claims more; Seal leaves one uncompressed rather than
// produce it.
size_t ExpansionBudget(size_t compressed_bytes);

// The payload of a framed message of kind `kind`, decompressed. kCorruption
// for anything malformed, a wrong kind or version, or a payload larger than
// `max_bytes` or than ExpansionBudget of its compressed size. Memory used
// follows the bytes really produced, never a declared size.
Result<std::string> Unseal(std::string_view bytes, PayloadKind kind, size_t max_bytes);

// base - seq as written in the ref_seq / item_seq columns (sint64: zigzag).
inline int64_t SeqDelta(uint64_t base, uint64_t seq) {
  return static_cast<int64_t>(base) - static_cast<int64_t>(seq);
}

// Inverse of SeqDelta for untrusted input: *out = base - delta when that lies
// in [0, limit); false otherwise.
inline bool SeqFromDelta(uint64_t base, int64_t delta, uint64_t limit, uint64_t* out) {
  if (delta >= 0) {
    if (static_cast<uint64_t>(delta) > base) return false;
    *out = base - static_cast<uint64_t>(delta);
  } else {
    uint64_t up = static_cast<uint64_t>(-(delta + 1)) + 1;
    if (up > limit) return false;
    *out = base + up;
  }
  return *out < limit;
}

}  // namespace weft::engine::detail
