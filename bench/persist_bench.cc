// Op log benchmarks: durable appends under each fsync policy, and recovery.
//
// Appends: automerge-paper's per-patch updates, as a node's persister
// writes them: records in batches of 64, then one fsync (batch), an fsync
// per record (always), or none (off), all in this run.
// Recovery: a data directory holding automerge-paper's history (one record
// per patch), from the log alone and from a snapshot plus a tail of 5,000
// records; then ten documents with that history each.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "weft/engine/trace.h"
#include "weft/persist/op_log.h"
#include "weft/persist/recovery.h"
#include "weft/persist/snapshot_file.h"

namespace {

using namespace weft;
namespace fs = std::filesystem;

std::string TracesDir() {
  const char* env = std::getenv("WEFT_TRACES_DIR");
  return env != nullptr ? env : "../shared/traces";
}

// automerge-paper's history as one update per patch, and the final doc.
struct History {
  std::vector<std::string> updates;
  std::unique_ptr<engine::Doc> doc;
};

const History& Paper() {
  static History h = [] {
    History out;
    Result<engine::Trace> t =
        engine::LoadTrace(TracesDir() + "/sequential/automerge-paper.json.gz");
    if (!t.ok()) return out;
    out.doc = std::make_unique<engine::Doc>(1);
    for (const engine::TraceTxn& txn : t->txns) {
      for (const engine::TracePatch& p : txn.patches) {
        engine::VersionVector before = out.doc->version();
        if (p.del > 0) (void)out.doc->Remove(p.pos, p.del, nullptr);
        if (!p.text.empty()) (void)out.doc->Insert(p.pos, p.text, nullptr);
        out.updates.push_back(out.doc->EncodeOpsSince(before));
      }
    }
    return out;
  }();
  return h;
}

fs::path Scratch(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("weft_bench_" + std::to_string(getpid()) + "_" + name);
  fs::remove_all(p);
  return p;
}

std::span<const std::byte> Bytes(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

void BM_DurableOps(benchmark::State& state) {
  const History& h = Paper();
  if (h.updates.empty()) return state.SkipWithError("trace not found");
  auto policy = static_cast<persist::FsyncPolicy>(state.range(0));
  fs::path dir = Scratch("append");
  persist::OpLogOptions o;
  o.fsync = policy;
  auto w = std::move(*persist::OpLogWriter::Open(dir.string(), 0, o));
  size_t i = 0;
  int64_t ops = 0;
  for (auto _ : state) {
    for (int k = 0; k < 64; ++k) {
      if (!w->AppendOps("paper", Bytes(h.updates[i])).ok()) return state.SkipWithError("append");
      i = (i + 1) % h.updates.size();
    }
    if (!w->Sync().ok()) return state.SkipWithError("sync");
    ops += 64;
  }
  state.SetItemsProcessed(ops);
  state.counters["fsyncs"] = static_cast<double>(w->syncs());
  w.reset();
  fs::remove_all(dir);
}
BENCHMARK(BM_DurableOps)
    ->ArgName("policy")
    ->Arg(static_cast<int>(persist::FsyncPolicy::kBatch))
    ->Arg(static_cast<int>(persist::FsyncPolicy::kAlways))
    ->Arg(static_cast<int>(persist::FsyncPolicy::kOff))
    ->UseRealTime()
    ->MinTime(1.0);

// A data directory with `docs` documents, each with the paper's history;
// with a snapshot of each covering all but the last `tail` records.
fs::path MakeDataDir(int docs, size_t tail, bool snapshot) {
  const History& h = Paper();
  fs::path dir = Scratch("recover_" + std::to_string(docs) + "_" + std::to_string(snapshot));
  persist::OpLogOptions o;
  o.fsync = persist::FsyncPolicy::kOff;
  auto w = std::move(*persist::OpLogWriter::Open(persist::LogDir(dir.string()), 0, o));
  size_t cut = h.updates.size() - tail;
  for (int d = 0; d < docs; ++d) {
    std::string name = "paper" + std::to_string(d);
    engine::Doc partial(2);
    for (size_t i = 0; i < h.updates.size(); ++i) {
      (void)w->AppendOps(name, Bytes(h.updates[i]));
      if (snapshot && i < cut) (void)partial.ApplyUpdate(h.updates[i]);
      if (snapshot && i + 1 == cut) {
        // This document's records so far end here: the snapshot covers them.
        persist::SnapshotFile s{name, w->position(), partial.EncodeSnapshot()};
        (void)persist::WriteSnapshotFile(persist::DefaultFileSystem(),
                                         persist::SnapshotDir(dir.string()), s);
      }
    }
  }
  return dir;
}

void BM_Recover(benchmark::State& state) {
  const History& h = Paper();
  if (h.updates.empty()) return state.SkipWithError("trace not found");
  int docs = static_cast<int>(state.range(0));
  bool snapshot = state.range(1) != 0;
  fs::path dir = MakeDataDir(docs, 5000, snapshot);
  persist::RecoveryOptions ro;
  ro.read_only = true;
  for (auto _ : state) {
    Result<persist::RecoveredState> r = persist::Recover(dir.string(), ro);
    if (!r.ok()) return state.SkipWithError(r.status().ToString().c_str());
    if (r->docs.size() != static_cast<size_t>(docs) ||
        r->docs.begin()->second->size() != h.doc->size()) {
      return state.SkipWithError("recovered the wrong document");
    }
    state.counters["records_applied"] = static_cast<double>(r->applied);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(h.updates.size()) * docs);
  uint64_t bytes = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) bytes += e.file_size();
  }
  state.counters["data_bytes"] = static_cast<double>(bytes);
  fs::remove_all(dir);
}
BENCHMARK(BM_Recover)
    ->ArgNames({"docs", "snapshot"})
    ->Args({1, 1})
    ->Args({1, 0})
    ->Args({10, 1})
    ->Args({10, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
