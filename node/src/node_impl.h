// Node::Impl: the loop thread's side of a node, and what it owns: the
// listening socket and connections, the ingress rings' producer end, the
// merge workers and the persister (their threads), the egress rings' loop
// readers, the Redis writer and documents, heartbeats, HTTP and shutdown.
// Its definitions are split by concern:
//   node.cc          start: recovery, the pipeline, Run
//   node_ingress.cc  frames in: connections' messages, control entries,
//                    waiting for slots and ring space (nothing polls)
//   node_egress.cc   what the workers and the persister published: relays,
//                    catch-ups, rejections, credit, acks
//   node_loop.cc     connections, heartbeats, stats, HTTP, signals, stop
// Loop thread only, but for Stop() and what the workers' callbacks call.
#pragma once

#include <uv.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "acks.h"
#include "data_dir.h"
#include "http_listener.h"
#include "ingress.h"
#include "log_limiter.h"
#include "merge_worker.h"
#include "metrics.h"
#include "node_identity.h"
#include "peer_dialer.h"
#include "persister.h"
#include "pipeline.h"
#include "redis_docs.h"
#include "redis_writer.h"
#include "subscriptions.h"
#include "transport_names.h"
#include "weft/node/node.h"

namespace weft::node {

inline ringbuf::RingOptions IngressOptions(const NodeOptions& o) {
  ringbuf::RingOptions r;
  r.capacity = o.budget.ingress_capacity;
  r.max_readers = 1;  // its worker
  return r;
}

// The connection id entries read from Redis come in under (no socket has it).
inline constexpr uint64_t kRedisConn = UINT64_MAX;

class Node::Impl : public ConnectionHost, private RedisDocs::Host {
 public:
  explicit Impl(NodeOptions options)
      : options_(std::move(options)),
        node_id_(options_.node_id),
        credit_(options_.budget.connection_credit()),
        alloc_(options_.budget.pools),
        ingress_(std::max<uint32_t>(options_.workers, 1), IngressOptions(options_)) {
    if (!options_.log) {
      options_.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    }
    IgnoreSigpipe();
    uv_loop_init(&loop_);
    uv_tcp_init(&loop_, &listener_);
    listener_.data = this;
    uv_async_init(&loop_, &stop_async_,
                  [](uv_async_t* a) { static_cast<Impl*>(a->data)->BeginStop(); });
    stop_async_.data = this;
  }

  ~Impl() override {
    // Run() closes every handle before it returns; a Node that never ran
    // still has its listener and loop to close.
    if (!ran_) {
      if (http_) http_->Close(nullptr);
      if (dialer_) dialer_->Close();
      uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
      uv_close(reinterpret_cast<uv_handle_t*>(&stop_async_), nullptr);
      uv_run(&loop_, UV_RUN_DEFAULT);
    }
    uv_loop_close(&loop_);
  }

  Status Init();
  Status Run();
  void Stop() { uv_async_send(&stop_async_); }
  uint16_t port() const { return port_; }
  uint16_t http_port() const { return http_ ? http_->port() : 0; }
  uint64_t node_id() const { return node_id_; }

  // ---- ConnectionHost ---------------------------------------------------------

  void OnReady(Connection& c) override;
  bool OnMessage(Connection& c, const FrameRef& frame, const Message& m) override;
  void OnClosed(Connection& c, const std::string& reason) override;
  void OnStalled(Connection& c) override;

 private:
  // Per connection: its inbound credit in use (op batches in the pipeline),
  // its catch-ups in progress, and whether it waits, unread, for either.
  struct ConnBook {
    uint32_t in_slots[ringbuf::kPoolCount] = {};
    size_t in_bytes = 0;
    uint32_t catch_ups = 0;
    bool waiting = false;
  };
  static std::string Hex(uint64_t v);

  // Who may connect, and who may relay, for the start line.
  std::string AccessNote() const;

  // ---- Pipeline -----------------------------------------------------------------

  // The workers, their egress rings' readers and the persister; their
  // threads start in Run.
  Status BuildPipeline();

  // ---- Redis (redis_docs.h) ------------------------------------------------------

  // RedisDocs::Host. A followed entry travels as a relaying peer's op
  // batch would: its frame in a pool slot, to its document's worker, under
  // kRedisConn (which may author any agent).
  bool PublishFollowed(std::string_view doc, redis::StreamId id,
                       std::span<const std::byte> update) override;

  bool InUse(std::string_view doc) const override;
  bool Relays(std::string_view doc) const override { return !subscriptions_.Readers(doc).empty(); }
  void Log(const std::string& line) override { options_.log(line); }

  bool RedisBacklogEmpty() const { return !redis_docs_ || redis_docs_->backlog_empty(); }

  void OpenRedisConn();

  // From worker threads: something was published on an egress ring.
  void Wake();

  // Publishes a control entry, queueing it behind others while the ring is
  // full: control entries are never dropped and keep their order.
  void PublishControl(IngressEntry&& e) override;
  void Announce(uint64_t conn, const std::string& doc);

