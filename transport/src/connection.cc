#include "weft/transport/connection.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cassert>
#include <csignal>
#include <cstring>
#include <mutex>

#include "weft/transport/wire_codec.h"

namespace weft::transport {

// One uv_write: the buffers and whatever keeps their bytes alive until
// libuv calls back. Recycled through a loop-thread free list, so steady-state
// writes do not allocate.
struct Connection::WriteReq {
  uv_write_t req{};
  Connection* conn = nullptr;
  FrameRef slot;                     // a pooled body
  std::shared_ptr<const void> keep;  // what a catch-up's bytes live in
  std::string owned;                 // an encoded control frame, or a copied body
  std::string head;                  // the length prefix and, for op batches, the batch header
  std::string ws_head;               // on a WebSocket: the header of the message carrying it
  uv_buf_t bufs[3]{};
  size_t bytes = 0;
  int pool = -1;  // the size class of `slot` (-1: none)
  bool catch_up = false;
};

namespace {

// Loop-thread free list of write requests.
std::vector<std::unique_ptr<Connection::WriteReq>>& FreeWrites() {
  thread_local std::vector<std::unique_ptr<Connection::WriteReq>> free_list;
  return free_list;
}

std::string PeerName(uv_tcp_t* tcp) {
  sockaddr_storage addr{};
  int len = sizeof addr;
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "?";
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    uv_ip4_name(a, host, sizeof host);
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    uv_ip6_name(a, host, sizeof host);
    port = ntohs(a->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

std::string Prefix(size_t body_len) {
  auto p = EncodeFramePrefix(body_len);
  return std::string(reinterpret_cast<const char*>(p.data()), p.size());
}

}  // namespace

void IgnoreSigpipe() {
  static std::once_flag once;
  std::call_once(once, [] { std::signal(SIGPIPE, SIG_IGN); });
}

Connection::Connection(uv_loop_t* loop, uint64_t id, ringbuf::EventAllocator* alloc,
                       ConnectionHost* host, ConnectionOptions options)
    : loop_(loop),
      id_(id),
      host_(host),
      options_(std::move(options)),
      assembler_(alloc),
      handshake_(options_.handshake) {
  uv_tcp_init(loop_, &tcp_);
  uv_timer_init(loop_, &close_timer_);
  tcp_.data = this;
  close_timer_.data = this;
  shutdown_.data = this;
  open_handles_ = 2;
  if (options_.websocket) {
    ws_ = std::make_unique<WebSocketStream>(static_cast<WebSocketStream::Owner*>(this));
  }
}

Connection::~Connection() { assert(open_handles_ == 0 && "destroyed before OnClosed"); }

void Connection::Start(std::span<const std::byte> early) {
  peer_name_ = (ws_ ? "ws " : "") + PeerName(&tcp_);
  uv_tcp_nodelay(&tcp_, 1);
  std::vector<Message> out;
  if (Status s = handshake_.Start(&out); !s.ok()) return Close(s.ToString());
  SendMessages(out);
  last_heard_ = Clock::now();
  reading_ = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead) == 0;
  if (!reading_) return Close("cannot read from the socket");
  if (ws_ && !early.empty()) {
    ws_->Feed(early);
    if (ws_->blocked()) UpdateReading();
  }
}

void Connection::OnAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(h->data);
  *buf = uv_buf_init(nullptr, 0);
  if (c->closing_) {
    // Lingering after an Error frame: what the peer still sends is read
    // and dropped.
    thread_local char discard[4096];
    if (c->lingering_) *buf = uv_buf_init(discard, sizeof discard);
    return;
  }
  if (c->held_) return;
  if (c->ws_) {
    // A WebSocket's bytes need parsing before they are stream bytes; they
    // reach the slots through OnPayload.
    std::span<std::byte> in = c->ws_->ReadBuffer();
    *buf = uv_buf_init(reinterpret_cast<char*>(in.data()), static_cast<unsigned>(in.size()));
    return;
  }
  Result<std::span<std::byte>> span = c->assembler_.ReadBuffer();
  // No slot free: a zero-length buffer makes libuv report UV_ENOBUFS.
  if (!span.ok()) return;
  *buf = uv_buf_init(reinterpret_cast<char*>(span->data()), static_cast<unsigned>(span->size()));
}

void Connection::OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t*) {
  auto* c = static_cast<Connection*>(s->data);
  if (n == 0) return;  // EAGAIN, not end of stream
  if (c->closing_) {
    // Lingering: the peer is done once it closes its side; the handle goes
    // once our Error frame is out too.
    if (n < 0 && n != UV_ENOBUFS) {
      uv_read_stop(s);
      c->reading_ = false;
      if (c->shut_down_) c->FinishClose();
    }
    return;
  }
  if (n == UV_ENOBUFS) {
    c->starved_ = true;
    c->UpdateReading();
    c->host_->OnStalled(*c);
    return;
  }
  if (n < 0) {
    c->Close(n == UV_EOF ? "peer closed the connection" : uv_strerror(static_cast<int>(n)));
    return;
  }
  c->last_heard_ = Clock::now();
  c->pings_since_heard_ = 0;
  if (c->ws_) {
    c->ws_->OnRead(static_cast<size_t>(n));
    if (c->ws_->blocked()) c->UpdateReading();
    return;
  }
  c->assembler_.Commit(static_cast<size_t>(n));
  c->TakeFrames();
}

