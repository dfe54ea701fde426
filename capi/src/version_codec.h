// The byte form of a VersionVector used by the C API (weft_doc_version,
// weft_doc_encode_since). Grammar, with varint = unsigned LEB128 of at most
// 10 bytes:
//
//   version := count:varint entry{count}
//   entry   := agent:varint next_seq:varint
//
// Entries are in strictly increasing agent order and every next_seq is >= 1,
// so each vector has exactly one encoding. Example: {1: 5, 300: 2} encodes as
// 02 01 05 ac 02 02; the empty vector as 00.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "weft/engine/version_vector.h"
#include "weft/status.h"

namespace weft::capi {

std::string EncodeVersion(const engine::VersionVector& version);

// Parses bytes that may come from anywhere: kCorruption for a truncated or
// overlong varint, a count larger than the bytes could hold, entries out of
// order, a zero next_seq or bytes left over.
Result<engine::VersionVector> DecodeVersion(std::span<const uint8_t> bytes);

}  // namespace weft::capi
