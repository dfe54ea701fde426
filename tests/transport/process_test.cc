// The `weft` program as users run it: real processes, real sockets.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "redis/redis_server.h"
#include "weft.h"
#include "weft/crc32c.h"
#include "weft/engine/trace.h"
#include "weft/transport/client.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// Every wait below is for a condition, with a deadline generous enough for
// an AddressSanitizer build on a two-core machine with another process
// keeping one core busy: only a broken program should ever reach one.
constexpr milliseconds kStartup(60000);   // a node is listening, a tool has exited
constexpr milliseconds kLongRun(300000);  // a demo or a trace typed to the end

std::string TracesDir() {
  const char* env = std::getenv("WEFT_TRACES_DIR");
  return env != nullptr ? env : WEFT_TRACES_DIR;
}

// A child process with its stdout and stderr in files.
class Process {
 public:
  Process(std::vector<std::string> args, const fs::path& out, const fs::path& err)
      : out_(out), err_(err) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(WEFT_BINARY));
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, WEFT_BINARY, &fa, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // Waits for the exit code; -1 if it had to be killed after `timeout`.
  int Wait(milliseconds timeout = kStartup) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        exited_ = true;
        return -1;
      }
      // Polling a child's exit: there is no event to wait on without a
      // SIGCHLD handler, and the test must stay bounded.
      poll(nullptr, 0, 10);
    }
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  void Signal(int sig) { kill(pid_, sig); }
  pid_t pid() const { return pid_; }

  std::string Out() const { return Slurp(out_); }
  std::string Err() const { return Slurp(err_); }

  // Waits until stderr contains `prefix` followed by digits; returns the
  // digits (empty after `timeout`).
  std::string WaitForNumberAfter(const std::string& prefix, milliseconds timeout = kStartup) {
    return WaitForNumberAfterIn(prefix, false, timeout);
  }
  std::string WaitForNumberAfterIn(const std::string& prefix, bool in_stdout,
                                   milliseconds timeout = kStartup) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::string err = in_stdout ? Out() : Err();
      size_t at = err.find(prefix);
      if (at != std::string::npos) {
        size_t begin = at + prefix.size(), end = begin;
        while (end < err.size() && std::isdigit(static_cast<unsigned char>(err[end]))) ++end;
        if (end > begin && end < err.size()) return err.substr(begin, end - begin);
      }
      poll(nullptr, 0, 10);  // the log is a file: poll it
    }
    return "";
  }

 private:
  static std::string Slurp(const fs::path& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  fs::path out_, err_;
  pid_t pid_ = -1;
  bool exited_ = false;
};

class WeftProcesses : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("weft_proc_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    procs_.clear();
    fs::remove_all(dir_);
  }

  Process& Spawn(const std::string& name, std::vector<std::string> args) {
    procs_.push_back(
        std::make_unique<Process>(std::move(args), dir_ / (name + ".out"), dir_ / (name + ".err")));
    return *procs_.back();
  }

  // Starts a node on an ephemeral port; returns "127.0.0.1:PORT".
  std::string StartNode(const std::string& name, std::vector<std::string> peers = {},
                        std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "node",           "--listen", "127.0.0.1:0", "--data", (dir_ / name).string(),
        "--heartbeat-ms", "200"};
    for (const std::string& p : peers) {
      args.push_back("--peer");
      args.push_back(p);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    Process& p = Spawn(name, args);
    std::string port = p.WaitForNumberAfter("listening on 127.0.0.1:");
    EXPECT_FALSE(port.empty()) << p.Err();
    nodes_[name] = &p;
    return "127.0.0.1:" + port;
  }

  std::string Cat(const std::string& addr, const std::string& doc) {
    Process& p = Spawn("cat", {"cat", "--connect", addr, "--doc", doc});
    EXPECT_EQ(p.Wait(), 0) << p.Err();
    return p.Out();
  }

  // `weft cat` of `doc` on every node until all serve one text of `size`
  // bytes (or kLongRun passes); what each served last.
  std::vector<std::string> CatUntilAgreed(const std::vector<std::string>& addrs,
                                          const std::string& doc, size_t size) {
    std::vector<std::string> texts(addrs.size());
    auto deadline = std::chrono::steady_clock::now() + kLongRun;
    while (std::chrono::steady_clock::now() < deadline) {
      for (size_t i = 0; i < addrs.size(); ++i) texts[i] = Cat(addrs[i], doc);
      bool agreed = texts[0].size() == size;
      for (const std::string& t : texts) agreed = agreed && t == texts[0];
      if (agreed) break;
      poll(nullptr, 0, 50);  // between rounds of `weft cat` processes
    }
    return texts;
  }

  fs::path dir_;
  std::vector<std::unique_ptr<Process>> procs_;
  std::map<std::string, Process*> nodes_;
};

