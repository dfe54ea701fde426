// HttpListener: a node's HTTP port (weft node --http). It serves
//
//   GET /, /?doc=NAME   the collaborative editor page (index.html)
//   GET /<file>         the page's scripts and the engine's WebAssembly (WebFiles)
//   GET /healthz        200 "ok" while the node serves, 503 while its disk fails
//   GET /metrics        the node's figures in the Prometheus text format
//   GET /weft           a WebSocket (RFC 6455) carrying weft's frames
//
// and answers anything else with 404 or 405. A WebSocket upgrade hands the
// socket over to the node (adopt_websocket), which runs it as a Connection
// like any TCP client: same frames, handshake and auth.
//
// Limits: at most kMaxSessions HTTP connections at once (more are closed at
// accept), request header and body sizes (HttpRequestReader), and an idle
// timeout per connection. Loop thread only.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "transport_names.h"
#include "web_files.h"
#include "weft/node/node.h"
#include "weft/status.h"

namespace weft::node {

struct HttpHooks {
  // True while the node can serve (its disk is being written).
  std::function<bool()> healthy;
  // The body of GET /metrics.
  std::function<std::string()> metrics;
  // Takes over a socket whose WebSocket upgrade was answered: `fd` is the
  // callee's to close, `early` holds bytes the client sent after its
  // request.
  std::function<void(uv_os_sock_t fd, std::string early)> adopt_websocket;
  std::function<void(const std::string&)> log;
};

class HttpListener {
 public:
  static constexpr size_t kMaxSessions = 256;
  static constexpr std::chrono::milliseconds kIdleTimeout{30000};

  HttpListener(uv_loop_t* loop, WebFiles files, HttpHooks hooks);
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // Binds `addr` and listens. Unavailable when it cannot be bound (`name`
  // says which address, for the message).
  Status Listen(const sockaddr_storage& addr, const std::string& name);
  uint16_t port() const { return port_; }

  // Stops listening and closes every HTTP connection (WebSockets already
  // handed over are the node's). `done` runs once every handle is closed.
  void Close(std::function<void()> done);

  // The path of the WebSocket endpoint.
  static constexpr std::string_view kWebSocketPath = "/weft";

  class Session;

 private:
  static void OnConnection(uv_stream_t* server, int status);
  void Forget(Session* s);
  void MaybeDone();

  uv_loop_t* loop_;
  WebFiles files_;
  HttpHooks hooks_;
  uv_tcp_t listener_{};
  bool listener_open_ = true;
  uint16_t port_ = 0;
  bool closing_ = false;
  std::function<void()> done_;
  std::unordered_map<Session*, std::unique_ptr<Session>> sessions_;

  friend class Session;
};

}  // namespace weft::node
