// Handshake: the state machine that opens a connection, without sockets.
//
//   connecting side (client)            accepting side (server)
//   ------------------------            -----------------------
//   Start(): send Hello       ───────►  Hello: version ok?
//                                         secret: send AuthChallenge
//                                         none:   send Welcome (done)
//   AuthChallenge: send Proof ───────►  AuthProof: valid? send Welcome with
//                                         the server's proof (done), else fail
//   Welcome: server proof ok? (done)
//
// A side with a secret requires the other to prove it: a server with a
// secret rejects a client without one, and a client with a secret rejects a
// server that does not prove it. Any other frame before the end is a
// protocol error. Feed it every frame until done() or failed(); it says what
// to send through `out`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "messages.h"
#include "weft/status.h"

namespace weft::transport {

struct HandshakeConfig {
  bool client = false;
  uint64_t node_id = 0;
  std::optional<std::string> secret;  // none: accept anyone / prove nothing
  std::vector<uint64_t> agents;       // client: agents it will author under
  std::string label;
  bool is_node = false;
};

// Why a handshake failed, as the code to send in the Error frame.
struct HandshakeFailure {
  ErrorCode code = ErrorCode::kProtocol;
  std::string reason;
};

class Handshake {
 public:
  explicit Handshake(HandshakeConfig config) : config_(std::move(config)) {}

  // The client's opening Hello (empty for a server). Call once.
  Status Start(std::vector<Message>* out);
  // Feeds one received frame. On failure, returns it (and failed() is true);
  // the caller sends an Error frame with it and closes.
  std::optional<HandshakeFailure> OnMessage(const Message& m, std::vector<Message>* out);

  bool done() const { return state_ == State::kDone; }
  bool failed() const { return state_ == State::kFailed; }
  // The peer's hello (server side) or welcome node id (client side).
  const Hello& peer_hello() const { return peer_hello_; }
  uint64_t peer_node_id() const { return peer_node_id_; }
  // Whether the peer said it is a node (in its Hello or Welcome).
  bool peer_is_node() const { return peer_is_node_; }

 private:
  enum class State {
    kIdle,
    kAwaitHello,
    kAwaitProof,
    kAwaitChallengeOrWelcome,
    kAwaitWelcome,
    kDone,
    kFailed
  };

  std::optional<HandshakeFailure> Fail(ErrorCode code, std::string reason);
  std::optional<HandshakeFailure> OnHello(const Hello& h, std::vector<Message>* out);
  std::optional<HandshakeFailure> OnWelcome(const Welcome& w);

  HandshakeConfig config_;
  State state_ = State::kIdle;
  Nonce client_nonce_{};
  Nonce server_nonce_{};
  Hello peer_hello_;
  uint64_t peer_node_id_ = 0;
  bool peer_is_node_ = false;
};

}  // namespace weft::transport
