// Shared-secret authentication for weft connections: HMAC-SHA256
// challenge-response in both directions. The secret never crosses the wire.
//
//   client -> server  Hello      { client_nonce, node_id, ... }
//   server -> client  Challenge  { server_nonce }
//   client -> server  Proof      { HMAC(secret, "weft/1 client" | server_nonce | client_nonce |
//   client node id) } server -> client  Welcome    { HMAC(secret, "weft/1 server" | client_nonce |
//   server_nonce | server node id) }
//
// Both nonces are fresh random 32-byte values, so a recorded proof is useless
// for another connection, and the server proves it knows the secret too.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "weft/status.h"

namespace weft::transport {

inline constexpr size_t kNonceBytes = 32;
inline constexpr size_t kProofBytes = 32;  // SHA-256
using Nonce = std::array<uint8_t, kNonceBytes>;
using Proof = std::array<uint8_t, kProofBytes>;

// A nonce from the OS's cryptographic random source.
Result<Nonce> RandomNonce();

// The client's and the server's proofs (see the diagram above).
Proof ClientProof(std::string_view secret, const Nonce& server_nonce, const Nonce& client_nonce,
                  uint64_t client_node);
Proof ServerProof(std::string_view secret, const Nonce& client_nonce, const Nonce& server_nonce,
                  uint64_t server_node);

// Compares in constant time, so a wrong proof leaks nothing through timing.
// False when the sizes differ.
bool ProofMatches(const Proof& expected, std::span<const uint8_t> got);

// Reads a secret file: its bytes, without one trailing newline. Fails with
// InvalidArgument when the file is empty, IoError when it cannot be read.
Result<std::string> LoadSecretFile(const std::string& path);

}  // namespace weft::transport
