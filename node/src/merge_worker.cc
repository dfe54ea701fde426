#include "merge_worker.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "weft/crc32c.h"
#include "weft/persist/snapshot_file.h"
#include "weft/transport/chunking.h"

namespace weft::node {
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
  Result<std::unique_ptr<IngressProcessor>> processor =
      IngressProcessor::Create(ingress.ring(), options.room);
  if (!processor.ok()) return processor.status().WithContext("merge worker");
  return std::unique_ptr<MergeWorker>(
      new MergeWorker(std::move(options), &ingress, std::move(*processor), std::move(docs)));
}

MergeWorker::MergeWorker(MergeWorkerOptions options, IngressRing* ingress,
                         std::unique_ptr<IngressProcessor> processor,
                         std::map<std::string, std::unique_ptr<engine::Doc>> docs)
    : options_(std::move(options)),
      ingress_(ingress),
      processor_(std::move(processor)),
      egress_(EgressOptions(options_.egress_capacity)) {
  for (auto& [name, doc] : docs) {
    // Recovered from a log tail, perhaps: snapshot it at the next shutdown
    // even if nothing new arrives.
    DocEntry entry;
    entry.doc = std::move(doc);
    entry.since_snapshot = 1;
    entry.used = std::chrono::steady_clock::now();
    docs_.emplace(name, std::move(entry));
  }
}

ResidencyStats MergeWorker::residency() const {
  ResidencyStats r;
  r.docs = stat_docs_.load(std::memory_order_relaxed);
  r.bytes = stat_bytes_.load(std::memory_order_relaxed);
  r.evicted = stat_evicted_.load(std::memory_order_relaxed);
  r.loaded = stat_loaded_.load(std::memory_order_relaxed);
  return r;
}

void MergeWorker::Run() {
  bool stamped = false;
  auto handle = [&](const IngressEntry::Slot& slot, int64_t seq) {
    // One clock read per round of entries, taken once the wait is over (a
    // document's last use needs no finer grain than that).
    if (!stamped) now_ = std::chrono::steady_clock::now();
    stamped = true;
    Handle(ingress_->Read(slot, seq));
  };
  auto batch_end = [&](bool) {
    if (!stamped) now_ = std::chrono::steady_clock::now();
    stamped = false;
    // The loop's heartbeat wakes an idle worker for this (Wake()); what
    // it publishes goes out with the wake below.
    Housekeep();
    if (published_ && options_.wake) options_.wake();
    published_ = false;
    // Drop the egress ring's references to what every reader has passed
    // before waiting again: an idle worker must not pin pool slots. The
    // loop wakes the workers when a pool runs dry, after its readers
    // passed more entries, and hears what this freed.
    if (egress_.Reclaim() != 0 && options_.released) options_.released();
  };
  processor_->Run(handle, batch_end, 256);
  // Shutting down: snapshot what changed, so the next start loads instead
  // of replaying the log.
  if (options_.snapshot_every != 0) {
    for (auto& entry : docs_) {
      if (entry.second.since_snapshot != 0) Snapshot(entry);
    }
  }
  egress_.Close();
  if (options_.wake) options_.wake();
}

void MergeWorker::Handle(const IngressView& e) {
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
    case IngressEntry::Kind::kEvict:
      // Kept if it was used since the proposal (its last batch's append
      // may be unconfirmed yet); the loop, which forgot it, reads it again
      // and merges at its next use either way.
      if (auto it = docs_.find(e.control->doc); it != docs_.end() && it->second.evicting) {
        Evict(it);
      }
      break;
    default:
      break;
  }
}

