#include <unistd.h>

#include <algorithm>

#include "node_impl.h"

namespace weft::node {

Connection* Node::Impl::Find(uint64_t id) {
  auto it = conns_.find(id);
  return it == conns_.end() || it->second->closing() ? nullptr : it->second.get();
}

Connection& Node::Impl::NewConnection(bool client, bool websocket) {
  ConnectionOptions co;
  co.websocket = websocket;
  co.handshake.client = client;
  co.handshake.node_id = node_id_;
  co.handshake.secret = options_.secret;
  co.handshake.node_secret = options_.node_secret;
  co.handshake.is_node = true;
  co.handshake.label = "node";
  co.credit = credit_;
  co.outbound_credit_bytes = options_.budget.outbound_credit_bytes;
  co.max_outbound_bytes = options_.budget.max_outbound_bytes;
  uint64_t id = ++next_conn_id_;
  auto c = std::make_unique<Connection>(&loop_, id, &alloc_, this, std::move(co));
  Connection& ref = *c;
  conns_.emplace(id, std::move(c));
  return ref;
}

void Node::Impl::OnConnection(uv_stream_t* server, int status) {
  Impl* n = static_cast<Impl*>(server->data);
  if (status < 0 || n->stopping_) return;
  bool full = n->conns_.size() >= n->options_.budget.max_connections;
  Connection& c = n->NewConnection(false);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(c.tcp())) != 0) {
    c.Close("accept failed");
    return;
  }
  c.Start();
  if (full) {
    c.Fail(ErrorCode::kOverloaded,
           "over " + std::to_string(n->options_.budget.max_connections) + " connections");
  }
}

void Node::Impl::OnStats(uv_timer_t* t) {
  Impl* n = static_cast<Impl*>(t->data);
  NodeFigures f = n->Figures();
  double seconds = static_cast<double>(n->options_.stats_interval.count()) / 1000.0;
  f.ops_per_s = static_cast<double>(n->accepted_ - n->accepted_at_last_stats_) / seconds;
  n->accepted_at_last_stats_ = n->accepted_;
  n->Log(FormatStatsLine(f));
}

NodeFigures Node::Impl::Figures() const {
  NodeFigures f;
  ringbuf::EventPoolsStats pools = alloc_.Stats();
  for (const ringbuf::SlotPoolStats& p : pools.pools) {
    f.pool_in_use += p.in_use;
    f.pool_capacity += p.capacity;
  }
  for (const auto& [id, c] : conns_) f.peers += c->ready() && c->peer_relays() ? 1 : 0;
  f.conns = conns_.size();
  f.docs = known_docs_.size();
  f.accepted = accepted_;
  f.dropped = dropped_;
  f.forged = forged_;
  f.persisted_bytes = persister_ ? persister_->persisted_bytes() : 0;
  f.disk_ok = !persister_ || persister_->disk_ok();
  for (const auto& w : workers_) {
    ResidencyStats r = w->residency();
    f.resident_docs += r.docs;
    f.resident_bytes += r.bytes;
    f.evicted += r.evicted;
    f.loaded += r.loaded;
  }
  if (redis_) {
    f.redis = redis_->stats();
    f.redis_docs = redis_docs_->size();
  }
  return f;
}

Status Node::Impl::InitHttp() {
  if (!options_.http) return Status::Ok();
  Result<WebFiles> files = WebFiles::Load(options_.web_root);
  if (!files.ok()) return files.status();
  HttpHooks hooks;
  hooks.healthy = [this] {
    return (!persister_ || persister_->disk_ok()) && (!redis_ || redis_->healthy());
  };
  hooks.metrics = [this] { return Metrics(); };
  hooks.adopt_websocket = [this](uv_os_sock_t fd, std::string early) {
    AdoptWebSocket(fd, std::move(early));
  };
  hooks.log = options_.log;
  Result<sockaddr_storage> addr = Resolve(*options_.http);
  if (!addr.ok()) return addr.status();
  http_ = std::make_unique<HttpListener>(&loop_, std::move(*files), std::move(hooks));
  return http_->Listen(*addr, options_.http->ToString());
}

std::string Node::Impl::Metrics() {
  NodeFigures f = Figures();
  // The rate over the last second or more: scrapes closer together than
  // that see the same figure.
  auto now = std::chrono::steady_clock::now();
  double seconds = std::chrono::duration<double>(now - metrics_rate_at_).count();
  if (seconds >= 1.0) {
    metrics_rate_ = static_cast<double>(accepted_ - metrics_accepted_at_) / seconds;
    metrics_rate_at_ = now;
    metrics_accepted_at_ = accepted_;
  }
  f.ops_per_s = metrics_rate_;
  return FormatMetrics(f, edit_to_ack_);
}

