// Node benchmarks over loopback, nodes and clients in this process.
//
// Catch-up:   node (holds automerge-paper) ──► fresh client: subscribe, receive, apply
//   baseline: the final text alone, written once over a loopback TCP socket
//
// Live:       writer ──► node A ──► node B ──► node C
//                           │          │          │
//                        (relay)    reader B   reader C   (latency: local edit -> applied)
//
// Redis:      writer ──► node A ──► Redis ◄── node B, node C (no --peer;
//             each follows the document's stream), readers on B and C,
//             against a real redis-server with appendfsync always or everysec
//
// Steady:     the same line, the writer typing and deleting a paragraph over
//             and over (a document of steady size), for the memory check;
//   baseline: the same edits into six bare replicas, no nodes
//
// Run `transport_bench --benchmark_filter=Live --live_seconds=30` for the
// 30-second memory check; the default run is short.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "redis/redis_server.h"
#include "weft/engine/trace.h"
#include "weft/node/node.h"
#include "weft/transport/client.h"

namespace {

using namespace weft;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string TracesDir() {
  const char* env = std::getenv("WEFT_TRACES_DIR");
  return env != nullptr ? env : "../shared/traces";
}

double g_live_seconds = 3;

class BenchNode {
 public:
  // Out of line: GCC 12 inlines the default options into each caller and
  // then warns (maybe-uninitialized) about their strings' destructors.
  [[gnu::noinline]] BenchNode() : BenchNode(node::NodeOptions()) {}
  explicit BenchNode(node::NodeOptions o) {
    o.handle_signals = false;
    o.log = [](const std::string& l) {
      if (std::getenv("WEFT_BENCH_LOG")) std::fprintf(stderr, "node: %s\n", l.c_str());
    };
    node_ = std::move(*node::Node::Create(std::move(o)));
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "node-loop");
      (void)node_->Run();
    });
  }
  ~BenchNode() {
    node_->Stop();
    thread_.join();
  }
  transport::HostPort addr() const { return {"127.0.0.1", node_->port()}; }

 private:
  std::unique_ptr<node::Node> node_;
  std::thread thread_;
};

std::unique_ptr<transport::Client> Connect(const BenchNode& n, uint64_t agent) {
  transport::ClientOptions o;
  o.server = n.addr();
  o.agents = {agent};
  return std::move(*transport::Client::Connect(o));
}

long RssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

// Bytes malloc has handed out and not had back, over all arenas (glibc's
// malloc_info totals: arena memory minus its free chunks, plus mmapped
// blocks). Unlike RSS, this does not count free memory the arenas keep, so
// it tells data that grows from allocator slack. 0 if unavailable.
long HeapInUseKb() {
  char* text = nullptr;
  size_t size = 0;
  FILE* f = open_memstream(&text, &size);
  if (f == nullptr) return 0;
  int rc = malloc_info(0, f);
  std::fclose(f);
  std::string xml(text, size);
  std::free(text);
  if (rc != 0) return 0;
  // The totals over all arenas follow the last per-arena section.
  size_t totals = xml.rfind("</heap>");
  if (totals == std::string::npos) totals = 0;
  auto field = [&](const std::string& tag) -> long {
    size_t at = xml.find(tag, totals);
    if (at == std::string::npos) return 0;
    at = xml.find("size=\"", at);
    return at == std::string::npos ? 0 : std::strtol(xml.c_str() + at + 6, nullptr, 10);
  };
  long in_use = field("<system type=\"current\"") - field("<total type=\"fast\"") -
                field("<total type=\"rest\"") + field("<total type=\"mmap\"");
  return in_use / 1024;
}

// ---- Catch-up ----------------------------------------------------------------

