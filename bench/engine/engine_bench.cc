// engine_bench: the Doc on every trace under WEFT_TRACES_DIR (sequential,
// concurrent and egwalker) and on a generated history of large pastes and
// deletes, with baselines in the same run.
//
//   BM_PlainBuffer/T   sequential T's patches on a gap buffer of code
//                      points (no CRDT metadata): the floor for local edits
//   BM_LocalReplay/T   sequential T's patches as local edits of a fresh Doc
//   BM_LocalBatch/T    the same edits handed over in batches of 2,048
//                      (Doc::ApplyLocal), as the WebAssembly binding
//                      queues keystrokes between reads
//   BM_Import/T        concurrent T imported into one fresh Doc
//                      (ImportConcurrent: HistoryImporter)
//   BM_ReplicaReplay/T concurrent T replayed with a replica per agent
//                      (ReplayConcurrent), for traces of a few agents: the
//                      import's baseline
//   BM_Merge/T         T's full history (EncodeOpsSince of the empty
//                      version) applied to a fresh Doc
//   BM_EncodeUpdate/T  T's full history encoded as one update
//   BM_EncodeSnapshot/T  T's final state encoded as a snapshot
//   BM_LocalRest/T     sequential T's second half of txns typed into a
//                      replica that holds the first (merged from an update)
//   BM_MergeRest/T     the same replica merging the second half as one
//                      update instead: a catch-up after a long time
//                      offline, against its local baseline above. For a
//                      concurrent T, the second half of its history's ops
//                      into a replica holding the first (baseline:
//                      BM_Merge, the whole history into an empty one)
//   BM_SnapshotLoad/T  a snapshot of T loaded into a fresh Doc
//   BM_SnapshotLoadAndEdit/T  the same, then one remote insert in the
//                      middle applied: the first id lookup builds the id
//                      index, which a load alone leaves for later
//   BM_ManyAuthorsKeystroke/N  one keystroke encoded by its writer and
//                      applied by another replica, in a document N authors
//                      wrote
//
// T is every trace file, gen_paste_delete, a generated sequential history
// of large pastes and deletes (GeneratePasteDeleteTrace), gen_bottom_up,
// the same with its renames applied from the end of a region up (as a
// codemod applies edits; each cuts a long Item near its end), and
// gen_many_authors, a generated history of short edits by 20,000 authors
// who come back now and then (GenerateManyAuthorsTrace).
//
// Every benchmark checks the final length against endContent so a broken
// build cannot look fast. Counters: bytes_per_char (Doc heap per character
// of final text), doc_heap_bytes, update_bytes, snapshot_bytes.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "weft/engine/doc.h"
#include "weft/engine/trace.h"

namespace weft::engine {
namespace {

// A gap buffer of code points: the text editors' classic plain buffer.
class GapBuffer {
 public:
  void Insert(size_t pos, std::string_view utf8) {
    MoveGap(pos);
    for (size_t i = 0; i < utf8.size();) {
      auto c = static_cast<unsigned char>(utf8[i]);
      int w = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
      char32_t cp = w == 1 ? c : c & (0x7F >> w);
      for (int k = 1; k < w; ++k) cp = (cp << 6) | (static_cast<unsigned char>(utf8[i + k]) & 0x3F);
      i += w;
      if (gap_begin_ == gap_end_) Grow();
      buf_[gap_begin_++] = cp;
    }
  }
  void Remove(size_t pos, size_t len) {
    MoveGap(pos);
    gap_end_ += len;
  }
  size_t size() const { return buf_.size() - (gap_end_ - gap_begin_); }

 private:
  void MoveGap(size_t pos) {
    if (pos < gap_begin_) {
      size_t n = gap_begin_ - pos;
      std::copy_backward(buf_.begin() + pos, buf_.begin() + gap_begin_, buf_.begin() + gap_end_);
      gap_begin_ -= n;
      gap_end_ -= n;
    } else if (pos > gap_begin_) {
      size_t n = pos - gap_begin_;
      std::copy(buf_.begin() + gap_end_, buf_.begin() + gap_end_ + n, buf_.begin() + gap_begin_);
      gap_begin_ += n;
      gap_end_ += n;
    }
  }
  void Grow() {
    size_t extra = std::max<size_t>(64, buf_.size());
    size_t tail = buf_.size() - gap_end_;
    buf_.resize(buf_.size() + extra);
    std::copy_backward(buf_.end() - extra - tail, buf_.end() - extra, buf_.end());
    gap_end_ += extra;
  }

