#include "entry_codec.h"

#include <hiredis/hiredis.h>

#include <charconv>
#include <cinttypes>
#include <cstdio>

#include "connection.h"
#include "weft/crc32c.h"

namespace weft::redis::detail {
namespace {

std::span<const std::byte> Bytes(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

bool IsString(const redisReply* r) { return r != nullptr && r->type == REDIS_REPLY_STRING; }

bool ParseHex(std::string_view text, size_t digits, uint64_t& out) {
  if (text.size() != digits) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, 16);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string CrcHex(std::span<const std::byte> bytes) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08" PRIx32, weft::Crc32c(bytes));
  return buf;
}

std::string NodeHex(uint64_t node) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, node);
  return buf;
}

Result<ParsedEntry> ParseEntry(const redisReply* e, size_t max_update_bytes) {
  if (e == nullptr || e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
      !IsString(e->element[0])) {
    return Status::Corruption("a stream entry that is not {id, fields}");
  }
  Result<StreamId> id = StreamId::Parse(ReplyText(e->element[0]));
  if (!id.ok()) return id.status();
  ParsedEntry out;
  out.id = *id;
  const redisReply* fields = e->element[1];
  if (fields == nullptr || fields->type != REDIS_REPLY_ARRAY || fields->elements % 2 != 0) {
    out.bad = "fields are not name/value pairs";
    return out;
  }
  std::optional<std::string_view> u, n, c;
  for (size_t i = 0; i < fields->elements; i += 2) {
    const redisReply* name = fields->element[i];
    const redisReply* value = fields->element[i + 1];
    if (!IsString(name) || !IsString(value)) {
      out.bad = "a field that is not a string";
      return out;
    }
    std::string_view key = ReplyText(name);
    if (key == "!oversize") {
      out.bad = "over the cap: " + std::string(ReplyText(value).substr(0, 32));
      return out;
    }
    // Fields other than u, n and c are ignored: a later version may add
    // some.
    if (key == "u") u = ReplyText(value);
    if (key == "n") n = ReplyText(value);
    if (key == "c") c = ReplyText(value);
  }
  uint64_t node = 0;
  uint64_t crc = 0;
  if (!u || !n || !c) {
    out.bad = "not a weft entry (u, n and c are required)";
  } else if (u->size() > max_update_bytes) {
    out.bad = "an update of " + std::to_string(u->size()) + " bytes, over the cap of " +
              std::to_string(max_update_bytes);
  } else if (!ParseHex(*n, 16, node) || !ParseHex(*c, 8, crc)) {
    out.bad = "n or c is not hex of the right length";
  } else if (crc != weft::Crc32c(Bytes(*u))) {
    out.bad = "the update does not match its checksum (truncated or altered)";
  } else {
    out.entry = Entry{out.id, node, Bytes(*u)};
  }
  return out;
}

Result<ParsedSnapshot> ParseSnapshot(const redisReply* s, size_t max_snapshot_bytes) {
  if (s == nullptr || s->type != REDIS_REPLY_ARRAY || s->elements != 5) {
    return Status::Corruption("snapshot: unexpected reply shape");
  }
  const redisReply* const* f = s->element;
  if (!IsString(f[0]) || ReplyText(f[0]) != "1") {
    return Status::Corruption("snapshot: version field v is missing or not 1");
  }
  if (!IsString(f[1])) return Status::Corruption("snapshot: no id field");
  Result<StreamId> covers = StreamId::Parse(ReplyText(f[1]));
  if (!covers.ok()) return covers.status().WithContext("snapshot");
  if (f[3] == nullptr || f[3]->type != REDIS_REPLY_INTEGER || f[3]->integer < 0) {
    return Status::Corruption("snapshot: no size");
  }
  if (static_cast<unsigned long long>(f[3]->integer) > max_snapshot_bytes) {
    return Status::ResourceExhausted("snapshot of " + std::to_string(f[3]->integer) +
                                     " bytes, over the cap of " +
                                     std::to_string(max_snapshot_bytes));
  }
  uint64_t crc = 0;
  if (!IsString(f[4]) || !IsString(f[2]) || !ParseHex(ReplyText(f[2]), 8, crc)) {
    return Status::Corruption("snapshot: s or c missing");
  }
  std::string_view bytes = ReplyText(f[4]);
  if (crc != weft::Crc32c(Bytes(bytes))) {
    return Status::Corruption("snapshot: bytes do not match their checksum");
  }
  return ParsedSnapshot{*covers, bytes};
}

}  // namespace weft::redis::detail
