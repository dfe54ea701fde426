#include "handshake.h"

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
        Proof want = ClientProof(*config_.secret, server_nonce_, peer_hello_.client_nonce,
                                 peer_hello_.node_id);
        if (!ProofMatches(want, p->proof)) return Fail(ErrorCode::kAuthFailed, "wrong secret");
        Welcome w;
        w.node_id = config_.node_id;
        w.is_node = config_.is_node;
        w.server_proof =
            ServerProof(*config_.secret, peer_hello_.client_nonce, server_nonce_, config_.node_id);
        out->push_back(w);
        state_ = State::kDone;
        return std::nullopt;
      }
      break;
    case State::kAwaitChallengeOrWelcome:
      if (const AuthChallenge* c = std::get_if<AuthChallenge>(&m)) {
        if (!config_.secret) {
          return Fail(ErrorCode::kAuthFailed, "the server requires a secret and none is set");
        }
        server_nonce_ = c->server_nonce;
        out->push_back(
            AuthProof{ClientProof(*config_.secret, server_nonce_, client_nonce_, config_.node_id)});
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
  peer_is_node_ = h.is_node;
  if (!config_.secret) {
    Welcome w;
    w.node_id = config_.node_id;
    w.is_node = config_.is_node;
    out->push_back(w);
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
  if (config_.secret) {
    if (state_ != State::kAwaitWelcome || !w.server_proof) {
      return Fail(ErrorCode::kAuthFailed, "the server did not prove it knows the secret");
    }
    Proof want = ServerProof(*config_.secret, client_nonce_, server_nonce_, w.node_id);
    if (!ProofMatches(want, *w.server_proof)) {
      return Fail(ErrorCode::kAuthFailed, "the server's proof does not match the secret");
    }
  }
  peer_node_id_ = w.node_id;
  peer_is_node_ = w.is_node;
  state_ = State::kDone;
  return std::nullopt;
}

}  // namespace weft::transport
