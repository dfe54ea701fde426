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
// Two credentials: the client secret, which clients prove, and the node
// secret, which peer nodes prove. A node lets a connection author ops under
// agents other than the ones its Hello announced (relay) only when the
// peer proved the node secret; `is_node` in a Hello only says which secret
// the peer will prove, and grants nothing by itself. On a server:
//
//   Hello says          server has              then
//   is_node             node secret             challenge; the proof must be
//                                                 made with the node secret
//   is_node             no secret at all        Welcome (open: it relays)
//   is_node             only a client secret    refused: no peer nodes here
//   not is_node         client secret           challenge with it (no relay)
//   not is_node         no client secret        Welcome (no relay)
//
// The connecting side proves the secret of what it says it is, and insists
// that the server proves the same one. Any other frame before the end is a
// protocol error. Feed it every frame until done() or failed(); it says
// what to send through `out`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "weft/status.h"
#include "weft/transport/messages.h"

namespace weft::transport {

struct HandshakeConfig {
  bool client = false;
  uint64_t node_id = 0;
  std::optional<std::string> secret;       // clients' credential
  std::optional<std::string> node_secret;  // peer nodes' credential
  std::vector<uint64_t> agents;            // client: agents it will author under
  std::string label;
  bool is_node = false;  // this side is a node (and, connecting, proves the node secret)
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
  // Whether the peer may relay, i.e. author ops under any agent: it proved
  // the node secret (or said it is a node to a side that has no secret at
  // all). Only meaningful once done().
  bool peer_relays() const { return peer_relays_; }

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
  // The secret both sides prove on this connection (none: open).
  const std::optional<std::string>& Key(bool node) const {
    return node ? config_.node_secret : config_.secret;
  }

  uint64_t peer_node_id_ = 0;
  bool peer_relays_ = false;
  bool node_key_ = false;  // the proofs use the node secret
};

}  // namespace weft::transport
