// Node benchmarks over loopback, nodes and clients in this process.
//
// Catch-up:   node (holds automerge-paper) ──► fresh client: subscribe, receive, apply
//   baseline: the final text alone, written once over a loopback TCP socket
//
// Live:       writer ──► node A ──► node B ──► node C
//                           │          │          │
//                        (relay)    reader B   reader C   (latency: local edit -> applied)
//
// Run `transport_bench --benchmark_filter=Live --live_seconds=30` for the
// 30-second memory check; the default run is short.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "weft/engine/trace.h"
#include "weft/transport/client.h"
#include "weft/transport/node.h"

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
  explicit BenchNode(transport::NodeOptions o = {}) {
    o.handle_signals = false;
    o.log = [](const std::string& l) {
      if (std::getenv("WEFT_BENCH_LOG")) std::fprintf(stderr, "node: %s\n", l.c_str());
    };
    node_ = std::move(*transport::Node::Create(std::move(o)));
    thread_ = std::thread([this] { (void)node_->Run(); });
  }
  ~BenchNode() {
    node_->Stop();
    thread_.join();
  }
  transport::HostPort addr() const { return {"127.0.0.1", node_->port()}; }

 private:
  std::unique_ptr<transport::Node> node_;
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

// A reader on its own thread: records when each of the writer's seqs arrived.
class LiveReader {
 public:
  LiveReader(const BenchNode& n, uint64_t agent, uint64_t writer,
             std::vector<Clock::time_point>* sent, std::mutex* mu)
      : client_(Connect(n, agent)), doc_(agent), writer_(writer), sent_(sent), mu_(mu) {
    (void)client_->Subscribe("live", &doc_);
    thread_ = std::thread([this] { Loop(); });
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

void BM_Live(benchmark::State& state) {
  const double rate = static_cast<double>(state.range(0));
  Result<engine::Trace> trace =
      engine::LoadTrace(TracesDir() + "/sequential/automerge-paper.json.gz");
  if (!trace.ok()) return state.SkipWithError(trace.status().ToString().c_str());
  BenchNode a;
  transport::NodeOptions ob;
  ob.peers = {a.addr()};
  BenchNode b(ob);
  transport::NodeOptions oc;
  oc.peers = {b.addr()};
  BenchNode c(oc);
  constexpr uint64_t kWriter = 1;
  std::vector<Clock::time_point> sent;  // per writer seq: when it was typed
  sent.reserve(1 << 22);
  std::mutex mu;
  auto writer = Connect(a, kWriter);
  engine::Doc doc(kWriter);
  (void)writer->Subscribe("live", &doc);
  LiveReader rb(b, 2, kWriter, &sent, &mu);
  LiveReader rc(c, 3, kWriter, &sent, &mu);
  // Warm-up: nodes link up (with reconnect backoff) and subscribe to each
  // other in the first moments; measure the steady state, once an edit has
  // gone all the way through. The warm-up text is typed and deleted again,
  // so the trace's positions still start from an empty document.
  {
    engine::VersionVector before = doc.version();
    {
      std::lock_guard<std::mutex> l(mu);
      (void)doc.Insert(0, "warm-up", nullptr);
      (void)doc.Remove(0, 7, nullptr);
      while (sent.size() < doc.known_seqs(kWriter)) sent.push_back(Clock::now());
    }
    (void)writer->SendOpsSince("live", doc, before);
    uint64_t end = doc.known_seqs(kWriter);
    for (int i = 0; i < 2000 && (rb.seen() < end || rc.seen() < end); ++i) {
      (void)writer->RunUntil([] { return false; }, milliseconds(5));
    }
    if (rb.seen() < end || rc.seen() < end) return state.SkipWithError("nodes never linked up");
    rb.ClearLatencies();
    rc.ClearLatencies();
  }
  long rss_start = 0, rss_end = 0;
  uint64_t patches = 0;
  for (auto _ : state) {
    Clock::time_point start = Clock::now();
    size_t t = 0, p = 0;
    while (std::chrono::duration<double>(Clock::now() - start).count() < g_live_seconds) {
      if (t == trace->txns.size()) break;
      const engine::TracePatch& patch = trace->txns[t].patches[p];
      engine::VersionVector before = doc.version();
      {
        std::lock_guard<std::mutex> l(mu);
        if (patch.del > 0) (void)doc.Remove(patch.pos, patch.del, nullptr);
        if (!patch.text.empty()) (void)doc.Insert(patch.pos, patch.text, nullptr);
        Clock::time_point now = Clock::now();
        while (sent.size() < doc.known_seqs(kWriter)) sent.push_back(now);
      }
      (void)writer->SendOpsSince("live", doc, before);
      (void)writer->Poll();
      ++patches;
      if (++p == trace->txns[t].patches.size()) {
        p = 0;
        ++t;
      }
      if (patches == static_cast<uint64_t>(rate)) rss_start = RssKb();  // after one second
      auto due = start + std::chrono::duration<double>(static_cast<double>(patches) / rate);
      while (Clock::now() < due) (void)writer->RunUntil([] { return false; }, milliseconds(1));
    }
    uint64_t end = doc.known_seqs(kWriter);
    auto all_seen = [&] { return rb.seen() >= end && rc.seen() >= end; };
    for (int i = 0; i < 1000 && !all_seen(); ++i)
      (void)writer->RunUntil([] { return false; }, milliseconds(5));
    rss_end = RssKb();
  }
  std::vector<double> lat = rb.latencies_us();
  std::vector<double> lc = rc.latencies_us();
  lat.insert(lat.end(), lc.begin(), lc.end());
  state.counters["patches_per_s"] = static_cast<double>(patches) / g_live_seconds;
  state.counters["p50_us"] = Percentile(lat, 0.50);
  state.counters["p99_us"] = Percentile(lat, 0.99);
  state.counters["max_us"] = lat.empty() ? 0 : *std::max_element(lat.begin(), lat.end());
  state.counters["rss_start_kb"] = static_cast<double>(rss_start);
  state.counters["rss_end_kb"] = static_cast<double>(rss_end);
  state.SetItemsProcessed(static_cast<int64_t>(patches));
}
BENCHMARK(BM_Live)
    ->Arg(1000)
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