TEST_F(WeftProcesses, ConcurrentTypistsOnThreeNodesConverge) {
  std::string a = StartNode("a");
  std::string b = StartNode("b", {a});
  std::string c = StartNode("c", {b});
  std::string svelte = TracesDir() + "/sequential/sveltecomponent.json.gz";
  std::string friends = TracesDir() + "/sequential/friendsforever_flat.json.gz";
  Process& t1 = Spawn(
      "type1", {"type", "--connect", a, "--doc", "shared", "--trace", svelte, "--agent", "11"});
  Process& t2 = Spawn(
      "type2", {"type", "--connect", c, "--doc", "shared", "--trace", friends, "--agent", "22"});
  ASSERT_EQ(t1.Wait(kLongRun), 0) << t1.Err();
  ASSERT_EQ(t2.Wait(kLongRun), 0) << t2.Err();
  EXPECT_NE(t1.Out().find("acked"), std::string::npos);

  weft::Result<weft::engine::Trace> s = weft::engine::LoadTrace(svelte);
  weft::Result<weft::engine::Trace> f = weft::engine::LoadTrace(friends);
  ASSERT_TRUE(s.ok() && f.ok());
  size_t want = s->end_content.size() + f->end_content.size();
  // Each node relays what it accepted; wait until all three agree.
  std::vector<std::string> texts = CatUntilAgreed({a, b, c}, "shared", want);
  EXPECT_EQ(texts[0].size(), want);
  EXPECT_EQ(texts[0], texts[1]);
  EXPECT_EQ(texts[1], texts[2]);
  // Each typist's own text is in there, unbroken by the other's (the two
  // typed at different places of their own texts, never interleaving).
  EXPECT_NE(texts[0].find(s->end_content.substr(0, 200)), std::string::npos);
}