void Node::Impl::AdoptWebSocket(uv_os_sock_t fd, std::string early) {
  if (stopping_) {
    ::close(fd);
    return;
  }
  Connection& c = NewConnection(false, true);
  if (int rc = uv_tcp_open(c.tcp(), fd); rc != 0) {
    ::close(fd);
    c.Close(std::string("cannot adopt a WebSocket: ") + uv_strerror(rc));
    return;
  }
  c.Start(std::as_bytes(std::span(early.data(), early.size())));
}

void Node::Impl::OnHeartbeat(uv_timer_t* t) {
  Impl* n = static_cast<Impl*>(t->data);
  if (n->redis_docs_) n->redis_docs_->RetryReads();
  // Idle workers wake for their housekeeping (evicting idle documents).
  if (!n->stopping_) {
    for (auto& w : n->workers_) w->Wake();
  }
  auto now = Connection::Clock::now();
  // Silence is judged by the clock and by pings: a peer is silent only
  // after peer_timeout without a byte *and* as many unanswered pings as
  // heartbeats fit in it. If this loop itself stalled (a long drain, a
  // starved process), the clock says every peer has been silent, but
  // they were neither pinged nor read meanwhile: one tick has passed, so
  // one ping more is counted, and their answers are read next.
  const int64_t heartbeats =
      n->options_.peer_timeout / std::max(n->options_.heartbeat, std::chrono::milliseconds(1));
  const uint32_t pings = static_cast<uint32_t>(std::clamp<int64_t>(heartbeats, 1, 1000));
  std::vector<Connection*> silent, stuck;
  for (auto& [id, c] : n->conns_) {
    if (c->closing()) continue;
    // However much it sends: a queue that takes nothing is a dead reader.
    if (c->outbound_bytes() > 0 &&
        now - c->last_write_progress() > n->options_.budget.drain_timeout) {
      stuck.push_back(c.get());
      continue;
    }
    // A connection we stopped reading (back-pressure) is not silent.
    if (c->paused()) continue;
    // A connection still in its handshake is never pinged: the clock
    // alone judges it.
    bool unanswered = !c->ready() || c->pings_since_heard() >= pings;
    if (now - c->last_heard() > n->options_.peer_timeout && unanswered) {
      silent.push_back(c.get());
    } else if (c->ready()) {
      c->SendPing(++n->ping_nonce_, NowMicros());
    }
  }
  for (Connection* c : silent) {
    c->Fail(ErrorCode::kTimeout,
            "silent for over " + std::to_string(n->options_.peer_timeout.count()) + " ms");
  }
  for (Connection* c : stuck) {
    c->Fail(ErrorCode::kOverloaded, "took nothing of its queue (" +
                                        std::to_string(c->outbound_bytes()) + " bytes) for over " +
                                        std::to_string(n->options_.budget.drain_timeout.count()) +
                                        " ms");
  }
}

void Node::Impl::OnSignal(uv_signal_t* s, int signum) {
  Impl* n = static_cast<Impl*>(s->data);
  n->Log(std::string("received ") + (signum == SIGINT ? "SIGINT" : "SIGTERM") + ": shutting down");
  n->BeginStop();
}

void Node::Impl::BeginStop() {
  if (stopping_) return;
  stopping_ = true;
  if (redis_docs_) redis_docs_->Stop();
  // A failing disk must not hold the stop up for longer than this.
  persister_->AbandonAfter(options_.stop_grace);
  // Every author is being disconnected: what Redis has not confirmed
  // yet will never be acked, so nothing acked depends on waiting.
  if (redis_) redis_->Close([] {});
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  if (http_) http_->Close(nullptr);
  dialer_->Stop();
  std::vector<Connection*> all;
  for (auto& [id, c] : conns_) all.push_back(c.get());
  for (Connection* c : all) c->Fail(ErrorCode::kShuttingDown, "node shutting down");
  RetrySoon();
}

void Node::Impl::MaybeFinishStop() {
  if (!stopping_ || finished_) return;
  // Connections still closing publish their kConnClosed; control entries
  // still queued must reach the ring before it closes.
  if (!conns_.empty() || ingress_.waiting()) return;
  if (!ingress_closed_) {
    ingress_.Close();
    ingress_closed_ = true;
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    EgressRing& ring = workers_[i]->egress();
    int64_t published = ring.Stats().published;
    if (!ring.closed() || bcast_readers_[i].cursor() < published ||
        ack_readers_[i].cursor() < published) {
      return;
    }
  }
  finished_ = true;
  for (auto& w : workers_) w->egress().Reclaim();
  ingress_.Reclaim();
  persister_->Wake();
  for (uv_handle_t* h :
       {reinterpret_cast<uv_handle_t*>(&wake_async_), reinterpret_cast<uv_handle_t*>(&stop_async_),
        reinterpret_cast<uv_handle_t*>(&heartbeat_), reinterpret_cast<uv_handle_t*>(&slot_check_),
        reinterpret_cast<uv_handle_t*>(&stats_timer_)}) {
    uv_close(h, nullptr);
  }
  if (options_.handle_signals) {
    uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
  }
  dialer_->Close();
}

}  // namespace weft::node