void BM_CatchUp(benchmark::State& state) {
  Result<engine::Trace> trace =
      engine::LoadTrace(TracesDir() + "/sequential/automerge-paper.json.gz");
  if (!trace.ok()) return state.SkipWithError(trace.status().ToString().c_str());
  BenchNode node;
  {
    auto writer = Connect(node, 1);
    engine::Doc doc(1);
    (void)engine::ReplaySequential(*trace, doc);
    (void)writer->SendOpsSince("paper", doc, {});
    uint64_t end = doc.known_seqs(1);
    (void)writer->RunUntil([&] { return writer->acked("paper").Get(1) == end; },
                           milliseconds(30000));
  }
  uint64_t wire = 0;
  for (auto _ : state) {
    auto reader = Connect(node, 2);
    engine::Doc replica(2);
    if (!reader->Subscribe("paper", &replica).ok() || replica.Text() != trace->end_content) {
      return state.SkipWithError("catch-up did not reproduce the text");
    }
    wire = reader->bytes_received();
  }
  state.counters["wire_bytes"] = static_cast<double>(wire);
  state.counters["text_bytes"] = static_cast<double>(trace->end_content.size());
  state.counters["wire_per_text"] = static_cast<double>(wire) / trace->end_content.size();
}
BENCHMARK(BM_CatchUp)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(10);

// Baseline: the final text alone over one loopback TCP connection.
void BM_CatchUpPlainText(benchmark::State& state) {
  Result<engine::Trace> trace =
      engine::LoadTrace(TracesDir() + "/sequential/automerge-paper.json.gz");
  if (!trace.ok()) return state.SkipWithError(trace.status().ToString().c_str());
  const std::string& text = trace->end_content;
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a);
  listen(listener, 4);
  getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
  for (auto _ : state) {
    std::thread server([&] {
      int c = accept(listener, nullptr, nullptr);
      size_t sent = 0;
      while (sent < text.size())
        sent += static_cast<size_t>(send(c, text.data() + sent, text.size() - sent, 0));
      close(c);
    });
    int s = socket(AF_INET, SOCK_STREAM, 0);
    connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    std::string got;
    char buf[65536];
    ssize_t n;
    while ((n = recv(s, buf, sizeof buf, 0)) > 0) got.append(buf, static_cast<size_t>(n));
    close(s);
    server.join();
    if (got != text) return state.SkipWithError("short read");
  }
  close(listener);
  state.counters["wire_bytes"] = static_cast<double>(text.size());
}
BENCHMARK(BM_CatchUpPlainText)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(10);

// ---- Live --------------------------------------------------------------------

// Grows `v` to `capacity` and writes every element, then empties it: its
// pages count in RSS from now on, so the benchmark's own bookkeeping does not
// show up as growth during a run (as long as it stays within `capacity`).
template <typename T>
void PreTouch(std::vector<T>* v, size_t capacity) {
  v->resize(capacity);
  v->clear();
}

// A reader on its own thread: records when each of the writer's seqs arrived.
class LiveReader {
 public:
  LiveReader(const BenchNode& n, uint64_t agent, uint64_t writer,
             std::vector<Clock::time_point>* sent, std::mutex* mu, size_t capacity)
      : client_(Connect(n, agent)), doc_(agent), writer_(writer), sent_(sent), mu_(mu) {
    PreTouch(&latencies_, capacity);
    (void)client_->Subscribe("live", &doc_);
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "live-reader");
      Loop();
    });
  }
  ~LiveReader() {
    stop_ = true;
    thread_.join();
  }
  std::vector<double> latencies_us() {
    std::lock_guard<std::mutex> l(*mu_);
    return latencies_;
  }
  uint64_t seen() const { return seen_.load(); }
  void ClearLatencies() {
    std::lock_guard<std::mutex> l(*mu_);
    latencies_.clear();
  }

 private:
  void Loop() {
    while (!stop_) {
      (void)client_->RunUntil([&] { return doc_.known_seqs(writer_) > seen_ || stop_; },
                              milliseconds(5));
      uint64_t now_seq = doc_.known_seqs(writer_);
      Clock::time_point now = Clock::now();
      std::lock_guard<std::mutex> l(*mu_);
      for (uint64_t s = seen_; s < now_seq && s < sent_->size(); ++s) {
        latencies_.push_back(std::chrono::duration<double, std::micro>(now - (*sent_)[s]).count());
      }
      seen_ = std::max<uint64_t>(seen_, now_seq);
    }
  }

  std::unique_ptr<transport::Client> client_;
  engine::Doc doc_;
  uint64_t writer_;
  std::vector<Clock::time_point>* sent_;
  std::mutex* mu_;
  std::vector<double> latencies_;
  std::atomic<uint64_t> seen_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// What the writer types next: one patch against its own replica's text.
struct Patch {
  uint32_t pos = 0;
  uint32_t del = 0;
  std::string text;
};

