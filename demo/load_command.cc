// `weft load`: a load generator for nodes, in the spirit of redis-benchmark.
// N client connections spread over M documents type R patches/s in all;
// every client is subscribed to its document, so each patch is also timed
// until every other client of that document has applied it.
//
//   this process (one thread)                         the node
//   ┌───────────────────────────────┐
//   │ epoll over every client's fd  │  op batches   ┌──────────────┐
//   │ pacer: patch k due at k/R s,  │──────────────►│ merge, log,  │
//   │   typed by client k mod N     │◄──────────────│ relay, ack   │
//   │ receivers: latency per patch  │ relayed ops,  └──────────────┘
//   └───────────────────────────────┘ acks
#include <sys/epoll.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "commands.h"
#include "connect_flags.h"
#include "flags.h"
#include "weft/engine/doc.h"
#include "weft/transport/client.h"

namespace weft::demo {
namespace {

using Clock = std::chrono::steady_clock;

// Each document is kept near this many code points: clients type at their
// cursor and delete once it is longer, so the run measures steady editing,
// not a document growing without end.
constexpr size_t kSteadyLength = 2000;
// Timers inside each client (closing, retries) run when it is polled; a sweep
// over all clients this often also answers heartbeats from idle ones.
constexpr auto kSweepEvery = std::chrono::milliseconds(100);
// After the last patch: how long to wait for acks and relays to finish.
constexpr auto kDrainFor = std::chrono::seconds(15);

struct Patch {
  uint64_t seq_end;  // the author's next seq after this patch
  Clock::time_point sent;
};

struct LoadClient {
  std::unique_ptr<transport::Client> client;
  std::unique_ptr<engine::Doc> replica;
  uint64_t agent = 0;
  size_t doc = 0;
  size_t cursor = 0;
  std::vector<Patch> sent;
  size_t acked = 0;  // patches of `sent` acknowledged so far
  // Per other client of the same document: how many of its patches this
  // replica has applied (index into that client's `sent`).
  std::vector<size_t> seen;
  bool failed = false;
};

struct Stats {
  uint64_t sent = 0, acked = 0, errors = 0;
  std::vector<float> latency_ms;  // one sample per patch per receiving client
};

// A descriptor per client plus a node's own: ask for what the hard limit
// allows, since 1,000 clients take more than the usual 1,024.
void RaiseDescriptorLimit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

class LoadRun {
 public:
  LoadRun(size_t docs, bool json) : docs_(docs), members_(docs), json_(json) {}

  Status Connect(const transport::ClientOptions& base, size_t clients, const std::string& prefix) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) return Status::IoError("epoll_create1 failed");
    for (size_t i = 0; i < clients; ++i) {
      LoadClient c;
      c.agent = RandomAgent();
      c.doc = i % docs_;
      transport::ClientOptions o = base;
      o.agents = {c.agent};
      o.label = "weft load";
      Result<std::unique_ptr<transport::Client>> client = transport::Client::Connect(o);
      if (!client.ok()) return client.status().WithContext("client " + std::to_string(i));
      c.client = std::move(*client);
      c.replica = std::make_unique<engine::Doc>(c.agent);
      std::string name = prefix + "-" + std::to_string(c.doc);
      if (Status s = c.client->Subscribe(name, c.replica.get()); !s.ok()) {
        return s.WithContext("client " + std::to_string(i) + " subscribing to " + name);
      }
      c.cursor = c.replica->size();
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = i;
      if (epoll_ctl(epoll_, EPOLL_CTL_ADD, c.client->poll_fd(), &ev) != 0) {
        return Status::IoError("epoll_ctl failed");
      }
      members_[c.doc].push_back(i);
      clients_.push_back(std::move(c));
      if (!json_ && (i + 1) % 100 == 0) {
        std::fprintf(stderr, "\rconnected %zu/%zu", i + 1, clients);
      }
    }
    if (!json_) std::fprintf(stderr, "\rconnected %zu clients to %zu documents\n", clients, docs_);
    for (LoadClient& c : clients_) c.seen.assign(members_[c.doc].size(), 0);
    names_.reserve(docs_);
    for (size_t d = 0; d < docs_; ++d) names_.push_back(prefix + "-" + std::to_string(d));
    return Status::Ok();
  }

