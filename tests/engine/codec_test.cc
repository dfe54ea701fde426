// Byte formats: golden bytes, corruption sweeps (every bit flip and every
// truncation is rejected and changes nothing), Unicode and bad input.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "engine_test_util.h"
#include "weft/engine/doc.h"
#include "weft/engine/utf8.h"

namespace weft::engine {
namespace {

using testing::StateOf;

std::string Hex(const std::string& bytes) {
  std::string out;
  char buf[4];
  for (unsigned char c : bytes) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    out += buf;
  }
  return out;
}

DocOptions Uncompressed() {
  DocOptions o;
  o.compress = false;
  return o;
}

// A tiny doc: agent 1 types "hi", agent 2 deletes the "h".
Doc TinyDoc() {
  Doc a(1, Uncompressed()), b(2, Uncompressed());
  EXPECT_TRUE(a.Insert(0, "hi", nullptr).ok());
  EXPECT_TRUE(b.ApplyUpdate(a.EncodeOpsSince(VersionVector())).ok());
  EXPECT_TRUE(b.Remove(0, 1, nullptr).ok());
  return b;
}

// Changing these strings is a deliberate format change (see proto/README.md).
TEST(Codec, GoldenBytesOfATinyUpdate) {
  // Worked through field by field in proto/README.md.
  EXPECT_EQ(Hex(TinyDoc().EncodeOpsSince(VersionVector())),
            "08011001202c2a2c0a1001000000000000000200000000000000120200001a020001220208052a0300"
            "000132030000003a026869350bd4e5b9");
}

TEST(Codec, GoldenBytesOfATinySnapshot) {
  EXPECT_EQ(Hex(TinyDoc().EncodeSnapshot()),
            "0801100220402a400a1002000000000000000100000000000000120201021a020101220200002a0203"
            "023204000002003a0400000200420268694a020100520208055a0102620100354b225583");
}

Doc Source() {
  Doc a(1), b(2);
  EXPECT_TRUE(a.Insert(0, "héllo wörld, 𝄞 and more text to compress well well well", nullptr).ok());
  EXPECT_TRUE(b.ApplyUpdate(a.EncodeOpsSince(VersionVector())).ok());
  EXPECT_TRUE(b.Remove(3, 4, nullptr).ok());
  EXPECT_TRUE(b.Insert(5, "€€", nullptr).ok());
  EXPECT_TRUE(a.Insert(2, "concurrent", nullptr).ok());
  EXPECT_TRUE(a.ApplyUpdate(b.EncodeOpsSince(a.version())).ok());
  std::string many;
  for (int i = 0; i < 60; ++i) many += "run " + std::to_string(i) + " ";
  EXPECT_TRUE(a.Insert(a.size(), many, nullptr).ok());
  return a;
}

void SweepCorruption(const std::string& valid, bool snapshot) {
  auto try_bytes = [&](const std::string& bytes) {
    if (snapshot) {
      Result<Doc> d = Doc::LoadSnapshot(bytes, 9);
      return d.ok();
    }
    Doc target(9);
    EXPECT_TRUE(target.Insert(0, "keep", nullptr).ok());
    auto before = StateOf(target);
    Status st = target.ApplyUpdate(bytes);
    EXPECT_EQ(StateOf(target), before);
    return st.ok();
  };
  for (size_t i = 0; i < valid.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = valid;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      SCOPED_TRACE("flip byte " + std::to_string(i) + " bit " + std::to_string(bit));
      EXPECT_FALSE(try_bytes(bad));
    }
  }
  for (size_t n = 0; n < valid.size(); ++n) {
    SCOPED_TRACE("truncate to " + std::to_string(n));
    EXPECT_FALSE(try_bytes(valid.substr(0, n)));
  }
}

