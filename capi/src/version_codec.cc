#include "version_codec.h"

#include <optional>

namespace weft::capi {
namespace {

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// Reads one varint at *pos; no value if it is truncated, longer than 10
// bytes or does not fit 64 bits.
std::optional<uint64_t> GetVarint(std::span<const uint8_t> in, size_t* pos) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= in.size()) return std::nullopt;
    uint8_t b = in[(*pos)++];
    // The tenth byte holds only bit 63.
    if (shift == 63 && b > 1) return std::nullopt;
    v |= uint64_t{b & 0x7Fu} << shift;
    if ((b & 0x80) == 0) return v;
  }
  return std::nullopt;
}

}  // namespace

std::string EncodeVersion(const engine::VersionVector& version) {
  std::string out;
  PutVarint(out, version.entries().size());
  for (const auto& [agent, next] : version.entries()) {
    PutVarint(out, agent);
    PutVarint(out, next);
  }
  return out;
}

Result<engine::VersionVector> DecodeVersion(std::span<const uint8_t> bytes) {
  size_t pos = 0;
  std::optional<uint64_t> count = GetVarint(bytes, &pos);
  if (!count) return Status::Corruption("version: bad entry count");
  // Each entry takes at least two bytes: cap the count before looping.
  if (*count > (bytes.size() - pos) / 2) return Status::Corruption("version: count exceeds bytes");
  engine::VersionVector version;
  std::optional<uint64_t> previous;
  for (uint64_t i = 0; i < *count; ++i) {
    std::optional<uint64_t> agent = GetVarint(bytes, &pos);
    std::optional<uint64_t> next = GetVarint(bytes, &pos);
    if (!agent || !next) return Status::Corruption("version: truncated entry");
    if (previous && *agent <= *previous) {
      return Status::Corruption("version: agents not in increasing order");
    }
    if (*next == 0) return Status::Corruption("version: zero next_seq");
    version.Set(*agent, *next);
    previous = agent;
  }
  if (pos != bytes.size()) return Status::Corruption("version: trailing bytes");
  return version;
}

}  // namespace weft::capi
