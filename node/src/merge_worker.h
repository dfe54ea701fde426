// MergeWorker: a thread that owns a share of a node's documents (those whose
// name hashes to it), reads its own ingress ring (IngressRings), integrates
// the op batches and control entries for its documents, and publishes what
// happened on its own egress ring.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "pipeline.h"
#include "weft/engine/doc.h"
#include "weft/persist/file_system.h"

namespace weft::node {

struct MergeWorkerOptions {
  uint32_t index = 0;
  uint32_t count = 1;
  size_t egress_capacity = 4096;
  engine::DocOptions doc_options;
  // Called after each batch of egress entries is published (from the
  // worker's thread): wakes the loop thread and the persister.
  std::function<void()> wake;
  // Called (from the worker's thread) once the worker has made room on its
  // ingress ring after the loop asked with WatchRoom().
  std::function<void()> room;
  // Called (from the worker's thread) when reclaiming its egress ring
  // dropped references to pool slots: some may be free again.
  std::function<void()> released;
  // Send a document's snapshot to the persister after this many accepted
  // batches, and at shutdown for every document changed since its last
  // one. 0: never (no persistence).
  uint64_t snapshot_every = 0;

  // Residency. A document unused for `evict_idle` leaves memory: with a
  // data directory (`snapshot_dir`, `fs`) once a snapshot of it is read
  // back from its file; with `evict_to_store` (Redis holds it) at once,
  // once the loop agrees (kEvictable, kEvict). It comes back at its next
  // use. Past
  // max_resident_docs or max_resident_bytes (this worker's share), the
  // least recently used are evicted first, and a document that would
  // have to be created or loaded meanwhile is refused (kOverloaded).
  std::string snapshot_dir;
  persist::FileSystem* fs = nullptr;
  bool evict_to_store = false;
  std::chrono::milliseconds evict_idle{300000};
  size_t max_resident_docs = 10000;
  size_t max_resident_bytes = size_t{1} << 30;
};

// What a worker holds, for the stats line (read by the loop thread).
struct ResidencyStats {
  uint64_t docs = 0;
  uint64_t bytes = 0;
  uint64_t evicted = 0;  // since start
  uint64_t loaded = 0;   // evicted documents loaded back, since start
};

class MergeWorker {
 public:
  // Registers the worker's reader on `ingress`; call before the loop thread
  // publishes anything. `ingress` must outlive the worker.
  // `docs`: this worker's documents recovered from disk. Fails when the
  // ring has no room for another reader.
  static Result<std::unique_ptr<MergeWorker>> Create(
      MergeWorkerOptions options, IngressRing& ingress,
      std::map<std::string, std::unique_ptr<engine::Doc>> docs = {});

  // The thread body: runs until the ingress ring is closed and drained, then
  // closes the egress ring.
  void Run();

  EgressRing& egress() { return egress_; }
  // Any thread: the worker keeps house and reclaims its egress ring now,
  // with no entry to wake it (EventProcessor::Wake).
  void Wake() { processor_->Wake(); }
  // Loop thread, after its ingress ring was found full: options.room runs
  // once the worker has consumed entries. True: try once more now (see
  // EventProcessor::WatchRoom).
  bool WatchRoom() { return processor_->WatchRoom(); }
  // Any thread: figures as of the worker's last housekeeping.
  ResidencyStats residency() const;

 private:
  struct ConnInfo {
    std::set<uint64_t> agents;
    bool any_agent = false;
    std::set<std::string> announced;  // documents we sent it a Subscribe for
    // A node's batches dropped for a full Pending set are asked for again
    // (a Subscribe with our version), at most once a second per document.
    std::map<std::string, std::chrono::steady_clock::time_point> resynced;
  };

  MergeWorker(MergeWorkerOptions options, IngressRing* ingress,
              std::unique_ptr<IngressProcessor> processor,
              std::map<std::string, std::unique_ptr<engine::Doc>> docs);