// A node killed with SIGKILL at random moments while a typist streams edits
// never loses an acknowledged patch: after each restart the document is the
// typist's text after some patch count at least the last one acked, the log
// verifies, and the node serves on.
TEST_F(WeftProcesses, KillNineNeverLosesAnAcknowledgedPatch) {
  std::string trace_path = TracesDir() + "/sequential/sveltecomponent.json.gz";
  weft::Result<weft::engine::Trace> trace = weft::engine::LoadTrace(trace_path);
  ASSERT_TRUE(trace.ok());
  std::vector<const weft::engine::TracePatch*> patches;
  for (const auto& txn : trace->txns) {
    for (const auto& p : txn.patches) patches.push_back(&p);
  }
  std::string data = (dir_ / "node").string();
  std::mt19937 rng(2024);
  const int kIterations =
      std::getenv("WEFT_KILL_ITERATIONS") ? std::atoi(std::getenv("WEFT_KILL_ITERATIONS")) : 20;
  for (int iter = 0; iter < kIterations; ++iter) {
    SCOPED_TRACE("iteration " + std::to_string(iter));
    std::string doc = "doc" + std::to_string(iter);
    Process& node =
        Spawn("node" + std::to_string(iter),
              {"node", "--listen", "127.0.0.1:0", "--data", data, "--snapshot-every", "2000"});
    std::string port = node.WaitForNumberAfter("listening on 127.0.0.1:");
    ASSERT_FALSE(port.empty()) << node.Err();
    std::string addr = "127.0.0.1:" + port;
    Process& typist = Spawn("type" + std::to_string(iter),
                            {"type", "--connect", addr, "--doc", doc, "--trace", trace_path,
                             "--agent", std::to_string(1000 + iter), "--rate", "40000"});
    // Kill at a random moment once the typist is under way.
    typist.WaitForNumberAfterIn("acked ", /*in_stdout=*/true);
    poll(nullptr, 0, static_cast<int>(rng() % 300));
    node.Signal(SIGKILL);
    EXPECT_EQ(node.Wait(), 128 + SIGKILL);
    typist.Wait();
    std::string out = typist.Out();
    size_t last = out.rfind("acked ");
    ASSERT_NE(last, std::string::npos) << "the typist never saw an ack";
    uint64_t acked = std::strtoull(out.c_str() + last + 6, nullptr, 10);
    EXPECT_GT(acked, 0u);
    Process& again =
        Spawn("again" + std::to_string(iter), {"node", "--listen", "127.0.0.1:0", "--data", data});
    port = again.WaitForNumberAfter("listening on 127.0.0.1:");
    ASSERT_FALSE(port.empty()) << again.Err();
    std::string text = Cat("127.0.0.1:" + port, doc);
    // The typist's text after k patches, for some k >= acked (ASCII trace:
    // code points are bytes).
    std::string typed;
    bool matched = false;
    for (size_t k = 0; k < patches.size() && !matched; ++k) {
      if (k >= acked && typed == text) matched = true;
      typed.erase(patches[k]->pos, patches[k]->del);
      typed.insert(patches[k]->pos, patches[k]->text);
    }
    matched = matched || typed == text;
    EXPECT_TRUE(matched) << "recovered " << text.size() << " bytes; " << acked
                         << " patches were acknowledged";
    again.Signal(SIGTERM);
    EXPECT_EQ(again.Wait(), 0) << again.Err();
    Process& verify = Spawn("verify" + std::to_string(iter), {"log", "verify", "--data", data});
    EXPECT_EQ(verify.Wait(), 0) << verify.Out();
  }
}

// The demo users meet first: three nodes, a SIGKILL, a partition, and a
// converged document at the end.
TEST_F(WeftProcesses, DemoConvergesThroughACrashAndAPartition) {
  Process& demo = Spawn("demo", {"demo", "--seconds", "5"});
  ASSERT_EQ(demo.Wait(kLongRun), 0) << demo.Out() << demo.Err();
  std::string out = demo.Out();
  EXPECT_NE(out.find("SIGKILL node A"), std::string::npos);
  EXPECT_NE(out.find("partition healed"), std::string::npos);
  EXPECT_NE(out.find("\nconverged: 3 nodes"), std::string::npos) << out;
}

TEST_F(WeftProcesses, DemoReplaysATraceToItsEndContent) {
  Process& demo = Spawn("demo", {"demo", "--seconds", "3", "--trace",
                                 TracesDir() + "/concurrent/friendsforever.json.gz"});
  ASSERT_EQ(demo.Wait(kLongRun), 0) << demo.Out() << demo.Err();
  EXPECT_NE(demo.Out().find("equal to the trace's endContent"), std::string::npos);
}

