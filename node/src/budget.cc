#include "weft/node/budget.h"

#include <algorithm>
#include <bit>

namespace weft::node {

Status NodeBudget::Validate() const {
  for (size_t k = 0; k < ringbuf::kPoolCount; ++k) {
    if (pools[k] == 0) return Status::InvalidArgument("every pool needs a slot at least");
  }
  if (!std::has_single_bit(ingress_capacity) || !std::has_single_bit(egress_capacity)) {
    return Status::InvalidArgument("ring capacities must be powers of two");
  }
  if (max_connections == 0 || connection_share == 0 || max_subscriptions == 0 ||
      max_catch_ups == 0 || drain_timeout.count() <= 0) {
    return Status::InvalidArgument("connection bounds must be at least 1");
  }
  if (outbound_credit_bytes < ringbuf::kMaxPayloadBytes ||
      max_outbound_bytes < outbound_credit_bytes) {
    // A queue must take a whole frame before the node stops reading, and
    // stop reading before it disconnects.
    return Status::InvalidArgument(
        "outbound_credit_bytes must be at least 16 KiB and max_outbound_bytes at least that");
  }
  if (evict_idle.count() <= 0 || max_resident_docs == 0 || max_resident_bytes == 0 ||
      max_followed_docs == 0) {
    return Status::InvalidArgument("residency bounds must be at least 1");
  }
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

transport::ConnectionCredit NodeBudget::connection_credit() const {
  transport::ConnectionCredit c;
  size_t pool_bytes = 0;
  for (size_t k = 0; k < ringbuf::kPoolCount; ++k) {
    // Two at least: one frame in the pipeline and the next being read.
    c.slots[k] = std::max<uint32_t>(2, pools[k] / connection_share);
    pool_bytes += size_t{pools[k]} * ringbuf::kPayloadBytes[k];
  }
  c.bytes = std::max<size_t>(ringbuf::kMaxPayloadBytes, pool_bytes / connection_share);
  return c;
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

}  // namespace weft::node
