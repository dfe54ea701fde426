#include "weft/transport/client.h"

#include <netdb.h>
#include <uv.h>

#include <cstring>
#include <random>
#include <set>

#include "weft/transport/chunking.h"
#include "weft/transport/connection.h"

namespace weft::transport {
namespace {

// The Status a caller sees for a connection closed with `code` (the Error
// frame either side sent): typed, so callers never parse reasons.
Status ClosedStatus(ErrorCode code, std::string message) {
  switch (code) {
    case ErrorCode::kAuthFailed:
    case ErrorCode::kForeignAgent:
      return Status::PermissionDenied(std::move(message));
    case ErrorCode::kUnsupportedVersion:
    case ErrorCode::kProtocol:
      return Status::FailedPrecondition(std::move(message));
    case ErrorCode::kMalformed:
    case ErrorCode::kFrameTooLarge:
      return Status::InvalidArgument(std::move(message));
    case ErrorCode::kOverloaded:
      return Status::ResourceExhausted(std::move(message));
    case ErrorCode::kUnspecified:
    case ErrorCode::kTimeout:
    case ErrorCode::kShuttingDown:
    case ErrorCode::kStorage:
      break;
  }
  return Status::Unavailable(std::move(message));
}

}  // namespace

class Client::Impl : public ConnectionHost {
 public:
  explicit Impl(ClientOptions options) : options_(std::move(options)) {
    IgnoreSigpipe();
    uv_loop_init(&loop_);
    uv_timer_init(&loop_, &timer_);
    uv_timer_init(&loop_, &retry_);
    retry_.data = this;
  }

  ~Impl() override {
    if (conn_ && !conn_->closing()) conn_->Close("client done");
    while (conn_) uv_run(&loop_, UV_RUN_ONCE);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&retry_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }

  Status Connect() {
    Result<sockaddr_storage> resolved = Resolve(options_.server);
    if (!resolved.ok()) return resolved.status();
    sockaddr_storage addr = *resolved;

    if (options_.node_id == 0) options_.node_id = std::random_device{}() | 1;
    ConnectionOptions co;
    co.handshake.client = true;
    co.handshake.node_id = options_.node_id;
    co.handshake.secret = options_.secret;
    co.handshake.agents = options_.agents;
    co.handshake.label = options_.label;
    conn_ = std::make_unique<Connection>(&loop_, 1, &alloc_, this, std::move(co));
    connect_.data = this;
    int rc = uv_tcp_connect(
        &connect_, conn_->tcp(), reinterpret_cast<sockaddr*>(&addr),
        [](uv_connect_t* req, int status) {
          auto* self = static_cast<Impl*>(req->data);
          if (!self->conn_) return;
          if (status < 0) {
            self->conn_->Close(std::string("cannot connect: ") + uv_strerror(status));
          } else {
            self->conn_->Start();
          }
        });
    if (rc != 0) {
      conn_->Close(std::string("cannot connect: ") + uv_strerror(rc));
    }
    return RunUntil([&] { return ready_; }, options_.timeout);
  }

  Status Subscribe(const std::string& doc, engine::Doc* replica) {
    replicas_[doc] = replica;
    synced_.erase(doc);
    if (!conn_ || conn_->closing()) return NotConnected();
    conn_->Send(transport::Subscribe{doc, replica->version()});
    return RunUntil([&] { return synced_.count(doc) != 0 || !error_.ok(); }, options_.timeout);
  }

  Status SendOpsSince(const std::string& doc, const engine::Doc& replica,
                      const engine::VersionVector& since) {
    if (!conn_ || conn_->closing()) return NotConnected();
    // A client may author only its own agents' ops (the node refuses any
    // other as foreign): others' ops the replica holds are not resent, even
    // when they arrived after `since`. Both versions name only the own
    // agents, so a keystroke costs the same however many authors the
    // document has had.
    engine::VersionVector from;
    for (uint64_t agent : options_.agents) from.Set(agent, since.Get(agent));
    const engine::VersionVector until = replica.version(options_.agents);
    Result<std::vector<std::string>> chunks = EncodeChunksUntil(replica, from, until);
    if (!chunks.ok()) return chunks.status();
    for (const std::string& c : *chunks) {
      conn_->Send(OpBatch{doc, std::as_bytes(std::span(c.data(), c.size()))});
    }
    return Status::Ok();
  }

