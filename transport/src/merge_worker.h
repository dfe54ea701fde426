// MergeWorker: a thread that owns a share of a node's documents (those whose
// name hashes to it), reads every ingress entry, integrates the ones for its
// documents, and publishes what happened on its own egress ring.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>

#include "pipeline.h"
#include "weft/engine/doc.h"

namespace weft::transport {

struct MergeWorkerOptions {
  uint32_t index = 0;
  uint32_t count = 1;
  size_t egress_capacity = 4096;
  engine::DocOptions doc_options;
  // Called after each batch of egress entries is published (from the
  // worker's thread): wakes the loop thread and the persister.
  std::function<void()> wake;
  // Send a document's snapshot to the persister after this many accepted
  // batches, and at shutdown for every document changed since its last
  // one. 0: never (no persistence).
  uint64_t snapshot_every = 0;
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

 private:
  struct ConnInfo {
    std::set<uint64_t> agents;
    bool any_agent = false;
    std::set<std::string> announced;  // documents we sent it a Subscribe for
    // A node's batches dropped for a full Pending set are asked for again
    // (a Subscribe with our version), at most once a second per document.
    std::map<std::string, std::chrono::steady_clock::time_point> resynced;
  };

  MergeWorker(MergeWorkerOptions options, IngressRing::Reader reader,
              std::map<std::string, std::unique_ptr<engine::Doc>> docs);

  void Handle(const IngressEntry& e);
  void Apply(const IngressEntry& e);
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
  };
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  using DocMap = std::unordered_map<std::string, DocEntry, NameHash, std::equal_to<>>;
  // A document of this worker, or null.
  DocMap::value_type* Find(std::string_view name);
  // The document, created (empty) if it is new, which `*created` says.
  DocMap::value_type& FindOrCreate(std::string_view name, bool* created);
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
  IngressRing::Reader reader_;
  EgressRing egress_;
  DocMap docs_;
  std::unordered_map<uint64_t, ConnInfo> conns_;
  bool published_ = false;  // since the last wake
};

}  // namespace weft::transport