  void Run(double rate, std::chrono::seconds seconds) {
    Clock::time_point start = Clock::now();
    Clock::time_point end = start + seconds;
    Clock::time_point next_sweep = start + kSweepEvery;
    Clock::time_point next_report = start + std::chrono::seconds(1);
    uint64_t due_total = 0;
    size_t next_client = 0;
    for (;;) {
      Clock::time_point now = Clock::now();
      if (now < end) {
        auto elapsed = std::chrono::duration<double>(now - start).count();
        uint64_t due = static_cast<uint64_t>(elapsed * rate);
        // Type what is due, a bounded number at a time so replies are read in
        // between even when this process falls behind.
        for (int n = 0; due_total < due && n < 64; ++n, ++due_total) {
          Type(next_client);
          next_client = (next_client + 1) % clients_.size();
        }
      } else if (Drained() || now >= end + kDrainFor) {
        break;
      }
      WaitAndPoll(due_total, rate, start, end);
      now = Clock::now();
      if (now >= next_sweep) {
        for (size_t i = 0; i < clients_.size(); ++i) PollClient(i);
        next_sweep = now + kSweepEvery;
      }
      if (now >= next_report) {
        Report(std::chrono::duration<double>(now - start).count());
        next_report += std::chrono::seconds(1);
      }
    }
    elapsed_s_ = std::min(std::chrono::duration<double>(Clock::now() - start).count(),
                          static_cast<double>(seconds.count()));
  }

  int Finish(size_t clients, size_t docs, uint64_t seconds) {
    stats_.acked = 0;
    for (const LoadClient& c : clients_) stats_.acked += c.acked;
    std::vector<float>& l = stats_.latency_ms;
    auto pct = [&](double p) -> double {
      if (l.empty()) return 0;
      size_t k = std::min(l.size() - 1, static_cast<size_t>(p * static_cast<double>(l.size())));
      std::nth_element(l.begin(), l.begin() + static_cast<ptrdiff_t>(k), l.end());
      return l[k];
    };
    double p50 = pct(0.50), p99 = pct(0.99);
    double max = l.empty() ? 0 : *std::max_element(l.begin(), l.end());
    double per_s = elapsed_s_ > 0 ? static_cast<double>(stats_.sent) / elapsed_s_ : 0;
    if (json_) {
      std::printf("{\"clients\":%zu,\"docs\":%zu,\"seconds\":%" PRIu64 ",\"sent\":%" PRIu64
                  ",\"acked\":%" PRIu64 ",\"errors\":%" PRIu64
                  ",\"patches_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
                  clients, docs, seconds, stats_.sent, stats_.acked, stats_.errors, per_s, p50, p99,
                  max);
    } else {
      std::printf("patches sent %" PRIu64 ", acknowledged %" PRIu64 ", errors %" PRIu64 "\n",
                  stats_.sent, stats_.acked, stats_.errors);
      std::printf(
          "%.0f patches/s; edit to remote: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu samples)\n",
          per_s, p50, p99, max, l.size());
    }
    std::fflush(stdout);
    return stats_.errors == 0 && stats_.acked == stats_.sent ? 0 : 1;
  }

  ~LoadRun() {
    if (epoll_ >= 0) close(epoll_);
  }

 private:
  // One patch by client `i`: type a letter at its cursor, or delete the
  // character before it once the document is past its steady length.
  void Type(size_t i) {
    LoadClient& c = clients_[i];
    if (c.failed) return;
    engine::Doc& d = *c.replica;
    // SendOpsSince reads the client's own agent only.
    engine::VersionVector before = d.version(std::span(&c.agent, 1));
    size_t len = d.size();
    if (c.cursor > len || rng_() % 64 == 0) c.cursor = len == 0 ? 0 : rng_() % (len + 1);
    Status s;
    if (len > kSteadyLength && c.cursor > 0) {
      s = d.Remove(c.cursor - 1, 1, nullptr);
      --c.cursor;
    } else {
      char letter[2] = {static_cast<char>('a' + rng_() % 26), 0};
      s = d.Insert(c.cursor, letter, nullptr);
      ++c.cursor;
    }
    if (s.ok()) s = c.client->SendOpsSince(names_[c.doc], d, before);
    if (!s.ok()) return Fail(i, s);
    c.sent.push_back({d.known_seqs(c.agent), Clock::now()});
    ++stats_.sent;
  }

  void WaitAndPoll(uint64_t due_total, double rate, Clock::time_point start,
                   Clock::time_point end) {
    int timeout_ms = 1;
    Clock::time_point now = Clock::now();
    if (now < end) {
      auto next_due =
          start + std::chrono::duration_cast<Clock::duration>(
                      std::chrono::duration<double>(static_cast<double>(due_total) / rate));
      if (next_due <= now) timeout_ms = 0;
    }
    epoll_event events[256];
    int n = epoll_wait(epoll_, events, 256, timeout_ms);
    for (int k = 0; k < n; ++k) PollClient(static_cast<size_t>(events[k].data.u64));
  }