// A node's data directory replays into the document it served, for
// reproducing a field bug from its log.
TEST_F(WeftProcesses, ReplayRebuildsADocumentFromANodesLog) {
  std::string trace = TracesDir() + "/sequential/sveltecomponent.json.gz";
  std::string node = StartNode("n");
  Process& t = Spawn("type", {"type", "--connect", node, "--doc", "svelte", "--trace", trace});
  ASSERT_EQ(t.Wait(kLongRun), 0) << t.Err();
  nodes_["n"]->Signal(SIGKILL);  // no clean shutdown: the log alone must do
  nodes_["n"]->Wait();
  weft::Result<weft::engine::Trace> tr = weft::engine::LoadTrace(trace);
  ASSERT_TRUE(tr.ok());
  std::string expect = (dir_ / "expect.txt").string();
  std::ofstream(expect, std::ios::binary) << tr->end_content;
  Process& ok = Spawn(
      "replay", {"replay", "--data", (dir_ / "n").string(), "--doc", "svelte", "--expect", expect});
  EXPECT_EQ(ok.Wait(), 0) << ok.Out() << ok.Err();
  std::ofstream(expect, std::ios::binary) << "something else";
  Process& differ = Spawn("replay2", {"replay", "--data", (dir_ / "n").string(), "--doc", "svelte",
                                      "--expect", expect});
  EXPECT_EQ(differ.Wait(), 1);
  EXPECT_NE(differ.Out().find("first differ"), std::string::npos);
}