// Three nodes in a line, a writer on A and a reader on each of B and C,
// linked up and warmed: an edit has gone all the way through.
class LiveRig {
 public:
  // `seqs`: about how many seqs the writer will type (for PreTouch).
  // `redis_url`: the three nodes share this Redis instead of a --peer line.
  explicit LiveRig(size_t seqs, const std::string& redis_url = "")
      : a_(Options(redis_url)),
        b_(redis_url.empty() ? Peer(a_) : Options(redis_url)),
        c_(redis_url.empty() ? Peer(b_) : Options(redis_url)),
        writer_(Connect(a_, kWriter)),
        doc_(kWriter) {
    PreTouch(&sent_, seqs);
    (void)writer_->Subscribe("live", &doc_);
    rb_ = std::make_unique<LiveReader>(b_, 2, kWriter, &sent_, &mu_, seqs);
    rc_ = std::make_unique<LiveReader>(c_, 3, kWriter, &sent_, &mu_, seqs);
  }

  // Nodes link up (with reconnect backoff) and subscribe to each other in the
  // first moments; measure the steady state, once an edit has gone all the
  // way through. The warm-up text is typed and deleted again, so the
  // workload still starts from an empty document.
  bool WarmUp() {
    Type({0, 0, "warm-up"});
    Type({0, 7, ""});
    uint64_t end = doc_.known_seqs(kWriter);
    for (int i = 0; i < 2000 && !AllSeen(end); ++i) {
      (void)writer_->RunUntil([] { return false; }, milliseconds(5));
    }
    rb_->ClearLatencies();
    rc_->ClearLatencies();
    return AllSeen(end);
  }

  // Applies a patch to the writer's replica, stamps its new seqs and sends them.
  void Type(const Patch& patch) {
    engine::VersionVector before = doc_.version();
    {
      std::lock_guard<std::mutex> l(mu_);
      if (patch.del > 0) (void)doc_.Remove(patch.pos, patch.del, nullptr);
      if (!patch.text.empty()) (void)doc_.Insert(patch.pos, patch.text, nullptr);
      Clock::time_point now = Clock::now();
      while (sent_.size() < doc_.known_seqs(kWriter)) sent_.push_back(now);
    }
    (void)writer_->SendOpsSince("live", doc_, before);
    (void)writer_->Poll();
  }

  // Services the writer's connection, then sleeps until `due`. (Waiting in
  // the connection's loop instead paced by libuv's 1 ms timers: the writer
  // overslept by up to 1.5 ms, then sent a burst to catch up, and the
  // latencies measured the burst's queueing.)
  void IdleUntil(Clock::time_point due) {
    (void)writer_->Poll();
    std::this_thread::sleep_until(due);
  }

  // Waits (bounded) for both readers to have everything typed so far.
  void Drain() {
    uint64_t end = doc_.known_seqs(kWriter);
    for (int i = 0; i < 1000 && !AllSeen(end); ++i)
      (void)writer_->RunUntil([] { return false; }, milliseconds(5));
  }

  std::vector<double> Latencies() {
    std::vector<double> lat = rb_->latencies_us();
    std::vector<double> lc = rc_->latencies_us();
    lat.insert(lat.end(), lc.begin(), lc.end());
    return lat;
  }

  const engine::Doc& doc() const { return doc_; }

 private:
  static constexpr uint64_t kWriter = 1;

  static node::NodeOptions Peer(const BenchNode& n) {
    node::NodeOptions o;
    o.peers = {n.addr()};
    return o;
  }
  static node::NodeOptions Options(const std::string& redis_url) {
    node::NodeOptions o;
    o.redis_url = redis_url;
    return o;
  }
  bool AllSeen(uint64_t end) const { return rb_->seen() >= end && rc_->seen() >= end; }

  BenchNode a_;
  BenchNode b_;
  BenchNode c_;
  std::unique_ptr<transport::Client> writer_;
  engine::Doc doc_;
  std::vector<Clock::time_point> sent_;  // per writer seq: when it was typed
  std::mutex mu_;
  std::unique_ptr<LiveReader> rb_;
  std::unique_ptr<LiveReader> rc_;
};