  // Waiting without a timer. Whatever the loop cannot do now (a frame with
  // no slot, an entry with no ring space) waits in stalled_, the ingress
  // queues or the Redis backlog, and Drain retries it. What runs Drain:
  //  - slots freed on other threads: a worker whose egress reclaim dropped
  //    references (MergeWorkerOptions::released), the persister once it
  //    wrote what it held for a failing disk (its progress callback); the
  //    loop's own releases (a write done, a connection closed) are
  //    followed by a retry at the end of that loop turn (slot_check_,
  //    active only while a frame waits for a slot);
  //  - a worker that made room on its ingress ring the loop watches
  //    (MergeWorkerOptions::room);
  //  - a worker's or the persister's egress entries (Wake).
  // A room watch, when newly set, is followed by one retry of its own: room
  // made just before it raised nothing (the Dekker pair in
  // EventProcessor::WatchRoom).

  // The pools ran dry.
  void WaitForSlots();

  // `worker`'s ingress ring is full (or control entries wait for it).
  void WaitForRoom(uint32_t worker);
  void WatchQueuedControl();

  // Drain runs at the loop's next turn, not from inside whatever stalled.
  void RetrySoon() { uv_async_send(&wake_async_); }

  // What waited for slots or ring space tries again; what still cannot go
  // watches again.
  void RetryStalled();

  // Everything the workers and the persister published: relays, catch-ups,
  // rejections, acks; then whatever waited. Loop thread.
  void Drain();
  void Broadcast(const EgressView& e);

  // A connection's batch `e` is through the pipeline: its credit returns.
  void ReturnCredit(const EgressView& e);
  void ResumeIfWaiting(uint64_t conn, ConnBook& book);

  // ---- Connections ----------------------------------------------------------------

  Connection* Find(uint64_t id);
  Connection& NewConnection(bool client, bool websocket = false);
  static void OnConnection(uv_stream_t* server, int status);
  static void OnStats(uv_timer_t* t);

  // What the stats line and GET /metrics report (ops_per_s left 0).
  NodeFigures Figures() const;

  // ---- HTTP -------------------------------------------------------------------------
  //
  // The page, health and metrics (http_listener.h); WebSocket clients it
  // upgrades become Connections like TCP ones.

  Status InitHttp();
  std::string Metrics();
  void AdoptWebSocket(uv_os_sock_t fd, std::string early);
  static void OnHeartbeat(uv_timer_t* t);
  static void OnSignal(uv_signal_t* s, int signum);

  // ---- Shutdown ---------------------------------------------------------------------
  //
  // Stop accepting and dialing, close every connection with an Error frame,
  // close the ingress ring once its backlog is in, let the workers and the
  // persister drain, then close the loop's own handles.

  void BeginStop();
  void MaybeFinishStop();

  NodeOptions options_;
  uint64_t node_id_;  // set by Init
  const ConnectionCredit credit_;
  ringbuf::EventAllocator alloc_;
  IngressRings ingress_;
  uv_loop_t loop_{};
  uv_tcp_t listener_{};
  uv_async_t stop_async_{};
  uv_async_t wake_async_{};
  uv_check_t slot_check_{};
  // A frame or Redis entry waits for a pool slot: workers report what
  // their reclaims free (set by the loop, read by the workers).
  std::atomic<bool> want_slots_{false};
  uv_timer_t heartbeat_{};
  uv_timer_t stats_timer_{};
  uint64_t accepted_ = 0;  // op batches the workers accepted (loop thread)
  uint64_t accepted_at_last_stats_ = 0;
  std::unique_ptr<HttpListener> http_;
  LatencyHistogram edit_to_ack_;  // loop thread
  std::chrono::steady_clock::time_point metrics_rate_at_ = std::chrono::steady_clock::now();
  uint64_t metrics_accepted_at_ = 0;
  double metrics_rate_ = 0;
  uint64_t dropped_ = 0;  // batches dropped for a full Pending set (loop thread)
  uint64_t forged_ = 0;   // batches refused for ops under another's agent (loop thread)
  LogLimiter dropped_log_{5, std::chrono::seconds(10)};
  LogLimiter rejected_log_{5, std::chrono::seconds(10)};
  uv_signal_t sigint_{};
  uv_signal_t sigterm_{};
  uint16_t port_ = 0;
  bool ran_ = false;
  bool stopping_ = false;
  bool finished_ = false;
  bool ingress_closed_ = false;
  uint64_t next_conn_id_ = 0;
  uint64_t ping_nonce_ = 0;

  std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns_;
  std::unique_ptr<PeerDialer> dialer_;  // the links to --peer nodes
  Subscriptions subscriptions_;
  std::set<std::string, std::less<>> known_docs_;
  std::unordered_map<uint64_t, ConnBook> books_;
  std::set<uint64_t> stalled_;  // connections waiting for slots or ring space

  std::vector<std::unique_ptr<MergeWorker>> workers_;
  std::vector<EgressRing::Reader> persist_readers_;
  std::vector<EgressRing::Reader> bcast_readers_;
  std::vector<EgressRing::Reader> ack_readers_;
  std::unique_ptr<Persister> persister_;
  std::unique_ptr<RedisWriter> redis_;                  // with --redis; loop thread
  std::unique_ptr<Acks> acks_;                          // uses persister_ and redis_
  std::unique_ptr<RedisDocs> redis_docs_;               // with --redis; uses redis_
  std::unique_ptr<persist::RecoveredState> recovered_;  // from Init until the pipeline starts
  std::unique_ptr<persist::OpLogWriter> log_writer_;    // likewise, then the persister's
  // The op log could not be opened at start (a full disk): the persister
  // opens it once it can.
  std::function<Result<std::unique_ptr<persist::OpLogWriter>>()> open_log_;
  std::vector<std::thread> threads_;
};

}  // namespace weft::node
