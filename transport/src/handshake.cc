#include "weft/transport/handshake.h"

namespace weft::transport {

Status Handshake::Start(std::vector<Message>* out) {
  if (!config_.client) {
    state_ = State::kAwaitHello;
    return Status::Ok();
  }
  Result<Nonce> nonce = RandomNonce();
  if (!nonce.ok()) return nonce.status();
  client_nonce_ = *nonce;
  Hello h;
  h.node_id = config_.node_id;
  h.client_nonce = client_nonce_;
  h.agents = config_.agents;
  h.label = config_.label;
  h.is_node = config_.is_node;
  node_key_ = config_.is_node;
  out->push_back(std::move(h));
  state_ = State::kAwaitChallengeOrWelcome;
  return Status::Ok();
}

std::optional<HandshakeFailure> Handshake::Fail(ErrorCode code, std::string reason) {
  state_ = State::kFailed;
  return HandshakeFailure{code, std::move(reason)};
}

std::optional<HandshakeFailure> Handshake::OnMessage(const Message& m, std::vector<Message>* out) {
  if (const ErrorFrame* e = std::get_if<ErrorFrame>(&m)) {
    return Fail(e->code, "peer refused the handshake: " + e->reason);
  }
  switch (state_) {
    case State::kAwaitHello:
      if (const Hello* h = std::get_if<Hello>(&m)) return OnHello(*h, out);
      break;
    case State::kAwaitProof:
      if (const AuthProof* p = std::get_if<AuthProof>(&m)) {
        const std::string& key = *Key(node_key_);
        Proof want = ClientProof(key, server_nonce_, peer_hello_.client_nonce, peer_hello_.node_id);
        if (!ProofMatches(want, p->proof)) {
          return Fail(ErrorCode::kAuthFailed, node_key_ ? "wrong node secret" : "wrong secret");
        }
        Welcome w;
        w.node_id = config_.node_id;
        w.is_node = config_.is_node;
        w.server_proof = ServerProof(key, peer_hello_.client_nonce, server_nonce_, config_.node_id);
        out->push_back(w);
        peer_relays_ = node_key_;
        state_ = State::kDone;
        return std::nullopt;
      }
      break;
    case State::kAwaitChallengeOrWelcome:
      if (const AuthChallenge* c = std::get_if<AuthChallenge>(&m)) {
        if (!Key(node_key_)) {
          return Fail(ErrorCode::kAuthFailed,
                      node_key_ ? "the server requires a node secret and none is set"
                                : "the server requires a secret and none is set");
        }
        server_nonce_ = c->server_nonce;
        out->push_back(
            AuthProof{ClientProof(*Key(node_key_), server_nonce_, client_nonce_, config_.node_id)});
        state_ = State::kAwaitWelcome;
        return std::nullopt;
      }
      if (const Welcome* w = std::get_if<Welcome>(&m)) return OnWelcome(*w);
      break;
    case State::kAwaitWelcome:
      if (const Welcome* w = std::get_if<Welcome>(&m)) return OnWelcome(*w);
      break;
    case State::kIdle:
    case State::kDone:
    case State::kFailed:
      break;
  }
  return Fail(ErrorCode::kProtocol,
              std::string("unexpected ") + std::string(MessageName(m)) + " during the handshake");
}

std::optional<HandshakeFailure> Handshake::OnHello(const Hello& h, std::vector<Message>* out) {
  if (h.protocol_version != kProtocolVersion) {
    return Fail(ErrorCode::kUnsupportedVersion,
                "protocol version " + std::to_string(h.protocol_version) + " (this node speaks " +
                    std::to_string(kProtocolVersion) + ")");
  }
  peer_hello_ = h;
  peer_node_id_ = h.node_id;
  node_key_ = h.is_node;
  if (!Key(node_key_)) {
    if (node_key_ && config_.secret) {
      // Clients must prove a secret here, and a client credential must not
      // make a relay: with no node secret, no peer node is taken.
      return Fail(ErrorCode::kAuthFailed, "this node has no node secret: it takes no peer nodes");
    }
    Welcome w;
    w.node_id = config_.node_id;
    w.is_node = config_.is_node;
    out->push_back(w);
    // Open (no secret at all): a peer that says it is a node relays.
    peer_relays_ = node_key_;
    state_ = State::kDone;
    return std::nullopt;
  }
  Result<Nonce> nonce = RandomNonce();
  if (!nonce.ok()) return Fail(ErrorCode::kProtocol, nonce.status().ToString());
  server_nonce_ = *nonce;
  out->push_back(AuthChallenge{server_nonce_});
  state_ = State::kAwaitProof;
  return std::nullopt;
}

std::optional<HandshakeFailure> Handshake::OnWelcome(const Welcome& w) {
  if (w.protocol_version != kProtocolVersion) {
    return Fail(ErrorCode::kUnsupportedVersion,
                "server speaks protocol " + std::to_string(w.protocol_version));
  }
  const std::optional<std::string>& key = Key(node_key_);
  if (key) {
    if (state_ != State::kAwaitWelcome || !w.server_proof) {
      return Fail(ErrorCode::kAuthFailed, "the server did not prove it knows the secret");
    }
    Proof want = ServerProof(*key, client_nonce_, server_nonce_, w.node_id);
    if (!ProofMatches(want, *w.server_proof)) {
      return Fail(ErrorCode::kAuthFailed, "the server's proof does not match the secret");
    }
  }
  peer_node_id_ = w.node_id;
  // A server that proved the node secret is a node; one that proved
  // nothing to a side without any secret is taken at its word (open).
  peer_relays_ = w.is_node && (key ? node_key_ : !config_.secret && !config_.node_secret);
  state_ = State::kDone;
  return std::nullopt;
}

}  // namespace weft::transport
