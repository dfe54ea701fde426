// `weft cat` and `weft type`: client programs that hold their own replica.
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <thread>

#include "commands.h"
#include "connect_flags.h"
#include "flags.h"
#include "weft/engine/doc.h"
#include "weft/engine/trace.h"
#include "weft/transport/auth.h"
#include "weft/transport/client.h"

namespace weft::demo {
namespace {

using Clock = std::chrono::steady_clock;

int Fail(const char* command, const Status& s) {
  std::fprintf(stderr, "weft %s: %s\n", command, s.ToString().c_str());
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

}  // namespace

int RunCat(int argc, char** argv) {
  ConnectFlags cf;
  FlagParser flags("cat",
                   "--connect HOST:PORT --doc NAME [--secret-file FILE]\n"
                   "Syncs a fresh replica of the document from the node and prints its text.");
  cf.Register(flags);
  if (std::optional<int> exit = flags.Parse(argc, argv)) return *exit;
  transport::ClientOptions o;
  if (Status s = cf.Fill(&o); !s.ok()) return flags.Error(s.ToString());
  o.label = "weft cat";
  Result<std::unique_ptr<transport::Client>> client = transport::Client::Connect(o);
  if (!client.ok()) return Fail("cat", client.status());
  engine::Doc replica(RandomAgent());
  if (Status s = (*client)->Subscribe(cf.doc, &replica); !s.ok()) return Fail("cat", s);
  std::string text = replica.Text();
  std::fwrite(text.data(), 1, text.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

int RunType(int argc, char** argv) {
  ConnectFlags cf;
  std::string trace_path;
  uint64_t agent = 0;
  double rate = 0;
  FlagParser flags("type",
                   "--connect HOST:PORT --doc NAME --trace FILE [--agent ID]\n"
                   "       [--rate PATCHES_PER_S] [--secret-file FILE]\n"
                   "Replays a sequential trace's patches as local edits of its own replica and\n"
                   "streams the ops to the node; prints 'acked N' as acknowledgements arrive.");
  cf.Register(flags);
  flags.String("trace", &trace_path, true);
  flags.Uint("agent", &agent);
  flags.Double("rate", &rate);
  if (std::optional<int> exit = flags.Parse(argc, argv)) return *exit;
  transport::ClientOptions o;
  if (Status s = cf.Fill(&o); !s.ok()) return flags.Error(s.ToString());
  Result<engine::Trace> trace = engine::LoadTrace(trace_path);
  if (!trace.ok()) return flags.Error(trace.status().ToString());
  if (trace->concurrent) return flags.Error("weft type replays sequential traces");
  if (agent == 0) agent = RandomAgent();
  o.agents = {agent};
  o.label = "weft type";
  Result<std::unique_ptr<transport::Client>> client = transport::Client::Connect(o);
  if (!client.ok()) return Fail("type", client.status());
  transport::Client& c = **client;

  // The typist's own replica: it never merges others' edits, so the trace's
  // positions stay relative to its own text.
  engine::Doc replica(agent);
  std::vector<uint64_t> patch_end;  // per patch: the agent's next seq after it
  patch_end.reserve(trace->patches);
  uint64_t acked = 0;
  auto report_acks = [&] {
    uint64_t durable = c.acked(cf.doc).Get(agent);
    uint64_t n = acked;
    while (n < patch_end.size() && patch_end[n] <= durable) ++n;
    if (n > acked) {
      acked = n;
      std::printf("acked %" PRIu64 "\n", acked);
      std::fflush(stdout);
    }
  };

  Clock::time_point start = Clock::now();
  uint64_t sent = 0;
  for (const engine::TraceTxn& txn : trace->txns) {
    // SendOpsSince reads the writer's own agent only.
    engine::VersionVector before = replica.version(o.agents);
    for (const engine::TracePatch& p : txn.patches) {
      if (p.del > 0) {
        if (Status s = replica.Remove(p.pos, p.del, nullptr); !s.ok()) return Fail("type", s);
      }
      if (!p.text.empty()) {
        if (Status s = replica.Insert(p.pos, p.text, nullptr); !s.ok()) return Fail("type", s);
      }
      patch_end.push_back(replica.known_seqs(agent));
      ++sent;
    }
    if (Status s = c.SendOpsSince(cf.doc, replica, before); !s.ok()) return Fail("type", s);
    if (Status s = c.Poll(); !s.ok()) return Fail("type", s);
    report_acks();
    if (rate > 0) {
      // Pace to the requested rate; keep serving the connection meanwhile.
      auto due = start + std::chrono::duration<double>(static_cast<double>(sent) / rate);
      while (Clock::now() < due) {
        Status s = c.RunUntil([] { return false; }, std::chrono::milliseconds(1));
        if (!s.ok() && !c.connected()) return Fail("type", s);
        report_acks();
      }
    }
  }
  uint64_t final_seq = replica.known_seqs(agent);
  Status s = c.RunUntil(
      [&] {
        report_acks();
        return c.acked(cf.doc).Get(agent) >= final_seq;
      },
      std::chrono::seconds(60));
  if (!s.ok()) return Fail("type", s);
  report_acks();
  return 0;
}

}  // namespace weft::demo
