// `weft demo`: three nodes in a line, writers typing into one document on
// different nodes, a node killed with SIGKILL and restarted, another cut off
// by a network partition, and at the end a check that every replica holds
// the same text.
//
//   writer ─► node A ◄──── node B ◄── proxy ◄── node C ◄─ writer
//                 ▲           ▲     (partition)            ▲
//               writer      writer                     observer
//
// Nodes are child processes of this program (`weft node`), so a SIGKILL is
// real; the proxy between B and C lives here and cuts the link on demand.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "commands.h"
#include "demo_writer.h"
#include "flags.h"
#include "weft/engine/doc.h"
#include "weft/engine/trace.h"
#include "weft/transport/client.h"

extern char** environ;

namespace weft::demo {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kDoc = "demo";

// ---- Child nodes --------------------------------------------------------------

// A free port below the kernel's ephemeral range (32768 and up): a port the
// kernel hands out itself could be taken as some connection's source port
// while its node is down, and the node could not rebind it after a restart.
uint16_t FreePort() {
  std::mt19937 rng(std::random_device{}());
  for (int attempt = 0; attempt < 200; ++attempt) {
    auto port = static_cast<uint16_t>(20000 + rng() % 10000);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    if (ok) return port;
  }
  return 0;
}

class NodeProcess {
 public:
  NodeProcess(std::string name, fs::path dir, std::vector<std::string> peers)
      : name_(std::move(name)), dir_(std::move(dir)), peers_(std::move(peers)) {}
  ~NodeProcess() { Kill(); }

