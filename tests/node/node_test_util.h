// Helpers for tests that run nodes in-process over real sockets on
// 127.0.0.1: a node on a thread of its own, clients with their own
// replicas, raw sockets for peers that misbehave, temporary directories.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "weft/node/node.h"
#include "weft/transport/client.h"
#include "weft/transport/frame.h"
#include "weft/transport/handshake.h"
#include "weft/transport/wire_codec.h"

namespace weft::node {

// The tests talk to nodes as their peers do: through transport's client,
// frames and messages.
using namespace transport;
using std::chrono::milliseconds;
using std::chrono::seconds;

// Waits are for conditions, with a deadline generous enough for an
// AddressSanitizer build on a two-core machine with another process
// keeping one core busy: only a broken node should ever reach it.
inline constexpr milliseconds kDeadline(60000);

// A node serving on an ephemeral port until the test ends.
class TestNode {
 public:
  TestNode() { Start(NodeOptions()); }
  explicit TestNode(NodeOptions o) { Start(std::move(o)); }
  ~TestNode() { Stop(); }

  // `o.log`, if set, sees every line too (on the node's loop thread).
  void Start(NodeOptions o) {
    o.handle_signals = false;
    o.log = Logger(o.log, log_);
    if (o.heartbeat.count() == 1000) o.heartbeat = milliseconds(100);
    // A test's clients run only while the test waits on them; a busy
    // machine can leave one unserved for seconds. Tests that want the
    // timeout set their own.
    if (o.peer_timeout.count() == 5000) o.peer_timeout = kDeadline;
    Result<std::unique_ptr<Node>> n = Node::Create(std::move(o));
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    node_ = std::move(*n);
    port_ = node_->port();
    http_port_ = node_->http_port();
    thread_ = std::thread([this] { EXPECT_TRUE(node_->Run().ok()); });
  }
  void Stop() {
    if (!node_) return;
    node_->Stop();
    thread_.join();
    node_.reset();
  }
  uint16_t port() const { return port_; }
  uint16_t http_port() const { return http_port_; }
  HostPort addr() const { return HostPort{"127.0.0.1", port_}; }
  uint64_t node_id() const { return node_->node_id(); }

  // The largest number the node's log has shown after `key` (e.g. "docs=").
  uint64_t MaxLogged(const std::string& key) {
    std::lock_guard<std::mutex> lock(log_->mu);
    uint64_t most = 0;
    for (const std::string& l : log_->lines) {
      size_t at = l.find(key);
      if (at != std::string::npos)
        most = std::max<uint64_t>(most, std::stoull(l.substr(at + key.size())));
    }
    return most;
  }

  // How many lines the node has logged so far (a mark for Logged).
  size_t LogSize() {
    std::lock_guard<std::mutex> lock(log_->mu);
    return log_->lines.size();
  }

  // Waits until the node has logged a line containing `text`, among the
  // lines from index `from` on.
  bool Logged(const std::string& text, milliseconds timeout = kDeadline, size_t from = 0) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    do {
      {
        std::lock_guard<std::mutex> lock(log_->mu);
        for (size_t i = from; i < log_->lines.size(); ++i) {
          if (log_->lines[i].find(text) != std::string::npos) return true;
        }
      }
      // The log is a callback from the node's thread: poll what it wrote.
      std::this_thread::sleep_for(milliseconds(5));
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
  }

 private:
  struct Log {
    std::mutex mu;
    std::vector<std::string> lines;
  };

  static std::function<void(const std::string&)> Logger(
      std::function<void(const std::string&)> hook, std::shared_ptr<Log> log) {
    return [hook = std::move(hook), log = std::move(log)](const std::string& l) {
      if (std::getenv("WEFT_TEST_LOG")) std::fprintf(stderr, "node: %s\n", l.c_str());
      {
        std::lock_guard<std::mutex> lock(log->mu);
        log->lines.push_back(l);
      }
      if (hook) hook(l);
    };
  }

  std::shared_ptr<Log> log_ = std::make_shared<Log>();

  std::unique_ptr<Node> node_;
  std::thread thread_;
  uint16_t port_ = 0;
  uint16_t http_port_ = 0;
};

inline std::unique_ptr<Client> Connect(const TestNode& n, uint64_t agent,
                                       std::optional<std::string> secret = std::nullopt) {
  ClientOptions o;
  o.server = n.addr();
  o.agents = {agent};
  o.secret = std::move(secret);
  o.timeout = kDeadline;
  Result<std::unique_ptr<Client>> c = Client::Connect(o);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(*c) : nullptr;
}

// A typist: a client with its own replica of `doc`, subscribed.
struct Peer {
  Peer(const TestNode& n, uint64_t agent, const std::string& doc_name)
      : client(Connect(n, agent)), doc(agent), name(doc_name) {
    if (client) {
      EXPECT_TRUE(client->Subscribe(name, &doc).ok());
    }
  }
  void Type(uint64_t pos, const std::string& text) {
    engine::VersionVector before = doc.version();
    ASSERT_TRUE(doc.Insert(pos, text).ok());
    ASSERT_TRUE(client->SendOpsSince(name, doc, before).ok());
  }
  bool WaitFor(const std::function<bool()>& pred) { return client->RunUntil(pred, kDeadline).ok(); }
  // Waits until the node acknowledged everything this peer typed.
  bool WaitForAcks() {
    return WaitFor(
        [&] { return client->acked(name).Get(doc.agent()) == doc.version().Get(doc.agent()); });
  }

