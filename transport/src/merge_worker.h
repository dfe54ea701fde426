// MergeWorker: a thread that owns a share of a node's documents (those whose
// name hashes to it), reads every ingress entry, integrates the ones for its
// documents, and publishes what happened on its own egress ring.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>

#include "pipeline.h"
#include "weft/engine/doc.h"
#include "weft/ringbuf/event_allocator.h"

namespace weft::transport {

struct MergeWorkerOptions {
  uint32_t index = 0;
  uint32_t count = 1;
  size_t egress_capacity = 4096;
  engine::DocOptions doc_options;
  // Slots for the catch-up batches this worker encodes.
  ringbuf::PoolCapacities pools{64, 64, 64, 64, 64};
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
  // `docs`: this worker's documents recovered from disk.
  MergeWorker(MergeWorkerOptions options, IngressRing& ingress,
              std::map<std::string, std::unique_ptr<engine::Doc>> docs = {});

  // The thread body: runs until the ingress ring is closed and drained, then
  // closes the egress ring.
  void Run();

  EgressRing& egress() { return egress_; }
  // Documents this worker holds. Only from the worker's thread, or after Run.
  const std::unordered_map<std::string, std::unique_ptr<engine::Doc>>& docs() const {
    return docs_;
  }

 private:
  struct ConnInfo {
    std::set<uint64_t> agents;
    bool any_agent = false;
    std::set<std::string> announced;  // documents we sent it a Subscribe for
  };

  void Handle(const IngressEntry& e);
  void Apply(const IngressEntry& e);
  void Subscribe(uint64_t conn, const ControlData& c);
  void Announce(uint64_t conn, const std::string& doc);
  void Reject(uint64_t conn, ErrorCode code, std::string reason);
  engine::Doc& DocFor(const std::string& name);
  // What a replica at `since` lacks, as kSendOps entries for `conn`.
  void SendCatchUp(uint64_t conn, const std::string& doc, engine::Doc& d,
                   const engine::VersionVector& since);
  void PublishOps(uint64_t conn, const std::string& doc, const std::string& update);
  void Publish(EgressEntry&& e);
  void Snapshot(const std::string& name, const engine::Doc& doc);

  MergeWorkerOptions options_;
  IngressRing::Reader reader_;
  EgressRing egress_;
  ringbuf::EventAllocator alloc_;
  std::unordered_map<std::string, std::unique_ptr<engine::Doc>> docs_;
  std::unordered_map<uint64_t, ConnInfo> conns_;
  std::unordered_map<std::string, uint64_t> since_snapshot_;  // accepted batches per doc
  bool published_ = false;                                    // since the last wake
};

}  // namespace weft::transport