  // Starts `weft node` on a port of its own (kept for restarts).
  bool Start() {
    if (port_ == 0) port_ = FreePort();
    std::vector<std::string> args = {"weft",
                                     "node",
                                     "--listen",
                                     "127.0.0.1:" + std::to_string(port_),
                                     "--data",
                                     (dir_ / name_).string(),
                                     "--stats-ms",
                                     "250",
                                     "--heartbeat-ms",
                                     "200",
                                     "--peer-timeout-ms",
                                     "1500"};
    for (const std::string& p : peers_) {
      args.push_back("--peer");
      args.push_back(p);
    }
    log_ = dir_ / (name_ + ".log");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    log_offset_ = fs::exists(log_) ? fs::file_size(log_) : 0;
    int rc = posix_spawn(&pid_, "/proc/self/exe", &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return false;
    // Its port, from the "listening on" line this start writes.
    for (int i = 0; i < 1000; ++i) {
      std::string text = NewLog();
      size_t at = text.find("listening on 127.0.0.1:");
      if (at != std::string::npos) {
        port_ = static_cast<uint16_t>(std::atoi(text.c_str() + at + 23));
        return port_ != 0;
      }
      poll(nullptr, 0, 10);  // the log is a file: poll it
    }
    return false;
  }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // SIGTERM and wait: a clean stop (flush, snapshots).
  bool Stop() {
    if (pid_ <= 0) return true;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

  // The newest "stats ..." line of this run of the node.
  std::string LastStats() const {
    std::string text = NewLog();
    size_t at = text.rfind("stats ");
    if (at == std::string::npos) return "";
    size_t end = text.find('\n', at);
    return text.substr(at + 6, end == std::string::npos ? std::string::npos : end - at - 6);
  }

  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }
  const std::string& name() const { return name_; }
  bool running() const { return pid_ > 0; }

 private:
  std::string NewLog() const {
    std::ifstream in(log_);
    in.seekg(static_cast<std::streamoff>(log_offset_));
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  std::string name_;
  fs::path dir_;
  std::vector<std::string> peers_;
  fs::path log_;
  uint64_t log_offset_ = 0;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// ---- A TCP proxy that can partition the network ---------------------------------

class Proxy {
 public:
  explicit Proxy(uint16_t target) : target_(target) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(listener_, 16);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~Proxy() {
    stop_ = true;
    thread_.join();
    for (auto& [a, b] : pairs_) Close(a, b);
    close(listener_);
  }
  uint16_t port() const { return port_; }
  // While partitioned, every link is cut and new ones are refused.
  void SetPartitioned(bool on) { partitioned_ = on; }

 private:
  void Close(int a, int b) {
    close(a);
    close(b);
  }

  void Loop() {
    while (!stop_) {
      std::vector<pollfd> fds = {{listener_, POLLIN, 0}};
      for (auto& [a, b] : pairs_) {
        fds.push_back({a, POLLIN, 0});
        fds.push_back({b, POLLIN, 0});
      }
      if (poll(fds.data(), fds.size(), 50) < 0) continue;
      if (partitioned_) {
        for (auto& [a, b] : pairs_) Close(a, b);
        pairs_.clear();
      } else {
        // Only the pairs that were polled (fds has their slots).
        std::vector<std::pair<int, int>> keep;
        for (size_t i = 0; i < pairs_.size(); ++i) {
          auto [a, b] = pairs_[i];
          if (Pump(fds[1 + 2 * i], a, b) && Pump(fds[2 + 2 * i], b, a)) {
            keep.emplace_back(a, b);
          } else {
            Close(a, b);
          }
        }
        pairs_ = std::move(keep);
      }
      if (fds[0].revents & POLLIN) Accept();
    }
  }

  void Accept() {
    int in = accept(listener_, nullptr, nullptr);
    if (in < 0) return;
    if (partitioned_) {
      close(in);
      return;
    }
    int out = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in t{};
    t.sin_family = AF_INET;
    t.sin_port = htons(target_);
    t.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(out, reinterpret_cast<sockaddr*>(&t), sizeof t) != 0) {
      Close(in, out);
    } else {
      pairs_.emplace_back(in, out);
    }
  }

  static bool Pump(const pollfd& p, int from, int to) {
    if (p.revents & (POLLHUP | POLLERR)) return false;
    if (!(p.revents & POLLIN)) return true;
    char buf[65536];
    ssize_t n = recv(from, buf, sizeof buf, 0);
    if (n <= 0) return false;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = send(to, buf + done, static_cast<size_t>(n - done), MSG_NOSIGNAL);
      if (w <= 0) return false;
      done += w;
    }
    return true;
  }

  uint16_t target_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::vector<std::pair<int, int>> pairs_;
  std::atomic<bool> partitioned_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Realistic typing: words a letter at a time, typos fixed with backspace,
// cursor jumps, the odd paste.
void TypeLikeAPerson(Writer& w, std::mt19937& rng, uint64_t& cursor) {
  static const char* kWords[] = {"weft", "replica", "merge", "cursor", "the",
                                 "and",  "text",    "ring",  "slot",   "node",
                                 "sync", "edit",    "of",    "a",      "durable"};
  const engine::Doc& d = w.doc();
  cursor = std::min<uint64_t>(cursor, d.size());
  int roll = static_cast<int>(rng() % 100);
  if (roll < 8 && d.size() > 0) {
    cursor = rng() % (d.size() + 1);  // a click elsewhere
    return;
  }
  if (roll < 10) {
    std::string paste = "Pasted: the quick brown fox jumps over the lazy dog. ";
    w.Edit([&](engine::Doc& doc) { (void)doc.Insert(cursor, paste, nullptr); });
    cursor += paste.size();
    return;
  }
  std::string word = kWords[rng() % std::size(kWords)];
  word += rng() % 6 == 0 ? ". " : " ";
  for (char c : word) {
    w.Edit([&](engine::Doc& doc) { (void)doc.Insert(cursor, std::string(1, c), nullptr); });
    ++cursor;
  }
  if (rng() % 10 == 0 && cursor >= 2) {  // a typo: backspace twice
    for (int i = 0; i < 2; ++i) {
      w.Edit([&](engine::Doc& doc) { (void)doc.Remove(cursor - 1, 1, nullptr); });
      --cursor;
    }
  }
}

std::string Hash(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (char c : text) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, h);
  return buf;
}

// The document as a node has it (a fresh replica synced from it).
Replica ReplicaOn(const std::string& addr) {
  Replica out;
  transport::ClientOptions o;
  Result<transport::HostPort> hp = transport::ParseHostPort(addr);
  if (!hp.ok()) return out;
  o.server = *hp;
  o.timeout = milliseconds(10000);
  Result<std::unique_ptr<transport::Client>> c = transport::Client::Connect(o);
  if (!c.ok()) {
    out.text = "(unreachable: " + c.status().ToString() + ")";
    return out;
  }
  engine::Doc replica(0x7fff);
  if (Status s = (*c)->Subscribe(kDoc, &replica); !s.ok()) {
    out.text = "(no catch-up: " + s.ToString() + ")";
    return out;
  }
  out.ok = true;
  out.text = replica.Text();
  out.version = replica.version();
  out.pending = replica.pending_ops();
  return out;
}

}  // namespace

int RunDemo(int argc, char** argv) {
  std::string trace_path;
  uint64_t seconds = 20, writers_count = 3;
  FlagParser flags("demo",
                   "[--seconds N] [--writers N] [--trace FILE]\n"
                   "Starts three nodes on loopback (A-B-C), has writers type into one document\n"
                   "on different nodes, kills node A with SIGKILL and restarts it midway, cuts\n"
                   "B-C with a partition for a few seconds, and checks at the end that every\n"
                   "replica converged. --trace replays a real sequential or concurrent trace\n"
                   "instead of the built-in typists and checks the result against it.");
  flags.String("trace", &trace_path);
  flags.Uint("seconds", &seconds);
  flags.Uint("writers", &writers_count);
  if (std::optional<int> exit = flags.Parse(argc, argv)) return *exit;
  if (seconds == 0 || writers_count == 0 || writers_count > 16) {
    return flags.Error("--seconds must be at least 1 and --writers 1..16");
  }
  std::optional<engine::Trace> trace;
  if (!trace_path.empty()) {
    Result<engine::Trace> t = engine::LoadTrace(trace_path);
    if (!t.ok()) return flags.Error(t.status().ToString());
    trace = std::move(*t);
  }

  Clock::time_point start = Clock::now();
  fs::path dir = fs::temp_directory_path() / ("weft-demo-" + std::to_string(getpid()));
  fs::create_directories(dir);
  bool tty = isatty(STDOUT_FILENO) != 0;

  // Three nodes in a line; C reaches B through the partitionable proxy.
  NodeProcess a("A", dir, {});
  if (!a.Start()) return std::fprintf(stderr, "weft demo: node A did not start\n"), 1;
  NodeProcess b("B", dir, {a.addr()});
  if (!b.Start()) return std::fprintf(stderr, "weft demo: node B did not start\n"), 1;
  Proxy proxy(b.port());
  NodeProcess c("C", dir, {"127.0.0.1:" + std::to_string(proxy.port())});
  if (!c.Start()) return std::fprintf(stderr, "weft demo: node C did not start\n"), 1;
  std::vector<NodeProcess*> nodes = {&a, &b, &c};
  std::printf("weft demo: nodes A %s, B %s, C %s (C reaches B through a proxy); data in %s\n",
              a.addr().c_str(), b.addr().c_str(), c.addr().c_str(), dir.c_str());

  // Writers, spread over the nodes, each on a thread of its own.
  Latency latency;
  std::vector<std::unique_ptr<Writer>> writers;
  size_t count = trace ? (trace->concurrent ? trace->num_agents : 1) : writers_count;
  std::vector<uint64_t> trace_agents;
  if (trace && trace->concurrent) {
    for (uint32_t k = 0; k < trace->num_agents; ++k)
      trace_agents.push_back(engine::TraceAgentId(k));
  }
  for (size_t i = 0; i < count; ++i) {
    NodeProcess* home = nodes[i % nodes.size()];
    writers.push_back(std::make_unique<Writer>(
        1000 + i, kDoc, [home] { return home->addr(); }, &latency, trace_agents));
    if (!writers.back()->Connect()) return std::fprintf(stderr, "weft demo: writer failed\n"), 1;
  }
  std::printf("%zu writer(s) typing into '%s' for %" PRIu64 " s%s\n", writers.size(), kDoc, seconds,
              trace ? (" from " + trace_path).c_str() : "");

  std::atomic<uint64_t> edits{0};
  std::atomic<bool> typing_over{false};  // the typists' time is up
  std::atomic<bool> streamed{false};     // a concurrent trace was handed out in full
  std::thread streamer;
  if (!trace) {
    for (auto& writer : writers) {
      writer->Start([&](Writer& w) {
        std::mt19937 rng(static_cast<uint32_t>(w.agent()));
        uint64_t cursor = 0;
        auto next = Clock::now();
        while (!typing_over.load() && !w.stopping()) {
          TypeLikeAPerson(w, rng, cursor);
          edits.fetch_add(1, std::memory_order_relaxed);
          next += milliseconds(20 + rng() % 30);  // a fast typist
          w.WaitUntil(next);
        }
      });
    }
  } else if (!trace->concurrent) {
    writers[0]->Start([&](Writer& w) {
      for (const engine::TraceTxn& txn : trace->txns) {
        for (const engine::TracePatch& p : txn.patches) {
          if (w.stopping()) return;
          w.Edit([&](engine::Doc& d) {
            if (p.del > 0) (void)d.Remove(p.pos, p.del, nullptr);
            if (!p.text.empty()) (void)d.Insert(p.pos, p.text, nullptr);
          });
          edits.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  } else {
    // The writers send what the streamer hands them; their work is over
    // once the whole trace is handed out.
    for (auto& writer : writers) {
      writer->Start([&](Writer& w) {
        while (!streamed.load() && !w.stopping()) w.WaitUntil(Clock::now() + milliseconds(50));
      });
    }
    // The trace replayed offline into one merged replica, whose history
    // then streams out in causal order: runs of up to 32 ops of one author,
    // each through the next writer in turn, spread over most of the run so
    // the crash and the partition hit it midway.
    streamer = std::thread([&] {
      std::vector<engine::Doc> replicas;
      if (Status s = engine::ReplayConcurrent(*trace, replicas); !s.ok()) {
        std::fprintf(stderr, "weft demo: replaying the trace: %s\n", s.ToString().c_str());
      } else {
        const engine::Doc& all = replicas[0];
        Result<engine::Ops> ops = engine::Doc::DecodeUpdate(all.EncodeOpsSince({}));
        size_t n = ops.ok() ? ops->size() : 0;
        auto span = std::chrono::duration<double>(static_cast<double>(seconds) * 0.7);
        Clock::time_point from = Clock::now();
        engine::VersionVector since;
        size_t batch = 0;
        for (size_t i = 0; i < n && !typing_over.load();) {
          TraceBatch b;
          b.agent = (*ops)[i].id.agent;
          engine::VersionVector until = since;
          size_t j = i;
          for (; j < n && j < i + 32 && (*ops)[j].id.agent == b.agent; ++j) {
            b.end = (*ops)[j].id.seq + (*ops)[j].len;
          }
          until.Set(b.agent, b.end);
          b.update = all.EncodeOpsSince(since, &until);
          writers[batch++ % writers.size()]->Send(std::move(b));
          edits.fetch_add(j - i, std::memory_order_relaxed);
          since = std::move(until);
          i = j;
          std::this_thread::sleep_until(
              from + std::chrono::duration_cast<Clock::duration>(
                         span * (static_cast<double>(i) / static_cast<double>(n))));
        }
      }
      streamed = true;
    });
  }

  // The script: kill A a third of the way in, partition C a bit later.
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  double t_kill = static_cast<double>(seconds) / 3,
         t_partition = static_cast<double>(seconds) * 0.6;
  bool killed = false, restarted = false, partitioned = false, healed = false;
  int lines = 0;
  auto say = [&](const std::string& what) {
    std::printf("%s%5.1fs  %s\n", tty ? "\x1b[2K" : "", elapsed(), what.c_str());
    lines = 0;
  };
  auto status = [&](bool final_line) {
    if (tty && lines > 0) std::printf("\x1b[%dA", lines);
    lines = 0;
    for (NodeProcess* n : nodes) {
      const char* state = !n->running()                       ? "killed "
                          : n == &c && partitioned && !healed ? "cut off"
                                                              : "up     ";
      std::printf("%s  node %s %s %s\n", tty ? "\x1b[2K" : "", n->name().c_str(), state,
                  n->running() ? n->LastStats().c_str() : "");
      ++lines;
    }
    if (!tty || final_line) lines = 0;
    std::fflush(stdout);
  };
  double last_print = -1;
  while (true) {
    double t = elapsed();
    if (!killed && t >= t_kill) {
      a.Kill();
      killed = true;
      say("SIGKILL node A");
    }
    if (killed && !restarted && t >= t_kill + 1.5) {
      restarted = a.Start();
      say(restarted ? "node A restarted on its port, recovering its data directory"
                    : "node A failed to restart");
      if (!restarted) break;
    }
    if (!partitioned && t >= t_partition) {
      proxy.SetPartitioned(true);
      partitioned = true;
      say("network partition between B and C");
    }
    if (partitioned && !healed && t >= t_partition + 3) {
      proxy.SetPartitioned(false);
      healed = true;
      say("partition healed");
    }
    if (t - last_print >= (tty ? 0.25 : 2.0)) {
      status(false);
      last_print = t;
    }
    bool script_done = restarted && healed;
    if (!trace && script_done && t >= static_cast<double>(seconds)) break;
    // A trace's writers are idle once everything is typed or handed out.
    if (trace && script_done &&
        std::all_of(writers.begin(), writers.end(), [](auto& w) { return w->idle(); })) {
      break;
    }
    poll(nullptr, 0, 50);  // the script's clock
  }
  typing_over = true;
  if (streamer.joinable()) streamer.join();

  // Converge: every node and every writer's replica must hold one version
  // and one text, with nothing left in any writer's Pending. The writers'
  // versions together cover every op typed or handed out, so a node that
  // lost one cannot pass (its writer resends it when it reconnects).
  std::printf("writing done after %.1fs (%" PRIu64 " edits); waiting for the replicas to agree\n",
              elapsed(), edits.load());
  std::vector<Replica> on_nodes(nodes.size());
  bool converged = false;
  // Links come back with exponential backoff (up to 5 s) and a sanitizer
  // build on a busy machine is slow: allow plenty of time.
  Clock::time_point converge_deadline = Clock::now() + std::chrono::seconds(120);
  while (!converged && Clock::now() < converge_deadline) {
    for (size_t i = 0; i < nodes.size(); ++i) on_nodes[i] = ReplicaOn(nodes[i]->addr());
    converged = std::all_of(on_nodes.begin(), on_nodes.end(),
                            [&](const Replica& r) { return r.ok && r.AgreesWith(on_nodes[0]); });
    for (auto& w : writers) {
      Replica r = w->State();
      converged = converged && r.AgreesWith(on_nodes[0]) && r.pending == 0;
    }
    if (!converged) poll(nullptr, 0, 100);
  }
  std::vector<std::string> texts;
  for (const Replica& r : on_nodes) texts.push_back(r.text);
  status(true);
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::printf("  node %s: %zu bytes, hash %s\n", nodes[i]->name().c_str(), texts[i].size(),
                Hash(texts[i]).c_str());
  }
  bool matches_trace = !trace || texts[0] == trace->end_content;
  auto [p50, p99] = latency.P50P99();
  std::printf("edit-to-remote latency p50 %.1f ms, p99 %.1f ms; writer reconnects %d\n", p50, p99,
              [&] {
                int r = 0;
                for (auto& w : writers) r += w->reconnects();
                return r;
              }());
  for (auto& w : writers) w->Stop();
  for (NodeProcess* n : nodes) n->Stop();
  double total = elapsed();
  if (converged && matches_trace) {
    fs::remove_all(dir);
    std::printf(
        "converged: 3 nodes and %zu writers hold the same %zu bytes (hash %s)%s in %.1f s\n",
        writers.size(), texts[0].size(), Hash(texts[0]).c_str(),
        trace ? ", equal to the trace's endContent" : "", total);
    return 0;
  }
  for (auto& w : writers) {
    Replica r = w->State();
    std::printf("  writer %" PRIu64 ": %zu bytes, hash %s, %zu op(s) pending\n", w->agent(),
                r.text.size(), Hash(r.text).c_str(), r.pending);
  }
  std::printf("NOT converged%s after %.1f s (node logs and data kept in %s)\n",
              converged ? " with the trace's endContent" : "", total, dir.c_str());
  return 1;
}

}  // namespace weft::demo