void Connection::TakeFrames() {
  while (!closing_ && !held_) {
    Result<FrameRef> frame = assembler_.Next();
    if (!frame.ok()) {
      if (frame.status().code() == StatusCode::kResourceExhausted) {
        starved_ = true;
        UpdateReading();
        host_->OnStalled(*this);
      } else {
        Fail(ErrorCode::kFrameTooLarge, frame.status().ToString());
      }
      return;
    }
    if (!*frame) return;
    HandleFrame(std::move(*frame));
  }
}

void Connection::HandleFrame(FrameRef frame) {
  if (Dispatch(frame)) return;
  held_ = std::move(frame);
  UpdateReading();
}

size_t Connection::OnPayload(std::span<const std::byte> bytes) {
  size_t used = 0;
  while (true) {
    TakeFrames();
    if (closing_ || held_ || starved_ || used == bytes.size()) break;
    Result<std::span<std::byte>> buf = assembler_.ReadBuffer();
    // Only a read-ahead full of a frame that waits for a slot refuses bytes,
    // and TakeFrames has then marked the connection starved.
    if (!buf.ok()) break;
    size_t n = std::min(buf->size(), bytes.size() - used);
    std::memcpy(buf->data(), bytes.data() + used, n);
    used += n;
    assembler_.Commit(n);
  }
  // Once closing, the rest of the stream is moot.
  return closing_ ? bytes.size() : used;
}

void Connection::WriteRaw(std::string bytes) {
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_))) return;
  WriteReq* req = TakeWrite();
  req->head = std::move(bytes);
  Write(req, 1, true);
}

void Connection::OnStreamClosed(const std::string& reason) { Close(reason); }

bool Connection::Dispatch(const FrameRef& frame) {
  Result<Message> m = DecodeFrame(ringbuf::PayloadOf(*frame));
  if (!m.ok()) {
    Fail(ErrorCode::kMalformed, m.status().ToString());
    return true;
  }
  if (!handshake_.done()) {
    std::vector<Message> out;
    std::optional<HandshakeFailure> failure = handshake_.OnMessage(*m, &out);
    SendMessages(out);
    if (failure) {
      Fail(failure->code, failure->reason);
    } else if (handshake_.done()) {
      host_->OnReady(*this);
    }
    return true;
  }
  if (const Ping* p = std::get_if<Ping>(&*m)) {
    Send(Pong{p->nonce, p->sent_micros});
    return true;
  }
  if (std::holds_alternative<Pong>(*m)) return true;
  if (const ErrorFrame* e = std::get_if<ErrorFrame>(&*m)) {
    Close("peer reported an error: " + e->reason, e->code);
    return true;
  }
  if (std::holds_alternative<Hello>(*m) || std::holds_alternative<AuthChallenge>(*m) ||
      std::holds_alternative<AuthProof>(*m) || std::holds_alternative<Welcome>(*m)) {
    Fail(ErrorCode::kProtocol, std::string(MessageName(*m)) + " after the handshake");
    return true;
  }
  return host_->OnMessage(*this, frame, *m);
}

void Connection::Retry() {
  if (closing_) return;
  if (held_) {
    if (!Dispatch(held_)) return;
    held_.reset();
  }
  starved_ = false;
  // Whole frames already read come first, then payload a WebSocket held
  // back, then new reads.
  TakeFrames();
  if (closing_ || held_ || starved_) return;
  if (ws_ && !ws_->Resume()) return;
  UpdateReading();
}

