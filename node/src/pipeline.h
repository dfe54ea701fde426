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

#include "node_ring.h"
#include "transport_names.h"
#include "weft/engine/version_vector.h"
#include "weft/redis/stream_id.h"
#include "weft/ringbuf/event_processor.h"
#include "weft/ringbuf/pooled_event.h"
#include "weft/ringbuf/ring.h"
#include "weft/ringbuf/ring_ptr.h"
#include "weft/ringbuf/ring_ptr_with.h"
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

// Where a view into a frame's payload lies in it: ring records carry this
// instead of pointers (a frame body is at most one XL slot, 16 KiB).
struct FrameSpan {
  uint16_t offset = 0;
  uint16_t size = 0;
};
static_assert(ringbuf::kMaxPayloadBytes <= UINT16_MAX, "frame offsets fit 16 bits");

// The payload bytes `frame` holds at `span` (empty without a frame).
inline std::span<const std::byte> BytesAt(const SlotRef& frame, FrameSpan span) {
  if (!frame) return {};
  return ringbuf::PayloadOf(*frame).subspan(span.offset, span.size);
}
inline std::string_view TextAt(const SlotRef& frame, FrameSpan span) {
  std::span<const std::byte> b = BytesAt(frame, span);
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
// Where `bytes` lies in `frame`'s payload. REQUIRES: it lies there (or is
// empty).
inline FrameSpan SpanIn(const SlotRef& frame, std::span<const std::byte> bytes) {
  if (bytes.empty()) return {};
  const std::byte* base = ringbuf::PayloadOf(*frame).data();
  return {static_cast<uint16_t>(bytes.data() - base), static_cast<uint16_t>(bytes.size())};
}
inline FrameSpan SpanIn(const SlotRef& frame, std::string_view text) {
  return SpanIn(frame, std::as_bytes(std::span(text.data(), text.size())));
}

// An entry as producers fill it (Entry), as the ring carries it (Entry::Slot:
// the frame's RingPtr plus Entry::Record, see node_ring.h) and as readers
// see it (Entry::View: the record's fields, and `frame`, `control` and the
// views into the frame, all valid while the reader borrows the entry).
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

  struct Record {
    Kind kind = Kind::kNone;
    FrameSpan doc;
    FrameSpan update;
    uint32_t worker = 0;
    uint64_t conn = 0;
    uint64_t received_micros = 0;
  };
  using Slot = ringbuf::RingPtrWith<ringbuf::EventHeader, Record>;

  struct View {
    View(const Slot& s, const std::shared_ptr<const ControlData>& c)
        : kind(s.record.kind),
          worker(s.record.worker),
          conn(s.record.conn),
          frame(s.ptr),
          doc(TextAt(s.ptr, s.record.doc)),
          update(BytesAt(s.ptr, s.record.update)),
          received_micros(s.record.received_micros),
          control(c) {}
    Kind kind;
    uint32_t worker;
    uint64_t conn;
    const SlotRef& frame;
    std::string_view doc;
    std::span<const std::byte> update;
    uint64_t received_micros;
    const std::shared_ptr<const ControlData>& control;
  };

  // The ring's form (control goes beside it).
  static Slot Pack(IngressEntry&& e) {
    Slot s;
    s.record.kind = e.kind;
    s.record.worker = e.worker;
    s.record.conn = e.conn;
    s.record.received_micros = e.received_micros;
    if (e.frame) {
      s.record.doc = SpanIn(e.frame, e.doc);
      s.record.update = SpanIn(e.frame, e.update);
    }
    s.ptr = std::move(e.frame);
    return s;
  }
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

  struct Record {
    Kind kind = Kind::kNone;
    bool relay = false;
    FrameSpan doc;
    FrameSpan update;
    uint32_t batch_bytes = 0;
    uint64_t conn = 0;
    uint64_t ack_agent = 0;
    uint64_t ack_next_seq = 0;
    uint64_t received_micros = 0;
  };
  using Slot = ringbuf::RingPtrWith<ringbuf::EventHeader, Record>;

  struct View {
    View(const Slot& s, const std::shared_ptr<const ControlData>& c)
        : kind(s.record.kind),
          relay(s.record.relay),
          conn(s.record.conn),
          frame(s.ptr),
          doc(TextAt(s.ptr, s.record.doc)),
          update(BytesAt(s.ptr, s.record.update)),
          ack_agent(s.record.ack_agent),
          ack_next_seq(s.record.ack_next_seq),
          batch_bytes(s.record.batch_bytes),
          received_micros(s.record.received_micros),
          control(c) {}
    // A view of an entry a reader owns (EgressEntry::Own).
    explicit View(const EgressEntry& e)
        : kind(e.kind),
          relay(e.relay),
          conn(e.conn),
          frame(e.frame),
          doc(e.doc),
          update(e.update),
          ack_agent(e.ack_agent),
          ack_next_seq(e.ack_next_seq),
          batch_bytes(e.batch_bytes),
          received_micros(e.received_micros),
          control(e.control) {}
    Kind kind;
    bool relay;
    uint64_t conn;
    const SlotRef& frame;
    std::string_view doc;
    std::span<const std::byte> update;
    uint64_t ack_agent;
    uint64_t ack_next_seq;
    uint32_t batch_bytes;
    uint64_t received_micros;
    const std::shared_ptr<const ControlData>& control;
  };

  static Slot Pack(EgressEntry&& e) {
    Slot s;
    s.record.kind = e.kind;
    s.record.relay = e.relay;
    s.record.batch_bytes = e.batch_bytes;
    s.record.conn = e.conn;
    s.record.ack_agent = e.ack_agent;
    s.record.ack_next_seq = e.ack_next_seq;
    s.record.received_micros = e.received_micros;
    if (e.frame) {
      s.record.doc = SpanIn(e.frame, e.doc);
      s.record.update = SpanIn(e.frame, e.update);
    }
    s.ptr = std::move(e.frame);
    return s;
  }

  // An entry of its own from a view, for a reader that keeps it past its
  // turn (a second reference to the frame and to the control data).
  static EgressEntry Own(const View& v) {
    EgressEntry e;
    e.kind = v.kind;
    e.relay = v.relay;
    e.conn = v.conn;
    e.frame = v.frame;
    e.doc = v.doc;
    e.update = v.update;
    e.ack_agent = v.ack_agent;
    e.ack_next_seq = v.ack_next_seq;
    e.batch_bytes = v.batch_bytes;
    e.received_micros = v.received_micros;
    e.control = v.control;
    return e;
  }
};

// With the RingPtr's 16 bytes, an egress entry fills one cache line and
// an ingress entry half of one (node/README.md).
static_assert(sizeof(IngressEntry::Record) == 32);
static_assert(sizeof(EgressEntry::Record) == 48);

using IngressView = IngressEntry::View;
using EgressView = EgressEntry::View;
using IngressRing = NodeRing<IngressEntry>;
using IngressProcessor = ringbuf::EventProcessor<IngressEntry::Slot, PipelineWait>;
using EgressRing = NodeRing<EgressEntry>;

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
