#include "merge_worker.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "chunking.h"

namespace weft::transport {
namespace {

ringbuf::RingOptions EgressOptions(size_t capacity) {
  ringbuf::RingOptions o;
  o.capacity = capacity;
  o.max_readers = 4;  // persister, broadcaster, ack reader
  return o;
}

}  // namespace

Result<std::unique_ptr<MergeWorker>> MergeWorker::Create(
    MergeWorkerOptions options, IngressRing& ingress,
    std::map<std::string, std::unique_ptr<engine::Doc>> docs) {
  WEFT_RETURN_IF_ERROR(EgressRing::Validate(EgressOptions(options.egress_capacity)));
  Result<IngressRing::Reader> reader = ingress.AddReader();
  if (!reader.ok()) return reader.status().WithContext("merge worker");
  return std::unique_ptr<MergeWorker>(
      new MergeWorker(std::move(options), std::move(*reader), std::move(docs)));
}

MergeWorker::MergeWorker(MergeWorkerOptions options, IngressRing::Reader reader,
                         std::map<std::string, std::unique_ptr<engine::Doc>> docs)
    : options_(std::move(options)),
      reader_(std::move(reader)),
      egress_(EgressOptions(options_.egress_capacity)) {
  for (auto& [name, doc] : docs) {
    // Recovered from a log tail, perhaps: snapshot it at the next shutdown
    // even if nothing new arrives.
    docs_.emplace(name, DocEntry{std::move(doc), 1});
  }
}

void MergeWorker::Run() {
  while (reader_.WaitPoll([&](const IngressEntry& e, int64_t) { Handle(e); }, 256) != 0) {
    if (published_ && options_.wake) options_.wake();
    published_ = false;
    // Drop the egress ring's references to what every reader has passed
    // before waiting again: an idle worker must not pin pool slots. (The
    // loop nudges the workers with an empty entry when it runs short.)
    egress_.writer().Reclaim();
  }
  // Shutting down: snapshot what changed, so the next start loads instead
  // of replaying the log.
  if (options_.snapshot_every != 0) {
    for (auto& entry : docs_) {
      if (entry.second.since_snapshot != 0) Snapshot(entry);
    }
  }
  egress_.writer().Close();
  if (options_.wake) options_.wake();
}

void MergeWorker::Handle(const IngressEntry& e) {
  switch (e.kind) {
    case IngressEntry::Kind::kConnOpened: {
      ConnInfo& info = conns_[e.conn];
      info.agents.insert(e.control->agents.begin(), e.control->agents.end());
      info.any_agent = e.control->any_agent;
      return;
    }
    case IngressEntry::Kind::kConnClosed:
      conns_.erase(e.conn);
      return;
    case IngressEntry::Kind::kNone:
      return;
    default:
      break;
  }
  if (e.worker != options_.index) return;
  switch (e.kind) {
    case IngressEntry::Kind::kApply:
      Apply(e);
      break;
    case IngressEntry::Kind::kSubscribe:
      Subscribe(e.conn, *e.control);
      break;
    case IngressEntry::Kind::kAnnounce:
      Announce(e.conn, e.control->doc);
      break;
    case IngressEntry::Kind::kLoadImage:
      LoadImage(*e.control);
      break;
    case IngressEntry::Kind::kSnapshotFor:
      SnapshotFor(*e.control);
      break;
    default:
      break;
  }
}

MergeWorker::DocMap::value_type* MergeWorker::Find(std::string_view name) {
  auto it = docs_.find(name);
  return it == docs_.end() ? nullptr : &*it;
}

MergeWorker::DocMap::value_type& MergeWorker::FindOrCreate(std::string_view name, bool* created) {
  auto it = docs_.find(name);
  *created = it == docs_.end();
  if (!*created) return *it;
  // A node's replica never makes local edits; its agent id is never used.
  return *docs_
              .emplace(std::string(name),
                       DocEntry{std::make_unique<engine::Doc>(0, options_.doc_options), 0})
              .first;
}

void MergeWorker::PublishFor(EgressEntry::Kind kind, uint64_t conn,
                             std::shared_ptr<const ControlData> control) {
  EgressEntry out;
  out.kind = kind;
  out.conn = conn;
  out.control = std::move(control);
  Publish(std::move(out));
}

std::shared_ptr<const ControlData> MergeWorker::Named(const std::string& doc,
                                                      engine::VersionVector version) {
  auto c = std::make_shared<ControlData>();
  c->doc = doc;
  c->version = std::move(version);
  return c;
}

void MergeWorker::Apply(const IngressEntry& e) {
  auto conn = conns_.find(e.conn);
  if (conn == conns_.end()) return;  // closed meanwhile: its frames are moot
  Result<engine::Ops> ops =
      engine::Doc::DecodeUpdate(e.update, options_.doc_options.max_decoded_bytes);
  if (!ops.ok()) return Reject(e.conn, ErrorCode::kMalformed, ops.status().ToString());
  if (ops->empty()) return Reject(e.conn, ErrorCode::kMalformed, "op batch without ops");
  uint64_t only_agent = (*ops)[0].id.agent;
  for (const engine::Op& op : *ops) {
    if (!conn->second.any_agent && conn->second.agents.count(op.id.agent) == 0) {
      return Reject(e.conn, ErrorCode::kForeignAgent,
                    "op under agent " + std::to_string(op.id.agent) +
                        " that this connection did not announce");
    }
    if (op.id.agent != only_agent) only_agent = 0;
  }
  // A document exists once it has ops: one that a refused batch created
  // is forgotten again.
  bool created = false;
  DocMap::value_type& entry = FindOrCreate(e.doc, &created);
  engine::Doc& doc = *entry.second.doc;
  bool novel = false;
  for (const engine::Op& op : *ops)
    novel = novel || doc.known_seqs(op.id.agent) < op.id.seq + op.len;
  // Only a document with ops in Pending can release some (rare: so the
  // version is built only then).
  std::optional<engine::VersionVector> before;
  if (doc.pending_ops() != 0) before = doc.version();
  if (Status s = doc.Apply(*ops); !s.ok()) {
    // A full Pending set says nothing against the sender: an honest peer
    // can relay ops whose dependencies come from elsewhere.
    if (s.code() == StatusCode::kResourceExhausted) {
      if (conn->second.any_agent) entry.second.lost_stream_entry = true;
      Drop(e.conn, e.frame->len, conn->second, entry.first, doc, s);
    } else {
      Reject(e.conn, ErrorCode::kMalformed, s.ToString());
    }
    if (created) docs_.erase(std::string(e.doc));
    return;
  }
  if (created) PublishFor(EgressEntry::Kind::kDocCreated, 0, Named(entry.first));
  EgressEntry out;
  out.kind = EgressEntry::Kind::kAccepted;
  out.batch_bytes = e.frame->len;
  out.relay = novel;
  out.conn = e.conn;
  out.frame = e.frame;
  out.doc = e.doc;
  out.update = e.update;
  out.received_micros = e.received_micros;
  if (only_agent != 0) {
    out.ack_agent = only_agent;
    out.ack_next_seq = doc.known_seqs(only_agent);
  }
  Publish(std::move(out));
  if (before && ReleasedFromPending(doc, *before, *ops)) RelayReleased(entry.first, doc, *before);
  if (options_.snapshot_every != 0 && ++entry.second.since_snapshot >= options_.snapshot_every) {
    Snapshot(entry);
  }
}

bool MergeWorker::ReleasedFromPending(const engine::Doc& doc, const engine::VersionVector& before,
                                      const engine::Ops& batch) {
  // The document gained the seqs between `before` and its version now; any
  // the batch's own ops do not cover came out of Pending.
  std::map<uint64_t, std::vector<std::pair<uint64_t, uint64_t>>> runs;  // agent -> [seq, end)
  for (const engine::Op& op : batch) runs[op.id.agent].emplace_back(op.id.seq, op.id.seq + op.len);
  for (auto& [agent, r] : runs) std::sort(r.begin(), r.end());
  engine::VersionVector after = doc.version();
  for (const auto& [agent, now] : after.entries()) {
    uint64_t covered = before.Get(agent);
    auto it = runs.find(agent);
    if (it != runs.end()) {
      for (auto [seq, end] : it->second) {
        if (seq <= covered && end > covered) covered = end;
      }
    }
    if (covered < now) return true;
  }
  return false;
}

void MergeWorker::RelayReleased(const std::string& doc_name, const engine::Doc& doc,
                                const engine::VersionVector& before) {
  // A subscriber's catch-up held only what this node had applied, and the
  // frames that brought the released ops were relayed (if at all) before
  // some of today's subscribers came: send every subscriber everything
  // applied since `before`. Receivers drop what they already have.
  Result<std::vector<std::string>> chunks = EncodeChunks(doc, before);
  if (!chunks.ok()) return;  // the doc's own ops always encode; nothing to relay otherwise
  for (std::string& chunk : *chunks) {
    PublishOps(EgressEntry::Kind::kRelayOps, 0, doc_name, std::move(chunk));
  }
}

void MergeWorker::Snapshot(DocMap::value_type& entry) {
  auto c = std::make_shared<ControlData>();
  c->doc = entry.first;
  c->snapshot = entry.second.doc->EncodeSnapshot();
  PublishFor(EgressEntry::Kind::kSnapshot, 0, std::move(c));
  entry.second.since_snapshot = 0;
}

void MergeWorker::LoadImage(const ControlData& image) {
  bool created = false;
  DocMap::value_type& entry = FindOrCreate(image.doc, &created);
  engine::VersionVector before = entry.second.doc->version();
  if (!image.snapshot.empty()) {
    Result<engine::Doc> snap = engine::Doc::LoadSnapshot(image.snapshot, 0, options_.doc_options);
    if (!snap.ok()) {
      Notice("redis: refusing the snapshot of '" + image.doc + "': " + snap.status().ToString());
    } else if (created) {
      entry.second.doc = std::make_unique<engine::Doc>(std::move(*snap));
    } else if (Status s =
                   entry.second.doc->ApplyUpdate(snap->EncodeOpsSince(entry.second.doc->version()));
               !s.ok()) {
      Notice("redis: cannot merge the snapshot of '" + image.doc + "': " + s.ToString());
    }
  }
  engine::Doc& doc = *entry.second.doc;
  uint64_t refused = 0;
  for (const std::string& update : image.updates) {
    if (!doc.ApplyUpdate(update).ok()) ++refused;
  }
  if (refused != 0) {
    // Another writer's entry the engine refuses: reported and passed, as a
    // bad entry is; the rest of the document is served.
    Notice("redis: skipped " + std::to_string(refused) + " entr" + (refused == 1 ? "y" : "ies") +
           " of '" + image.doc + "' the engine refuses");
  }
  if (doc.version() == before) {
    if (created) docs_.erase(image.doc);  // nothing stored: still no document
    return;
  }
  if (created) PublishFor(EgressEntry::Kind::kDocCreated, 0, Named(entry.first));
  // Subscribers caught up before the read (Redis was away, or a gap): they
  // get what it added.
  if (image.relay) RelayReleased(entry.first, doc, before);
  // The local copy (--data) gets what Redis had, as one snapshot.
  if (options_.snapshot_every != 0) Snapshot(entry);
}

void MergeWorker::SnapshotFor(const ControlData& c) {
  auto out = std::make_shared<ControlData>();
  out->doc = c.doc;
  out->covers = c.covers;
  DocMap::value_type* entry = Find(c.doc);
  // Pending ops are not in a snapshot: trimming the entries that brought
  // them would lose them.
  if (entry != nullptr && entry->second.doc->pending_ops() == 0 &&
      !entry->second.lost_stream_entry) {
    out->snapshot = entry->second.doc->EncodeSnapshot();
  }
  PublishFor(EgressEntry::Kind::kRedisSnapshot, 0, std::move(out));
}

void MergeWorker::Notice(std::string text) {
  auto c = std::make_shared<ControlData>();
  c->reason = std::move(text);
  PublishFor(EgressEntry::Kind::kNotice, 0, std::move(c));
}

void MergeWorker::Reject(uint64_t conn, ErrorCode code, std::string reason) {
  auto c = std::make_shared<ControlData>();
  c->code = code;
  c->reason = std::move(reason);
  PublishFor(EgressEntry::Kind::kRejected, conn, std::move(c));
}

void MergeWorker::Drop(uint64_t conn, uint32_t batch_bytes, ConnInfo& info, const std::string& doc,
                       const engine::Doc& d, const Status& why) {
  auto c = std::make_shared<ControlData>();
  c->doc = doc;
  c->reason = why.ToString();
  EgressEntry out;
  out.kind = EgressEntry::Kind::kDropped;
  out.batch_bytes = batch_bytes;
  out.conn = conn;
  out.control = c;
  Publish(std::move(out));
  if (!info.any_agent) return;
  // From a node, the batch is asked for again: its catch-up is causally
  // ordered from our version, so it does not wait in Pending.
  auto now = std::chrono::steady_clock::now();
  auto last = info.resynced.find(doc);
  if (last != info.resynced.end() && now - last->second < std::chrono::seconds(1)) return;
  info.resynced[doc] = now;
  PublishFor(EgressEntry::Kind::kSendSubscribe, conn, Named(doc, d.version()));
}

// A subscription to a document this node does not have creates nothing:
// the subscriber hears that it has everything (an empty version) and gets
// the document's ops once someone writes it.
void MergeWorker::Subscribe(uint64_t conn, const ControlData& request) {
  auto info = conns_.find(conn);
  if (info == conns_.end()) return;
  DocMap::value_type* entry = Find(request.doc);
  PublishFor(EgressEntry::Kind::kSubscribed, conn, Named(request.doc));
  engine::VersionVector version;
  if (entry != nullptr) {
    SendCatchUp(conn, request.doc, *entry->second.doc, request.version);
    version = entry->second.doc->version();
  }
  PublishFor(EgressEntry::Kind::kSendSyncDone, conn, Named(request.doc, std::move(version)));
  // A node that subscribes to us gets our subscription back, so the ops it
  // has and we lack flow too.
  if (info->second.any_agent) Announce(conn, request.doc);
}

void MergeWorker::Announce(uint64_t conn, const std::string& doc) {
  auto info = conns_.find(conn);
  if (info == conns_.end() || !info->second.announced.insert(doc).second) return;
  DocMap::value_type* entry = Find(doc);
  PublishFor(EgressEntry::Kind::kSendSubscribe, conn,
             Named(doc, entry != nullptr ? entry->second.doc->version() : engine::VersionVector()));
}

void MergeWorker::SendCatchUp(uint64_t conn, const std::string& doc, engine::Doc& d,
                              const engine::VersionVector& since) {
  Result<std::vector<std::string>> chunks = EncodeChunks(d, since);
  if (!chunks.ok()) return Reject(conn, ErrorCode::kMalformed, chunks.status().ToString());
  for (std::string& chunk : *chunks)
    PublishOps(EgressEntry::Kind::kSendOps, conn, doc, std::move(chunk));
}

void MergeWorker::PublishOps(EgressEntry::Kind kind, uint64_t conn, const std::string& doc,
                             std::string update) {
  // The chunk is already on the heap; the write that sends it keeps it (a
  // pool slot here would make the worker wait for slow readers' sockets).
  auto c = std::make_shared<ControlData>();
  c->doc = doc;
  c->update = std::move(update);
  PublishFor(kind, conn, std::move(c));
}

void MergeWorker::Publish(EgressEntry&& e) {
  if (!egress_.writer().TryPublish(std::move(e))) {
    // Full: the loop thread and the persister must drain it, so wake them
    // before waiting (they may be asleep, not yet told about what is there).
    if (options_.wake) options_.wake();
    egress_.writer().Publish(std::move(e));
  }
  published_ = true;
}

}  // namespace weft::transport
