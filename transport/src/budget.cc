#include "weft/transport/budget.h"

namespace weft::transport {

Status NodeBudget::Validate() const {
  if (max_pending_ops == 0 || max_pending_bytes == 0) {
    return Status::InvalidArgument("pending bounds must be at least 1");
  }
  if (max_decoded_batch < (size_t{64} << 10) || max_decoded_snapshot < max_decoded_batch) {
    // The engine itself takes 64 KiB from any payload; a snapshot holds at
    // least what a batch does.
    return Status::InvalidArgument(
        "max_decoded_batch must be at least 64 KiB and max_decoded_snapshot at least that");
  }
  return Status::Ok();
}

engine::DocOptions NodeBudget::doc_options() const {
  engine::DocOptions o;
  o.max_pending_ops = max_pending_ops;
  o.max_pending_bytes = max_pending_bytes;
  o.max_decoded_bytes = max_decoded_batch;
  // A node's replicas make no local edits: nothing to undo.
  o.undo_limit = 0;
  return o;
}

}  // namespace weft::transport