// Types `next()` patches at `rate` per second for --live_seconds (or until
// next() returns nothing), sampling RSS once a second, and reports latency
// percentiles and memory.
template <typename Next>
void RunLive(benchmark::State& state, double rate, Next&& next, const std::string& redis_url = "") {
  // automerge-paper averages about one seq per patch; leave room.
  LiveRig rig(static_cast<size_t>(rate * g_live_seconds * 1.5) + 100000, redis_url);
  if (!rig.WarmUp()) return state.SkipWithError("nodes never linked up");
  std::vector<long> rss_kb;  // one sample per second of the run
  size_t heap_1s = 0;
  long malloc_1s = 0;
  uint64_t patches = 0;
  for (auto _ : state) {
    Clock::time_point start = Clock::now();
    while (std::chrono::duration<double>(Clock::now() - start).count() < g_live_seconds) {
      std::optional<Patch> patch = next(rig.doc());
      if (!patch) break;
      rig.Type(*patch);
      ++patches;
      if (patches % static_cast<uint64_t>(rate) == 0) {
        rss_kb.push_back(RssKb());
        if (rss_kb.size() == 1) {
          heap_1s = rig.doc().HeapBytes();
          malloc_1s = HeapInUseKb();
        }
      }
      rig.IdleUntil(start +
                    std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(static_cast<double>(patches) / rate)));
    }
    rig.Drain();
  }
  long rss_end = RssKb();  // before the latencies are copied and sorted
  long malloc_end = HeapInUseKb();
  if (std::getenv("WEFT_BENCH_RSS")) {
    for (size_t i = 0; i < rss_kb.size(); ++i)
      std::fprintf(stderr, "%zu s: rss %ld kB\n", i + 1, rss_kb[i]);
  }
  std::vector<double> lat = rig.Latencies();
  // Every sample, for looking at how the slow ones cluster (bench/README.md).
  if (const char* path = std::getenv("WEFT_BENCH_LAT")) {
    if (FILE* out = std::fopen(path, "w")) {
      for (double us : lat) std::fprintf(out, "%.1f\n", us);
      std::fclose(out);
    }
  }
  state.counters["patches_per_s"] = static_cast<double>(patches) / g_live_seconds;
  state.counters["p50_us"] = Percentile(lat, 0.50);
  state.counters["p99_us"] = Percentile(lat, 0.99);
  state.counters["max_us"] = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
  state.counters["rss_1s_kb"] = rss_kb.empty() ? 0 : static_cast<double>(rss_kb.front());
  state.counters["rss_5s_kb"] = rss_kb.size() < 5 ? 0 : static_cast<double>(rss_kb[4]);
  state.counters["rss_end_kb"] = static_cast<double>(rss_end);
  state.counters["malloc_1s_kb"] = static_cast<double>(malloc_1s);
  state.counters["malloc_end_kb"] = static_cast<double>(malloc_end);
  state.counters["rss_max_kb"] =
      rss_kb.empty() ? 0 : static_cast<double>(*std::max_element(rss_kb.begin(), rss_kb.end()));
  // The writer's replica, as a proxy for each of the six replicas' growth.
  state.counters["doc_heap_1s_kb"] = static_cast<double>(heap_1s) / 1024;
  state.counters["doc_heap_end_kb"] = static_cast<double>(rig.doc().HeapBytes()) / 1024;
  state.SetItemsProcessed(static_cast<int64_t>(patches));
}

// The writer replays automerge-paper: the document grows to the paper.
void LivePaper(benchmark::State& state, const std::string& redis_url) {
  Result<engine::Trace> trace =
      engine::LoadTrace(TracesDir() + "/sequential/automerge-paper.json.gz");
  if (!trace.ok()) return state.SkipWithError(trace.status().ToString().c_str());
  size_t t = 0, p = 0;
  RunLive(
      state, static_cast<double>(state.range(0)),
      [&](const engine::Doc&) -> std::optional<Patch> {
        if (t == trace->txns.size()) return std::nullopt;
        const engine::TracePatch& tp = trace->txns[t].patches[p];
        if (++p == trace->txns[t].patches.size()) {
          p = 0;
          ++t;
        }
        return Patch{static_cast<uint32_t>(tp.pos), static_cast<uint32_t>(tp.del), tp.text};
      },
      redis_url);
}

void BM_Live(benchmark::State& state) { LivePaper(state, ""); }
BENCHMARK(BM_Live)
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