  Status SendUpdate(const std::string& doc, std::string_view update) {
    if (!conn_ || conn_->closing()) return NotConnected();
    if (update.empty() || update.size() > kMaxUpdateBytes) {
      return Status::InvalidArgument("update must be 1.." + std::to_string(kMaxUpdateBytes) +
                                     " bytes");
    }
    conn_->Send(OpBatch{doc, std::as_bytes(std::span(update.data(), update.size()))});
    return Status::Ok();
  }

  Status SendPresence(const std::string& doc, uint64_t agent, const engine::Anchor& cursor,
                      const std::string& label) {
    if (!conn_ || conn_->closing()) return NotConnected();
    WireAnchor a;
    if (cursor.has_id) {
      a.agent = cursor.id.agent;
      a.seq = cursor.id.seq;
    }
    a.right = cursor.bias == engine::Bias::kRight;
    conn_->Send(Presence{doc, agent, a, a, label.substr(0, kMaxLabel)});
    return Status::Ok();
  }

  std::map<uint64_t, PeerPresence> presence(const std::string& doc) const {
    auto it = presence_.find(doc);
    return it == presence_.end() ? std::map<uint64_t, PeerPresence>() : it->second;
  }

  Status RunUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    // The client may move between threads (never two at once): its pools
    // follow whichever thread runs it, or a new thread would find every free
    // slot in the previous one's private list.
    alloc_.AdoptCurrentThread();
    bool timed_out = false;
    timer_.data = &timed_out;
    // The loop's clock stands still between runs: after the caller's own
    // work (typing a long history, say) it is behind, and a deadline counted
    // from it would expire early, even at once.
    uv_update_time(&loop_);
    uv_timer_start(
        &timer_, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; },
        static_cast<uint64_t>(timeout.count()), 0);
    while (!pred() && error_.ok() && conn_ && !timed_out) uv_run(&loop_, UV_RUN_ONCE);
    uv_timer_stop(&timer_);
    if (pred()) return Status::Ok();
    if (!error_.ok()) return error_;
    if (!conn_) return closed_;
    return Status::Unavailable("timed out after " + std::to_string(timeout.count()) + " ms");
  }

  Status Poll() {
    alloc_.AdoptCurrentThread();
    uv_run(&loop_, UV_RUN_NOWAIT);
    if (!error_.ok()) return error_;
    if (!conn_) return closed_;
    return Status::Ok();
  }

  int poll_fd() const { return uv_backend_fd(&loop_); }

  // Why the connection is gone (or going).
  Status NotConnected() const {
    // The reason matters to the caller (a full disk is not a dead node),
    // even while the connection lingers to flush its Error frame.
    if (conn_) {
      return ClosedStatus(conn_->close_code(), "connection closing: " + conn_->close_reason());
    }
    return closed_;
  }

  // ---- ConnectionHost ---------------------------------------------------------

  void OnReady(Connection&) override { ready_ = true; }

  bool OnMessage(Connection& c, const FrameRef&, const Message& m) override {
    if (const OpBatch* b = std::get_if<OpBatch>(&m)) {
      auto it = replicas_.find(std::string(b->doc));
      if (it == replicas_.end()) return true;  // not subscribed (any more)
      if (Status s = it->second->ApplyUpdate(b->update); !s.ok()) {
        error_ = s.WithContext("update from the node");
        c.Fail(ErrorCode::kMalformed, error_.ToString());
      }
      return true;
    }
    if (const SyncDone* d = std::get_if<SyncDone>(&m)) {
      synced_.insert(d->doc);
      synced_versions_[d->doc] = d->version;
      return true;
    }
    if (const Ack* a = std::get_if<Ack>(&m)) {
      acked_[a->doc].Merge(a->durable);
      return true;
    }
    if (const Presence* p = std::get_if<Presence>(&m)) {
      PeerPresence& peer = presence_[p->doc][p->agent];
      peer.cursor.has_id = p->cursor.agent != 0 || p->cursor.seq != 0;
      peer.cursor.id = engine::OpId{p->cursor.agent, p->cursor.seq};
      peer.cursor.bias = p->cursor.right ? engine::Bias::kRight : engine::Bias::kLeft;
      peer.label = p->label;
      return true;
    }
    return true;  // subscriptions are for nodes, not for this client
  }

  void OnClosed(Connection& c, const std::string& reason) override {
    reason_ = reason;
    closed_ = ClosedStatus(c.close_code(), "connection closed: " + reason);
    // The connection is destroyed after its callbacks return: hand it to a
    // zero-delay timer.
    closing_conn_ = std::move(conn_);
    uv_timer_start(
        &retry_, [](uv_timer_t* t) { static_cast<Impl*>(t->data)->closing_conn_.reset(); }, 0, 0);
  }

  void OnStalled(Connection&) override {
    uv_timer_start(
        &retry_,
        [](uv_timer_t* t) {
          Impl* self = static_cast<Impl*>(t->data);
          if (self->conn_) self->conn_->Retry();
        },
        1, 0);
  }

  engine::VersionVector synced_version(const std::string& doc) const {
    auto it = synced_versions_.find(doc);
    return it == synced_versions_.end() ? engine::VersionVector() : it->second;
  }
  engine::VersionVector acked(const std::string& doc) const {
    auto it = acked_.find(doc);
    return it == acked_.end() ? engine::VersionVector() : it->second;
  }
  bool connected() const { return conn_ && conn_->ready(); }
  const std::string& close_reason() const { return reason_; }
  uint64_t bytes_received() const {
    return (conn_ ? conn_->bytes_received() : 0) +
           (closing_conn_ ? closing_conn_->bytes_received() : 0);
  }

 private:
  ClientOptions options_;
  uv_loop_t loop_{};
  uv_timer_t timer_{};
  uv_timer_t retry_{};
  uv_connect_t connect_{};
  ringbuf::EventAllocator alloc_{ringbuf::PoolCapacities{256, 256, 64, 16, 8}};
  std::unique_ptr<Connection> conn_;
  std::unique_ptr<Connection> closing_conn_;
  bool ready_ = false;
  Status error_;
  std::string reason_;
  Status closed_ = Status::Unavailable("not connected");  // why the connection closed
  std::map<std::string, engine::Doc*> replicas_;
  std::set<std::string> synced_;
  std::map<std::string, engine::VersionVector> acked_;
  std::map<std::string, engine::VersionVector> synced_versions_;
  std::map<std::string, std::map<uint64_t, PeerPresence>> presence_;
};

