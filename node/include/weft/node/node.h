// Node: a weft peer that hosts documents, accepts connections, connects to
// other nodes, and keeps every subscriber of a document in sync.
//
//   sockets ──► loop thread ──ingress rings──► merge workers ──egress rings──► persister
//               (frames land in   (one per      (a document     │              (stores ops)
//                pooled slots)     worker)       per worker)    └──► loop thread: relays accepted
//                                                                   ops to subscribers; acks once
//                                                                   the persister has passed them
//
// Threads: Run() runs the loop on the calling thread and starts one thread
// per merge worker and one persister; Stop() may be called from any thread.
//
// Disk trouble (full, failing): the node goes on serving reads and
// catch-ups, refuses new op batches with Error{STORAGE} (and tells authors
// whose batches it could not store the same way), acknowledges nothing that
// is not durable, and resumes by itself once writes succeed again. A node
// started on such a disk does the same (it needs room only for a new log
// segment, which it creates once it can).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weft/node/budget.h"
#include "weft/persist/file_system.h"
#include "weft/persist/op_log.h"
#include "weft/ringbuf/event_allocator.h"
#include "weft/status.h"
#include "weft/transport/address.h"

namespace weft::node {

using transport::HostPort;

struct NodeOptions {
  HostPort listen{"127.0.0.1", 0};  // port 0: an ephemeral port (see Node::port)
  std::vector<HostPort> peers;      // nodes to connect to, reconnecting forever
  // Where the node keeps its op log and snapshots; recovered at Create.
  // Empty: nothing is kept (acks then mean "accepted", not "durable").
  std::string data_dir;
  persist::FsyncPolicy fsync = persist::FsyncPolicy::kBatch;
  uint64_t snapshot_every = 5000;  // accepted batches of a document between snapshots
  uint64_t segment_bytes = 4 << 20;
  persist::FileSystem* fs = nullptr;  // null: the real one (tests inject failures)
  // Credentials (see proto/README.md, "Opening a connection"). Clients
  // prove `secret`; peer nodes (dialed or dialing) prove `node_secret`, and
  // only they may relay: author ops under agents their Hello did not
  // announce. The two must differ. With neither, the node accepts anyone
  // and trusts any peer that says it is a node (and says so in the log);
  // with only `secret`, it takes no peer nodes (so `peers` must be empty).
  std::optional<std::string> secret;
  std::optional<std::string> node_secret;
  uint32_t workers = 1;
  // 0: the id kept in data_dir (DATA/node-id, created on first start), so
  // a restarted node is the same node to its peers; a random one without
  // a data directory.
  uint64_t node_id = 0;
  std::chrono::milliseconds heartbeat{1000};     // ping period
  std::chrono::milliseconds peer_timeout{5000};  // silence before a peer is dropped
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{5000};
  // Bounds on what peers can make the node hold: pools, rings, credits,
  // queues, decoding, documents (budget.h).
  NodeBudget budget;
  bool handle_signals = true;  // SIGINT/SIGTERM stop the node
  // How long a stop waits for a failing disk to take what the node still
  // holds (never acknowledged) before dropping it: a stop takes at most
  // about this plus a second for connections to close.
  std::chrono::milliseconds stop_grace{2000};
  // One line per connect, disconnect (with reason) and completed sync.
  // Default: stderr.
  std::function<void(const std::string&)> log;
  // Every this often, a "stats ..." log line: connections, documents, ops
  // accepted and per second, batches dropped for a full Pending set,
  // batches refused for ops under agents their sender may not author
  // (forged), pool slots in use, bytes persisted, whether storing works.
  // 0: never.
  std::chrono::milliseconds stats_interval{0};
  // Also listen for HTTP here (port 0: ephemeral, see Node::http_port):
  // the editor page and its files from `web_root`, GET /healthz, GET
  // /metrics, and WebSocket clients at /weft that speak the same frames,
  // handshake and auth as TCP ones (transport/src/http_listener.h).
  std::optional<HostPort> http;
  // The directory the page, the JavaScript API and the WebAssembly are
  // served from (read once at Create). Empty: no files, only the routes.
  std::string web_root;
  // Also keep every accepted op batch in Redis (redis://HOST:PORT[/DB]):
  // each is appended to its document's stream under `redis_prefix`
  // (redis/FORMAT.md), and authors are acked only once Redis confirmed
  // it (and data_dir, if set, has it too). While Redis is away acks are
  // held, /healthz says 503, and the node reconnects by itself.
  std::string redis_url;
  std::string redis_prefix = "weft";
  // Compaction with --redis: after this many batches of a document (its
  // own and those followed), the node that wins the document's lease
  // stores a snapshot in Redis and trims the stream up to what it covers,
  // keeping entries younger than redis_trim_min_age (a follower a little
  // behind never loses entries under it). 0: never compact.
  uint64_t redis_compact_every = 5000;
  std::chrono::milliseconds redis_trim_min_age{60000};
};

class Node {
 public:
  // Recovers the data directory, then binds the listening socket. Errors:
  // InvalidArgument for bad options, Unavailable when the address cannot
  // be bound, Corruption (or IoError) when the data cannot be recovered.
  static Result<std::unique_ptr<Node>> Create(NodeOptions options);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // The bound port (useful with port 0).
  uint16_t port() const;
  // The bound HTTP port; 0 without NodeOptions::http.
  uint16_t http_port() const;
  uint64_t node_id() const;

  // Serves until Stop() or a signal: flushes, closes every connection and
  // joins its threads before returning. Call once.
  Status Run();
  // Any thread; returns at once.
  void Stop();

  class Impl;

 private:
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft::node