void Connection::SendMessages(std::vector<Message>& out) {
  for (const Message& m : out) Send(m);
  out.clear();
}

Connection::WriteReq* Connection::TakeWrite() {
  std::vector<std::unique_ptr<WriteReq>>& pool = FreeWrites();
  if (pool.empty()) return new WriteReq;
  WriteReq* req = pool.back().release();
  pool.pop_back();
  return req;
}

void Connection::Send(const Message& m) {
  if (closing_) return;
  WriteReq* req = TakeWrite();
  req->owned = EncodeFrame(m);
  req->head = Prefix(req->owned.size());
  req->bufs[1] = uv_buf_init(req->owned.data(), static_cast<unsigned>(req->owned.size()));
  Write(req, 2);
}

void Connection::SendPing(uint64_t nonce, uint64_t sent_micros) {
  if (closing_) return;
  Send(Ping{nonce, sent_micros});
  ++pings_since_heard_;
}

void Connection::SendFrameBody(const FrameRef& body) {
  if (closing_) return;
  WriteReq* req = TakeWrite();
  std::span<const std::byte> payload = ringbuf::PayloadOf(*body);
  const char* bytes = reinterpret_cast<const char*>(payload.data());
  auto pool = static_cast<int>(ringbuf::estimate_size(payload.size()));
  if (pinned_[pool] < options_.credit.slots[pool]) {
    ++pinned_[pool];
    req->pool = pool;
    req->slot = body;
  } else {
    // Its share of the pool is in this queue already: a slow reader must
    // not hold slots that others' frames need.
    req->owned.assign(bytes, payload.size());
    bytes = req->owned.data();
  }
  req->head = Prefix(payload.size());
  req->bufs[1] = uv_buf_init(const_cast<char*>(bytes), static_cast<unsigned>(payload.size()));
  Write(req, 2);
}

void Connection::SendCatchUp(std::string_view doc, std::shared_ptr<const void> keep,
                             std::span<const std::byte> update) {
  if (closing_) return;
  WriteReq* req = TakeWrite();
  std::string header = EncodeOpBatchHeader(doc, update.size());
  req->keep = std::move(keep);
  req->catch_up = true;
  req->head = Prefix(header.size() + update.size()) + header;
  req->bufs[1] = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(update.data())),
                             static_cast<unsigned>(update.size()));
  Write(req, 2);
}

void Connection::Write(WriteReq* req, size_t nbufs, bool raw) {
  req->conn = this;
  req->req.data = req;
  req->bufs[0] = uv_buf_init(req->head.data(), static_cast<unsigned>(req->head.size()));
  if (ws_ && !raw) {
    // One binary message per frame, its header in front of the frame's own
    // buffers: nothing is copied.
    size_t len = req->bufs[0].len + (nbufs > 1 ? req->bufs[1].len : 0);
    req->ws_head = WebSocketStream::DataFrameHeader(len);
    if (nbufs > 1) req->bufs[2] = req->bufs[1];
    req->bufs[1] = req->bufs[0];
    req->bufs[0] = uv_buf_init(req->ws_head.data(), static_cast<unsigned>(req->ws_head.size()));
    ++nbufs;
  }
  req->bytes = 0;
  for (size_t i = 0; i < nbufs; ++i) req->bytes += req->bufs[i].len;
  if (outbound_bytes_ == 0) last_write_progress_ = Clock::now();
  outbound_bytes_ += req->bytes;
  if (req->catch_up) catch_up_bytes_ += req->bytes;
  auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
  // Most frames fit the socket's buffer at once: written here, they skip
  // libuv's write request, whose completion costs a loop pass and an
  // epoll_ctl (re-arming the socket) per write. libuv refuses (EAGAIN)
  // while earlier writes are queued, so order holds.
  int tried = uv_try_write(stream, req->bufs, static_cast<unsigned>(nbufs));
  if (tried > 0 && static_cast<size_t>(tried) == req->bytes) {
    FinishWrite(req, 0);
    CheckOutbound();
    return;
  }
  uv_buf_t* bufs = req->bufs;
  if (tried > 0) {
    for (auto left = static_cast<size_t>(tried); left > 0;) {
      size_t n = std::min(left, bufs->len);
      bufs->base += n;
      bufs->len -= n;
      left -= n;
      if (bufs->len == 0) {
        ++bufs;
        --nbufs;
      }
    }
  }
  int rc = uv_write(&req->req, stream, bufs, static_cast<unsigned>(nbufs), OnWrite);
  if (rc != 0) {
    OnWrite(&req->req, rc);
    return;
  }
  CheckOutbound();
}

