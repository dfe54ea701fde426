#include "weft/redis/key_layout.h"

namespace weft::redis {

Status ValidatePrefix(std::string_view prefix) {
  if (prefix.empty()) return Status::InvalidArgument("the Redis key prefix is empty");
  if (prefix.find_first_of("{}") != std::string_view::npos) {
    return Status::InvalidArgument("the Redis key prefix may not hold '{' or '}'");
  }
  return Status::Ok();
}

Status ValidateDocName(std::string_view doc) {
  if (doc.empty()) return Status::InvalidArgument("empty document name");
  if (doc.front() == '}') {
    return Status::InvalidArgument("a document name may not start with '}'");
  }
  if (doc.size() > kMaxDocNameBytes) return Status::InvalidArgument("document name too long");
  return Status::Ok();
}

DocKeys KeysFor(std::string_view prefix, std::string_view doc) {
  std::string base;
  base.reserve(prefix.size() + doc.size() + 4);
  base.append(prefix).append(":{").append(doc).append("}:");
  return DocKeys{base + "ops", base + "snap", base + "lease"};
}

uint16_t ClusterSlot(std::string_view key) {
  // The hash tag: between the first '{' and the first '}' after it, if that
  // is not empty; otherwise the whole key.
  if (size_t open = key.find('{'); open != std::string_view::npos) {
    size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  // CRC16/XMODEM: polynomial 0x1021, initial value 0, no reflection.
  uint16_t crc = 0;
  for (char c : key) {
    crc ^= static_cast<uint16_t>(static_cast<uint8_t>(c) << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc % 16384;
}

}  // namespace weft::redis