  std::vector<char32_t> buf_;
  size_t gap_begin_ = 0, gap_end_ = 0;
};

uint64_t CodePoints(const std::string& s) {
  return static_cast<uint64_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

void PlainBuffer(benchmark::State& state, const Trace* trace) {
  uint64_t expected = CodePoints(trace->end_content);
  for (auto _ : state) {
    GapBuffer buf;
    for (const TraceTxn& t : trace->txns) {
      for (const TracePatch& p : t.patches) {
        if (p.del) buf.Remove(p.pos, p.del);
        if (!p.text.empty()) buf.Insert(p.pos, p.text);
      }
    }
    if (buf.size() != expected) state.SkipWithError("plain buffer length differs from endContent");
    benchmark::DoNotOptimize(buf);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * trace->patches));
}

void LocalReplay(benchmark::State& state, const Trace* trace) {
  uint64_t expected = CodePoints(trace->end_content);
  size_t heap = 0;
  for (auto _ : state) {
    Doc doc(1);
    if (!ReplaySequential(*trace, doc).ok() || doc.size() != expected) {
      state.SkipWithError("replay failed or length differs from endContent");
      break;
    }
    heap = doc.HeapBytes();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * trace->patches));
  state.counters["bytes_per_char"] = static_cast<double>(heap) / static_cast<double>(expected);
  state.counters["doc_heap_bytes"] = static_cast<double>(heap);
}

// A sequential trace's patches as batches of local edits (a patch's delete,
// then its insert), each with its inserts' text back to back.
struct EditBatch {
  std::vector<LocalEdit> edits;
  std::string text;
};

std::vector<EditBatch> Batches(const Trace& trace, size_t per_batch) {
  std::vector<EditBatch> out(1);
  auto add = [&](LocalEdit e, std::string_view text) {
    if (out.back().edits.size() == per_batch) out.emplace_back();
    out.back().edits.push_back(e);
    out.back().text.append(text);
  };
  if (!trace.start_content.empty()) {
    add({LocalEdit::Kind::kInsert, 0, trace.start_content.size()}, trace.start_content);
  }
  for (const TraceTxn& txn : trace.txns) {
    for (const TracePatch& p : txn.patches) {
      if (p.del > 0) add({LocalEdit::Kind::kDelete, p.pos, p.del}, {});
      if (!p.text.empty()) add({LocalEdit::Kind::kInsert, p.pos, p.text.size()}, p.text);
    }
  }
  return out;
}

void LocalBatch(benchmark::State& state, const Trace* trace) {
  uint64_t expected = CodePoints(trace->end_content);
  const std::vector<EditBatch> batches = Batches(*trace, 2048);
  for (auto _ : state) {
    Doc doc(1);
    for (const EditBatch& b : batches) {
      if (!doc.ApplyLocal(b.edits, b.text).ok()) {
        state.SkipWithError("a batch failed");
        break;
      }
    }
    if (doc.size() != expected) {
      state.SkipWithError("length differs from endContent");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * trace->patches));
}

// The replica a trace's history builds: local edits, or an import.
Status Build(const Trace& trace, Doc& doc) {
  return trace.concurrent ? ImportConcurrent(trace, doc) : ReplaySequential(trace, doc);
}

void Import(benchmark::State& state, const Trace* trace) {
  uint64_t expected = CodePoints(trace->end_content);
  size_t heap = 0;
  for (auto _ : state) {
    Doc doc(UINT64_MAX - 3);
    if (!ImportConcurrent(*trace, doc).ok() || doc.size() != expected) {
      state.SkipWithError("import failed or length differs from endContent");
      break;
    }
    heap = doc.HeapBytes();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * trace->patches));
  state.counters["doc_heap_bytes"] = static_cast<double>(heap);
}

