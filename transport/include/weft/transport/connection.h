// Connection: one TCP stream of frames, on the loop thread. Reads land in
// pooled slots (FrameAssembler via libuv's alloc_cb); the handshake runs
// inside; after it, every frame but ping/pong goes to the ConnectionHost.
// Writes keep the RingPtr of what they send alive until libuv is done.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "weft/transport/credit.h"
#include "weft/transport/frame.h"
#include "weft/transport/handshake.h"
#include "weft/transport/messages.h"
#include "weft/transport/websocket_stream.h"

namespace weft::transport {

class Connection;

// Ignores SIGPIPE for the process, once. A peer that closes while we write
// must be an error on that connection (EPIPE from the write), not the end
// of the process; libuv's writes cannot ask for MSG_NOSIGNAL. Nodes and
// clients call it when they start.
void IgnoreSigpipe();

// The owner of connections. Every callback runs on the loop thread.
class ConnectionHost {
 public:
  virtual ~ConnectionHost() = default;
  // The handshake completed.
  virtual void OnReady(Connection& c) = 0;
  // A frame after the handshake (not ping, pong or error). `m` may view the
  // bytes of `frame`. Return false to refuse it for now (back-pressure): the
  // connection stops reading and calls again with the same frame from
  // Connection::Retry().
  virtual bool OnMessage(Connection& c, const FrameRef& frame, const Message& m) = 0;
  // The connection is closed (after this the host destroys it). `reason` is
  // for the log.
  virtual void OnClosed(Connection& c, const std::string& reason) = 0;
  // The pools had no slot for an incoming frame: call Retry() later.
  virtual void OnStalled(Connection& c) = 0;
};

// The write queue's bounds (a node's come from weft/node/budget.h).
struct ConnectionOptions {
  HandshakeConfig handshake;
  // Pool slots the queue may pin per size class; past it, relays are copied.
  ConnectionCredit credit{{64, 64, 64, 64, 64}, size_t{1} << 20};
  // Queued past this (catch-ups included): stop reading a peer that does
  // not relay until the queue is back under half of it. (Not a relaying
  // node: nodes read each other both ways, and two that stopped reading
  // each other as their queues filled would wait for each other forever.)
  size_t outbound_credit_bytes = SIZE_MAX;
  // Relays and replies (not catch-ups) queued past this: disconnect.
  size_t max_outbound_bytes = size_t{16} << 20;
  // The socket carries the byte stream inside WebSocket messages (the
  // server side of an upgraded HTTP connection, websocket_stream.h).
  bool websocket = false;
};

class Connection : private WebSocketStream::Owner {
 public:
  using Clock = std::chrono::steady_clock;

  Connection(uv_loop_t* loop, uint64_t id, ringbuf::EventAllocator* alloc, ConnectionHost* host,
             ConnectionOptions options);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() override;

  // For uv_accept / uv_tcp_connect / uv_tcp_open before Start().
  uv_tcp_t* tcp() { return &tcp_; }
  // Starts reading (and, for a client, sends Hello). `early`: stream bytes
  // that arrived before the connection existed (after a WebSocket upgrade).
  void Start(std::span<const std::byte> early = {});

  // Queue a frame. Safe to call while closing (ignored).
  void Send(const Message& m);
  // Relays a received frame body as it came (from its slot while the
  // queue's credit allows, else copied).
  void SendFrameBody(const FrameRef& body);
  // A catch-up op batch of `doc` whose update bytes are `update`, which
  // `keep` keeps alive until written.
  void SendCatchUp(std::string_view doc, std::shared_ptr<const void> keep,
                   std::span<const std::byte> update);

  // Sends an Error frame (when the peer speaks the protocol), then closes.
  void Fail(ErrorCode code, const std::string& reason);
  // Closes without an Error frame (peer gone, shutdown after a flush).
  // `code` says why, as an Error frame would (close_code()).
  void Close(const std::string& reason, ErrorCode code = ErrorCode::kUnspecified);

  // Try again after OnStalled or a refused OnMessage.
  void Retry();

