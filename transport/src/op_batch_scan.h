// ScanOpBatch: finds an OpBatch in a frame body without copying it, so its
// `doc` and `update` can view the slot the frame arrived in.
//
// It accepts exactly the encodings protobuf's own parser accepts for a
// Frame (proto/weft.proto), so weft.proto stays the wire spec: fields in
// any order, unknown fields of every wire type (groups included) skipped,
// a field of a known number but another wire type treated as unknown, the
// oneof member that comes last winning, repeated occurrences of the
// op_batch member merged (within it, the last doc and the last update
// win), varints up to 10 bytes, tags and lengths up to 5. What it cannot
// check alone, the contents of other oneof members that an OpBatch then
// replaced, it reports so that the caller runs the generated parser too.
#pragma once

#include <cstddef>
#include <span>

#include "weft/status.h"
#include "weft/transport/messages.h"

namespace weft::transport {

struct OpBatchScan {
  bool is_op_batch = false;  // the frame's body is an OpBatch (`batch`)
  // Other oneof members came before the OpBatch: their contents are still
  // to be validated (protobuf parses them, then discards them).
  bool replaced_other_bodies = false;
  OpBatch batch;  // views the scanned bytes
};

// Corruption when `body` is not a valid protobuf encoding as far as the
// scan had to read; otherwise what it found.
Result<OpBatchScan> ScanOpBatch(std::span<const std::byte> body);

}  // namespace weft::transport
