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

// Brings `doc` to exactly `target` with ops from the replicas that made them.
Status SyncTo(std::vector<Doc>& replicas, size_t self, const VersionVector& target) {
  Doc& doc = replicas[self];
  for (size_t k = 0; k < replicas.size(); ++k) {
    if (doc.known_seqs(TraceAgentId(static_cast<uint32_t>(k))) >
        target.Get(TraceAgentId(static_cast<uint32_t>(k)))) {
      return Status::Corruption("a replica is ahead of its txn's parent version");
    }
  }
  // Each agent's ops are all in its own replica; fetch from each replica the
  // part of `target` it has. Ops that arrive before their dependencies wait
  // in Pending until a later replica supplies them.
  for (const auto& [agent, next] : target.entries()) {
    if (doc.known_seqs(agent) >= next) continue;
    uint64_t k = agent - 1;
    if (agent == 0 || k >= replicas.size()) return Status::Corruption("unknown agent in version");
    std::string bytes = replicas[k].EncodeOpsSince(doc.version(), &target);
    WEFT_RETURN_IF_ERROR(doc.ApplyUpdate(bytes));
  }
  for (const auto& [agent, next] : target.entries()) {
    if (doc.known_seqs(agent) != next) {
      return Status::Internal("replica did not reach its txn's parent version");
    }
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
    Status st = SyncTo(replicas, t.agent, target);
    if (!st.ok()) return st.WithContext("txn " + std::to_string(i));
    for (const TracePatch& p : t.patches) {
      WEFT_RETURN_IF_ERROR(ApplyPatch(replicas[t.agent], p, i));
      if (progress && ++done % kProgressEvery == 0) progress(done);
    }
    if (children[i] > 0) after[i] = replicas[t.agent].version();
  }
  // Everyone sends to replica 0, then replica 0 sends to everyone.
  for (size_t k = 1; k < replicas.size(); ++k) {
    WEFT_RETURN_IF_ERROR(
        replicas[0].ApplyUpdate(replicas[k].EncodeOpsSince(replicas[0].version())));
  }
  for (size_t k = 1; k < replicas.size(); ++k) {
    WEFT_RETURN_IF_ERROR(
        replicas[k].ApplyUpdate(replicas[0].EncodeOpsSince(replicas[k].version())));
  }
  return Status::Ok();
}

}  // namespace weft::engine