  void PollClient(size_t i) {
    LoadClient& c = clients_[i];
    if (c.failed) return;
    if (Status s = c.client->Poll(); !s.ok()) return Fail(i, s);
    Clock::time_point now = Clock::now();
    uint64_t durable = c.client->acked(names_[c.doc]).Get(c.agent);
    while (c.acked < c.sent.size() && c.sent[c.acked].seq_end <= durable) ++c.acked;
    const std::vector<size_t>& peers = members_[c.doc];
    for (size_t k = 0; k < peers.size(); ++k) {
      if (peers[k] == i) continue;
      const LoadClient& author = clients_[peers[k]];
      uint64_t known = c.replica->known_seqs(author.agent);
      size_t& seen = c.seen[k];
      while (seen < author.sent.size() && author.sent[seen].seq_end <= known) {
        stats_.latency_ms.push_back(static_cast<float>(
            std::chrono::duration<double, std::milli>(now - author.sent[seen].sent).count()));
        ++seen;
      }
    }
  }

  void Fail(size_t i, const Status& s) {
    LoadClient& c = clients_[i];
    c.failed = true;
    ++stats_.errors;
    epoll_ctl(epoll_, EPOLL_CTL_DEL, c.client->poll_fd(), nullptr);
    std::fprintf(stderr, "weft load: client %zu: %s\n", i, s.ToString().c_str());
  }

  // Every live client's patches are acknowledged and applied by every other
  // live client of its document.
  bool Drained() const {
    for (const LoadClient& c : clients_) {
      if (c.failed) continue;
      if (c.acked < c.sent.size()) return false;
      const std::vector<size_t>& peers = members_[c.doc];
      for (size_t k = 0; k < peers.size(); ++k) {
        const LoadClient& author = clients_[peers[k]];
        if (&author != &c && !author.failed && c.seen[k] < author.sent.size()) return false;
      }
    }
    return true;
  }

  void Report(double t) {
    if (json_) return;
    uint64_t acked = 0;
    for (const LoadClient& c : clients_) acked += c.acked;
    std::fprintf(stderr, "%5.0fs  sent %" PRIu64 "  acked %" PRIu64 "  errors %" PRIu64 "\n", t,
                 stats_.sent, acked, stats_.errors);
  }

  size_t docs_;
  std::vector<std::vector<size_t>> members_;  // per document: its clients
  std::vector<std::string> names_;
  std::vector<LoadClient> clients_;
  bool json_;
  int epoll_ = -1;
  std::mt19937_64 rng_{std::random_device{}()};
  Stats stats_;
  double elapsed_s_ = 0;
};

}  // namespace

int RunLoad(int argc, char** argv) {
  std::string connect, secret_file, prefix;
  uint64_t clients = 10, docs = 1, seconds = 10;
  double rate = 1000;
  bool json = false;
  FlagParser flags("load",
                   "--connect HOST:PORT [--secret-file FILE] [--clients N] [--docs M]\n"
                   "       [--rate PATCHES_PER_S] [--seconds S] [--doc-prefix P] [--json]\n"
                   "Opens N client connections spread over M documents (named P-0 .. P-(M-1),\n"
                   "default prefix 'load'), subscribes each to its document and has them type\n"
                   "PATCHES_PER_S patches per second in all for S seconds. Prints progress each\n"
                   "second, then patches sent and acknowledged, errors, patches/s and the\n"
                   "p50/p99/max time from an edit until each other client of its document has\n"
                   "applied it. --json prints one JSON line instead. Exit 0 when every\n"
                   "patch was acknowledged without errors.");
  flags.String("connect", &connect, true);
  flags.String("secret-file", &secret_file);
  flags.Uint("clients", &clients);
  flags.Uint("docs", &docs);
  flags.Double("rate", &rate);
  flags.Uint("seconds", &seconds);
  flags.String("doc-prefix", &prefix);
  flags.Bool("json", &json);
  if (std::optional<int> exit = flags.Parse(argc, argv)) return *exit;
  if (clients == 0 || clients > 100'000) return flags.Error("--clients must be 1..100000");
  if (docs == 0 || docs > clients) return flags.Error("--docs must be 1..clients");
  if (rate <= 0) return flags.Error("--rate must be positive");
  if (seconds == 0 || seconds > 86'400) return flags.Error("--seconds must be 1..86400");
  if (prefix.empty()) prefix = "load";

  ConnectFlags cf{connect, "-", secret_file};
  transport::ClientOptions o;
  if (Status s = cf.Fill(&o); !s.ok()) return flags.Error(s.ToString());
  RaiseDescriptorLimit();
  LoadRun run(docs, json);
  if (Status s = run.Connect(o, clients, prefix); !s.ok()) {
    std::fprintf(stderr, "weft load: %s\n", s.ToString().c_str());
    return 1;
  }
  run.Run(rate, std::chrono::seconds(seconds));
  return run.Finish(clients, docs, seconds);
}

}  // namespace weft::demo
