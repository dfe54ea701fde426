// Envelope: the frame around an encoded Update or Snapshot (engine/FORMAT.md,
// "Envelope"): format version, payload kind, body, CRC-32C. What a body may
// decompress to is bounded here too, by the bytes that arrived.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "weft/status.h"

namespace weft::engine::detail {

enum class PayloadKind : uint8_t { kUpdate = 1, kSnapshot = 2 };

// The format this build writes and the only one it reads.
inline constexpr uint8_t kFormatVersion = 2;

// Starts an enveloped message of `kind` in the empty string `out`: the body
// is appended after it, then EndEnvelope.
void BeginEnvelope(PayloadKind kind, std::string* out);
// Appends the checksum of everything in `out`.
void EndEnvelope(std::string* out);
// BeginEnvelope, `body`, EndEnvelope.
std::string Seal(PayloadKind kind, std::string_view body);

// The most bytes a compressed section of `compressed_bytes` may expand to:
// a fixed multiple of its size (with a small floor). Decoders refuse a
// section that claims more; encoders store a section uncompressed rather
// than produce one.
size_t ExpansionBudget(size_t compressed_bytes);

// The body of an enveloped message of kind `kind`, a view into `bytes`.
// kCorruption for a wrong kind, a checksum mismatch, or another format
// version (an older one is named as such).
Result<std::string_view> Unseal(std::string_view bytes, PayloadKind kind);

}  // namespace weft::engine::detail