Result<std::unique_ptr<Client>> Client::Connect(ClientOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  if (Status s = impl->Connect(); !s.ok()) return s;
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;
Status Client::Subscribe(const std::string& doc, engine::Doc* replica) {
  return impl_->Subscribe(doc, replica);
}
Status Client::SendOpsSince(const std::string& doc, const engine::Doc& replica,
                            const engine::VersionVector& since) {
  return impl_->SendOpsSince(doc, replica, since);
}
Status Client::SendUpdate(const std::string& doc, std::string_view update) {
  return impl_->SendUpdate(doc, update);
}
Status Client::SendPresence(const std::string& doc, uint64_t agent, const engine::Anchor& cursor,
                            const std::string& label) {
  return impl_->SendPresence(doc, agent, cursor, label);
}
std::map<uint64_t, PeerPresence> Client::presence(const std::string& doc) const {
  return impl_->presence(doc);
}
Status Client::RunUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  return impl_->RunUntil(pred, timeout);
}
Status Client::Poll() { return impl_->Poll(); }
int Client::poll_fd() const { return impl_->poll_fd(); }
engine::VersionVector Client::acked(const std::string& doc) const { return impl_->acked(doc); }
engine::VersionVector Client::synced_version(const std::string& doc) const {
  return impl_->synced_version(doc);
}
bool Client::connected() const { return impl_->connected(); }
const std::string& Client::close_reason() const { return impl_->close_reason(); }
uint64_t Client::bytes_received() const { return impl_->bytes_received(); }

}  // namespace weft::transport
