#include "http_listener.h"

#include <fcntl.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <vector>

#include "weft/transport/http_request.h"
#include "weft/transport/websocket_stream.h"

namespace weft::node {
namespace {

struct Response {
  int status = 200;
  std::string_view content_type = "text/plain; charset=utf-8";
  std::string owned_body;
  const std::string* body = nullptr;  // a WebFiles body (outlives sessions), else owned_body
  std::string extra_headers;          // "Name: value\r\n" lines
  bool cache = false;                 // static files may be cached (and revalidated)
};

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 101:
      return "Switching Protocols";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Content Too Large";
    case 426:
      return "Upgrade Required";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

// Whether comma-separated header `value` lists `token` (case-insensitive).
bool HasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.size() == token.size() && strncasecmp(item.data(), token.data(), token.size()) == 0) {
      return true;
    }
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// A Sec-WebSocket-Key is the base64 of 16 bytes: 22 characters and "==".
bool ValidKey(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (char c : key.substr(0, 22)) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/';
    if (!ok) return false;
  }
  return true;
}

Response Text(int status, std::string body) {
  Response r;
  r.status = status;
  r.owned_body = std::move(body);
  return r;
}

}  // namespace

// One HTTP connection: reads requests, answers them in order, and either
// closes or hands its socket to the node after a WebSocket upgrade.
class HttpListener::Session {
 public:
  explicit Session(HttpListener* owner) : owner_(owner) {
    uv_tcp_init(owner_->loop_, &tcp_);
    uv_timer_init(owner_->loop_, &timer_);
    tcp_.data = this;
    timer_.data = this;
  }

  uv_tcp_t* tcp() { return &tcp_; }

  void Start() {
    ArmTimer();
    if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead) != 0) Close();
  }

  void Close() {
    if (closing_) return;
    closing_ = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnClosed);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), OnClosed);
  }

 private:
  struct WriteReq {
    uv_write_t req{};
    Session* session = nullptr;
    std::string head;
    Response response;
  };

  static void OnAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    auto* s = static_cast<Session*>(h->data);
    *buf = uv_buf_init(s->in_, sizeof s->in_);
  }

  static void OnRead(uv_stream_t* stream, ssize_t n, const uv_buf_t*) {
    auto* s = static_cast<Session*>(stream->data);
    if (n == 0 || s->closing_) return;  // EAGAIN, not end of stream
    if (n < 0) return s->Close();
    s->ArmTimer();
    s->Process(std::string_view(s->in_, static_cast<size_t>(n)));
  }

  void Process(std::string_view bytes) {
    while (!bytes.empty() && !closing_ && !done_reading_) {
      size_t used = 0;
      HttpRequestReader::State state = reader_.Feed(bytes, &used);
      bytes.remove_prefix(std::min(used, bytes.size()));
      if (state == HttpRequestReader::State::kNeedMore) return;
      if (state == HttpRequestReader::State::kError) {
        Response r = Text(reader_.error_status(), reader_.error() + "\n");
        return Finish(std::move(r), false);
      }
      const HttpRequest& req = reader_.request();
      if (req.is_upgrade) return Upgrade(req, bytes);
      Respond(req);
      reader_.Next();
    }
  }

  void Respond(const HttpRequest& req) {
    if (req.method != "GET" && req.method != "HEAD") {
      Response r = Text(405, "only GET and HEAD\n");
      r.extra_headers = "Allow: GET, HEAD\r\n";
      return Finish(std::move(r), false);
    }
    Response r;
    if (req.path == "/healthz") {
      bool ok = !owner_->hooks_.healthy || owner_->hooks_.healthy();
      r = ok ? Text(200, "ok\n") : Text(503, "disk failing\n");
    } else if (req.path == "/metrics") {
      r = Text(200, owner_->hooks_.metrics ? owner_->hooks_.metrics() : "");
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    } else if (req.path == kWebSocketPath) {
      r = Text(426, "this is a WebSocket endpoint\n");
      r.extra_headers = "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
    } else if (const WebFile* f = owner_->files_.Find(req.path)) {
      r.content_type = f->content_type;
      r.body = &f->body;
      r.cache = true;
    } else if (req.path == "/" || req.path == "/index.html") {
      r = Text(404,
               "the editor page is not built: build the wasm preset (see README.md, "
               "\"In the browser\") or pass --web-root\n");
    } else {
      r = Text(404, "not found\n");
    }
    Finish(std::move(r), req.keep_alive, req.method == "HEAD");
  }

  // A request that asks to switch protocols: only a WebSocket at
  // kWebSocketPath is accepted; the HTTP part of the stream ends either way.
  void Upgrade(const HttpRequest& req, std::string_view early) {
    done_reading_ = true;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    if (req.path != kWebSocketPath || req.method != "GET" || !HasToken(req.upgrade, "websocket")) {
      return Finish(Text(404, "no such upgrade\n"), false);
    }
    if (req.websocket_version != "13") {
      Response r = Text(426, "WebSocket version 13 only\n");
      r.extra_headers = "Sec-WebSocket-Version: 13\r\n";
      return Finish(std::move(r), false);
    }
    if (!ValidKey(req.websocket_key)) return Finish(Text(400, "bad Sec-WebSocket-Key\n"), false);
    early_.assign(early);
    handoff_ = true;
    auto* w = new WriteReq;
    w->head =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        WebSocketAccept(req.websocket_key) + "\r\n\r\n";
    Write(w, false);
  }

  void Finish(Response r, bool keep_alive, bool head_only = false) {
    const std::string& body = r.body != nullptr ? *r.body : r.owned_body;
    auto* w = new WriteReq;
    w->head = "HTTP/1.1 " + std::to_string(r.status) + " " + Reason(r.status) +
              "\r\nContent-Type: " + std::string(r.content_type) +
              "\r\nContent-Length: " + std::to_string(body.size()) +
              "\r\nCache-Control: " + (r.cache ? "no-cache" : "no-store") +
              "\r\nX-Content-Type-Options: nosniff\r\nConnection: " +
              (keep_alive ? "keep-alive" : "close") + "\r\n" + r.extra_headers + "\r\n";
    w->response = std::move(r);
    if (!keep_alive) {
      close_after_writes_ = true;
      done_reading_ = true;
      uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    }
    Write(w, !head_only);
  }

  void Write(WriteReq* w, bool with_body) {
    const std::string& body =
        w->response.body != nullptr ? *w->response.body : w->response.owned_body;
    uv_buf_t bufs[2] = {
        uv_buf_init(w->head.data(), static_cast<unsigned>(w->head.size())),
        uv_buf_init(const_cast<char*>(body.data()), static_cast<unsigned>(body.size()))};
    w->session = this;
    w->req.data = w;
    ++writes_;
    unsigned n = with_body && !body.empty() ? 2 : 1;
    if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), bufs, n, OnWritten) != 0) {
      --writes_;
      delete w;
      Close();
    }
  }

  static void OnWritten(uv_write_t* req, int status) {
    auto* w = static_cast<WriteReq*>(req->data);
    Session* s = w->session;
    delete w;
    --s->writes_;
    if (s->closing_) return;
    if (status < 0) return s->Close();
    if (s->writes_ > 0) return;
    if (s->handoff_) return s->HandOff();
    if (s->close_after_writes_) s->Close();
  }

  // The 101 is out: the socket (a duplicate of its descriptor, since this
  // handle closes) now belongs to the node.
  void HandOff() {
    uv_os_fd_t fd = -1;
    int dup = -1;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd) == 0) {
      dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    }
    if (dup >= 0 && owner_->hooks_.adopt_websocket) {
      owner_->hooks_.adopt_websocket(dup, std::move(early_));
    } else if (dup >= 0) {
      ::close(dup);
    }
    Close();
  }

  void ArmTimer() {
    uv_timer_start(
        &timer_, [](uv_timer_t* t) { static_cast<Session*>(t->data)->Close(); },
        static_cast<uint64_t>(kIdleTimeout.count()), 0);
  }

  static void OnClosed(uv_handle_t* h) {
    auto* s = static_cast<Session*>(h->data);
    if (--s->open_handles_ == 0) s->owner_->Forget(s);
  }

  HttpListener* const owner_;
  uv_tcp_t tcp_{};
  uv_timer_t timer_{};
  int open_handles_ = 2;
  char in_[8192];
  HttpRequestReader reader_;
  std::string early_;
  int writes_ = 0;
  bool closing_ = false;
  bool done_reading_ = false;
  bool close_after_writes_ = false;
  bool handoff_ = false;
};