void ReplicaReplay(benchmark::State& state, const Trace* trace) {
  uint64_t expected = CodePoints(trace->end_content);
  for (auto _ : state) {
    std::vector<Doc> replicas;
    if (!ReplayConcurrent(*trace, replicas).ok() || replicas[0].size() != expected) {
      state.SkipWithError("replay failed or length differs from endContent");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * trace->patches));
}

void Merge(benchmark::State& state, const Trace* trace) {
  Doc src(UINT64_MAX - 3);
  if (!Build(*trace, src).ok()) return state.SkipWithError("replay failed");
  std::string update = src.EncodeOpsSince(VersionVector());
  for (auto _ : state) {
    Doc doc(2);
    if (!doc.ApplyUpdate(update).ok() || doc.size() != src.size()) {
      state.SkipWithError("merge failed or length differs");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * trace->patches));
  state.counters["update_bytes"] = static_cast<double>(update.size());
}

// Encoding T's whole history as one update (what a node sends a replica
// that has nothing, and a client its first sync), and its state as a
// snapshot: the other halves of BM_Merge and BM_SnapshotLoad, so each pair
// shows what a round trip costs. `encode` turns T's replica into bytes,
// whose size goes in `counter`.
template <typename Encode>
void EncodeEach(benchmark::State& state, const Trace* trace, Encode&& encode, const char* counter) {
  Doc src(UINT64_MAX - 3);
  if (!Build(*trace, src).ok()) return state.SkipWithError("replay failed");
  size_t bytes = 0;
  for (auto _ : state) {
    std::string encoded = encode(src);
    bytes = encoded.size();
    benchmark::DoNotOptimize(encoded.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * trace->patches));
  state.counters[counter] = static_cast<double>(bytes);
}

void EncodeUpdate(benchmark::State& state, const Trace* trace) {
  EncodeEach(
      state, trace, [](const Doc& d) { return d.EncodeOpsSince(VersionVector()); }, "update_bytes");
}

void EncodeSnapshot(benchmark::State& state, const Trace* trace) {
  EncodeEach(
      state, trace, [](const Doc& d) { return d.EncodeSnapshot(); }, "snapshot_bytes");
}

// A trace cut in two: the first half's history as an update, the second
// half as an update and, for a sequential trace, as txns to type. A
// sequential trace is cut after half its txns; a concurrent one after half
// the ops of its whole history's encoding (causally ordered, so the first
// half is a version of its own).
struct Halves {
  std::string first;  // update: the first half's history
  Trace rest;         // the second half's txns (sequential traces)
  std::string rest_update;
  uint64_t size = 0;  // characters at the end
};

Status SplitHalves(const Trace& trace, Halves* out) {
  Doc src(UINT64_MAX - 3);
  if (trace.concurrent) {
    WEFT_RETURN_IF_ERROR(Build(trace, src));
    Result<Ops> ops = Doc::DecodeUpdate(src.EncodeOpsSince(VersionVector()));
    if (!ops.ok()) return ops.status();
    Doc half(UINT64_MAX - 4);
    WEFT_RETURN_IF_ERROR(half.Apply(std::span<const Op>(ops->data(), ops->size() / 2)));
    out->first = half.EncodeOpsSince(VersionVector());
    out->rest_update = src.EncodeOpsSince(half.version());
    out->size = src.size();
    return Status::Ok();
  }
  Trace first = trace;
  first.txns.resize(trace.txns.size() / 2);
  WEFT_RETURN_IF_ERROR(ReplaySequential(first, src));
  out->first = src.EncodeOpsSince(VersionVector());
  const VersionVector middle = src.version();
  out->rest = trace;
  out->rest.start_content.clear();  // typed by the first half
  out->rest.txns.erase(out->rest.txns.begin(), out->rest.txns.begin() + first.txns.size());
  WEFT_RETURN_IF_ERROR(ReplaySequential(out->rest, src));
  out->rest_update = src.EncodeOpsSince(middle);
  out->size = src.size();
  return Status::Ok();
}

