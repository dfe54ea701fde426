#include "weft/transport/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <fstream>
#include <iterator>
#include <vector>

namespace weft::transport {
namespace {

void AppendU64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

Proof Mac(std::string_view secret, std::string_view label, const Nonce& a, const Nonce& b,
          uint64_t node) {
  std::vector<uint8_t> msg(label.begin(), label.end());
  msg.insert(msg.end(), a.begin(), a.end());
  msg.insert(msg.end(), b.begin(), b.end());
  AppendU64(msg, node);
  Proof out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), msg.data(), msg.size(),
       out.data(), &len);
  return out;
}

}  // namespace

Result<Nonce> RandomNonce() {
  Nonce n;
  if (RAND_bytes(n.data(), static_cast<int>(n.size())) != 1) {
    return Status::Internal("no cryptographic randomness for a nonce");
  }
  return n;
}

Proof ClientProof(std::string_view secret, const Nonce& server_nonce, const Nonce& client_nonce,
                  uint64_t client_node) {
  return Mac(secret, "weft/1 client", server_nonce, client_nonce, client_node);
}

Proof ServerProof(std::string_view secret, const Nonce& client_nonce, const Nonce& server_nonce,
                  uint64_t server_node) {
  return Mac(secret, "weft/1 server", client_nonce, server_nonce, server_node);
}

bool ProofMatches(const Proof& expected, std::span<const uint8_t> got) {
  return got.size() == expected.size() &&
         CRYPTO_memcmp(expected.data(), got.data(), expected.size()) == 0;
}

Result<std::string> LoadSecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot read secret file " + path);
  std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::IoError("cannot read secret file " + path);
  if (!secret.empty() && secret.back() == '\n') secret.pop_back();
  if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  if (secret.empty()) return Status::InvalidArgument("secret file " + path + " is empty");
  return secret;
}

}  // namespace weft::transport
