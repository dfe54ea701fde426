// Encoding and decoding of frame bodies (one weft.proto Frame each).
//
// Decoding validates everything the rest of the node relies on: nonce and
// proof sizes, name and label lengths, version vectors (parallel columns of
// equal length, no repeated agent, bounded size), known error codes. An
// OpBatch is decoded in place: its `doc` and `update` view the body's bytes,
// so the hot path copies nothing; the body must outlive them.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "weft/status.h"
#include "weft/transport/messages.h"

namespace weft::transport {

// The body bytes of a frame carrying `m` (without the length prefix).
std::string EncodeFrame(const Message& m);

// The bytes that precede `update_len` update bytes in the body of an op
// batch frame for `doc`: with the update appended they form exactly
// EncodeFrame(OpBatch{doc, update}), without copying the update.
// REQUIRES: doc.size() <= kMaxDocName.
std::string EncodeOpBatchHeader(std::string_view doc, size_t update_len);

// Corruption for anything undecodable, unknown or out of bounds.
Result<Message> DecodeFrame(std::span<const std::byte> body);

}  // namespace weft::transport
