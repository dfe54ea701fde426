// A node's HTTP port (weft node --http) over real sockets: the page and its
// files, /healthz, /metrics, and WebSocket clients that speak the same
// frames, handshake and auth as TCP clients.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "node_test_util.h"
#include "support/full_disk.h"
#include "weft/engine/doc.h"
#include "weft/transport/auth.h"

namespace weft::node {
namespace {

// One HTTP exchange on its own connection: the whole response (the server
// closes after it, or `Connection: close` is asked).
std::string Get(uint16_t port, const std::string& request) {
  RawPeer p(port);
  p.Write(request);
  std::string out;
  while (!p.eof()) {
    std::string b = p.ReadExactly(1 << 20, milliseconds(5000));
    if (b.empty() && !p.eof()) break;
    out += b;
  }
  return out;
}

std::string GetPath(uint16_t port, const std::string& path) {
  return Get(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

int StatusOf(const std::string& response) {
  constexpr std::string_view kVersion = "HTTP/1.1 ";
  if (response.size() < kVersion.size() + 3 || !response.starts_with(kVersion)) return 0;
  return std::stoi(response.substr(kVersion.size(), 3));
}

std::string BodyOf(const std::string& response) {
  size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

// A directory holding a page, as the wasm build leaves one.
class WebRoot {
 public:
  WebRoot() {
    std::filesystem::create_directories(dir_.str());
    Put("index.html", "<textarea id=editor></textarea>");
    Put("weft.wasm", std::string("\0asm", 4));
    Put(".hidden.js", "secret");
    Put("notes.exe", "not served");
  }
  void Put(const std::string& name, const std::string& body) {
    std::ofstream(dir_.str() + "/" + name, std::ios::binary) << body;
  }
  std::string str() const { return dir_.str(); }

 private:
  TempDir dir_;
};

NodeOptions WithHttp(const WebRoot* root = nullptr) {
  NodeOptions o;
  o.http = HostPort{"127.0.0.1", 0};
  if (root != nullptr) o.web_root = root->str();
  return o;
}

// ---- Pages, health and metrics --------------------------------------------------

TEST(Http, ServesThePageAndItsFilesWithTheirTypes) {
  WebRoot root;
  TestNode n(WithHttp(&root));
  std::string page = GetPath(n.http_port(), "/?doc=notes");
  EXPECT_EQ(StatusOf(page), 200);
  EXPECT_NE(page.find("Content-Type: text/html"), std::string::npos);
  EXPECT_EQ(BodyOf(page), "<textarea id=editor></textarea>");
  std::string wasm = GetPath(n.http_port(), "/weft.wasm");
  EXPECT_NE(wasm.find("Content-Type: application/wasm"), std::string::npos);
  EXPECT_EQ(BodyOf(wasm), std::string("\0asm", 4));
}

TEST(Http, ServesNothingOutsideItsFiles) {
  WebRoot root;
  TestNode n(WithHttp(&root));
  for (const char* path : {"/.hidden.js", "/notes.exe", "/../index.html", "/%2e%2e/index.html",
                           "/nope.js", "//index.html", "/sub/index.html"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(StatusOf(GetPath(n.http_port(), path)), 404);
  }
}

TEST(Http, RefusesOtherMethodsAndHugeHeaders) {
  TestNode n(WithHttp());
  EXPECT_EQ(StatusOf(Get(n.http_port(), "POST /healthz HTTP/1.1\r\nContent-Length: 0\r\n\r\n")),
            405);
  std::string huge = "GET / HTTP/1.1\r\nX-Filler: " + std::string(40000, 'a') + "\r\n\r\n";
  EXPECT_EQ(StatusOf(Get(n.http_port(), huge)), 431);
  EXPECT_EQ(StatusOf(Get(n.http_port(), "NONSENSE\r\n\r\n")), 400);
  // The node goes on serving.
  EXPECT_EQ(StatusOf(GetPath(n.http_port(), "/healthz")), 200);
}

TEST(Http, AnswersPipelinedRequestsOnOneConnectionInOrder) {
  TestNode n(WithHttp());
  std::string both = Get(n.http_port(),
                         "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                         "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  size_t first = both.find("HTTP/1.1 200");
  size_t second = both.find("HTTP/1.1 404");
  ASSERT_NE(first, std::string::npos) << both;
  ASSERT_NE(second, std::string::npos) << both;
  EXPECT_LT(first, second);
}

TEST(Http, HealthzIs503WhileTheDiskFails) {
  TempDir dir;
  support::FullDisk disk;
  NodeOptions o = WithHttp();
  o.data_dir = dir.str();
  o.fs = &disk;
  TestNode n(o);
  EXPECT_EQ(StatusOf(GetPath(n.http_port(), "/healthz")), 200);
  Peer writer(n, 1, "d");
  disk.full = true;
  writer.Type(0, "abc");
  // The persister notices on its first failed write; poll until it has.
  auto deadline = std::chrono::steady_clock::now() + seconds(20);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline &&
         (status = StatusOf(GetPath(n.http_port(), "/healthz"))) != 503) {
    // The writer is told its batch cannot be stored; either way it runs.
    (void)writer.client->RunUntil([] { return false; }, milliseconds(20));
  }
  EXPECT_EQ(status, 503);
  EXPECT_NE(BodyOf(GetPath(n.http_port(), "/metrics")).find("weft_disk_ok 0"), std::string::npos);
  disk.full = false;
  // Healthy again once the held batch is stored.
  deadline = std::chrono::steady_clock::now() + kDeadline;
  while (std::chrono::steady_clock::now() < deadline &&
         (status = StatusOf(GetPath(n.http_port(), "/healthz"))) != 200) {
    std::this_thread::sleep_for(milliseconds(20));  // polling an HTTP endpoint
  }
  EXPECT_EQ(status, 200);
}

TEST(Http, MetricsCountEditsAndTheirAckLatency) {
  TestNode n(WithHttp());
  Peer writer(n, 1, "d");
  for (int i = 0; i < 5; ++i) writer.Type(writer.doc.size(), "x");
  ASSERT_TRUE(writer.WaitFor([&] { return writer.client->acked("d").Get(1) == 5; }));
  std::string m = BodyOf(GetPath(n.http_port(), "/metrics"));
  EXPECT_NE(m.find("# TYPE weft_edit_to_ack_seconds histogram"), std::string::npos) << m;
  EXPECT_NE(m.find("weft_edit_to_ack_seconds_count 5"), std::string::npos) << m;
  EXPECT_NE(m.find("weft_edit_to_ack_seconds_bucket{le=\"+Inf\"} 5"), std::string::npos) << m;
  EXPECT_NE(m.find("weft_accepted_batches_total 5"), std::string::npos) << m;
  EXPECT_NE(m.find("weft_documents 1"), std::string::npos) << m;
  EXPECT_NE(m.find("weft_connections 1"), std::string::npos) << m;
}

// ---- WebSocket --------------------------------------------------------------------

// A WebSocket client over a raw socket: masked frames out, weft frames in.
class WsPeer {
 public:
  explicit WsPeer(uint16_t port) : raw_(port) {}

  // Sends the upgrade request; returns the response head.
  std::string Upgrade(const std::string& extra_headers = "") {
    raw_.Write(
        "GET /weft HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        std::string(extra_headers.empty() ? "Sec-WebSocket-Version: 13\r\n" : extra_headers) +
        "\r\n");
    std::string head;
    while (head.find("\r\n\r\n") == std::string::npos) {
      std::string b = raw_.ReadExactly(1, milliseconds(5000));
      if (b.empty()) break;
      head += b;
    }
    return head;
  }

  // One client frame (masked, as RFC 6455 requires of clients).
  static std::string Frame(uint8_t opcode, const std::string& payload, bool masked = true) {
    std::string f(1, static_cast<char>(0x80 | opcode));
    uint8_t mask_bit = masked ? 0x80 : 0;
    if (payload.size() < 126) {
      f.push_back(static_cast<char>(mask_bit | payload.size()));
    } else {
      f.push_back(static_cast<char>(mask_bit | 126));
      f.push_back(static_cast<char>(payload.size() >> 8));
      f.push_back(static_cast<char>(payload.size()));
    }
    const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
    if (masked) f.append(reinterpret_cast<const char*>(key), 4);
    for (size_t i = 0; i < payload.size(); ++i) {
      f.push_back(static_cast<char>(payload[i] ^ (masked ? key[i % 4] : 0)));
    }
    return f;
  }

  static std::string Stream(const Message& m) {
    std::string body = EncodeFrame(m);
    auto prefix = EncodeFramePrefix(body.size());
    return std::string(reinterpret_cast<const char*>(prefix.data()), prefix.size()) + body;
  }

  void Send(const Message& m) { raw_.Write(Frame(0x2, Stream(m))); }
  void Write(const std::string& bytes) { raw_.Write(bytes); }

  // The next server frame: opcode and payload; nullopt at end or timeout.
  std::optional<std::pair<uint8_t, std::string>> ReadWsFrame() {
    std::string h = raw_.ReadExactly(2, milliseconds(5000));
    if (h.size() < 2) return std::nullopt;
    if (static_cast<uint8_t>(h[1]) & 0x80) return std::nullopt;  // servers never mask
    uint64_t len = static_cast<uint8_t>(h[1]) & 0x7f;
    int extra = len == 126 ? 2 : len == 127 ? 8 : 0;
    if (extra > 0) {
      std::string l = raw_.ReadExactly(static_cast<size_t>(extra), milliseconds(5000));
      len = 0;
      for (char c : l) len = len << 8 | static_cast<uint8_t>(c);
    }
    std::string payload = raw_.ReadExactly(len, milliseconds(5000));
    if (payload.size() < len) return std::nullopt;
    return std::make_pair(static_cast<uint8_t>(h[0] & 0x0f), payload);
  }

  // The next weft message, reassembled from binary messages' payloads.
  std::optional<Message> Read() {
    while (true) {
      if (stream_.size() >= 4) {
        uint32_t len = 0;
        for (int i = 0; i < 4; ++i) len |= uint32_t{static_cast<uint8_t>(stream_[i])} << (8 * i);
        if (stream_.size() >= 4 + len) {
          body_ = stream_.substr(4, len);
          stream_.erase(0, 4 + len);
          Result<Message> m = DecodeFrame(std::as_bytes(std::span(body_.data(), body_.size())));
          if (!m.ok()) return std::nullopt;
          return *m;
        }
      }
      std::optional<std::pair<uint8_t, std::string>> f = ReadWsFrame();
      if (!f) return std::nullopt;
      if (f->first == 0x8) {
        close_code_ =
            f->second.size() >= 2
                ? (static_cast<uint8_t>(f->second[0]) << 8 | static_cast<uint8_t>(f->second[1]))
                : 0;
        return std::nullopt;
      }
      if (f->first == 0x2) stream_ += f->second;
    }
  }

  template <typename T>
  std::optional<T> ReadUntil() {
    while (std::optional<Message> m = Read()) {
      if (const T* t = std::get_if<T>(&*m)) return *t;
    }
    return std::nullopt;
  }

  // Reads until a close frame; its status code (0 if none came).
  int CloseCode() {
    while (std::optional<std::pair<uint8_t, std::string>> f = ReadWsFrame()) {
      if (f->first == 0x8) {
        return f->second.size() >= 2
                   ? (static_cast<uint8_t>(f->second[0]) << 8 | static_cast<uint8_t>(f->second[1]))
                   : 0;
      }
    }
    return close_code_;
  }

  void Hello(uint64_t agent) {
    transport::Hello h;
    h.node_id = 900 + agent;
    h.client_nonce.fill(3);
    h.agents = {agent};
    h.label = "browser";
    Send(h);
  }

 private:
  RawPeer raw_;
  std::string stream_;
  std::string body_;  // decoded messages view it
  int close_code_ = 0;
};

std::string UpdateBytes(engine::Doc& d, const engine::VersionVector& since) {
  return d.EncodeOpsSince(since);
}

OpBatch Batch(const std::string& doc, const std::string& update) {
  return OpBatch{doc, std::as_bytes(std::span(update.data(), update.size()))};
}

TEST(WebSocket, UpgradeAnswersWithTheAcceptKey) {
  TestNode n(WithHttp());
  WsPeer ws(n.http_port());
  std::string head = ws.Upgrade();
  EXPECT_EQ(StatusOf(head), 101) << head;
  // The key and accept value of RFC 6455's own example.
  EXPECT_NE(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), std::string::npos);
}

TEST(WebSocket, BadUpgradesAreRefused) {
  TestNode n(WithHttp());
  EXPECT_EQ(StatusOf(WsPeer(n.http_port()).Upgrade("Sec-WebSocket-Version: 8\r\n")), 426);
  std::string bad_key =
      "GET /weft HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n";
  EXPECT_EQ(StatusOf(Get(n.http_port(), bad_key)), 400);
  std::string elsewhere =
      "GET /other HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  EXPECT_EQ(StatusOf(Get(n.http_port(), elsewhere)), 404);
  EXPECT_EQ(StatusOf(GetPath(n.http_port(), "/weft")), 426);
}

TEST(WebSocket, BrowserAndTcpClientsEditOneDocument) {
  TestNode n(WithHttp());
  Peer tcp(n, 2, "notes");
  WsPeer ws(n.http_port());
  ASSERT_EQ(StatusOf(ws.Upgrade()), 101);
  ws.Hello(1);
  ASSERT_TRUE(ws.ReadUntil<Welcome>().has_value());
  engine::Doc mine(1);
  ws.Send(Subscribe{"notes", mine.version()});
  ASSERT_TRUE(ws.ReadUntil<SyncDone>().has_value());
  ASSERT_TRUE(mine.Insert(0, "hello from a browser").ok());
  std::string update = UpdateBytes(mine, {});
  ws.Send(Batch("notes", update));
  std::optional<Ack> ack = ws.ReadUntil<Ack>();
  ASSERT_TRUE(ack.has_value());
  EXPECT_EQ(ack->durable.Get(1), mine.known_seqs(1));
  ASSERT_TRUE(tcp.WaitFor([&] { return tcp.doc.Text() == "hello from a browser"; }));
  // And back: the TCP client's edit reaches the browser.
  tcp.Type(0, ">> ");
  std::optional<OpBatch> relayed = ws.ReadUntil<OpBatch>();
  ASSERT_TRUE(relayed.has_value());
  ASSERT_TRUE(mine.ApplyUpdate(relayed->update).ok());
  EXPECT_EQ(mine.Text(), ">> hello from a browser");
}

TEST(WebSocket, StreamBytesMayBeCutAnywhere) {
  TestNode n(WithHttp());
  WsPeer ws(n.http_port());
  ASSERT_EQ(StatusOf(ws.Upgrade()), 101);
  transport::Hello h;
  h.node_id = 5;
  h.client_nonce.fill(4);
  h.agents = {5};
  // The stream one byte per message, and each message in two writes.
  for (char c : WsPeer::Stream(h)) {
    std::string frame = WsPeer::Frame(0x2, std::string(1, c));
    ws.Write(frame.substr(0, 3));
    ws.Write(frame.substr(3));
  }
  EXPECT_TRUE(ws.ReadUntil<Welcome>().has_value());
}

TEST(WebSocket, SecretIsProvedAsOverTcp) {
  NodeOptions o = WithHttp();
  o.secret.emplace("correct horse");
  TestNode n(o);
  for (const char* secret : {"wrong horse", "correct horse"}) {
    SCOPED_TRACE(secret);
    WsPeer ws(n.http_port());
    ASSERT_EQ(StatusOf(ws.Upgrade()), 101);
    ws.Hello(1);
    std::optional<AuthChallenge> challenge = ws.ReadUntil<AuthChallenge>();
    ASSERT_TRUE(challenge.has_value());
    Nonce client_nonce;
    client_nonce.fill(3);
    ws.Send(AuthProof{ClientProof(secret, challenge->server_nonce, client_nonce, 901)});
    std::optional<Message> answer = ws.Read();
    if (std::string(secret) == "wrong horse") {
      ASSERT_TRUE(answer.has_value());
      ASSERT_TRUE(std::holds_alternative<ErrorFrame>(*answer));
      EXPECT_EQ(std::get<ErrorFrame>(*answer).code, ErrorCode::kAuthFailed);
      EXPECT_EQ(ws.CloseCode(), 1000);
    } else {
      ASSERT_TRUE(answer.has_value());
      const Welcome* w = std::get_if<Welcome>(&*answer);
      ASSERT_NE(w, nullptr);
      ASSERT_TRUE(w->server_proof.has_value());
      EXPECT_TRUE(
          ProofMatches(ServerProof(secret, client_nonce, challenge->server_nonce, w->node_id),
                       *w->server_proof));
    }
  }
}

TEST(WebSocket, TextAndUnmaskedFramesCloseTheConnection) {
  TestNode n(WithHttp());
  {
    WsPeer ws(n.http_port());
    ASSERT_EQ(StatusOf(ws.Upgrade()), 101);
    ws.Write(WsPeer::Frame(0x1, "hello"));
    EXPECT_EQ(ws.CloseCode(), 1003);  // unsupported data
  }
  {
    WsPeer ws(n.http_port());
    ASSERT_EQ(StatusOf(ws.Upgrade()), 101);
    ws.Write(WsPeer::Frame(0x2, "\x01\x00\x00\x00\x00", false));
    EXPECT_EQ(ws.CloseCode(), 1002);  // protocol error
  }
  // Garbage inside well-formed messages is a weft protocol error, as on TCP.
  {
    WsPeer ws(n.http_port());
    ASSERT_EQ(StatusOf(ws.Upgrade()), 101);
    ws.Write(WsPeer::Frame(0x2, std::string("\x03\x00\x00\x00\xff\xff\xff", 7)));
    std::optional<Message> m = ws.Read();
    ASSERT_TRUE(m.has_value());
    EXPECT_TRUE(std::holds_alternative<ErrorFrame>(*m));
  }
  EXPECT_EQ(StatusOf(GetPath(n.http_port(), "/healthz")), 200);
}

}  // namespace
}  // namespace weft::node
