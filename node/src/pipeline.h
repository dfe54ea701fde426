// The entries that travel on a node's rings:
//
//   loop thread ──IngressRing──► merge workers ──EgressRing──► persister
//   (frames decoded  (one per     (validate,     (one per  └──► loop thread:
//    in place)        worker)      integrate)     worker)       broadcast, acks
//                                                               (acks gated on
//                                                               the persister)
//
// Op batches travel as the RingPtr of the slot their frame arrived in: the
// worker integrates the update in place and publishes the same RingPtr, so
// persistence and broadcasters see the bytes that came off the socket.
// Control entries (connections opening, subscriptions) are rare and carry
// their details in a shared, immutable ControlData.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "transport_names.h"
#include "weft/engine/version_vector.h"
#include "weft/redis/stream_id.h"
#include "weft/ringbuf/event_processor.h"
#include "weft/ringbuf/pooled_event.h"
#include "weft/ringbuf/ring.h"
#include "weft/ringbuf/ring_ptr.h"
#include "weft/transport/messages.h"

namespace weft::node {

using SlotRef = ringbuf::RingPtr<ringbuf::EventHeader>;

struct ControlData {
  std::string doc;
  engine::VersionVector version;
  std::vector<uint64_t> agents;  // kConnOpened: the agents the peer may author under
  bool any_agent = false;        // kConnOpened: a node, which relays any agent's ops
  ErrorCode code = ErrorCode::kUnspecified;
  std::string reason;
  std::string snapshot;  // kSnapshot: the document's encoded snapshot
  std::string update;    // kSendOps: an encoded update
  // kLoadImage: the document as Redis holds it (its snapshot, if any, is in
  // `snapshot`), then the entries after it, in stream order.
  std::vector<std::string> updates;
  // kLoadImage: the document has subscribers already, who get what it adds.
  bool relay = false;
  // kSnapshotFor, kRedisSnapshot: every stream entry up to this id has
  // reached the worker (compaction may trim up to it).
  redis::StreamId covers;
};

struct IngressEntry {
  enum class Kind : uint8_t {
    kNone,         // nothing (never published: workers are woken by Wake())
    kConnOpened,   // every worker: remember the connection's agents
    kConnClosed,   // every worker: forget it
    kApply,        // `worker`: integrate `update` of `doc` from `conn`
    kSubscribe,    // `worker`: catch `conn` up on control->doc from control->version
    kAnnounce,     // `worker`: send `conn` a Subscribe for control->doc
    kLoadImage,    // `worker`: merge control->snapshot and control->updates into control->doc
    kSnapshotFor,  // `worker`: answer kRedisSnapshot for control->doc, control->covers
    kEvict,        // `worker`: drop control->doc from memory (Redis holds it)
  };
  Kind kind = Kind::kNone;
  uint32_t worker = 0;
  uint64_t conn = 0;
  SlotRef frame;                      // kApply: the frame body holding doc and update
  std::string_view doc;               // kApply: views `frame`
  std::span<const std::byte> update;  // kApply: views `frame`
  uint64_t received_micros = 0;       // kApply: when the frame arrived (steady clock)
  std::shared_ptr<const ControlData> control;
};

struct EgressEntry {
  enum class Kind : uint8_t {
    kNone,
    kAccepted,       // `frame` from `conn` integrated; relay it if `relay`, ack `ack_*`
    kRejected,       // close `conn`: control->code, control->reason
    kDropped,        // a batch from `conn` for control->doc was dropped: control->reason
    kSubscribed,     // from here on, relay control->doc's ops to `conn`
    kSendOps,        // send `conn` an op batch of control->doc with control->update
    kRelayOps,       // the same to every subscriber of control->doc (ops out of Pending)
    kSendSyncDone,   // send `conn` SyncDone{control->doc, control->version}
    kSendSubscribe,  // send `conn` Subscribe{control->doc, control->version}
    kDocCreated,     // control->doc is new on this node
    kSnapshot,       // persist control->snapshot of control->doc
    // control->snapshot of control->doc covers every stream entry up to
    // control->covers; empty: it cannot (ops wait in Pending), do not compact.
    kRedisSnapshot,
    kNotice,  // log control->reason (something from Redis was refused)
    // control->doc has been idle (its state is in Redis): the loop answers
    // kEvict unless it is reading the document or appends are unconfirmed.
    kEvictable,
  };
  Kind kind = Kind::kNone;
  bool relay = false;
  uint64_t conn = 0;
  SlotRef frame;                      // kAccepted: the received frame body
  std::string_view doc;               // kAccepted: views `frame`
  std::span<const std::byte> update;  // kAccepted: views `frame`
  uint64_t ack_agent = 0;             // kAccepted: the batch's only agent (0: no ack)
  uint64_t ack_next_seq = 0;          // kAccepted: that agent's seqs below it are applied
  // kAccepted, kDropped, kRejected of a batch: its frame's bytes, which
  // count against `conn`'s inbound credit until this entry is through.
  uint32_t batch_bytes = 0;
  uint64_t received_micros = 0;  // kAccepted: the IngressEntry's, for edit-to-ack latency
  std::shared_ptr<const ControlData> control;
};

using IngressRing = ringbuf::Ring<IngressEntry>;
using IngressProcessor = ringbuf::EventProcessor<IngressEntry>;
using EgressRing = ringbuf::Ring<EgressEntry>;

// An op batch's received_micros: the steady clock, in microseconds.
inline uint64_t NowMicros() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// What a node tells authors whose op batches it cannot store.
inline constexpr char kCannotStore[] =
    "the node cannot store ops now (its disk is full or failing): retry later";

// The worker owning a document: a stable hash of its name, so every thread
// and every restart agrees.
inline uint32_t WorkerFor(std::string_view doc, uint32_t workers) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : doc) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  return static_cast<uint32_t>(h % workers);
}

}  // namespace weft::node