// weft load: many clients on a few documents; every patch it sends is
// acknowledged and reaches every other client of its document, and the
// JSON line carries the keys scripts read.
TEST_F(WeftProcesses, LoadGeneratorTypesIntoEveryDocument) {
  std::string a = StartNode("a");
  Process& p = Spawn("load", {"load", "--connect", a, "--clients", "20", "--docs", "4", "--rate",
                              "400", "--seconds", "2", "--doc-prefix", "ld", "--json"});
  ASSERT_EQ(p.Wait(kLongRun), 0) << p.Err();
  nlohmann::json j = nlohmann::json::parse(p.Out(), nullptr, false);
  ASSERT_TRUE(j.is_object()) << p.Out();
  for (const char* key : {"clients", "docs", "seconds", "sent", "acked", "errors", "patches_per_s",
                          "p50_ms", "p99_ms", "max_ms"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["clients"], 20);
  EXPECT_EQ(j["docs"], 4);
  EXPECT_GT(j["sent"].get<int>(), 0);
  EXPECT_EQ(j["acked"], j["sent"]);
  EXPECT_EQ(j["errors"], 0);
  EXPECT_LE(j["p50_ms"].get<double>(), j["p99_ms"].get<double>());
  EXPECT_LE(j["p99_ms"].get<double>(), j["max_ms"].get<double>());
  for (int d = 0; d < 4; ++d) EXPECT_FALSE(Cat(a, "ld-" + std::to_string(d)).empty()) << d;
}

// The largest resident set `pid` has had, in kB (VmHWM).
long PeakRssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

// An Update (engine/FORMAT.md) of a few bytes whose compressed text claims
// to decode to 1,000,000,000 bytes, with a valid checksum: what a decoder
// allocating the declared size would pay for in full.
std::string DecompressionBomb() {
  constexpr uint64_t kClaimed = 1'000'000'000;
  auto varint = [](std::string& s, uint64_t v) {
    for (; v >= 0x80; v >>= 7) s.push_back(static_cast<char>(v | 0x80));
    s.push_back(static_cast<char>(v));
  };
  std::string m("\x02\x01", 2);  // format version 2, kind Update
  varint(m, 1);                  // one agent
  m += std::string("\x65\0\0\0\0\0\0\0", 8);
  varint(m, 0);         // its first seq
  varint(m, 1);         // one run
  varint(m, kClaimed);  // text bytes
  m.push_back('\x01');  // compressed text
  m += std::string(16, '\0');
  uint32_t crc = weft::Crc32c(std::as_bytes(std::span(m.data(), m.size())));
  for (int i = 0; i < 4; ++i) m.push_back(static_cast<char>(crc >> (8 * i)));
  return m;
}

// Decompression bombs from 4 authenticated connections, 8 op batches each:
// the node refuses them without ever holding what they claim, and goes on
// serving others.
TEST_F(WeftProcesses, DecompressionBombsLeaveTheNodeSmallAndServing) {
  std::string bomb = DecompressionBomb();
  fs::path secret = dir_ / "secret";
  std::ofstream(secret) << "bomb squad\n";
  std::string a = StartNode("a", {}, {"--secret-file", secret.string()});
  weft::Result<weft::transport::HostPort> addr = weft::transport::ParseHostPort(a);
  ASSERT_TRUE(addr.ok());
  std::vector<std::unique_ptr<weft::transport::Client>> clients;
  for (uint64_t i = 0; i < 4; ++i) {
    weft::transport::ClientOptions o;
    o.server = *addr;
    o.secret = std::string("bomb squad");
    o.agents = {100 + i};
    weft::Result<std::unique_ptr<weft::transport::Client>> c = weft::transport::Client::Connect(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    clients.push_back(std::move(*c));
  }
  for (int round = 0; round < 8; ++round) {
    for (auto& c : clients) (void)c->SendUpdate("boom", bomb);  // fails once refused
  }
  for (auto& c : clients) {
    EXPECT_FALSE(c->RunUntil([] { return false; }, milliseconds(60000)).ok());
    EXPECT_FALSE(c->connected()) << "the node accepted a bomb";
  }
  Process& cat =
      Spawn("cat", {"cat", "--connect", a, "--doc", "other", "--secret-file", secret.string()});
  EXPECT_EQ(cat.Wait(), 0) << cat.Err();
  long peak = PeakRssKb(nodes_["a"]->pid());
  RecordProperty("node_peak_rss_kb", std::to_string(peak));
  EXPECT_GT(peak, 0);
  EXPECT_LE(peak, 200 * 1024) << "peak RSS " << peak << " kB";
}

// The typist's text after each number of patches of `trace` (ASCII: code
// points are bytes): true if `text` is one of them, for some count >= `at_least`.
bool IsTypedPrefix(const weft::engine::Trace& trace, uint64_t at_least, const std::string& text) {
  std::string typed;
  uint64_t k = 0;
  for (const auto& txn : trace.txns) {
    for (const auto& p : txn.patches) {
      if (k >= at_least && typed == text) return true;
      typed.erase(p.pos, p.del);
      typed.insert(p.pos, p.text);
      ++k;
    }
  }
  return k >= at_least && typed == text;
}

// A node whose data directory is on a 2 MiB file system that fills up
// under a typist: the typist is told and exits non-zero (no hang), the
// node serves reads meanwhile, stops promptly on SIGTERM, and after the
// disk grows and a restart holds every patch it acknowledged.
TEST_F(WeftProcesses, DiskFullUnderAWriter) {
  fs::path disk = dir_ / "disk";
  fs::create_directories(disk);
  if (mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=2m") != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs (needs root): " << std::strerror(errno);
  }
  struct Unmount {
    fs::path at;
    ~Unmount() { umount2(at.c_str(), MNT_DETACH); }
  } unmount{disk};
  std::string trace_path = TracesDir() + "/sequential/seph-blog1.json.gz";
  weft::Result<weft::engine::Trace> trace = weft::engine::LoadTrace(trace_path);
  ASSERT_TRUE(trace.ok());
  std::string data = (disk / "n").string();
  Process& node =
      Spawn("node", {"node", "--listen", "127.0.0.1:0", "--data", data, "--heartbeat-ms", "200"});
  std::string port = node.WaitForNumberAfter("listening on 127.0.0.1:");
  ASSERT_FALSE(port.empty()) << node.Err();
  std::string addr = "127.0.0.1:" + port;
  Process& typist = Spawn(
      "type", {"type", "--connect", addr, "--doc", "blog", "--trace", trace_path, "--agent", "7"});
  int typed = typist.Wait(milliseconds(300000));
  EXPECT_NE(typed, -1) << "the typist hung";
  EXPECT_NE(typed, 0) << "the whole trace fit on the disk";
  EXPECT_NE(typist.Err().find("cannot store"), std::string::npos) << typist.Err();
  std::string out = typist.Out();
  size_t last = out.rfind("acked ");
  uint64_t acked =
      last == std::string::npos ? 0 : std::strtoull(out.c_str() + last + 6, nullptr, 10);
  RecordProperty("acked_patches", std::to_string(acked));
  // Reads go on while the disk is full.
  std::string during = Cat(addr, "blog");
  EXPECT_TRUE(IsTypedPrefix(*trace, acked, during)) << during.size() << " bytes";
  auto term = std::chrono::steady_clock::now();
  node.Signal(SIGTERM);
  EXPECT_EQ(node.Wait(milliseconds(10000)), 0) << node.Err();
  double stop_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - term).count();
  RecordProperty("sigterm_to_exit_ms", std::to_string(static_cast<int>(stop_ms)));
  // Space returns (the file system grows); a restart has every acked patch.
  ASSERT_EQ(mount("tmpfs", disk.c_str(), "tmpfs", MS_REMOUNT, "size=64m"), 0)
      << std::strerror(errno);
  Process& again = Spawn("again", {"node", "--listen", "127.0.0.1:0", "--data", data});
  port = again.WaitForNumberAfter("listening on 127.0.0.1:");
  ASSERT_FALSE(port.empty()) << again.Err();
  std::string after = Cat("127.0.0.1:" + port, "blog");
  EXPECT_TRUE(IsTypedPrefix(*trace, acked, after))
      << after.size() << " bytes after the restart; " << acked << " patches were acknowledged";
  again.Signal(SIGTERM);
  EXPECT_EQ(again.Wait(), 0) << again.Err();
}

// Three `weft node --redis` processes and no --peer: writers on nodes 1 and
// 3 type two traces into one document while Redis is SIGKILLed and
// restarted from its append-only file; then node 2 is SIGKILLed and a
// fresh node (empty disk) joins. Every node serves one text holding both
// typists' texts whole, and nothing acknowledged is lost.
TEST_F(WeftProcesses, ThreeNodesOnOneRedisThroughKills) {
  weft::Result<std::unique_ptr<weft::testing::RedisServer>> redis =
      weft::testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status().ToString();
  std::string url = (*redis)->url();
  auto start = [&](const std::string& name) {
    Process& p = Spawn(name, {"node", "--listen", "127.0.0.1:0", "--redis", url, "--heartbeat-ms",
                              "200", "--redis-compact-every", "2000"});
    std::string port = p.WaitForNumberAfter("listening on 127.0.0.1:");
    EXPECT_FALSE(port.empty()) << p.Err();
    nodes_[name] = &p;
    return "127.0.0.1:" + port;
  };
  std::string n1 = start("n1"), n2 = start("n2"), n3 = start("n3");
  std::string svelte = TracesDir() + "/sequential/sveltecomponent.json.gz";
  std::string friends = TracesDir() + "/sequential/friendsforever_flat.json.gz";
  Process& t1 = Spawn("type1", {"type", "--connect", n1, "--doc", "shared", "--trace", svelte,
                                "--agent", "11", "--rate", "5000"});
  Process& t2 = Spawn("type2", {"type", "--connect", n3, "--doc", "shared", "--trace", friends,
                                "--agent", "22", "--rate", "5000"});
  // Redis dies mid-stream and comes back from its AOF; nodes and typists
  // carry on without a restart (acks are held meanwhile).
  ASSERT_FALSE(t1.WaitForNumberAfterIn("acked ", /*in_stdout=*/true).empty()) << t1.Err();
  (*redis)->Kill(SIGKILL);
  ASSERT_TRUE((*redis)->Restart().ok());
  ASSERT_EQ(t1.Wait(kLongRun), 0) << t1.Err();
  ASSERT_EQ(t2.Wait(kLongRun), 0) << t2.Err();

  weft::Result<weft::engine::Trace> s = weft::engine::LoadTrace(svelte);
  weft::Result<weft::engine::Trace> f = weft::engine::LoadTrace(friends);
  ASSERT_TRUE(s.ok() && f.ok());
  size_t want = s->end_content.size() + f->end_content.size();
  std::vector<std::string> texts = CatUntilAgreed({n1, n2, n3}, "shared", want);
  ASSERT_EQ(texts[0].size(), want);
  EXPECT_EQ(texts[0], texts[1]);
  EXPECT_EQ(texts[0], texts[2]);
  EXPECT_NE(texts[0].find(s->end_content), std::string::npos);
  EXPECT_NE(texts[0].find(f->end_content), std::string::npos);

  // A node killed outright, and a fresh one with nothing on disk: it reads
  // the document from Redis and serves the same text.
  nodes_["n2"]->Signal(SIGKILL);
  EXPECT_EQ(nodes_["n2"]->Wait(), 128 + SIGKILL);
  std::string n4 = start("n4");
  texts = CatUntilAgreed({n1, n3, n4}, "shared", want);
  EXPECT_EQ(texts[2], texts[0]);
  EXPECT_EQ(texts[1], texts[0]);
  // Both typists' batches went past --redis-compact-every: a snapshot is
  // stored beside the stream.
  weft::testing::RedisServer::Reply snap = (*redis)->Command({"HGET", "weft:{shared}:snap", "id"});
  EXPECT_TRUE(snap && snap->type == REDIS_REPLY_STRING);
}

TEST_F(WeftProcesses, NodeStopsCleanlyOnSigterm) {
  std::string a = StartNode("a");
  nodes_["a"]->Signal(SIGTERM);
  EXPECT_EQ(nodes_["a"]->Wait(kStartup), 0) << nodes_["a"]->Err();
  EXPECT_NE(nodes_["a"]->Err().find("stopped"), std::string::npos);
}

// Like every command-line tool: the release, and the ABI version of the
// C API that ships with it (what weft.h says, for C users and bindings).
TEST_F(WeftProcesses, VersionPrintsTheReleaseAndTheCApiAbiVersion) {
  const std::string want = std::string("weft ") + WEFT_EXPECTED_VERSION +
                           "\nC API (libweft.so) ABI version " + std::to_string(WEFT_ABI_VERSION) +
                           "\n";
  for (const char* spelling : {"--version", "version"}) {
    SCOPED_TRACE(spelling);
    Process& p = Spawn(std::string("version") + spelling, {spelling});
    EXPECT_EQ(p.Wait(), 0) << p.Err();
    EXPECT_EQ(p.Out(), want);
  }
  Process& help = Spawn("help", {"--help"});
  EXPECT_EQ(help.Wait(), 0);
  EXPECT_NE(help.Out().find("version"), std::string::npos);
}

TEST_F(WeftProcesses, BadArgumentsExitTwo) {
  Process& p = Spawn("bad", {"node", "--listen", "nonsense", "--data", dir_.string()});
  EXPECT_EQ(p.Wait(), 2);
  EXPECT_NE(p.Err().find("weft node:"), std::string::npos);
  Process& q = Spawn("nodoc", {"cat", "--connect", "127.0.0.1:1"});
  EXPECT_EQ(q.Wait(), 2);
}

TEST_F(WeftProcesses, TypeFailsWhenTheNodeIsUnreachable) {
  Process& p = Spawn("type", {"type", "--connect", "127.0.0.1:1", "--doc", "d", "--trace",
                              TracesDir() + "/sequential/sveltecomponent.json.gz"});
  EXPECT_EQ(p.Wait(), 1);
  EXPECT_NE(p.Err().find("weft type:"), std::string::npos);
}

}  // namespace