TEST(Codec, CorruptUpdatesAreRejectedAndChangeNothing) {
  Doc src = Source();
  std::string zstd = src.EncodeOpsSince(VersionVector());
  ASSERT_LT(zstd.size(), src.Text().size()) << "expected a zstd-compressed update";
  SweepCorruption(zstd, false);
  DocOptions raw = Uncompressed();
  Doc plain(3, raw);
  ASSERT_TRUE(plain.ApplyUpdate(src.EncodeOpsSince(VersionVector())).ok());
  SweepCorruption(plain.EncodeOpsSince(VersionVector()), false);
}

TEST(Codec, CorruptSnapshotsAreRejected) { SweepCorruption(Source().EncodeSnapshot(), true); }

TEST(Codec, GarbageIsRejected) {
  Doc d(1);
  auto before = StateOf(d);
  static const char kGarbage[] = "\x0a\xff\xff\xff\xff\x0f garbage";
  EXPECT_EQ(d.ApplyUpdate(std::string(kGarbage, sizeof kGarbage - 1)).code(),
            StatusCode::kCorruption);
  EXPECT_EQ(d.ApplyUpdate(std::string()).code(), StatusCode::kCorruption);
  EXPECT_EQ(StateOf(d), before);
  EXPECT_FALSE(Doc::LoadSnapshot(d.EncodeOpsSince(VersionVector()), 2).ok())
      << "an update is not a snapshot";
}

TEST(Codec, UnicodeSurvivesEveryPath) {
  Doc a(1);
  ASSERT_TRUE(a.Insert(0, "aé€𝄞", nullptr).ok());  // 1-, 2-, 3- and 4-byte characters
  EXPECT_EQ(a.size(), 4u);
  ASSERT_TRUE(a.Insert(2, "ß", nullptr).ok());
  ASSERT_TRUE(a.Remove(4, 1, nullptr).ok());
  EXPECT_EQ(a.Text(), "aéß€");
  Doc b(2);
  ASSERT_TRUE(b.ApplyUpdate(a.EncodeOpsSince(VersionVector())).ok());
  EXPECT_EQ(b.Text(), "aéß€");
  Result<Doc> c = Doc::LoadSnapshot(a.EncodeSnapshot(), 3);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->Text(), "aéß€");
}

// IsValidUtf8 is the check Insert makes, offered to the other modules.
TEST(Codec, IsValidUtf8AgreesWithInsert) {
  const std::string cases[] = {"",
                               "plain",
                               "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
                               "a\x80",
                               "\xe2\x82",
                               "\xc0\xaf",
                               "\xed\xa0\x80",
                               "\xf4\x90\x80\x80",
                               "\xff"};
  for (const std::string& c : cases) {
    SCOPED_TRACE(c);
    Doc d(1);
    EXPECT_EQ(weft::engine::IsValidUtf8(c), d.Insert(0, c).ok());
  }
}

TEST(Codec, InvalidUtf8AndBadPositionsChangeNothing) {
  struct Case {
    const char* name;
    uint64_t pos;
    std::string text;
    StatusCode code;
  } cases[] = {
      {"lone continuation byte", 0, "a\x80", StatusCode::kInvalidArgument},
      {"truncated 3-byte char", 1, "\xe2\x82", StatusCode::kInvalidArgument},
      {"overlong slash", 0, "\xc0\xaf", StatusCode::kInvalidArgument},
      {"surrogate", 0, "\xed\xa0\x80", StatusCode::kInvalidArgument},
      {"past U+10FFFF", 0, "\xf4\x90\x80\x80", StatusCode::kInvalidArgument},
      {"position past the end", 4, "x", StatusCode::kOutOfRange},
  };
  Doc d(1);
  ASSERT_TRUE(d.Insert(0, "é€x", nullptr).ok());
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto before = StateOf(d);
    EXPECT_EQ(d.Insert(c.pos, c.text).status().code(), c.code);
    EXPECT_EQ(StateOf(d), before);
  }
  auto before = StateOf(d);
  EXPECT_EQ(d.Remove(2, 2).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(d.Remove(4, 0).status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(StateOf(d), before);
}

}  // namespace
}  // namespace weft::engine
