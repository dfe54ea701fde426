// Where a document lives in Redis. Every key of one document carries the
// same hash tag, the document name in braces, so a Redis Cluster keeps them
// in one slot and every command (or script) that names several of them is
// legal there:
//
//   <prefix>:{<doc>}:ops     the stream of the document's op batches
//   <prefix>:{<doc>}:snap    a hash: the newest snapshot and the entry it covers
//   <prefix>:{<doc>}:lease   who may compact the document now (SET NX PX)
//
// redis/FORMAT.md describes the values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "weft/status.h"

namespace weft::redis {

inline constexpr std::string_view kDefaultPrefix = "weft";
// Document names longer than this are refused (the node's own limit is
// lower; this only keeps keys bounded).
inline constexpr size_t kMaxDocNameBytes = 1024;

struct DocKeys {
  std::string ops;
  std::string snap;
  std::string lease;
};

// InvalidArgument for a prefix Cluster would misread: empty, or holding a
// brace (the first '{' of a key must be the one opening the hash tag).
Status ValidatePrefix(std::string_view prefix);

// InvalidArgument for a document name whose keys would not share a hash
// tag: empty, starting with '}' (an empty tag makes Cluster hash the whole
// key), or longer than kMaxDocNameBytes.
Status ValidateDocName(std::string_view doc);

// The keys of `doc`. REQUIRES: ValidatePrefix(prefix) and
// ValidateDocName(doc) are OK.
DocKeys KeysFor(std::string_view prefix, std::string_view doc);

// The Redis Cluster slot of `key` (CRC16/XMODEM of its hash tag, or of the
// whole key without one, modulo 16384), as Cluster computes it.
uint16_t ClusterSlot(std::string_view key);

}  // namespace weft::redis