// Times `second` on a replica that `first` made, each made afresh (and the
// one before freed) with the timer stopped.
template <typename First, typename Second>
void OnHalf(benchmark::State& state, First first, Second second) {
  std::optional<Doc> doc;
  for (auto _ : state) {
    state.PauseTiming();
    doc.reset();
    doc.emplace(UINT64_MAX - 3);
    const bool made = first(*doc);
    state.ResumeTiming();
    if (!made || !second(*doc)) {
      state.SkipWithError("replay or merge failed, or length differs");
      break;
    }
  }
}

void LocalRest(benchmark::State& state, const Trace* trace) {
  Halves h;
  if (!SplitHalves(*trace, &h).ok()) return state.SkipWithError("replay failed");
  OnHalf(
      state, [&](Doc& d) { return d.ApplyUpdate(h.first).ok(); },
      [&](Doc& d) { return ReplaySequential(h.rest, d).ok() && d.size() == h.size; });
}

void MergeRest(benchmark::State& state, const Trace* trace) {
  Halves h;
  if (!SplitHalves(*trace, &h).ok()) return state.SkipWithError("replay failed");
  OnHalf(
      state, [&](Doc& d) { return d.ApplyUpdate(h.first).ok(); },
      [&](Doc& d) { return d.ApplyUpdate(h.rest_update).ok() && d.size() == h.size; });
  state.counters["update_bytes"] = static_cast<double>(h.rest_update.size());
}

void SnapshotLoad(benchmark::State& state, const Trace* trace) {
  Doc src(UINT64_MAX - 3);
  if (!Build(*trace, src).ok()) return state.SkipWithError("replay failed");
  std::string snapshot = src.EncodeSnapshot();
  for (auto _ : state) {
    Result<Doc> doc = Doc::LoadSnapshot(snapshot, 2);
    if (!doc.ok() || doc->size() != src.size()) {
      state.SkipWithError("load failed or length differs");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * trace->patches));
  state.counters["snapshot_bytes"] = static_cast<double>(snapshot.size());
}

void SnapshotLoadAndEdit(benchmark::State& state, const Trace* trace) {
  Doc src(UINT64_MAX - 3);
  if (!Build(*trace, src).ok()) return state.SkipWithError("replay failed");
  std::string snapshot = src.EncodeSnapshot();
  const VersionVector before = src.version();
  if (!src.Insert(src.size() / 2, "x", nullptr).ok()) return state.SkipWithError("edit failed");
  std::string edit = src.EncodeOpsSince(before);
  for (auto _ : state) {
    Result<Doc> doc = Doc::LoadSnapshot(snapshot, 2);
    if (!doc.ok() || !doc->ApplyUpdate(edit).ok() || doc->size() != src.size()) {
      state.SkipWithError("load or edit failed, or length differs");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * trace->patches));
}

// One keystroke in a document `state.range(0)` authors have written: the
// writer types a character and encodes its own edit (Doc::EncodeOpsSince
// up to its own agent, as transport::Client sends it), and another replica
// applies it. Ten authors next to ten thousand and a hundred thousand show
// what a long-lived document's author count costs each keystroke.
void ManyAuthorsKeystroke(benchmark::State& state) {
  const auto authors = static_cast<uint64_t>(state.range(0));
  Doc seed(1);
  Ops ops;
  std::optional<OpId> left;
  for (uint64_t a = 0; a < authors; ++a) {
    Op op;
    op.id = OpId{1000 + a * 7919, 0};  // ids in no order, as random ones are
    op.len = 2;
    op.text = "ab";
    op.origin_left = left;
    left = OpId{op.id.agent, 1};
    ops.push_back(std::move(op));
  }
  if (!seed.Apply(ops).ok()) return state.SkipWithError("seeding failed");
  const std::string snapshot = seed.EncodeSnapshot();
  Result<Doc> writer = Doc::LoadSnapshot(snapshot, 7);
  Result<Doc> reader = Doc::LoadSnapshot(snapshot, 8);
  if (!writer.ok() || !reader.ok()) return state.SkipWithError("load failed");
  uint64_t pos = 0;
  for (auto _ : state) {
    VersionVector since, until;
    since.Set(7, writer->known_seqs(7));
    pos = (pos + 7919) % (writer->size() + 1);
    if (!writer->Insert(pos, "x", nullptr).ok()) return state.SkipWithError("insert failed");
    until.Set(7, writer->known_seqs(7));
    if (!reader->ApplyUpdate(writer->EncodeOpsSince(since, &until)).ok()) {
      return state.SkipWithError("apply failed");
    }
  }
  if (reader->size() != writer->size()) state.SkipWithError("replicas differ");
}

