#include "weft/transport/auth.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace weft::transport {
namespace {

Nonce Filled(uint8_t v) {
  Nonce n;
  n.fill(v);
  return n;
}

std::string Hex(const Proof& p) {
  std::string out;
  char buf[3];
  for (uint8_t b : p) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    out += buf;
  }
  return out;
}

TEST(Auth, ProofsAreHmacSha256OfTheDocumentedMessage) {
  // Known answer, computed independently: HMAC-SHA256 with key "s3cret" of
  // "weft/1 client" + 32 x 0x01 + 32 x 0x02 + node 7 as 8 bytes little-endian.
  Proof p = ClientProof("s3cret", Filled(1), Filled(2), 7);
  EXPECT_EQ(Hex(p), "12dcbd731a55b822f745e52a5469c42e1b2e42e7a688eb757ec3b76677fba084");
  Proof q = ServerProof("s3cret", Filled(2), Filled(1), 9);
  EXPECT_EQ(Hex(q), "a7bbec139d735a35b82613be1995a20d8d647a27ab26abb6369ba84dc42e7f6c");
}

TEST(Auth, WrongSecretOrReplayedNonceDoesNotMatch) {
  Nonce s = *RandomNonce(), c = *RandomNonce();
  Proof good = ClientProof("secret", s, c, 1);
  EXPECT_TRUE(ProofMatches(good, ClientProof("secret", s, c, 1)));
  EXPECT_FALSE(ProofMatches(good, ClientProof("Secret", s, c, 1)));
  EXPECT_FALSE(ProofMatches(good, ClientProof("secret", *RandomNonce(), c, 1)));
  EXPECT_FALSE(ProofMatches(good, ClientProof("secret", s, c, 2)));
  // A server proof is never accepted as a client proof.
  EXPECT_FALSE(ProofMatches(good, ServerProof("secret", s, c, 1)));
  EXPECT_FALSE(ProofMatches(good, std::span<const uint8_t>(good.data(), 31)));
}

TEST(Auth, NoncesAreFresh) { EXPECT_NE(*RandomNonce(), *RandomNonce()); }

TEST(Auth, SecretFileLosesOneTrailingNewline) {
  std::string path = ::testing::TempDir() + "weft_secret_test_" + std::to_string(getpid());
  { std::ofstream(path) << "hunter2\n"; }
  Result<std::string> s = LoadSecretFile(path);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "hunter2");
  { std::ofstream(path) << "\n"; }
  EXPECT_EQ(LoadSecretFile(path).status().code(), StatusCode::kInvalidArgument);
  std::remove(path.c_str());
  EXPECT_EQ(LoadSecretFile(path).status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace weft::transport
