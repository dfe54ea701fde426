#include "weft/transport/handshake.h"

#include <gtest/gtest.h>

#include <random>

namespace weft::transport {
namespace {

HandshakeConfig Side(bool client, std::optional<std::string> secret, uint64_t node) {
  HandshakeConfig c;
  c.client = client;
  c.secret = std::move(secret);
  c.node_id = node;
  if (client) c.agents = {node * 10};
  return c;
}

struct Outcome {
  std::optional<HandshakeFailure> client_failure, server_failure;
  bool client_done = false, server_done = false;
};

// Runs both sides against each other until neither has anything to say.
Outcome Converse(Handshake& client, Handshake& server) {
  Outcome o;
  std::vector<Message> to_server, to_client;
  EXPECT_TRUE(server.Start(&to_client).ok());
  EXPECT_TRUE(client.Start(&to_server).ok());
  while (!to_server.empty() || !to_client.empty()) {
    std::vector<Message> next_server, next_client;
    for (const Message& m : to_server) {
      if (auto f = server.OnMessage(m, &next_client)) o.server_failure = f;
    }
    for (const Message& m : to_client) {
      if (auto f = client.OnMessage(m, &next_server)) o.client_failure = f;
    }
    if (o.server_failure || o.client_failure) break;
    to_server = std::move(next_server);
    to_client = std::move(next_client);
  }
  o.client_done = client.done();
  o.server_done = server.done();
  return o;
}

TEST(Handshake, OpenWithoutSecrets) {
  Handshake c(Side(true, std::nullopt, 1)), s(Side(false, std::nullopt, 2));
  Outcome o = Converse(c, s);
  EXPECT_TRUE(o.client_done && o.server_done);
  EXPECT_EQ(s.peer_hello().agents, std::vector<uint64_t>{10});
  EXPECT_EQ(c.peer_node_id(), 2u);
}

TEST(Handshake, SharedSecretProvesBothSides) {
  Handshake c(Side(true, "k", 1)), s(Side(false, "k", 2));
  Outcome o = Converse(c, s);
  EXPECT_TRUE(o.client_done && o.server_done);
  EXPECT_FALSE(o.client_failure || o.server_failure);
}

TEST(Handshake, WrongSecretIsRejected) {
  Handshake c(Side(true, "guess", 1)), s(Side(false, "k", 2));
  Outcome o = Converse(c, s);
  ASSERT_TRUE(o.server_failure.has_value());
  EXPECT_EQ(o.server_failure->code, ErrorCode::kAuthFailed);
  EXPECT_FALSE(o.server_done);
  EXPECT_FALSE(o.client_done);
}

TEST(Handshake, ClientWithoutSecretCannotJoinAGuardedServer) {
  Handshake c(Side(true, std::nullopt, 1)), s(Side(false, "k", 2));
  Outcome o = Converse(c, s);
  ASSERT_TRUE(o.client_failure.has_value());
  EXPECT_EQ(o.client_failure->code, ErrorCode::kAuthFailed);
  EXPECT_FALSE(s.done());
}

TEST(Handshake, ClientWithSecretRefusesAServerThatCannotProveIt) {
  Handshake c(Side(true, "k", 1)), s(Side(false, std::nullopt, 2));
  Outcome o = Converse(c, s);
  ASSERT_TRUE(o.client_failure.has_value());
  EXPECT_EQ(o.client_failure->code, ErrorCode::kAuthFailed);
  EXPECT_FALSE(c.done());
}

// Only a peer that proved the node secret relays: a client credential
// cannot stand in for it, and saying is_node grants nothing by itself.
TEST(Handshake, OnlyTheNodeSecretMakesARelay) {
  auto server = [] {
    HandshakeConfig c = Side(false, "client key", 2);
    c.node_secret = "node key";
    c.is_node = true;
    return c;
  };
  auto peer = [](std::optional<std::string> secret, std::optional<std::string> node_secret,
                 bool is_node) {
    HandshakeConfig c = Side(true, std::move(secret), 1);
    c.node_secret = std::move(node_secret);
    c.is_node = is_node;
    return c;
  };
  {
    SCOPED_TRACE("a node proving the node secret relays, and the server is one to it");
    Handshake c(peer(std::nullopt, "node key", true)), s(server());
    Outcome o = Converse(c, s);
    ASSERT_TRUE(o.client_done && o.server_done);
    EXPECT_TRUE(s.peer_relays());
    EXPECT_TRUE(c.peer_relays());
  }
  {
    SCOPED_TRACE("a client proving the client secret does not relay");
    Handshake c(peer("client key", std::nullopt, false)), s(server());
    Outcome o = Converse(c, s);
    ASSERT_TRUE(o.client_done && o.server_done);
    EXPECT_FALSE(s.peer_relays());
  }
  {
    SCOPED_TRACE("a client credential claimed as a node's is refused");
    HandshakeConfig forger = peer(std::nullopt, "client key", true);
    Handshake c(forger), s(server());
    Outcome o = Converse(c, s);
    ASSERT_TRUE(o.server_failure.has_value());
    EXPECT_EQ(o.server_failure->code, ErrorCode::kAuthFailed);
    EXPECT_FALSE(s.done());
  }
  {
    SCOPED_TRACE("a node with a client secret only takes no peer nodes");
    HandshakeConfig clients_only = Side(false, "client key", 2);
    Handshake c(peer(std::nullopt, "node key", true)), s(clients_only);
    Outcome o = Converse(c, s);
    ASSERT_TRUE(o.server_failure.has_value());
    EXPECT_EQ(o.server_failure->code, ErrorCode::kAuthFailed);
  }
  {
    SCOPED_TRACE("with no secret anywhere, saying is_node is taken at its word");
    Handshake c(peer(std::nullopt, std::nullopt, true)), s(Side(false, std::nullopt, 2));
    Outcome o = Converse(c, s);
    ASSERT_TRUE(o.client_done && o.server_done);
    EXPECT_TRUE(s.peer_relays());
  }
  {
    SCOPED_TRACE("a server with only a node secret lets clients in, relaying nothing");
    HandshakeConfig nodes_only = Side(false, std::nullopt, 2);
    nodes_only.node_secret = "node key";
    Handshake c(peer(std::nullopt, std::nullopt, false)), s(nodes_only);
    Outcome o = Converse(c, s);
    ASSERT_TRUE(o.client_done && o.server_done);
    EXPECT_FALSE(s.peer_relays());
  }
}

TEST(Handshake, OtherProtocolVersionIsRefused) {
  Handshake s(Side(false, std::nullopt, 2));
  std::vector<Message> out;
  ASSERT_TRUE(s.Start(&out).ok());
  Hello h;
  h.protocol_version = 99;
  auto f = s.OnMessage(h, &out);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->code, ErrorCode::kUnsupportedVersion);
}

TEST(Handshake, FramesBeforeTheHandshakeAreProtocolErrors) {
  Handshake s(Side(false, "k", 2));
  std::vector<Message> out;
  ASSERT_TRUE(s.Start(&out).ok());
  auto f = s.OnMessage(Ping{1, 2}, &out);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->code, ErrorCode::kProtocol);
  EXPECT_TRUE(s.failed());
  // Once failed, it stays failed.
  EXPECT_TRUE(s.OnMessage(Hello{}, &out).has_value());
}

// Arbitrary frame sequences never complete a guarded server's handshake
// without a valid proof, and never crash it.
TEST(Handshake, ArbitrarySequencesNeverAuthenticateWithoutTheSecret) {
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    Handshake s(Side(false, "k", 2));
    std::vector<Message> out;
    ASSERT_TRUE(s.Start(&out).ok());
    for (int i = 0; i < 6 && !s.failed(); ++i) {
      Message m;
      switch (rng() % 5) {
        case 0: {
          Hello h;
          h.protocol_version = rng() % 4 == 0 ? 2 : kProtocolVersion;
          m = h;
          break;
        }
        case 1: {
          AuthProof p;
          for (uint8_t& b : p.proof) b = static_cast<uint8_t>(rng());
          m = p;
          break;
        }
        case 2:
          m = Welcome{};
          break;
        case 3:
          m = AuthChallenge{};
          break;
        default:
          m = Subscribe{"d", {}};
          break;
      }
      s.OnMessage(m, &out);
      ASSERT_FALSE(s.done()) << "round " << round;
    }
  }
}

}  // namespace
}  // namespace weft::transport
