// The Redis store alone, against a local redis-server started by the
// benchmark (AOF on; `fsync:1` is appendfsync always, `fsync:0` everysec):
//
//   bench thread (libuv loop) ──TCP loopback──► redis-server (its own core)
//
// Appends: one XADD round trip at a time, and 1,000 in flight (pipelined),
// each next to the same commands through a raw blocking hiredis context
// (the baseline: what Redis and the socket cost without the store).
// Catch-up: automerge-paper's history (259,778 patches) kept three ways,
// read back with Read(), and read and rebuilt into a Doc, next to raw
// XRANGE/HGET pages of the same keys:
//   tail     a snapshot covering all but the last 5,000 patches, then one
//            entry per patch (what compaction leaves)
//   snapshot the whole history in the snapshot, no tail
//   all      one entry per patch, no snapshot (never compacted)
#include <benchmark/benchmark.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "redis/redis_server.h"
#include "weft/engine/doc.h"
#include "weft/engine/trace.h"
#include "weft/crc32c.h"
#include "weft/redis/doc_store.h"

namespace {

using namespace weft;

std::string TracesDir() {
  const char* env = std::getenv("WEFT_TRACES_DIR");
  return env != nullptr ? env : "../shared/traces";
}

std::span<const std::byte> Bytes(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

struct History {
  std::vector<std::string> updates;  // one per patch
  std::string snapshot_all_but_tail;
  std::string snapshot_all;
  size_t final_size = 0;
};
constexpr size_t kTail = 5000;

const History& Paper() {
  static History h = [] {
    History out;
    Result<engine::Trace> t =
        engine::LoadTrace(TracesDir() + "/sequential/automerge-paper.json.gz");
    if (!t.ok()) return out;
    engine::Doc doc(1);
    size_t total = 0;
    for (const engine::TraceTxn& txn : t->txns) total += txn.patches.size();
    for (const engine::TraceTxn& txn : t->txns) {
      for (const engine::TracePatch& p : txn.patches) {
        engine::VersionVector before = doc.version();
        if (p.del > 0) (void)doc.Remove(p.pos, p.del, nullptr);
        if (!p.text.empty()) (void)doc.Insert(p.pos, p.text, nullptr);
        out.updates.push_back(doc.EncodeOpsSince(before));
        if (out.updates.size() == total - kTail) out.snapshot_all_but_tail = doc.EncodeSnapshot();
      }
    }
    out.snapshot_all = doc.EncodeSnapshot();
    out.final_size = doc.size();
    return out;
  }();
  return h;
}

// One server per fsync policy, started on first use and kept for the run.
testing::RedisServer& Server(bool fsync_always) {
  static std::map<bool, std::unique_ptr<testing::RedisServer>> servers;
  auto& s = servers[fsync_always];
  if (!s) {
    testing::RedisServerOptions o;
    o.appendfsync = fsync_always ? "always" : "everysec";
    Result<std::unique_ptr<testing::RedisServer>> r = testing::RedisServer::Start(o);
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
      std::abort();
    }
    s = std::move(*r);
  }
  return *s;
}

// A raw blocking hiredis connection: the baseline.
struct Raw {
  explicit Raw(const testing::RedisServer& s) : c(redisConnect("127.0.0.1", s.port())) {}
  ~Raw() { redisFree(c); }
  void Append(const std::vector<std::string>& argv) {
    std::vector<const char*> p;
    std::vector<size_t> l;
    for (const auto& a : argv) {
      p.push_back(a.data());
      l.push_back(a.size());
    }
    redisAppendCommandArgv(c, static_cast<int>(argv.size()), p.data(), l.data());
  }
  redisReply* Get() {
    void* r = nullptr;
    return redisGetReply(c, &r) == REDIS_OK ? static_cast<redisReply*>(r) : nullptr;
  }
  redisContext* c;
};

std::string Hex8(uint32_t v) {
  char b[9];
  std::snprintf(b, sizeof b, "%08x", v);
  return b;
}

std::vector<std::string> XaddArgs(const std::string& key, const std::string& update) {
  return {"XADD",
          key,
          "*",
          "u",
          update,
          "n",
          "0000000000000001",
          "c",
          Hex8(weft::Crc32c(Bytes(update)))};
}

// A loop with one store on it.
struct Loop {
  explicit Loop(const testing::RedisServer& s) {
    uv_loop_init(&loop);
    redis::StoreOptions o;
    o.address = *redis::ParseRedisUrl(s.url());
    o.node_id = 1;
    o.max_in_flight = 1 << 20;
    o.log = [](const std::string&) {};
    store = std::move(*redis::DocStore::Create(&loop, o));
    RunUntil([&] { return store->health().ok(); });
  }
  ~Loop() {
    bool closed = false;
    store->Close([&] { closed = true; });
    RunUntil([&] { return closed; });
    store.reset();
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
  }
  void RunUntil(const std::function<bool()>& done) {
    while (!done()) uv_run(&loop, UV_RUN_ONCE);
  }
  uv_loop_t loop{};
  std::unique_ptr<redis::DocStore> store;
};

void BM_RawXaddRoundTrip(benchmark::State& state) {
  const History& h = Paper();
  if (h.updates.empty()) return state.SkipWithError("trace not found");
  Raw raw(Server(state.range(0) != 0));
  size_t i = 0;
  for (auto _ : state) {
    raw.Append(XaddArgs("weft:{raw-rt}:ops", h.updates[i++ % h.updates.size()]));
    redisReply* r = raw.Get();
    if (r == nullptr || r->type != REDIS_REPLY_STRING) return state.SkipWithError("XADD failed");
    freeReplyObject(r);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_StoreAppendRoundTrip(benchmark::State& state) {
  const History& h = Paper();
  if (h.updates.empty()) return state.SkipWithError("trace not found");
  Loop l(Server(state.range(0) != 0));
  size_t i = 0;
  for (auto _ : state) {
    bool done = false;
    bool ok = false;
    (void)l.store->Append("store-rt", Bytes(h.updates[i++ % h.updates.size()]),
                          [&](Result<redis::StreamId> r) {
                            done = true;
                            ok = r.ok();
                          });
    l.RunUntil([&] { return done; });
    if (!ok) return state.SkipWithError("append failed");
  }
  state.SetItemsProcessed(state.iterations());
}

constexpr int kWindow = 1000;

void BM_RawPipelinedXadd(benchmark::State& state) {
  const History& h = Paper();
  if (h.updates.empty()) return state.SkipWithError("trace not found");
  Raw raw(Server(state.range(0) != 0));
  size_t i = 0;
  for (auto _ : state) {
    for (int k = 0; k < kWindow; ++k) {
      raw.Append(XaddArgs("weft:{raw-pipe}:ops", h.updates[i++ % h.updates.size()]));
    }
    for (int k = 0; k < kWindow; ++k) {
      redisReply* r = raw.Get();
      if (r == nullptr || r->type != REDIS_REPLY_STRING) return state.SkipWithError("XADD failed");
      freeReplyObject(r);
    }
  }
  state.SetItemsProcessed(state.iterations() * kWindow);
}

void BM_StorePipelinedAppends(benchmark::State& state) {
  const History& h = Paper();
  if (h.updates.empty()) return state.SkipWithError("trace not found");
  Loop l(Server(state.range(0) != 0));
  size_t i = 0;
  for (auto _ : state) {
    int confirmed = 0;
    for (int k = 0; k < kWindow; ++k) {
      Status s = l.store->Append("store-pipe", Bytes(h.updates[i++ % h.updates.size()]),
                                 [&](Result<redis::StreamId> r) { confirmed += r.ok(); });
      if (!s.ok()) return state.SkipWithError(s.ToString().c_str());
    }
    l.RunUntil([&] { return confirmed == kWindow; });
  }
  state.SetItemsProcessed(state.iterations() * kWindow);
}

void FsyncPolicies(benchmark::internal::Benchmark* b) {
  b->ArgName("fsync")->Arg(0)->Arg(1)->UseRealTime()->MinTime(1.0);
}
BENCHMARK(BM_RawXaddRoundTrip)->Apply(FsyncPolicies);
BENCHMARK(BM_StoreAppendRoundTrip)->Apply(FsyncPolicies);
BENCHMARK(BM_RawPipelinedXadd)->Apply(FsyncPolicies);
BENCHMARK(BM_StorePipelinedAppends)->Apply(FsyncPolicies);

// ---- Catch-up ---------------------------------------------------------------

enum Shape { kTailShape = 0, kSnapshotShape = 1, kAllShape = 2 };
const char* kDocs[] = {"paper-tail", "paper-snapshot", "paper-all"};

// Writes the three documents once (raw, pipelined), in the store's format.
const testing::RedisServer& CatchUpServer() {
  static bool filled = false;
  testing::RedisServer& s = Server(false);
  if (filled) return s;
  filled = true;
  const History& h = Paper();
  Raw raw(s);
  auto put_snapshot = [&](const std::string& doc, const std::string& covers,
                          const std::string& snap) {
    raw.Append({"HSET", "weft:{" + doc + "}:snap", "v", "1", "id", covers, "s", snap, "c",
                Hex8(weft::Crc32c(Bytes(snap)))});
    freeReplyObject(raw.Get());
  };
  auto put_entries = [&](const std::string& doc, size_t from) {
    for (size_t i = from; i < h.updates.size(); i += kWindow) {
      size_t end = std::min(h.updates.size(), i + kWindow);
      for (size_t k = i; k < end; ++k) raw.Append(XaddArgs("weft:{" + doc + "}:ops", h.updates[k]));
      for (size_t k = i; k < end; ++k) freeReplyObject(raw.Get());
    }
  };
  // The tail's ids come after "1-0", which the snapshot claims to cover.
  put_snapshot(kDocs[kTailShape], "1-0", h.snapshot_all_but_tail);
  put_entries(kDocs[kTailShape], h.updates.size() - kTail);
  put_snapshot(kDocs[kSnapshotShape], "1-0", h.snapshot_all);
  put_entries(kDocs[kAllShape], 0);
  return s;
}

size_t ExpectedTail(int shape) {
  return shape == kTailShape ? kTail : shape == kAllShape ? Paper().updates.size() : 0;
}

Result<redis::DocImage> ReadImage(Loop& l, const char* doc) {
  std::optional<Result<redis::DocImage>> image;
  Status s = l.store->Read(doc, [&](Result<redis::DocImage> r) { image = std::move(r); });
  if (!s.ok()) return s;
  l.RunUntil([&] { return image.has_value(); });
  return std::move(*image);
}

// Read(): the image only.
void BM_StoreRead(benchmark::State& state) {
  if (Paper().updates.empty()) return state.SkipWithError("trace not found");
  int shape = static_cast<int>(state.range(0));
  Loop l(CatchUpServer());
  for (auto _ : state) {
    Result<redis::DocImage> image = ReadImage(l, kDocs[shape]);
    if (!image.ok() || image->tail.size() != ExpectedTail(shape)) {
      return state.SkipWithError("read the wrong image");
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(Paper().updates.size()));
}

// Read() and rebuild the document: what a fresh node pays before it can
// serve it.
void BM_StoreCatchUp(benchmark::State& state) {
  if (Paper().updates.empty()) return state.SkipWithError("trace not found");
  int shape = static_cast<int>(state.range(0));
  Loop l(CatchUpServer());
  for (auto _ : state) {
    Result<redis::DocImage> image = ReadImage(l, kDocs[shape]);
    if (!image.ok()) return state.SkipWithError("read failed");
    const redis::DocImage& im = *image;
    std::optional<engine::Doc> doc;
    if (im.snapshot_covers) {
      Result<engine::Doc> d = engine::Doc::LoadSnapshot(im.snapshot, 0);
      if (!d.ok()) return state.SkipWithError("snapshot refused");
      doc.emplace(std::move(*d));
    } else {
      doc.emplace(0);
    }
    for (const auto& e : im.tail) {
      if (!doc->ApplyUpdate(e.update).ok()) return state.SkipWithError("update refused");
    }
    if (doc->size() != Paper().final_size) return state.SkipWithError("wrong document");
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(Paper().updates.size()));
}

// The baseline: HGET of the snapshot and XRANGE pages of 1,000 through a
// raw blocking connection, no checks, no copies.
void BM_RawRead(benchmark::State& state) {
  if (Paper().updates.empty()) return state.SkipWithError("trace not found");
  int shape = static_cast<int>(state.range(0));
  Raw raw(CatchUpServer());
  std::string doc = kDocs[shape];
  for (auto _ : state) {
    raw.Append({"HGET", "weft:{" + doc + "}:snap", "s"});
    freeReplyObject(raw.Get());
    std::string after = "-";
    size_t n = 0;
    while (true) {
      raw.Append({"XRANGE", "weft:{" + doc + "}:ops", after, "+", "COUNT", "1000"});
      redisReply* r = raw.Get();
      size_t got = r->elements;
      n += got;
      if (got > 0) after = "(" + std::string(r->element[got - 1]->element[0]->str);
      freeReplyObject(r);
      if (got < 1000) break;
    }
    if (n != ExpectedTail(shape)) return state.SkipWithError("read the wrong tail");
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(Paper().updates.size()));
}

void Shapes(benchmark::internal::Benchmark* b) {
  b->ArgName("shape")->Arg(kTailShape)->Arg(kSnapshotShape)->Arg(kAllShape);
  b->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
}
BENCHMARK(BM_RawRead)->Apply(Shapes);
BENCHMARK(BM_StoreRead)->Apply(Shapes);
BENCHMARK(BM_StoreCatchUp)->Apply(Shapes);

}  // namespace

BENCHMARK_MAIN();
