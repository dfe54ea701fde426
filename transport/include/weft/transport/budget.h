// NodeBudget: every bound a node puts on what its peers can make it hold,
// in one place, with the arithmetic that ties them together.
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