// The same through a real redis-server: arg 1 says appendfsync always (1)
// or everysec (0). An edit reaches B and C through XADD on A's store and
// XREAD BLOCK on theirs; acks wait for the XADD's reply.
void BM_LiveRedis(benchmark::State& state) {
  testing::RedisServerOptions ro;
  ro.appendfsync = state.range(1) != 0 ? "always" : "everysec";
  Result<std::unique_ptr<testing::RedisServer>> redis = testing::RedisServer::Start(ro);
  if (!redis.ok()) return state.SkipWithError(redis.status().ToString().c_str());
  LivePaper(state, (*redis)->url());
}
BENCHMARK(BM_LiveRedis)
    ->Args({1000, 1})
    ->Args({10000, 1})
    ->Args({10000, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

// A document of steady size: the writer types a 2,000-character paragraph
// one character at a time, backspaces it away, and starts again, so any
// growth of memory is the nodes' own (plus the replicas' tombstones).
class SteadyTyping {
 public:
  Patch Next(const engine::Doc& doc) {
    constexpr uint32_t kParagraph = 2000;
    uint32_t len = static_cast<uint32_t>(doc.size());
    if (typing_ && len == kParagraph) typing_ = false;
    if (!typing_ && len == 0) typing_ = true;
    if (!typing_) return Patch{len - 1, 1, ""};
    return Patch{len, 0, std::string(1, static_cast<char>('a' + n_++ % 26))};
  }

 private:
  bool typing_ = true;
  uint64_t n_ = 0;
};

void BM_LiveSteady(benchmark::State& state) {
  SteadyTyping typing;
  RunLive(state, static_cast<double>(state.range(0)),
          [&](const engine::Doc& doc) -> std::optional<Patch> { return typing.Next(doc); });
}
BENCHMARK(BM_LiveSteady)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);

// Baseline for BM_LiveSteady's memory: the same edits (as many as it types
// in --live_seconds at R patches/s) into six bare replicas, as in the live
// line (writer, three nodes, two readers) but with no nodes, sockets or
// rings: one replica types, the others apply its updates. RSS after the
// first second's worth of patches and at the end, as there.
void BM_LiveSteadyReplicasOnly(benchmark::State& state) {
  const uint64_t rate = static_cast<uint64_t>(state.range(0));
  const uint64_t total = static_cast<uint64_t>(static_cast<double>(rate) * g_live_seconds);
  long rss_1s = 0, rss_end = 0, malloc_1s = 0, malloc_end = 0;
  size_t heap_1s = 0, heap_end = 0;
  for (auto _ : state) {
    std::vector<std::unique_ptr<engine::Doc>> docs;
    for (uint64_t agent = 1; agent <= 6; ++agent)
      docs.push_back(std::make_unique<engine::Doc>(agent));
    engine::Doc& writer = *docs[0];
    SteadyTyping typing;
    for (uint64_t n = 1; n <= total; ++n) {
      engine::VersionVector before = writer.version();
      Patch patch = typing.Next(writer);
      if (patch.del > 0) (void)writer.Remove(patch.pos, patch.del, nullptr);
      if (!patch.text.empty()) (void)writer.Insert(patch.pos, patch.text, nullptr);
      std::string update = writer.EncodeOpsSince(before);
      for (size_t i = 1; i < docs.size(); ++i) {
        if (!docs[i]->ApplyUpdate(update).ok()) return state.SkipWithError("update refused");
      }
      if (n == rate) {
        rss_1s = RssKb();
        malloc_1s = HeapInUseKb();
        heap_1s = writer.HeapBytes();
      }
    }
    rss_end = RssKb();
    malloc_end = HeapInUseKb();
    heap_end = writer.HeapBytes();
  }
  state.counters["rss_1s_kb"] = static_cast<double>(rss_1s);
  state.counters["rss_end_kb"] = static_cast<double>(rss_end);
  state.counters["malloc_1s_kb"] = static_cast<double>(malloc_1s);
  state.counters["malloc_end_kb"] = static_cast<double>(malloc_end);
  state.counters["doc_heap_1s_kb"] = static_cast<double>(heap_1s) / 1024;
  state.counters["doc_heap_end_kb"] = static_cast<double>(heap_end) / 1024;
  state.SetItemsProcessed(static_cast<int64_t>(total));
}
BENCHMARK(BM_LiveSteadyReplicasOnly)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--live_seconds=", 0) == 0) {
      g_live_seconds = std::strtod(a.c_str() + 15, nullptr);
    } else {
      args.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
