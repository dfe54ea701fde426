// Trace replay: sequential (one replica) and concurrent (one per agent).
#include <algorithm>
#include <string>
#include <vector>

#include "weft/engine/trace.h"

namespace weft::engine {
namespace {

constexpr uint64_t kProgressEvery = 1 << 14;

Status ApplyPatch(Doc& doc, const TracePatch& p, uint64_t txn) {
  if (p.del > 0) {
    Status st = doc.Remove(p.pos, p.del, nullptr);
    if (!st.ok()) return st.WithContext("txn " + std::to_string(txn));
  }
  if (!p.text.empty()) {
    Status st = doc.Insert(p.pos, p.text, nullptr);
    if (!st.ok()) return st.WithContext("txn " + std::to_string(txn));
  }
  return Status::Ok();
}

// Brings `doc` to exactly `target` (a version the history reached, so
// causally closed) with the ops it lacks from `hub`, which holds every op
// made so far. One encoding, applied in one batch: nothing waits in Pending.
Status SyncTo(Doc& doc, const Doc& hub, const VersionVector& target) {
  const VersionVector have = doc.version();
  for (const auto& [agent, next] : have.entries()) {
    if (next > target.Get(agent)) {
      return Status::Corruption("a replica is ahead of its txn's parent version");
    }
  }
  if (have != target) WEFT_RETURN_IF_ERROR(doc.ApplyUpdate(hub.EncodeOpsSince(have, &target)));
  if (doc.version() != target) {
    return Status::Corruption("a txn's parents name ops no earlier txn made");
  }
  if (doc.pending_ops() != 0) return Status::Internal("ops left in Pending after a sync");
  return Status::Ok();
}

}  // namespace

Status ReplaySequential(const Trace& trace, Doc& doc,
                        const std::function<void(uint64_t)>& progress) {
  if (!trace.start_content.empty()) {
    WEFT_RETURN_IF_ERROR(doc.Insert(0, trace.start_content, nullptr));
  }
  uint64_t done = 0;
  for (size_t i = 0; i < trace.txns.size(); ++i) {
    for (const TracePatch& p : trace.txns[i].patches) {
      WEFT_RETURN_IF_ERROR(ApplyPatch(doc, p, i));
      if (progress && ++done % kProgressEvery == 0) progress(done);
    }
  }
  return Status::Ok();
}

Status ReplayConcurrent(const Trace& trace, std::vector<Doc>& replicas,
                        const std::function<void(uint64_t)>& progress) {
  replicas.clear();
  for (uint32_t k = 0; k < trace.num_agents; ++k) replicas.emplace_back(TraceAgentId(k));
  // Every op so far, gathered after each txn from the replica that made it:
  // each sync then needs one encoding from one replica, however many agents
  // the parents span. (Fetching each agent's part from its own replica cost
  // a pass over the agents per txn, and encoded the same ops again from
  // every replica that had them: with hundreds of agents that was most of
  // the replay.) It never edits; its agent id is one no trace agent has.
  Doc hub(TraceAgentId(trace.num_agents));
  // Version after each txn, dropped once all its children have run so long
  // histories with many agents stay small.
  std::vector<VersionVector> after(trace.txns.size());
  std::vector<uint32_t> children(trace.txns.size(), 0);
  for (const TraceTxn& t : trace.txns) {
    for (uint64_t p : t.parents) ++children[p];
  }
  uint64_t done = 0;
  for (size_t i = 0; i < trace.txns.size(); ++i) {
    const TraceTxn& t = trace.txns[i];
    VersionVector target;
    for (uint64_t p : t.parents) {
      target.Merge(after[p]);
      if (--children[p] == 0) after[p] = VersionVector();
    }
    Doc& doc = replicas[t.agent];
    Status st = SyncTo(doc, hub, target);
    if (!st.ok()) return st.WithContext("txn " + std::to_string(i));
    for (const TracePatch& p : t.patches) {
      WEFT_RETURN_IF_ERROR(ApplyPatch(doc, p, i));
      if (progress && ++done % kProgressEvery == 0) progress(done);
    }
    // The txn's own ops; the hub already has everything they depend on.
    st = hub.ApplyUpdate(doc.EncodeOpsSince(target));
    if (!st.ok()) return st.WithContext("txn " + std::to_string(i));
    if (children[i] > 0) after[i] = doc.version();
  }
  // The hub has every op: bring each replica up to it.
  for (Doc& doc : replicas) {
    WEFT_RETURN_IF_ERROR(doc.ApplyUpdate(hub.EncodeOpsSince(doc.version())));
  }
  return Status::Ok();
}

}  // namespace weft::engine
