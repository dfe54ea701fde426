// `weft node`: runs a node until SIGINT/SIGTERM.
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>

#include "commands.h"
#include "flags.h"
#include "weft/transport/auth.h"
#include "weft/transport/node.h"

namespace weft::demo {
namespace {

// The node id lives in the data directory, so a restarted node is the same
// node to its peers.
Result<uint64_t> LoadOrCreateNodeId(const std::string& dir) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::IoError("cannot create " + dir + ": " + std::strerror(errno));
  }
  std::string path = dir + "/node-id";
  uint64_t id = 0;
  if (std::ifstream in(path); in >> std::hex >> id && id != 0) return id;
  std::random_device rd;
  while (id == 0) id = (uint64_t{rd()} << 32) | rd();
  std::ofstream out(path);
  out << std::hex << id << "\n";
  if (!out) return Status::IoError("cannot write " + path);
  return id;
}

// Where the page and the WebAssembly are: the build's web/site beside this
// program (build/<preset>/demo/weft), else an installed share/weft/web.
std::string DefaultWebRoot() {
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  for (const char* rel : {"../web/site", "../share/weft/web"}) {
    std::filesystem::path p = exe.parent_path() / rel;
    if (std::filesystem::exists(p / "index.html", ec)) return p.lexically_normal().string();
  }
  return {};
}

void LogLine(const std::string& line) {
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%H:%M:%S", std::localtime(&now));
  std::fprintf(stderr, "%s %s\n", stamp, line.c_str());
  std::fflush(stderr);
}

}  // namespace

int RunNode(int argc, char** argv) {
  std::string listen, data, secret_file, fsync = "batch", http, web_root = DefaultWebRoot();
  std::vector<std::string> peers;
  uint64_t workers = 1, heartbeat_ms = 1000, timeout_ms = 5000, snapshot_every = 5000, stats_ms = 0;
  FlagParser flags("node",
                   "--listen HOST:PORT [--peer HOST:PORT]... --data DIR [--secret-file FILE]\n"
                   "       [--workers N] [--fsync always|batch|off] [--snapshot-every BATCHES]\n"
                   "       [--heartbeat-ms MS] [--peer-timeout-ms MS] [--stats-ms MS]\n"
                   "       [--http HOST:PORT [--web-root DIR]]\n"
                   "Hosts documents, syncs them with every connected peer, relays ops between\n"
                   "peers, keeps every accepted op in an op log under DIR (acknowledged once\n"
                   "durable), recovers it at start; stops cleanly on SIGINT or SIGTERM.\n"
                   "--http also serves the browser editor (/?doc=NAME), a WebSocket endpoint\n"
                   "for browsers (/weft), /healthz and /metrics; the page and the engine's\n"
                   "WebAssembly come from --web-root (default: the build's web/site).");
  flags.String("listen", &listen, true);
  flags.Strings("peer", &peers);
  flags.String("data", &data, true);
  flags.String("secret-file", &secret_file);
  flags.Uint("workers", &workers);
  flags.String("fsync", &fsync);
  flags.Uint("snapshot-every", &snapshot_every);
  flags.Uint("heartbeat-ms", &heartbeat_ms);
  flags.Uint("peer-timeout-ms", &timeout_ms);
  flags.Uint("stats-ms", &stats_ms);
  flags.String("http", &http);
  flags.String("web-root", &web_root);
  if (std::optional<int> exit = flags.Parse(argc, argv)) return *exit;

  transport::NodeOptions o;
  Result<transport::HostPort> l = transport::ParseHostPort(listen);
  if (!l.ok()) return flags.Error(l.status().ToString());
  o.listen = *l;
  for (const std::string& p : peers) {
    Result<transport::HostPort> hp = transport::ParseHostPort(p);
    if (!hp.ok()) return flags.Error(hp.status().ToString());
    o.peers.push_back(*hp);
  }
  if (!secret_file.empty()) {
    Result<std::string> s = transport::LoadSecretFile(secret_file);
    if (!s.ok()) return flags.Error(s.status().ToString());
    o.secret = *s;
  }
  if (workers == 0 || workers > 64) return flags.Error("--workers must be 1..64");
  o.workers = static_cast<uint32_t>(workers);
  o.heartbeat = std::chrono::milliseconds(heartbeat_ms);
  o.peer_timeout = std::chrono::milliseconds(timeout_ms);
  o.stats_interval = std::chrono::milliseconds(stats_ms);
  o.data_dir = data;
  if (!http.empty()) {
    Result<transport::HostPort> hp = transport::ParseHostPort(http);
    if (!hp.ok()) return flags.Error(hp.status().ToString());
    o.http = *hp;
    o.web_root = web_root;
  }
  Result<persist::FsyncPolicy> policy = persist::ParseFsyncPolicy(fsync);
  if (!policy.ok()) return flags.Error(policy.status().ToString());
  o.fsync = *policy;
  if (snapshot_every == 0) return flags.Error("--snapshot-every must be at least 1");
  o.snapshot_every = snapshot_every;
  Result<uint64_t> id = LoadOrCreateNodeId(data);
  if (!id.ok()) return flags.Error(id.status().ToString());
  o.node_id = *id;
  o.log = LogLine;

  Result<std::unique_ptr<transport::Node>> node = transport::Node::Create(std::move(o));
  if (!node.ok()) {
    std::fprintf(stderr, "weft node: %s\n", node.status().ToString().c_str());
    return node.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  Status s = (*node)->Run();
  if (!s.ok()) {
    std::fprintf(stderr, "weft node: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace weft::demo
