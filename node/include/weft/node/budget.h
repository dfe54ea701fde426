// NodeBudget: every bound a node puts on what its peers can make it hold,
// in one place, with the arithmetic that ties them together. Defaults in
// brackets.
//
// Frames. A frame read from a socket lives in a slot of the loop's pools
// (`pools`: XS 64 B x 2000, S 256 B x 1000, M 1 KiB x 300, L 4 KiB x 60,
// XL 16 KiB x 15: 1.2 MB of payload) until every stage is done with it:
// the merge worker, the persister, the acks, and the write queue of every
// subscriber it is relayed to. When a pool is empty the loop stops reading
// from the sockets that need it until slots return (back-pressure). So that
// one peer cannot empty a pool for everyone, each connection has a credit:
//
//   inbound   op batches it sent that are not yet through the pipeline
//             (accepted and stored, or refused): at most 1/connection_share
//             [1/8] of each pool's slots (2 at least) and of the pools'
//             payload bytes (147 KB). Past it, the node stops reading the
//             connection until its batches get through: it waits, others
//             do not.
//   outbound  slots pinned by its write queue (relays of others' frames):
//             the same share of each pool. Past it, a relay is copied out of
//             its slot into the queue, so a slow reader never holds a pool.
//
// Read-ahead. Each connection reads up to kReadAheadBytes [512 B]
// (weft/transport/frame.h) past the frame it assembles, so frames that
// arrive together take one read: max_connections x 512 B = 2 MiB at most.
// A connection stopped for want of a slot holds no more than that.
//
// Write queues. What a connection has queued and the kernel has not taken:
//   outbound_credit_bytes [1 MiB]: past it, the node stops reading the
//             connection (it may not ask for more) until the queue is back
//             under half of it.
//   max_outbound_bytes [16 MiB]: relays and replies queued past it (the
//             peer reads slower than others write): disconnected
//             (Error{OVERLOADED}); it catches up when it returns. Catch-ups
//             are not counted here: they are bounded by the document and by
//             max_catch_ups [4] catch-ups in progress per connection (a
//             Subscribe past that waits, unread).
//   drain_timeout [10 s]: a connection with bytes queued whose queue takes
//             nothing for this long is disconnected, whatever it sends.
//   Worst case for queues: max_connections [4096] x (max_outbound_bytes +
//   max_catch_ups catch-ups); a document is at most max_resident_bytes.
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
// Resident documents. A document nobody used for evict_idle [300 s] leaves
// memory, its state staying on disk (a snapshot file, written and read back
// before the replica is dropped) or in Redis (without a data directory),
// and comes back at its next use. At most max_resident_docs [10,000] and
// max_resident_bytes [1 GiB] of replicas (engine heap accounting) stay in
// memory, split evenly between the workers: past either, the least
// recently used are evicted first, and a client asking for a document the
// worker would have to create or load meanwhile is refused
// (Error{OVERLOADED}, retry shortly). What nodes and Redis relay is taken
// over the bound, eviction making room behind it. Without a data
// directory or Redis a document has nowhere to go: the bounds then refuse.
//
// Followed documents (with Redis). A node reads the stream of every document
// its clients subscribe to or it holds, all in one blocking XREAD, and keeps
// a little state for each. At most max_followed_docs [10,000] at once: a
// Subscribe that would make the node follow one more is refused
// (Error{OVERLOADED}, retry shortly). A document is no longer followed once
// it leaves memory, or, if this node never held it (a name that is no
// document), once its last subscriber leaves, even one that left before
// Redis answered the read.
//
// Per document (engine::DocOptions the node gives each replica):
//   Pending   max_pending_ops runs and max_pending_bytes of text may wait
//             for missing dependencies; a batch that would exceed either is
//             dropped (kResourceExhausted), its sender kept.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "weft/engine/doc.h"
#include "weft/ringbuf/event_allocator.h"
#include "weft/status.h"
#include "weft/transport/credit.h"

namespace weft::node {

struct NodeBudget {
  // The loop's pools (incoming frames) and the rings' entries (powers of two).
  ringbuf::PoolCapacities pools;
  size_t ingress_capacity = 4096;  // per worker: each has its own ingress ring
  size_t egress_capacity = 4096;

  // Connections, and the share of each pool one of them may hold.
  size_t max_connections = 4096;
  uint32_t connection_share = 8;
  // Write queues.
  size_t outbound_credit_bytes = size_t{1} << 20;
  size_t max_outbound_bytes = size_t{16} << 20;
  std::chrono::milliseconds drain_timeout{10000};
  // Subscriptions per connection: in all, and still catching up.
  size_t max_subscriptions = 1024;
  size_t max_catch_ups = 4;

  // Decompressed bytes of one op batch (Update) and of one snapshot.
  size_t max_decoded_batch = size_t{16} << 20;
  size_t max_decoded_snapshot = size_t{256} << 20;

  // Resident documents (see above).
  std::chrono::milliseconds evict_idle{300000};
  size_t max_resident_docs = 10000;
  size_t max_resident_bytes = size_t{1} << 30;
  // Documents followed in Redis at once (see above).
  size_t max_followed_docs = 10000;

  // Per document: ops (runs) and bytes of text waiting in Pending.
  size_t max_pending_ops = 10'000;
  size_t max_pending_bytes = size_t{4} << 20;

  // InvalidArgument when a bound is zero or the bounds contradict each
  // other.
  Status Validate() const;

  // A connection's credit on the pools, for its inbound batches and its
  // write queue alike.
  transport::ConnectionCredit connection_credit() const;

  // The options of every replica the node holds (created, recovered or
  // reloaded), so the same bounds hold whichever way it came.
  engine::DocOptions doc_options() const;
};

}  // namespace weft::node