HttpListener::HttpListener(uv_loop_t* loop, WebFiles files, HttpHooks hooks)
    : loop_(loop), files_(std::move(files)), hooks_(std::move(hooks)) {
  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
}

HttpListener::~HttpListener() = default;

Status HttpListener::Listen(const sockaddr_storage& addr, const std::string& name) {
  int rc = uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 128, OnConnection);
  if (rc != 0) {
    return Status::Unavailable("cannot listen for HTTP on " + name + ": " + uv_strerror(rc));
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return Status::Ok();
}

void HttpListener::OnConnection(uv_stream_t* server, int status) {
  auto* l = static_cast<HttpListener*>(server->data);
  if (status < 0 || l->closing_) return;
  auto session = std::make_unique<Session>(l);
  Session* s = session.get();
  l->sessions_.emplace(s, std::move(session));
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(s->tcp())) != 0 ||
      l->sessions_.size() > kMaxSessions) {
    s->Close();
    return;
  }
  s->Start();
}

void HttpListener::Forget(Session* s) {
  sessions_.erase(s);
  MaybeDone();
}

void HttpListener::Close(std::function<void()> done) {
  if (closing_) return;
  closing_ = true;
  done_ = std::move(done);
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_), [](uv_handle_t* h) {
    auto* l = static_cast<HttpListener*>(h->data);
    l->listener_open_ = false;
    l->MaybeDone();
  });
  std::vector<Session*> all;
  for (auto& [s, owned] : sessions_) all.push_back(s);
  for (Session* s : all) s->Close();
}

void HttpListener::MaybeDone() {
  if (!closing_ || listener_open_ || !sessions_.empty() || !done_) return;
  std::function<void()> done = std::move(done_);
  done_ = nullptr;
  done();
}

}  // namespace weft::node
