// Trace replay: sequential (one replica) and concurrent (one per agent).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
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

constexpr uint64_t kHubAgent = UINT64_MAX - 2;

// True when `v` has nothing `target` lacks.
bool Within(const VersionVector& v, const VersionVector& target) {
  for (const auto& [agent, next] : v.entries()) {
    if (next > target.Get(agent)) return false;
  }
  return true;
}

// Brings `doc`, at version `have` (which `target` covers), to exactly
// `target` (a version the history reached, so causally closed) with the ops
// it lacks from `hub`, which holds every op made so far. One encoding,
// applied in one batch: nothing waits in Pending.
Status SyncTo(Doc& doc, const VersionVector& have, const Doc& hub, const VersionVector& target) {
  if (have != target) WEFT_RETURN_IF_ERROR(doc.ApplyUpdate(hub.EncodeOpsSince(have, &target)));
  if (doc.version() != target) {
    return Status::Corruption("a txn's parents name ops no earlier txn made");
  }
  if (doc.pending_ops() != 0) return Status::Internal("ops left in Pending after a sync");
  return Status::Ok();
}

// The final sync: brings every replica up to the hub, which has every op.
// Replicas catch up independently, `threads` at a time. The hub is only
// read, through EncodeOpsSince, which (unlike position lookups such as
// AnchorAt) updates no cursor cache, so concurrent calls are safe. Without
// keep_replicas, each replica is compared with the hub's text once it has
// caught up, then released; replica 0 stays.
Status CatchUp(std::vector<Doc>& replicas, const Doc& hub, const ConcurrentReplayOptions& options) {
  const std::string text = options.keep_replicas ? std::string() : hub.Text();
  auto catch_up = [&](size_t k) -> Status {
    Doc& doc = replicas[k];
    Status st = doc.ApplyUpdate(hub.EncodeOpsSince(doc.version()));
    if (!st.ok()) return st.WithContext("final sync of replica " + std::to_string(k));
    if (options.keep_replicas) return Status::Ok();
    std::string mine = doc.Text();
    if (mine != text) {
      size_t at = static_cast<size_t>(
          std::mismatch(mine.begin(), mine.end(), text.begin(), text.end()).first - mine.begin());
      return Status::Internal("replica " + std::to_string(k) +
                              " ended with a different text from the others, from byte " +
                              std::to_string(at));
    }
    if (k != 0) doc = Doc(doc.agent());
    return Status::Ok();
  };
  const size_t n = replicas.size();
  if (n == 0) return Status::Ok();  // a trace of no agents: nothing to sync
  const unsigned threads = static_cast<unsigned>(std::clamp<size_t>(options.threads, 1, n));
  std::vector<Status> failed(threads);
  std::atomic<size_t> next{0};
  std::atomic<size_t> finished{0};
  auto work = [&](unsigned t) {
    // Relaxed: the counter only hands out indexes; each replica is touched
    // by the one thread that drew it, and join() orders everything after.
    for (size_t k; (k = next.fetch_add(1, std::memory_order_relaxed)) < n;) {
      Status st = catch_up(k);
      if (!st.ok() && failed[t].ok()) failed[t] = st;
      // Relaxed: a count for the progress display, nothing hangs on it.
      size_t done = finished.fetch_add(1, std::memory_order_relaxed) + 1;
      if (t == 0 && options.catch_up_progress) options.catch_up_progress(done, n);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (std::thread& th : pool) th.join();
  if (options.catch_up_progress) options.catch_up_progress(n, n);
  for (const Status& st : failed) WEFT_RETURN_IF_ERROR(st);
  if (!options.keep_replicas) replicas.erase(replicas.begin() + 1, replicas.end());
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
                        const std::function<void(uint64_t)>& progress,
                        const ConcurrentReplayOptions& options) {
  replicas.clear();
  for (uint32_t k = 0; k < trace.num_agents; ++k) replicas.emplace_back(TraceAgentId(k));
  // Replicas each trace agent types into: its own first, then any extra one
  // a txn needed because the agent's txns are not totally ordered (someone
  // who committed on two branches of a history). A txn goes to the first of
  // its agent's replicas that is not ahead of the txn's parents; when none
  // is, the agent gets another replica, under an agent id after all the
  // trace's (an agent id names one sequence of edits, so two replicas that
  // both type cannot share one). Concurrent inserts at one place by such a
  // pair are then ordered by those ids, which the trace cannot tell us.
  std::vector<std::vector<size_t>> replicas_of(trace.num_agents);
  for (uint32_t k = 0; k < trace.num_agents; ++k) replicas_of[k].push_back(k);
  uint64_t next_extra_agent = TraceAgentId(trace.num_agents);
  // Every op so far, gathered after each txn from the replica that made it:
  // each sync then needs one encoding from one replica, however many agents
  // the parents span. (Fetching each agent's part from its own replica cost
  // a pass over the agents per txn, and encoded the same ops again from
  // every replica that had them: with hundreds of agents that was most of
  // the replay.) It never edits; its agent id is one no replica has. What
  // it encodes stays in this process, so it skips compressing (compression
  // was a tenth of a replay with hundreds of agents).
  DocOptions hub_options;
  hub_options.compress = false;
  Doc hub(kHubAgent, hub_options);
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
    size_t r = SIZE_MAX;
    VersionVector have;
    for (size_t candidate : replicas_of[t.agent]) {
      have = replicas[candidate].version();
      if (Within(have, target)) {
        r = candidate;
        break;
      }
    }
    if (r == SIZE_MAX) {
      r = replicas.size();
      replicas.emplace_back(next_extra_agent++);
      replicas_of[t.agent].push_back(r);
      have = VersionVector();
    }
    Doc& doc = replicas[r];
    Status st = SyncTo(doc, have, hub, target);
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
  return CatchUp(replicas, hub, options);
}

}  // namespace weft::engine
