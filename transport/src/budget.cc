#include "weft/transport/budget.h"

namespace weft::transport {

Status NodeBudget::Validate() const {
  if (max_pending_ops == 0 || max_pending_bytes == 0) {
    return Status::InvalidArgument("pending bounds must be at least 1");
  }
  return Status::Ok();
}

engine::DocOptions NodeBudget::doc_options() const {
  engine::DocOptions o;
  o.max_pending_ops = max_pending_ops;
  o.max_pending_bytes = max_pending_bytes;
  // A node's replicas make no local edits: nothing to undo.
  o.undo_limit = 0;
  return o;
}

}  // namespace weft::transport