  std::unique_ptr<Client> client;
  engine::Doc doc;
  std::string name;
};

// ---- Raw sockets, for peers that misbehave --------------------------------

class RawPeer {
 public:
  // `rcvbuf`: a receive buffer size set before connecting (0: default).
  explicit RawPeer(uint16_t port, int rcvbuf = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  }
  ~RawPeer() { close(fd_); }

  void Write(const std::string& bytes) {
    EXPECT_EQ(send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  void WriteFrame(const Message& m, bool byte_at_a_time = false) {
    std::string body = EncodeFrame(m);
    auto prefix = EncodeFramePrefix(body.size());
    std::string all(reinterpret_cast<const char*>(prefix.data()), prefix.size());
    all += body;
    if (!byte_at_a_time) return Write(all);
    for (char c : all) Write(std::string(1, c));
  }
  // The next frame, or nullopt at end of stream / after `timeout`.
  std::optional<Message> ReadFrame(milliseconds timeout = kDeadline) {
    std::string prefix = ReadExactly(4, timeout);
    if (prefix.size() < 4) return std::nullopt;
    uint32_t len = 0;
    for (int i = 0; i < 4; ++i) len |= uint32_t{static_cast<uint8_t>(prefix[i])} << (8 * i);
    body_ = ReadExactly(len, timeout);
    if (body_.size() < len) return std::nullopt;
    Result<Message> m = DecodeFrame(std::as_bytes(std::span(body_.data(), body_.size())));
    if (!m.ok()) return std::nullopt;
    return *m;
  }
  // Reads frames until one of type T (skipping pings); nullopt if none.
  template <typename T>
  std::optional<T> ReadUntil(milliseconds timeout = kDeadline) {
    while (std::optional<Message> m = ReadFrame(timeout)) {
      if (const T* t = std::get_if<T>(&*m)) return *t;
    }
    return std::nullopt;
  }
  // Reads until the node closes the connection (true) or nothing arrives
  // for `timeout` (false); `*bytes` counts what was read.
  bool Closed(milliseconds timeout = kDeadline, size_t* bytes = nullptr) {
    while (true) {
      std::string b = ReadExactly(64 << 10, timeout);
      if (bytes != nullptr) *bytes += b.size();
      if (eof_) return true;
      if (b.empty()) return false;
    }
  }
  void Handshake(std::vector<uint64_t> agents = {}) {
    Hello h;
    h.node_id = 77;
    h.client_nonce.fill(1);
    h.agents = std::move(agents);
    WriteFrame(h);
    ASSERT_TRUE(ReadUntil<Welcome>().has_value());
  }
  // Runs the connecting side of a handshake with `config` (its secrets
  // and claims); the failure the node reported, if any.
  std::optional<HandshakeFailure> HandshakeAs(HandshakeConfig config) {
    config.client = true;
    weft::transport::Handshake hs(std::move(config));
    std::vector<Message> out;
    EXPECT_TRUE(hs.Start(&out).ok());
    while (!hs.done()) {
      for (const Message& m : out) WriteFrame(m);
      out.clear();
      std::optional<Message> in = ReadFrame();
      if (!in) return HandshakeFailure{ErrorCode::kUnspecified, "no answer"};
      if (std::optional<HandshakeFailure> f = hs.OnMessage(*in, &out)) return f;
    }
    for (const Message& m : out) WriteFrame(m);
    return std::nullopt;
  }
  int fd() const { return fd_; }
  bool eof() const { return eof_; }

  // Up to `n` bytes: fewer at end of stream or after `timeout` of silence.
  std::string ReadExactly(size_t n, milliseconds timeout) {
    std::string out;
    while (out.size() < n) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return out;
      char buf[4096];
      ssize_t got = recv(fd_, buf, std::min(sizeof buf, n - out.size()), 0);
      if (got <= 0) {
        eof_ = true;
        return out;
      }
      out.append(buf, static_cast<size_t>(got));
    }
    return out;
  }

 private:
  int fd_ = -1;
  bool eof_ = false;
  std::string body_;  // decoded messages may view it
};

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("weft_node_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace weft::node