MergeWorker::DocMap::value_type* MergeWorker::Use(std::string_view name, bool create, bool bounded,
                                                  bool* created, Refusal* why) {
  *created = false;
  auto now = now_;
  auto it = docs_.find(name);
  if (it != docs_.end()) {
    it->second.used = now;
    it->second.evicting = false;  // a snapshot sent before this use is stale
    return &*it;
  }
  auto gone = evicted_.find(name);
  if (gone == evicted_.end() && !create) return nullptr;
  if ((docs_.size() >= options_.max_resident_docs ||
       resident_bytes_ >= options_.max_resident_bytes) &&
      now >= next_make_room_) {
    // Sorting every document is not for each request: ten times a second.
    next_make_room_ = now + std::chrono::milliseconds(100);
    MakeRoom();
  }
  if (bounded && (docs_.size() >= options_.max_resident_docs ||
                  resident_bytes_ >= options_.max_resident_bytes)) {
    why->code = ErrorCode::kOverloaded;
    why->reason = "this node holds as many documents as it may (" + std::to_string(docs_.size()) +
                  "): retry shortly";
    return nullptr;
  }
  DocEntry entry;
  entry.used = now;
  if (gone != evicted_.end()) {
    std::string path = options_.snapshot_dir + "/" + persist::SnapshotName(name);
    Result<persist::SnapshotFile> file = persist::ReadSnapshotFile(options_.fs, path);
    Result<engine::Doc> doc =
        file.ok() ? engine::Doc::LoadSnapshot(file->snapshot, 0, options_.doc_options)
                  : Result<engine::Doc>(file.status());
    if (!doc.ok() || file->doc != name) {
      // Never served empty: what it held is on disk, unreadable for now.
      why->code = ErrorCode::kStorage;
      why->reason = "cannot load document '" + std::string(name) + "' from disk: " +
                    (doc.ok() ? std::string("its snapshot file names another document")
                              : doc.status().ToString());
      return nullptr;
    }
    evicted_.erase(gone);
    entry.doc = std::make_unique<engine::Doc>(std::move(*doc));
    stat_loaded_.fetch_add(1, std::memory_order_relaxed);
  } else {
    *created = true;
    // A node's replica never makes local edits; its agent id is never used.
    entry.doc = std::make_unique<engine::Doc>(0, options_.doc_options);
  }
  entry.heap_bytes = entry.doc->HeapBytes();
  resident_bytes_ += entry.heap_bytes;
  return &*docs_.emplace(std::string(name), std::move(entry)).first;
}

void MergeWorker::Housekeep() {
  bool can_evict = options_.evict_to_store || !options_.snapshot_dir.empty();
  if (!can_evict) return;
  auto now = std::chrono::steady_clock::now();
  if (now < next_housekeeping_) return;
  auto interval = std::clamp<std::chrono::milliseconds>(
      options_.evict_idle / 4, std::chrono::milliseconds(1), std::chrono::milliseconds(1000));
  next_housekeeping_ = now + interval;
  size_t bytes = 0;
  for (auto it = docs_.begin(); it != docs_.end();) {
    auto next = std::next(it);
    DocEntry& d = it->second;
    if (d.evicting && !options_.evict_to_store) {
      if (SnapshotStored(*it)) {
        Evict(it);
        it = next;
        continue;
      }
    } else if (now - d.used >= options_.evict_idle) {
      StartEviction(it);
    }
    d.heap_bytes = d.doc->HeapBytes();
    bytes += d.heap_bytes;
    it = next;
  }
  resident_bytes_ = bytes;
  if (docs_.size() > options_.max_resident_docs || bytes > options_.max_resident_bytes) {
    MakeRoom();
  }
  stat_docs_.store(docs_.size(), std::memory_order_relaxed);
  stat_bytes_.store(resident_bytes_, std::memory_order_relaxed);
}

void MergeWorker::MakeRoom() {
  // The snapshots sent below are read back soon, not at the next regular
  // round: a client is waiting for the room.
  next_housekeeping_ = std::min(next_housekeeping_,
                                std::chrono::steady_clock::now() + std::chrono::milliseconds(10));
  std::vector<DocMap::iterator> order;
  order.reserve(docs_.size());
  for (auto it = docs_.begin(); it != docs_.end(); ++it) order.push_back(it);
  const auto older = [](const auto& a, const auto& b) { return a->second.used < b->second.used; };
  size_t docs = docs_.size(), bytes = resident_bytes_;
  const size_t keep_docs = options_.max_resident_docs / 10 * 9;
  const size_t keep_bytes = options_.max_resident_bytes / 10 * 9;
  // Usually a tenth or so go: only the least recently used are put in
  // order (selected in linear time, then sorted), and the rest only if
  // those do not free enough bytes.
  size_t sorted =
      std::min(order.size(), std::max(docs - std::min(docs, keep_docs), order.size() / 8 + 1));
  std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(sorted) - 1,
                   order.end(), older);
  std::sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(sorted), older);
  for (size_t i = 0; i < order.size(); ++i) {
    if (docs <= keep_docs && bytes <= keep_bytes) break;
    if (i == sorted) {
      std::sort(order.begin() + static_cast<std::ptrdiff_t>(i), order.end(), older);
      sorted = order.size();
    }
    DocMap::iterator it = order[i];
    --docs;
    bytes -= std::min(bytes, it->second.heap_bytes);
    if (!it->second.evicting || options_.evict_to_store) StartEviction(it);
  }
}

