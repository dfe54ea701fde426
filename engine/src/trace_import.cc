// ImportConcurrent: a concurrent trace into one Doc through HistoryImporter.
#include <algorithm>
#include <string>
#include <vector>

#include "weft/engine/history_import.h"
#include "weft/engine/trace.h"

namespace weft::engine {
namespace {

// Whether txn `a` is txn `b` or one of its ancestors. Only txns between
// them can be on the way (parents come before their children), so the walk
// stays within [a, b]; and it ends at the first txn known to descend from
// every txn up to `a`. Such floors come from the txns where the history
// narrows to one line (every txn before them is their ancestor), which a
// linear history has at every txn: an author returning after thousands of
// others' txns is then found at once, not by walking back over them.
class Ancestry {
 public:
  explicit Ancestry(const std::vector<std::vector<uint32_t>>& parents)
      : parents_(parents), seen_(parents.size(), 0), floor_(parents.size()) {
    // floor_[t]: every txn below it is an ancestor of t (0: none known).
    // Tips are the txns no later one names as a parent yet; when t leaves
    // itself the only tip, every earlier txn leads to it.
    std::vector<bool> tip(parents.size(), false);
    size_t tips = 0;
    for (uint32_t t = 0; t < parents.size(); ++t) {
      uint32_t floor = 0;
      for (uint32_t p : parents[t]) {
        floor = std::max(floor, floor_[p]);
        if (tip[p]) {
          tip[p] = false;
          --tips;
        }
      }
      tip[t] = true;
      ++tips;
      floor_[t] = tips == 1 ? t : floor;
    }
  }

  bool Reaches(uint32_t b, uint32_t a) {
    if (a == b || a < floor_[b]) return true;
    ++epoch_;
    stack_.assign(1, b);
    while (!stack_.empty()) {
      uint32_t t = stack_.back();
      stack_.pop_back();
      for (uint32_t p : parents_[t]) {
        if (p == a || a < floor_[p]) return true;
        if (p > a && seen_[p] != epoch_) {
          seen_[p] = epoch_;
          stack_.push_back(p);
        }
      }
    }
    return false;
  }

 private:
  const std::vector<std::vector<uint32_t>>& parents_;
  std::vector<uint32_t> seen_;  // epoch_ marks txns already walked
  uint32_t epoch_ = 0;
  std::vector<uint32_t> stack_;
  std::vector<uint32_t> floor_;
};

// The agent id each txn types under, as ReplayConcurrent picks replicas:
// trace agent k's own id first, then, for a txn that does not descend from
// the last txn made under an id, the agent's next id, or a new one after
// all the trace's (someone committing on two branches).
std::vector<uint64_t> AgentIds(const Trace& trace,
                               const std::vector<std::vector<uint32_t>>& parents) {
  Ancestry ancestry(parents);
  std::vector<std::vector<uint64_t>> ids_of(trace.num_agents);
  std::vector<std::vector<uint32_t>> last_of(trace.num_agents);  // per id, its last txn
  for (uint32_t k = 0; k < trace.num_agents; ++k) {
    ids_of[k].push_back(TraceAgentId(k));
    last_of[k].push_back(UINT32_MAX);
  }
  uint64_t next_extra = TraceAgentId(trace.num_agents);
  std::vector<uint64_t> id(trace.txns.size());
  for (uint32_t i = 0; i < trace.txns.size(); ++i) {
    uint32_t k = trace.txns[i].agent;
    size_t pick = ids_of[k].size();
    for (size_t c = 0; c < ids_of[k].size(); ++c) {
      uint32_t last = last_of[k][c];
      if (last == UINT32_MAX || ancestry.Reaches(i, last)) {
        pick = c;
        break;
      }
    }
    if (pick == ids_of[k].size()) {
      ids_of[k].push_back(next_extra++);
      last_of[k].push_back(UINT32_MAX);
    }
    id[i] = ids_of[k][pick];
    last_of[k][pick] = i;
  }
  return id;
}

}  // namespace

Status ImportConcurrent(const Trace& trace, Doc& doc,
                        const std::function<void(uint64_t)>& progress) {
  constexpr uint64_t kProgressEvery = 1 << 14;
  const size_t n = trace.txns.size();
  std::vector<std::vector<uint32_t>> parents(n);
  std::vector<uint64_t> weight(n);
  for (size_t i = 0; i < n; ++i) {
    if (trace.txns[i].agent >= trace.num_agents) {
      return Status::Corruption("txn " + std::to_string(i) + " names an agent out of range");
    }
    for (uint64_t p : trace.txns[i].parents) {
      if (p >= i) {
        return Status::Corruption("txn " + std::to_string(i) +
                                  " names a parent that is not an earlier txn");
      }
      parents[i].push_back(static_cast<uint32_t>(p));
    }
    weight[i] = trace.txns[i].patches.size();
  }
  Result<std::vector<uint32_t>> order = ImportOrder(parents, weight);
  if (!order.ok()) return Status::Corruption(std::string(order.status().message()));
  const std::vector<uint64_t> ids = AgentIds(trace, parents);
  HistoryImporter importer(doc);
  std::vector<uint32_t> index_of(n);  // trace txn -> importer txn
  std::vector<uint32_t> mapped;
  std::vector<PositionalPatch> patches;
  uint64_t done = 0;
  for (uint32_t i : *order) {
    const TraceTxn& t = trace.txns[i];
    mapped.clear();
    for (uint32_t p : parents[i]) mapped.push_back(index_of[p]);
    patches.clear();
    for (const TracePatch& p : t.patches) patches.push_back(PositionalPatch{p.pos, p.del, p.text});
    Result<uint32_t> added = importer.AddTxn(ids[i], mapped, patches);
    if (!added.ok()) {
      Status st = added.status();
      if (st.code() == StatusCode::kInvalidArgument)
        st = Status::Corruption(std::string(st.message()));
      return st.WithContext("txn " + std::to_string(i));
    }
    index_of[i] = *added;
    uint64_t before = done;
    done += t.patches.size();
    if (progress && before / kProgressEvery != done / kProgressEvery) progress(done);
  }
  importer.Finish();
  return Status::Ok();
}

}  // namespace weft::engine