  uint64_t id() const { return id_; }
  bool ready() const { return handshake_.done() && !closing_; }
  bool handshake_done() const { return handshake_.done(); }
  // Not reading because of back-pressure (pools, the ingress ring, its
  // credit or its own write queue).
  bool paused() const { return !reading_ && !closing_; }
  uint64_t bytes_received() const { return assembler_.bytes(); }
  bool closing() const { return closing_; }
  const Hello& peer_hello() const { return handshake_.peer_hello(); }
  uint64_t peer_node_id() const { return handshake_.peer_node_id(); }
  // The peer authenticated as a node: it may relay others' ops (see
  // handshake.h).
  bool peer_relays() const { return handshake_.peer_relays(); }
  Clock::time_point last_heard() const { return last_heard_; }
  // Sends a Ping, counted until the peer is next heard from.
  void SendPing(uint64_t nonce, uint64_t sent_micros);
  // Pings sent since the peer was last heard from (any bytes at all).
  uint32_t pings_since_heard() const { return pings_since_heard_; }
  // Bytes queued that the kernel has not taken, and when the queue last
  // made progress (a write completed, or it went from empty to not).
  size_t outbound_bytes() const { return outbound_bytes_; }
  Clock::time_point last_write_progress() const { return last_write_progress_; }
  const std::string& peer_name() const { return peer_name_; }
  // Once closing: why, as the code of the Error frame this side sent or
  // the peer did (kUnspecified when neither did: the stream ended, a
  // write failed).
  ErrorCode close_code() const { return close_code_; }
  // Once closing: the reason given (ours, or the peer's Error frame).
  const std::string& close_reason() const { return close_reason_; }

  // One queued write; defined in connection.cc.
  struct WriteReq;

 private:
  static WriteReq* TakeWrite();
  static void OnAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  // A write is done (or failed): its bytes leave the queue's count, its
  // buffers' owners are let go and the request returns to the free list.
  void FinishWrite(WriteReq* req, int status);
  // After a write is queued: the queue's bounds.
  void CheckOutbound();
  static void OnShutdown(uv_shutdown_t* req, int status);
  static void OnCloseTimer(uv_timer_t* t);
  static void OnHandleClosed(uv_handle_t* h);

  // Hands on the frames the assembler holds whole, until it has none, the
  // host holds one back, or no slot is free for the next.
  void TakeFrames();
  void HandleFrame(FrameRef frame);
  bool Dispatch(const FrameRef& frame);
  // `raw`: the bytes go out as they are, even on a WebSocket.
  void Write(WriteReq* req, size_t nbufs, bool raw = false);
  // Starts or stops reading as the reasons to pause (a held frame, a full
  // write queue, no slot, a blocked WebSocket, closing) say.
  void UpdateReading();

  // WebSocketStream::Owner: the stream's payload feeds the FrameAssembler.
  size_t OnPayload(std::span<const std::byte> bytes) override;
  void WriteRaw(std::string bytes) override;
  void OnStreamClosed(const std::string& reason) override;
  void SendMessages(std::vector<Message>& out);
  void FinishClose();

  uv_loop_t* loop_;
  const uint64_t id_;
  ConnectionHost* const host_;
  ConnectionOptions options_;
  uv_tcp_t tcp_{};
  uv_timer_t close_timer_{};
  uv_shutdown_t shutdown_{};
  FrameAssembler assembler_;
  Handshake handshake_;
  FrameRef held_;                        // a frame the host refused for now
  std::unique_ptr<WebSocketStream> ws_;  // null on a plain TCP connection
  bool reading_ = false;
  bool closing_ = false;
  bool lingering_ = false;  // closing after an Error frame: reads until the peer closes
  bool shut_down_ = false;  // our side is shut down: everything queued was written
  int open_handles_ = 0;
  size_t outbound_bytes_ = 0;
  size_t catch_up_bytes_ = 0;                  // of outbound_bytes_
  uint32_t pinned_[ringbuf::kPoolCount] = {};  // pool slots the queue holds, per class
  bool output_full_ = false;                   // over outbound_credit_bytes: not reading
  bool starved_ = false;                       // no pool slot for the next frame
  Clock::time_point last_write_progress_ = Clock::now();
  std::string close_reason_;
  ErrorCode close_code_ = ErrorCode::kUnspecified;
  std::string peer_name_;
  Clock::time_point last_heard_ = Clock::now();
  uint32_t pings_since_heard_ = 0;
};

}  // namespace weft::transport
