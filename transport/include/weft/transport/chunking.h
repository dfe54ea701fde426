// Splitting what a replica at some version lacks into updates small enough
// for one op batch frame each.
#pragma once

#include <string>
#include <vector>

#include "weft/engine/doc.h"
#include "weft/status.h"

namespace weft::transport {

// Largest update one op batch frame may carry: a frame body is one XL slot,
// less the batch's own fields (a document name is at most 256 bytes).
inline constexpr size_t kMaxUpdateBytes = 16384 - 300;

// The ops `doc` has that a replica at `since` lacks, as updates of at most
// `max_bytes` each, to be applied in order. Each is a cut of the causal op
// order at a causally closed prefix, so each applies on its own once the
// ones before it have. Empty when `since` already has everything.
Result<std::vector<std::string>> EncodeChunks(const engine::Doc& doc,
                                              const engine::VersionVector& since,
                                              size_t max_bytes = kMaxUpdateBytes);

// The same, only up to `until` (Doc::EncodeOpsSince's cut: agents it does
// not name send nothing). Costs what the agents `until` names hold, not
// what the document's every author does: a writer sending its own edits
// names its own agents in both versions.
Result<std::vector<std::string>> EncodeChunksUntil(const engine::Doc& doc,
                                                   const engine::VersionVector& since,
                                                   const engine::VersionVector& until,
                                                   size_t max_bytes = kMaxUpdateBytes);

}  // namespace weft::transport