void Connection::CheckOutbound() {
  if (closing_) return;
  if (outbound_bytes_ - catch_up_bytes_ > options_.max_outbound_bytes) {
    // The peer reads slower than others write: it resyncs when it returns.
    Close("outbound queue over " + std::to_string(options_.max_outbound_bytes) +
              " bytes: peer too slow",
          ErrorCode::kOverloaded);
    return;
  }
  if (!output_full_ && outbound_bytes_ > options_.outbound_credit_bytes &&
      !handshake_.peer_relays()) {
    // It may not ask for more before it takes what it has.
    output_full_ = true;
    UpdateReading();
  }
}

void Connection::UpdateReading() {
  bool want = !closing_ && !held_ && !output_full_ && !starved_ && !(ws_ && ws_->blocked());
  if (want == reading_ || (closing_ && lingering_)) return;
  if (want) {
    reading_ = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead) == 0;
    // The pause was ours: the peer's silence clock starts again.
    last_heard_ = Clock::now();
    pings_since_heard_ = 0;
  } else {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
  }
}

void Connection::OnWrite(uv_write_t* r, int status) {
  auto* req = static_cast<WriteReq*>(r->data);
  req->conn->FinishWrite(req, status);
}

void Connection::FinishWrite(WriteReq* req, int status) {
  outbound_bytes_ -= req->bytes;
  if (req->catch_up) catch_up_bytes_ -= req->bytes;
  if (req->pool >= 0) --pinned_[req->pool];
  last_write_progress_ = Clock::now();
  req->slot.reset();
  req->keep.reset();
  req->owned.clear();
  req->pool = -1;
  req->catch_up = false;
  std::vector<std::unique_ptr<WriteReq>>& pool = FreeWrites();
  if (pool.size() < 4096) {
    pool.emplace_back(req);
  } else {
    delete req;
  }
  if (status < 0 && status != UV_ECANCELED && !closing_) {
    Close(std::string("write failed: ") + uv_strerror(status));
    return;
  }
  if (output_full_ && outbound_bytes_ <= options_.outbound_credit_bytes / 2) {
    output_full_ = false;
    UpdateReading();
  }
}

void Connection::Fail(ErrorCode code, const std::string& reason) {
  if (closing_) return;
  // The Error frame goes out before the shutdown completes. Closing with
  // the peer's bytes unread would make the kernel answer them with a reset,
  // which can discard the Error frame before the peer reads it: so the
  // connection lingers, reading and dropping, until the peer closes too
  // (or the close timer fires).
  Send(ErrorFrame{code, reason});
  lingering_ = true;
  Close(reason, code);
}

void Connection::Close(const std::string& reason, ErrorCode code) {
  if (closing_) return;
  closing_ = true;
  close_reason_ = reason;
  close_code_ = code;
  held_.reset();
  if (lingering_) {
    if (!reading_) {
      reading_ = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead) == 0;
    }
  } else if (reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
  }
  // 1000: a normal closure; `reason` says what happened.
  if (ws_) ws_->Close(1000, reason);
  // Shutdown flushes queued writes (an Error frame) before the close; the
  // timer bounds how long a peer that does not read can delay it.
  if (uv_shutdown(&shutdown_, reinterpret_cast<uv_stream_t*>(&tcp_), OnShutdown) != 0) {
    FinishClose();
    return;
  }
  uv_timer_start(&close_timer_, OnCloseTimer, 1000, 0);
}

void Connection::OnShutdown(uv_shutdown_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  c->shut_down_ = true;
  // A lingering connection waits for the peer's end of stream (or the
  // timer) while it still reads.
  if (status == 0 && c->lingering_ && c->reading_) return;
  c->FinishClose();
}

void Connection::OnCloseTimer(uv_timer_t* t) { static_cast<Connection*>(t->data)->FinishClose(); }

void Connection::FinishClose() {
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp_))) return;
  uv_timer_stop(&close_timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&close_timer_), OnHandleClosed);
}

void Connection::OnHandleClosed(uv_handle_t* h) {
  auto* c = static_cast<Connection*>(h->data);
  if (--c->open_handles_ == 0) c->host_->OnClosed(*c, c->close_reason_);
}

}  // namespace weft::transport
