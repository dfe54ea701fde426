#include "envelope.h"

#include <algorithm>
#include <span>

#include "byte_io.h"
#include "weft/crc32c.h"

namespace weft::engine::detail {

namespace {
// A compressed section may expand to at most kMaxExpansion times its own
// size, or to kMinExpansionBudget if that is more. Real updates compress
// 3-10x, so this refuses only bombs.
constexpr size_t kMaxExpansion = 256;
constexpr size_t kMinExpansionBudget = size_t{64} << 10;
// Format version 1 was a protobuf message whose first byte is the tag of
// its field 1 (format_version, a varint).
constexpr uint8_t kVersion1FirstByte = 0x08;
constexpr size_t kHeaderBytes = 2;
constexpr size_t kCrcBytes = 4;

uint32_t Crc(std::string_view bytes) {
  return Crc32c(std::as_bytes(std::span(bytes.data(), bytes.size())));
}
}  // namespace

void BeginEnvelope(PayloadKind kind, std::string* out) {
  out->push_back(static_cast<char>(kFormatVersion));
  out->push_back(static_cast<char>(kind));
}

void EndEnvelope(std::string* out) { ByteWriter(out).PutLe32(Crc(*out)); }

std::string Seal(PayloadKind kind, std::string_view body) {
  std::string out;
  BeginEnvelope(kind, &out);
  out.append(body);
  EndEnvelope(&out);
  return out;
}

size_t ExpansionBudget(size_t compressed_bytes) {
  if (compressed_bytes > SIZE_MAX / kMaxExpansion) return SIZE_MAX;
  return std::max(kMinExpansionBudget, compressed_bytes * kMaxExpansion);
}

Result<std::string_view> Unseal(std::string_view bytes, PayloadKind kind) {
  if (bytes.size() < kHeaderBytes + kCrcBytes) return Status::Corruption("message too short");
  const auto version = static_cast<uint8_t>(bytes[0]);
  if (version != kFormatVersion) {
    if (version == kVersion1FirstByte) {
      return Status::Corruption(
          "format version 1 (protobuf) is no longer read; this build reads 2");
    }
    return Status::Corruption("unknown format version " + std::to_string(version));
  }
  if (static_cast<uint8_t>(bytes[1]) != static_cast<uint8_t>(kind)) {
    return Status::Corruption(kind == PayloadKind::kUpdate ? "not an update" : "not a snapshot");
  }
  const size_t body_end = bytes.size() - kCrcBytes;
  ByteReader crc(bytes.substr(body_end));
  if (Crc(bytes.substr(0, body_end)) != crc.Le32()) {
    return Status::Corruption("checksum mismatch");
  }
  return bytes.substr(kHeaderBytes, body_end - kHeaderBytes);
}

}  // namespace weft::engine::detail