  void Handle(const IngressView& e);
  void Apply(const IngressView& e);
  void Subscribe(uint64_t conn, const ControlData& c);
  void Announce(uint64_t conn, const std::string& doc);
  // Merges a document read from Redis (its snapshot, then the entries
  // after it) into the resident one, creating it if need be.
  void LoadImage(const ControlData& image);
  // Answers a compaction's request for a snapshot covering c.covers.
  void SnapshotFor(const ControlData& c);
  void Notice(std::string text);
  void Reject(uint64_t conn, ErrorCode code, std::string reason);
  void Drop(uint64_t conn, uint32_t batch_bytes, ConnInfo& info, const std::string& doc,
            const engine::Doc& d, const Status& why);
  // A document of this worker. It exists once it has ops (a Subscribe
  // creates nothing); the loop announces it to peers then.
  struct DocEntry {
    std::unique_ptr<engine::Doc> doc;
    uint64_t since_snapshot = 0;  // accepted batches since its last snapshot
    // A batch from Redis was dropped (Pending full): a snapshot would not
    // hold every entry it claims to cover, so it never answers compaction.
    bool lost_stream_entry = false;
    std::chrono::steady_clock::time_point used;  // last use
    // A snapshot for eviction went to the persister and the document was
    // not used since: it leaves memory once the file holds these bytes.
    bool evicting = false;
    std::chrono::steady_clock::time_point proposed;  // Redis: kEvictable sent
    uint32_t evict_crc = 0;
    size_t evict_size = 0;
    size_t heap_bytes = 0;  // as of the last housekeeping
  };
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  using DocMap = std::unordered_map<std::string, DocEntry, NameHash, std::equal_to<>>;
  // Why Use() could not give a document.
  struct Refusal {
    ErrorCode code = ErrorCode::kUnspecified;
    std::string reason;
  };
  // The document, marked used: loaded back if it was evicted, created
  // empty if `create` and it is new (which `*created` says). Null, with
  // `*why`, when it cannot be had now: over the resident bounds
  // (kOverloaded), or its snapshot file unreadable (kStorage). Null with
  // no code: new, and `create` is false.
  // `bounded`: refuse over the bounds (else take it and make room).
  DocMap::value_type* Use(std::string_view name, bool create, bool bounded, bool* created,
                          Refusal* why);
  // Evicts idle documents and keeps the resident ones under the bounds;
  // at most once per housekeeping interval.
  void Housekeep();
  // Starts evicting `entry`: a snapshot to the persister, or (Redis) a
  // proposal to the loop, which answers kEvict.
  void StartEviction(DocMap::iterator it);
  // Whether `entry`'s snapshot file holds what was sent for its eviction.
  bool SnapshotStored(const DocMap::value_type& entry);
  void Evict(DocMap::iterator it);
  // Asks for eviction of the least recently used documents until what
  // stays is under 9/10 of the bounds.
  void MakeRoom();
  // An egress entry of `kind` for `conn` carrying `control`.
  void PublishFor(EgressEntry::Kind kind, uint64_t conn,
                  std::shared_ptr<const ControlData> control);
  static std::shared_ptr<const ControlData> Named(const std::string& doc,
                                                  engine::VersionVector version = {});
  // What a replica at `since` lacks, as kSendOps entries for `conn`.
  void SendCatchUp(uint64_t conn, const std::string& doc, engine::Doc& d,
                   const engine::VersionVector& since);
  // `update` (kept in the control data), as a `kind` (kSendOps, kRelayOps) entry.
  void PublishOps(EgressEntry::Kind kind, uint64_t conn, const std::string& doc,
                  std::string update);
  // Whether applying `batch` to `doc` (at `before` until then) released ops
  // from Pending.
  static bool ReleasedFromPending(const engine::Doc& doc, const engine::VersionVector& before,
                                  const engine::Ops& batch);
  // Relays what `doc` gained since `before` to every subscriber.
  void RelayReleased(const std::string& doc_name, const engine::Doc& doc,
                     const engine::VersionVector& before);
  void Publish(EgressEntry&& e);
  void Snapshot(DocMap::value_type& entry);

  MergeWorkerOptions options_;
  IngressRing* const ingress_;
  std::unique_ptr<IngressProcessor> processor_;
  EgressRing egress_;
  DocMap docs_;
  // Documents whose state is only on disk (or in Redis), by name.
  std::unordered_set<std::string, NameHash, std::equal_to<>> evicted_;
  std::chrono::steady_clock::time_point now_ = std::chrono::steady_clock::now();  // this round's
  std::chrono::steady_clock::time_point next_housekeeping_;
  std::chrono::steady_clock::time_point next_make_room_;
  size_t resident_bytes_ = 0;  // as of the last housekeeping
  // For residency(): relaxed, figures only (no other memory is read
  // through them).
  std::atomic<uint64_t> stat_docs_{0}, stat_bytes_{0}, stat_evicted_{0}, stat_loaded_{0};
  std::unordered_map<uint64_t, ConnInfo> conns_;
  bool published_ = false;  // since the last wake
};

}  // namespace weft::node