void MergeWorker::StartEviction(DocMap::iterator it) {
  DocEntry& d = it->second;
  // Pending ops are in no snapshot; a document with some stays.
  if (d.doc->pending_ops() != 0) return;
  if (options_.evict_to_store) {
    // Asked again after a while if the loop declined (a read under way,
    // appends Redis has not confirmed).
    auto now = std::chrono::steady_clock::now();
    if (d.evicting && now - d.proposed < options_.evict_idle) return;
    d.evicting = true;
    d.proposed = now;
    return PublishFor(EgressEntry::Kind::kEvictable, 0, Named(it->first));
  }
  auto c = std::make_shared<ControlData>();
  c->doc = it->first;
  c->snapshot = d.doc->EncodeSnapshot();
  d.evict_crc = Crc32c(std::as_bytes(std::span(c->snapshot.data(), c->snapshot.size())));
  d.evict_size = c->snapshot.size();
  d.evicting = true;
  d.since_snapshot = 0;
  PublishFor(EgressEntry::Kind::kSnapshot, 0, std::move(c));
}

bool MergeWorker::SnapshotStored(const DocMap::value_type& entry) {
  // The persister wrote it (fsync, rename, directory fsync) if the file
  // holds these very bytes; until then, or if the disk fails, it stays.
  std::string path = options_.snapshot_dir + "/" + persist::SnapshotName(entry.first);
  Result<persist::SnapshotFile> file = persist::ReadSnapshotFile(options_.fs, path);
  return file.ok() && file->doc == entry.first &&
         file->snapshot.size() == entry.second.evict_size &&
         Crc32c(std::as_bytes(std::span(file->snapshot.data(), file->snapshot.size()))) ==
             entry.second.evict_crc;
}

void MergeWorker::Evict(DocMap::iterator it) {
  resident_bytes_ -= std::min(resident_bytes_, it->second.heap_bytes);
  // With Redis the loop has forgotten it and reads it at its next use.
  if (!options_.evict_to_store) evicted_.insert(it->first);
  docs_.erase(it);
  stat_evicted_.fetch_add(1, std::memory_order_relaxed);
  stat_docs_.store(docs_.size(), std::memory_order_relaxed);
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

void MergeWorker::Apply(const IngressView& e) {
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
  Refusal why;
  // What a node or Redis relays is taken over the bounds (eviction makes
  // room behind it): refusing would lose it for this node. A client is
  // refused and sends its batch again after reconnecting.
  DocMap::value_type* found =
      Use(e.doc, /*create=*/true, /*bounded=*/!conn->second.any_agent, &created, &why);
  if (found == nullptr) {
    if (!conn->second.any_agent) return Reject(e.conn, why.code, why.reason);
    engine::Doc empty(0, options_.doc_options);
    return Drop(e.conn, e.frame->len, conn->second, std::string(e.doc), empty,
                Status::Unavailable(why.reason));
  }
  DocMap::value_type& entry = *found;
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
  Refusal why;
  DocMap::value_type* found = Use(image.doc, /*create=*/true, /*bounded=*/false, &created, &why);
  if (found == nullptr) return Notice("redis: cannot merge '" + image.doc + "': " + why.reason);
  DocMap::value_type& entry = *found;
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
  bool created = false;
  Refusal why;
  DocMap::value_type* entry = Use(c.doc, /*create=*/false, /*bounded=*/false, &created, &why);
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
  bool created = false;
  Refusal why;
  DocMap::value_type* entry =
      Use(request.doc, /*create=*/false, /*bounded=*/!info->second.any_agent, &created, &why);
  if (entry == nullptr && why.code != ErrorCode::kUnspecified) {
    return Reject(conn, why.code, why.reason);
  }
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
  bool created = false;
  Refusal why;
  DocMap::value_type* entry = Use(doc, /*create=*/false, /*bounded=*/false, &created, &why);
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
  if (!egress_.TryPublish(std::move(e))) {
    // Full: the loop thread and the persister must drain it, so wake them
    // before waiting (they may be asleep, not yet told about what is there).
    if (options_.wake) options_.wake();
    egress_.Publish(std::move(e));
  }
  published_ = true;
}

}  // namespace weft::node
