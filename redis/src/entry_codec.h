// The values this store writes to Redis and how it checks them when it
// reads them back (redis/FORMAT.md has the layout):
//
//   stream entry    u <update bytes>  n <node id, 16 hex>  c <crc32c of u, 8 hex>
//   snapshot hash   v "1"  id <covered entry id>  s <snapshot bytes>  c <crc32c of s, 8 hex>
//
// Readers trust nothing: a field missing, over its cap, of the wrong size,
// or with a checksum that does not match makes the entry bad (reported and
// skipped) or the snapshot damaged (the document refused).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "weft/redis/doc_store.h"
#include "weft/redis/stream_id.h"
#include "weft/status.h"

struct redisReply;

namespace weft::redis::detail {

// 8 lower-case hex digits of the CRC-32C of `bytes`.
std::string CrcHex(std::span<const std::byte> bytes);
// 16 lower-case hex digits.
std::string NodeHex(uint64_t node);

// One entry of an XRANGE/XREAD reply: {id, {field, value, ...}}.
struct ParsedEntry {
  StreamId id;
  std::optional<Entry> entry;  // absent: bad, and `bad` says why
  std::string bad;
};
// Corruption only if the id itself is unreadable (the reader cannot move
// past it); a readable id with bad fields is a ParsedEntry with `bad` set.
Result<ParsedEntry> ParseEntry(const redisReply* e, size_t max_update_bytes);

// The snapshot part of a first page: {v, id, c, size of s, s or nil}.
struct ParsedSnapshot {
  StreamId covers;
  std::string_view bytes;  // views the reply
};
Result<ParsedSnapshot> ParseSnapshot(const redisReply* s, size_t max_snapshot_bytes);

}  // namespace weft::redis::detail
