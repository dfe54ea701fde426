// `weft node`: runs a node until SIGINT/SIGTERM.
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "commands.h"
#include "flags.h"
#include "weft/node/node.h"
#include "weft/transport/auth.h"

namespace weft::demo {
namespace {

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
  std::string listen, data, secret_file, node_secret_file,
      fsync = "batch", http, web_root = DefaultWebRoot(), redis, redis_prefix = "weft";
  std::vector<std::string> peers;
  uint64_t workers = 1, heartbeat_ms = 1000, timeout_ms = 5000, snapshot_every = 5000, stats_ms = 0,
           redis_compact_every = 5000, evict_idle_ms = 300000, max_resident_docs = 10000,
           max_resident_mib = 1024, max_followed_docs = 10000;
  FlagParser flags("node",
                   "--listen HOST:PORT [--peer HOST:PORT]... --data DIR [--secret-file FILE]\n"
                   "       [--redis redis://HOST:PORT[/DB] [--redis-prefix P]\n"
                   "        [--redis-compact-every BATCHES] [--max-followed-docs N]]\n"
                   "       [--node-secret-file FILE] [--workers N] [--fsync always|batch|off]\n"
                   "       [--snapshot-every BATCHES] [--heartbeat-ms MS] [--peer-timeout-ms MS]\n"
                   "       [--stats-ms MS] [--http HOST:PORT [--web-root DIR]]\n"
                   "       [--evict-idle-ms MS] [--max-resident-docs N] [--max-resident-mib MIB]\n"
                   "Hosts documents, syncs them with every connected peer, relays ops between\n"
                   "peers, keeps every accepted op in an op log under DIR (acknowledged once\n"
                   "durable), recovers it at start; stops cleanly on SIGINT or SIGTERM.\n"
                   "--secret-file: the secret clients (cat, type, edit, load) must prove.\n"
                   "--node-secret-file: the secret peer nodes must prove (this node proves it\n"
                   "  to its --peer nodes); only they may relay other users' ops. It must\n"
                   "  differ from the client secret. With neither file the node accepts anyone\n"
                   "  and trusts any peer that says it is a node; with only --secret-file it\n"
                   "  takes no peer nodes.\n"
                   "--evict-idle-ms: a document unused this long leaves memory (default 300000),\n"
                   "  its state staying on disk (or in Redis without --data); it comes back at\n"
                   "  its next use. At most --max-resident-docs (10000) documents and\n"
                   "  --max-resident-mib (1024) MiB of them stay in memory: past either, the\n"
                   "  least recently used leave first, and clients asking for more are told to\n"
                   "  retry (Error OVERLOADED).\n"
                   "--http also serves the browser editor (/?doc=NAME), a WebSocket endpoint\n"
                   "for browsers (/weft), /healthz and /metrics; the page and the engine's\n"
                   "WebAssembly come from --web-root (default: the build's web/site).\n"
                   "--redis also appends every accepted op batch to its document's Redis\n"
                   "  stream (keys P:{doc}:..., P defaulting to weft; see redis/FORMAT.md) and\n"
                   "  acknowledges a batch only once Redis confirmed it; while Redis is away\n"
                   "  acks are held, /healthz answers 503 and the node reconnects by itself.\n"
                   "  A document is read from Redis (snapshot and stream tail) before it is\n"
                   "  served, then followed. After --redis-compact-every batches of a document\n"
                   "  (default 5000; 0: never) one node, holding its lease, stores a snapshot\n"
                   "  and trims the stream up to it (keeping the last minute's entries).\n"
                   "  It follows at most --max-followed-docs (10000) documents at once; a\n"
                   "  subscription past that is told to retry (Error OVERLOADED).\n"
                   "  --data is optional with --redis. Durable across a Redis crash only with\n"
                   "  appendonly yes and appendfsync always (see README, Many machines).");
  flags.String("listen", &listen, true);
  flags.Strings("peer", &peers);
  flags.String("data", &data);
  flags.String("redis", &redis);
  flags.String("redis-prefix", &redis_prefix);
  flags.Uint("redis-compact-every", &redis_compact_every);
  flags.Uint("max-followed-docs", &max_followed_docs);
  flags.Uint("evict-idle-ms", &evict_idle_ms);
  flags.Uint("max-resident-docs", &max_resident_docs);
  flags.Uint("max-resident-mib", &max_resident_mib);
  flags.String("secret-file", &secret_file);
  flags.String("node-secret-file", &node_secret_file);
  flags.Uint("workers", &workers);
  flags.String("fsync", &fsync);
  flags.Uint("snapshot-every", &snapshot_every);
  flags.Uint("heartbeat-ms", &heartbeat_ms);
  flags.Uint("peer-timeout-ms", &timeout_ms);
  flags.Uint("stats-ms", &stats_ms);
  flags.String("http", &http);
  flags.String("web-root", &web_root);
  if (std::optional<int> exit = flags.Parse(argc, argv)) return *exit;

  node::NodeOptions o;
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
  if (!node_secret_file.empty()) {
    Result<std::string> s = transport::LoadSecretFile(node_secret_file);
    if (!s.ok()) return flags.Error(s.status().ToString());
    o.node_secret = *s;
  }
  if (workers == 0 || workers > 64) return flags.Error("--workers must be 1..64");
  o.workers = static_cast<uint32_t>(workers);
  o.heartbeat = std::chrono::milliseconds(heartbeat_ms);
  o.peer_timeout = std::chrono::milliseconds(timeout_ms);
  o.stats_interval = std::chrono::milliseconds(stats_ms);
  if (data.empty() && redis.empty()) return flags.Error("--data is required without --redis");
  o.data_dir = data;
  o.redis_url = redis;
  o.redis_prefix = redis_prefix;
  o.redis_compact_every = redis_compact_every;
  if (evict_idle_ms == 0 || max_resident_docs == 0 || max_resident_mib == 0 ||
      max_followed_docs == 0) {
    return flags.Error(
        "--evict-idle-ms, --max-resident-docs, --max-resident-mib and --max-followed-docs "
        "must be >= 1");
  }
  o.budget.max_followed_docs = max_followed_docs;
  o.budget.evict_idle = std::chrono::milliseconds(evict_idle_ms);
  o.budget.max_resident_docs = max_resident_docs;
  o.budget.max_resident_bytes = size_t{max_resident_mib} << 20;
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
  o.log = LogLine;

  Result<std::unique_ptr<node::Node>> node = node::Node::Create(std::move(o));
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
