// NodeBudget: every bound a node puts on what its peers can make it hold,
// in one place, with the arithmetic that ties them together.
//
// Decoding (every engine decoder that input from the network or the disk
// reaches): output grows as it is produced, never from a declared size,
// and stops at the smallest of
//   - the engine's own bound, 256 times the compressed size (64 KiB at
//     least): a frame body is at most 16 KiB, so an op batch from the
//     network expands to 4 MiB at most;
//   - max_decoded_batch (16 MiB) for an op batch: an Update from a peer
//     (live or catch-up) or a log record;
//   - max_decoded_snapshot (256 MiB) for a snapshot the node loads from
//     its data directory.
//
// Per document (engine::DocOptions the node gives each replica):
//   Pending   max_pending_ops runs and max_pending_bytes of text may wait
//             for missing dependencies; a batch that would exceed either is
//             dropped (kResourceExhausted), its sender kept.
#pragma once

#include <cstddef>

#include "weft/engine/doc.h"
#include "weft/status.h"

namespace weft::transport {

struct NodeBudget {
  // Entries of each merge worker's egress ring (a power of two).
  size_t egress_capacity = 4096;
  // Decompressed bytes of one op batch (Update) and of one snapshot.
  size_t max_decoded_batch = size_t{16} << 20;
  size_t max_decoded_snapshot = size_t{256} << 20;
  // Per document: ops (runs) and bytes of text waiting in Pending.
  size_t max_pending_ops = 10'000;
  size_t max_pending_bytes = size_t{4} << 20;

  // InvalidArgument when a bound is zero or the bounds contradict each
  // other.
  Status Validate() const;

  // The options of every replica the node holds (created, recovered or
  // reloaded), so the same bounds hold whichever way it came.
  engine::DocOptions doc_options() const;
};

}  // namespace weft::transport
