// ImportConcurrent: a concurrent trace into one Doc through HistoryImporter.
#include <string>
#include <vector>

#include "weft/engine/history_import.h"
#include "weft/engine/trace.h"

namespace weft::engine {

Status ImportConcurrent(const Trace& trace, Doc& doc,
                        const std::function<void(uint64_t)>& progress) {
  constexpr uint64_t kProgressEvery = 1 << 14;
  HistoryImporter importer(doc);
  // The agent ids each trace agent types under: its own first, then one
  // more for each branch of its txns that does not descend from the others
  // (someone committing on two branches), as ReplayConcurrent's extra
  // replicas have.
  std::vector<std::vector<uint64_t>> ids_of(trace.num_agents);
  for (uint32_t k = 0; k < trace.num_agents; ++k) ids_of[k].push_back(TraceAgentId(k));
  uint64_t next_extra = TraceAgentId(trace.num_agents);
  std::vector<uint32_t> parents;
  std::vector<PositionalPatch> patches;
  uint64_t done = 0;
  for (size_t i = 0; i < trace.txns.size(); ++i) {
    const TraceTxn& t = trace.txns[i];
    parents.assign(t.parents.begin(), t.parents.end());
    patches.clear();
    for (const TracePatch& p : t.patches) patches.push_back(PositionalPatch{p.pos, p.del, p.text});
    Result<uint32_t> added = Status::FailedPrecondition("");
    for (uint64_t id : ids_of[t.agent]) {
      added = importer.AddTxn(id, parents, patches);
      if (added.ok() || added.status().code() != StatusCode::kFailedPrecondition) break;
    }
    if (!added.ok() && added.status().code() == StatusCode::kFailedPrecondition) {
      ids_of[t.agent].push_back(next_extra);
      added = importer.AddTxn(next_extra++, parents, patches);
    }
    if (!added.ok()) {
      Status st = added.status();
      if (st.code() == StatusCode::kInvalidArgument)
        st = Status::Corruption(std::string(st.message()));
      return st.WithContext("txn " + std::to_string(i));
    }
    uint64_t before = done;
    done += t.patches.size();
    if (progress && before / kProgressEvery != done / kProgressEvery) progress(done);
  }
  importer.Finish();
  return Status::Ok();
}

}  // namespace weft::engine
