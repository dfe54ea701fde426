// CRC-32C: the standard check values, extension in pieces, and the
// portable table method agreeing with the CPU instruction (the engine's
// WebAssembly build has only the former and must write the same bytes).
#include "weft/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace weft {
namespace {

std::span<const std::byte> Bytes(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

TEST(Crc32c, MatchesTheStandardCheckValue) {
  std::string s = "123456789";
  EXPECT_EQ(Crc32c(Bytes(s)), 0xe3069283u);
  // Extending in pieces gives the same as all at once.
  EXPECT_EQ(Crc32c(Crc32c(Bytes(s.substr(0, 4))), Bytes(s.substr(4))), 0xe3069283u);
  std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(Bytes(zeros)), 0x8a9136aau);
}

TEST(Crc32c, PortableMethodAgreesAtEveryLengthAndAlignment) {
  std::mt19937 rng(7);
  std::string data(300, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t off = 0; off < 8; ++off) {
    for (size_t n = 0; off + n <= data.size(); n += 1 + n / 8) {
      SCOPED_TRACE("offset " + std::to_string(off) + " length " + std::to_string(n));
      std::string piece = data.substr(off, n);
      const auto* p = reinterpret_cast<const uint8_t*>(data.data() + off);
      EXPECT_EQ(crc32c_detail::Portable(0x1234u, p, n), Crc32c(0x1234u, Bytes(piece)));
    }
  }
}

}  // namespace
}  // namespace weft