std::string TraceName(const std::filesystem::path& p) {
  std::string name = p.filename().string();
  for (const char* ext : {".json.gz", ".json"}) {
    if (name.ends_with(ext)) return name.substr(0, name.size() - std::string(ext).size());
  }
  return name;
}

}  // namespace
}  // namespace weft::engine

int main(int argc, char** argv) {
  using namespace weft::engine;
  const char* env = std::getenv("WEFT_TRACES_DIR");
  const std::filesystem::path root(env && *env ? env : WEFT_TRACES_DIR);
  std::vector<std::filesystem::path> files;
  for (const char* sub : {"sequential", "concurrent", "egwalker"}) {
    std::vector<std::filesystem::path> in_sub;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(root / sub, ec)) {
      std::string name = e.path().filename().string();
      if (name.ends_with(".json") || name.ends_with(".json.gz")) in_sub.push_back(e.path());
    }
    std::sort(in_sub.begin(), in_sub.end());
    files.insert(files.end(), in_sub.begin(), in_sub.end());
  }
  static std::vector<Trace> traces;  // outlive the registered benchmarks
  static std::vector<std::string> names;
  traces.reserve(files.size() + 3);
  for (const auto& f : files) {
    weft::Result<Trace> t = LoadTrace(f.string());
    if (!t.ok()) {
      std::fprintf(stderr, "engine_bench: %s: %s\n", f.c_str(), t.status().ToString().c_str());
      return 2;
    }
    traces.push_back(std::move(*t));
    names.push_back(TraceName(f));
  }
  traces.push_back(GeneratePasteDeleteTrace(PasteDeleteOptions{}));
  names.push_back("gen_paste_delete");
  {
    PasteDeleteOptions bottom_up;
    bottom_up.bottom_up = true;
    traces.push_back(GeneratePasteDeleteTrace(bottom_up));
    names.push_back("gen_bottom_up");
  }
  traces.push_back(GenerateManyAuthorsTrace(ManyAuthorsOptions{}));
  names.push_back("gen_many_authors");
  auto add = [](const std::string& name, void (*fn)(benchmark::State&, const Trace*),
                const Trace* t) {
    benchmark::RegisterBenchmark(name.c_str(), fn, t)->Unit(benchmark::kMillisecond);
  };
  for (size_t i = 0; i < traces.size(); ++i) {
    const Trace* tp = &traces[i];
    const std::string& name = names[i];
    if (tp->concurrent) {
      add("BM_Import/" + name, Import, tp);
      // A replica per agent costs agents x history: only for a few agents.
      if (tp->num_agents <= 4) add("BM_ReplicaReplay/" + name, ReplicaReplay, tp);
      add("BM_MergeRest/" + name, MergeRest, tp);
    } else {
      add("BM_PlainBuffer/" + name, PlainBuffer, tp);
      add("BM_LocalReplay/" + name, LocalReplay, tp);
      add("BM_LocalBatch/" + name, LocalBatch, tp);
      add("BM_LocalRest/" + name, LocalRest, tp);
      add("BM_MergeRest/" + name, MergeRest, tp);
    }
    add("BM_Merge/" + name, Merge, tp);
    add("BM_EncodeUpdate/" + name, EncodeUpdate, tp);
    add("BM_EncodeSnapshot/" + name, EncodeSnapshot, tp);
    add("BM_SnapshotLoad/" + name, SnapshotLoad, tp);
    add("BM_SnapshotLoadAndEdit/" + name, SnapshotLoadAndEdit, tp);
  }
  benchmark::RegisterBenchmark("BM_ManyAuthorsKeystroke", ManyAuthorsKeystroke)
      ->Arg(10)
      ->Arg(10'000)
      ->Arg(100'000)
      ->Unit(benchmark::kMicrosecond);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
