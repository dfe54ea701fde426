// Byte formats: golden bytes, corruption sweeps (every bit flip and every
// truncation is rejected and changes nothing; flips behind a valid checksum
// never crash), older formats refused, Unicode and bad input.
#include <gtest/gtest.h>

#include <cstdio>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "engine_test_util.h"
#include "envelope.h"
#include "utf8.h"
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

// Changing these strings is a deliberate format change (engine/FORMAT.md).
// The same bytes must come out of every build of the engine, WebAssembly
// included.
TEST(Codec, GoldenBytesOfATinyUpdate) {
  // Worked through byte by byte in engine/FORMAT.md.
  EXPECT_EQ(
      Hex(TinyDoc().EncodeOpsSince(VersionVector())),
      "020102010000000000000002000000000000000000020200686904000300000201020102000002000200020c"
      "00000000000002010000006dbd4b93");
}

TEST(Codec, GoldenBytesOfATinySnapshot) {
  EXPECT_EQ(Hex(TinyDoc().EncodeSnapshot()),
            "020202020000000000000001000000000000000102020168690211010b000100024301004400e94a1f3c");
}

// A history with every kind of run, several agents and non-ASCII text,
// long enough that its Update codes its ops and compresses its text.
Doc Generated(DocOptions options = {}) {
  std::mt19937 rng(2024);
  const char* words[] = {"alpha ",  "b\xc3\xa9ta ", "\xe2\x82\xac ", "\xf0\x9d\x84\x9e ",
                         "gamma\n", "delta "};
  std::vector<Doc> docs;
  for (uint64_t a = 1; a <= 3; ++a) docs.emplace_back(a, options);
  for (int round = 0; round < 60; ++round) {
    for (Doc& d : docs) {
      for (int k = 0; k < 8; ++k) {
        uint64_t size = d.size();
        if (size > 10 && rng() % 3 == 0) {
          uint64_t pos = rng() % (size - 5);
          EXPECT_TRUE(d.Remove(pos, 1 + rng() % 5, nullptr).ok());
        } else {
          EXPECT_TRUE(d.Insert(size == 0 ? 0 : rng() % size, words[rng() % 6], nullptr).ok());
        }
      }
    }
    for (Doc& d : docs) {
      for (Doc& other : docs) {
        if (&d == &other) continue;
        EXPECT_TRUE(d.ApplyUpdate(other.EncodeOpsSince(d.version())).ok());
      }
    }
  }
  return std::move(docs[0]);
}

// The checksum an enveloped message ends with (of all before it): a
// fingerprint of the whole message.
std::string ChecksumOf(const std::string& message) {
  return Hex(message.substr(message.size() - 4));
}

// The coded paths (rANS tables, compressed text) in golden form: a
// WebAssembly build must produce these same bytes.
TEST(Codec, GoldenChecksumsOfAGeneratedHistory) {
  Doc doc = Generated();
  std::string update = doc.EncodeOpsSince(VersionVector());
  std::string snapshot = doc.EncodeSnapshot();
  EXPECT_EQ(update.size(), 5737u);
  EXPECT_EQ(ChecksumOf(update), "d86503f2");
  EXPECT_EQ(snapshot.size(), 23863u);
  EXPECT_EQ(ChecksumOf(snapshot), "6dff93ab");
}

TEST(Codec, GeneratedHistoryRoundTripsCodedAndRaw) {
  for (bool compress : {true, false}) {
    SCOPED_TRACE(compress ? "coded" : "raw");
    DocOptions o;
    o.compress = compress;
    Doc doc = Generated(o);
    if (compress) {
      DocOptions raw;
      raw.compress = false;
      Doc plain(8, raw);
      ASSERT_TRUE(plain.ApplyUpdate(doc.EncodeOpsSince(VersionVector())).ok());
      EXPECT_LT(doc.EncodeOpsSince(VersionVector()).size() * 2,
                plain.EncodeOpsSince(VersionVector()).size())
          << "expected coded ops and compressed text";
    }
    Doc merged(9);
    ASSERT_TRUE(merged.ApplyUpdate(doc.EncodeOpsSince(VersionVector())).ok());
    EXPECT_EQ(merged.Text(), doc.Text());
    EXPECT_EQ(merged.version(), doc.version());
    Result<Doc> loaded = Doc::LoadSnapshot(doc.EncodeSnapshot(), 10);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_EQ(loaded->Text(), doc.Text());
    EXPECT_TRUE(loaded->CheckInvariants().ok());
  }
}

Doc Source() {
  Doc a(1), b(2);
  EXPECT_TRUE(a.Insert(0, "héllo wörld, 𝄞 and more text to compress well well well", nullptr).ok());
  EXPECT_TRUE(b.ApplyUpdate(a.EncodeOpsSince(VersionVector())).ok());
  EXPECT_TRUE(b.Remove(3, 4, nullptr).ok());
  EXPECT_TRUE(b.Insert(5, "€€", nullptr).ok());
  EXPECT_TRUE(a.Insert(2, "concurrent", nullptr).ok());
  EXPECT_TRUE(a.ApplyUpdate(b.EncodeOpsSince(a.version())).ok());
  // Enough runs that the ops are coded, and text that compresses.
  for (int i = 0; i < 40; ++i) {
    std::string words = "run " + std::to_string(i) + " of the source text, ";
    EXPECT_TRUE(a.Insert((i * 7) % a.size(), words, nullptr).ok());
    if (i % 3 == 0) {
      EXPECT_TRUE(a.Remove(i % a.size() / 2, 2, nullptr).ok());
    }
  }
  return a;
}

// Applies (or loads) `bytes`: false if refused, in which case the target
// must be unchanged; an accepted one must leave a sound document.
bool TryBytes(const std::string& bytes, bool snapshot) {
  if (snapshot) {
    Result<Doc> d = Doc::LoadSnapshot(bytes, 9);
    if (!d.ok()) return false;
    EXPECT_TRUE(d->CheckInvariants().ok());
    EXPECT_TRUE(d->Insert(0, "x", nullptr).ok());
    return true;
  }
  Doc target(9);
  EXPECT_TRUE(target.Insert(0, "keep", nullptr).ok());
  auto before = StateOf(target);
  Status st = target.ApplyUpdate(bytes);
  if (!st.ok()) {
    EXPECT_EQ(StateOf(target), before);
    return false;
  }
  EXPECT_TRUE(target.CheckInvariants().ok());
  return true;
}

void SweepCorruption(const std::string& valid, bool snapshot) {
  for (size_t i = 0; i < valid.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = valid;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      SCOPED_TRACE("flip byte " + std::to_string(i) + " bit " + std::to_string(bit));
      EXPECT_FALSE(TryBytes(bad, snapshot));
    }
  }
  for (size_t n = 0; n < valid.size(); ++n) {
    SCOPED_TRACE("truncate to " + std::to_string(n));
    EXPECT_FALSE(TryBytes(valid.substr(0, n), snapshot));
  }
}

// Flips behind a checksum that still matches reach the decoders themselves:
// whatever they make of it, refused and unchanged or accepted and sound,
// never a crash.
void SweepBehindTheChecksum(const std::string& valid, bool snapshot) {
  const auto kind = snapshot ? detail::PayloadKind::kSnapshot : detail::PayloadKind::kUpdate;
  Result<std::string_view> body = detail::Unseal(valid, kind);
  ASSERT_TRUE(body.ok());
  for (size_t i = 0; i < body->size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad(*body);
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      SCOPED_TRACE("flip body byte " + std::to_string(i) + " bit " + std::to_string(bit));
      TryBytes(detail::Seal(kind, bad), snapshot);
    }
  }
}

TEST(Codec, CorruptUpdatesAreRejectedAndChangeNothing) {
  Doc src = Source();
  std::string coded = src.EncodeOpsSince(VersionVector());
  ASSERT_LT(coded.size(), src.Text().size()) << "expected a compressed update";
  SweepCorruption(coded, false);
  Doc plain(3, Uncompressed());
  ASSERT_TRUE(plain.ApplyUpdate(coded).ok());
  SweepCorruption(plain.EncodeOpsSince(VersionVector()), false);
}

// ApplyBatch does not count a decoded update's text again: the decoder
// vouches for it. Text that is not UTF-8, or whose characters do not add
// up to the lengths of the ops, must be refused by the decoder itself.
TEST(Codec, UpdateTextThatDoesNotMatchItsOpsIsRefused) {
  Doc src(1, Uncompressed());
  ASSERT_TRUE(src.Insert(0, "caf\xc3\xa9 au lait", nullptr).ok());
  const std::string coded = src.EncodeOpsSince(VersionVector());
  Result<std::string_view> body = detail::Unseal(coded, detail::PayloadKind::kUpdate);
  ASSERT_TRUE(body.ok());
  const size_t at = body->find("\xc3\xa9");
  ASSERT_NE(at, std::string_view::npos) << "expected the text stored as it is";
  ASSERT_TRUE(TryBytes(coded, false));
  for (const char* swap : {"\xc3\x41", "ab", "\xa9\xc3"}) {
    std::string bad(*body);
    bad.replace(at, 2, swap);
    EXPECT_FALSE(TryBytes(detail::Seal(detail::PayloadKind::kUpdate, bad), false)) << swap;
  }
}

// A replica fed a long document and then a stream of one-character
// updates (a node's copy of a live document) grows its memory a few
// times, not once per update: reserving text room exactly per batch
// copied the whole arena for every one of them, quadratic in the stream.
TEST(Codec, AStreamOfSmallUpdatesGrowsTheReplicaGeometrically) {
  Doc author(1);
  ASSERT_TRUE(author.Insert(0, std::string(100000, 'a'), nullptr).ok());
  Doc replica(2);
  ASSERT_TRUE(replica.ApplyUpdate(author.EncodeOpsSince(VersionVector())).ok());
  size_t growths = 0;
  size_t heap = replica.HeapBytes();
  for (int i = 0; i < 2000; ++i) {
    const VersionVector before = author.version();
    ASSERT_TRUE(author.Insert(author.size(), "b", nullptr).ok());
    ASSERT_TRUE(replica.ApplyUpdate(author.EncodeOpsSince(before)).ok());
    if (replica.HeapBytes() != heap) ++growths;
    heap = replica.HeapBytes();
  }
  EXPECT_EQ(replica.Text(), author.Text());
  EXPECT_LE(growths, 20u) << "memory grew with " << growths << " of 2000 updates";
}

TEST(Codec, CorruptSnapshotsAreRejected) { SweepCorruption(Source().EncodeSnapshot(), true); }

TEST(Codec, DamageBehindAValidChecksumNeverCrashes) {
  Doc src = Source();
  SweepBehindTheChecksum(src.EncodeOpsSince(VersionVector()), false);
  Doc plain(3, Uncompressed());
  ASSERT_TRUE(plain.ApplyUpdate(src.EncodeOpsSince(VersionVector())).ok());
  SweepBehindTheChecksum(plain.EncodeOpsSince(VersionVector()), false);
  SweepBehindTheChecksum(src.EncodeSnapshot(), true);
}

TEST(Codec, FormatVersionOneIsRefusedByName) {
  // The tiny Update of format version 1 (a protobuf Envelope).
  const std::string v1 =
      "\x08\x01\x10\x01\x20\x2c\x2a\x2c\x0a\x10\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00"
      "\x00\x00\x00\x00\x12\x02\x00\x00\x1a\x02\x00\x01\x22\x02\x08\x05\x2a\x03\x00\x00\x01\x32"
      "\x03\x00\x00\x00\x3a\x02\x68\x69\x35\x0b\xd4\xe5\xb9";
  Doc d(1);
  Status st = d.ApplyUpdate(std::string_view(v1.data(), 58));
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.ToString().find("format version 1"), std::string::npos) << st.ToString();
  Result<Doc> loaded = Doc::LoadSnapshot(std::string_view(v1.data(), 58), 2);
  EXPECT_NE(loaded.status().ToString().find("format version 1"), std::string::npos);
}

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

// The decoder's UTF-8 checks take ASCII a word at a time and skip the
// ASCII before a multi-byte character in one step. Strings built from
// pieces whose validity and length are known, with the pieces falling at
// every alignment within a word, must give the counts and prefixes the
// pieces add up to, and no value from the first bad piece on.
TEST(Codec, Utf8CountAndPrefixAgreeWithThePiecesTheyAreMadeOf) {
  struct Piece {
    std::string_view bytes;
    int chars;  // -1: not valid UTF-8 whatever surrounds it
  };
  static constexpr Piece kPieces[] = {{"a", 1},
                                      {"bcdefghijk", 10},
                                      {"\xc3\xa9", 1},
                                      {"\xe2\x82\xac", 1},
                                      {"\xf0\x9f\x98\x80", 1},
                                      {"\x80", -1},
                                      {"\xc0\xaf", -1},
                                      {"\xed\xa0\x80", -1},
                                      {"\xf4\x90\x80\x80", -1},
                                      {"\xff", -1}};
  std::mt19937 rng(7);
  for (int round = 0; round < 3000; ++round) {
    std::string s;
    std::vector<size_t> ends;  // byte offset after each valid code point, up to the first bad one
    bool valid = true;
    const int pieces = static_cast<int>(rng() % 12);
    const bool bad_allowed = rng() % 3 == 0;
    for (int i = 0; i < pieces; ++i) {
      const Piece& p = kPieces[rng() % (bad_allowed ? std::size(kPieces) : 5)];
      if (p.chars < 0) valid = false;
      for (int c = 0; valid && c < p.chars; ++c) {
        ends.push_back(s.size() + (p.chars == 1 ? p.bytes.size() : static_cast<size_t>(c) + 1));
      }
      s += p.bytes;
    }
    // A code point cut short at the very end is bad too.
    if (rng() % 8 == 0) {
      s += "\xe2\x82";
      valid = false;
    }
    SCOPED_TRACE(::testing::PrintToString(s));
    std::optional<uint64_t> count = detail::CountUtf8(s);
    EXPECT_EQ(count.has_value(), valid);
    if (valid && count) {
      EXPECT_EQ(*count, ends.size());
    }
    for (uint64_t k = 0; k <= ends.size() + 2; ++k) {
      std::optional<size_t> prefix = detail::Utf8Prefix(s, k);
      if (k == 0) {
        EXPECT_EQ(prefix, std::optional<size_t>(0));
      } else if (k <= ends.size()) {
        EXPECT_EQ(prefix, std::optional<size_t>(ends[k - 1])) << "k " << k;
      } else {
        EXPECT_EQ(prefix, std::nullopt) << "k " << k;
      }
    }
  }
}

// Both ways of finding a code point's byte offset, from the start and from
// the nearer end, on valid text of one- to four-byte code points: in runs
// longer than a word, so the word-at-a-time steps run, and shorter.
TEST(Codec, Utf8OffsetsFromEitherEndAgreeWithTheCodePoints) {
  static constexpr std::string_view kPieces[] = {"a", "bcdefghijk", "\xc3\xa9", "\xe2\x82\xac",
                                                 "\xf0\x9f\x98\x80"};
  std::mt19937 rng(11);
  for (int round = 0; round < 2000; ++round) {
    std::string s;
    std::vector<size_t> starts;  // byte offset of each code point
    const int pieces = static_cast<int>(rng() % 40);
    for (int i = 0; i < pieces; ++i) {
      std::string_view p = kPieces[rng() % std::size(kPieces)];
      if (p.size() == 10) {
        for (size_t c = 0; c < p.size(); ++c) starts.push_back(s.size() + c);
      } else {
        starts.push_back(s.size());
      }
      s += p;
    }
    starts.push_back(s.size());  // "code point n" is the end
    SCOPED_TRACE(::testing::PrintToString(s));
    const uint64_t n = starts.size() - 1;
    for (uint64_t k = 0; k <= n; ++k) {
      EXPECT_EQ(detail::Utf8Offset(s, k), starts[k]) << "k " << k;
      EXPECT_EQ(detail::Utf8OffsetNear(s, n, k), starts[k]) << "k " << k;
    }
  }
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

// Items in document order whose seqs run backwards (each typed before the
// last), with enough deleted seqs that many fall into one bucket of the
// id index's rebuild: the loaded replica must still find every character
// by its id, which the remote ops below name as origins and targets.
TEST(Codec, SnapshotOfBackwardTypingFindsEveryId) {
  Doc a(1);
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(a.Insert(0, std::string(1, static_cast<char>('a' + i % 26)), nullptr).ok());
  }
  ASSERT_TRUE(a.Insert(a.size(), std::string(200000, 'x'), nullptr).ok());
  ASSERT_TRUE(a.Remove(2000, 200000, nullptr).ok());
  Result<Doc> b = Doc::LoadSnapshot(a.EncodeSnapshot(), 2);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->Text(), a.Text());
  const VersionVector loaded = b->version();
  for (uint64_t pos : {1999u, 1500u, 977u, 300u, 64u, 1u}) {
    ASSERT_TRUE(a.Insert(pos, "Z", nullptr).ok());
    ASSERT_TRUE(a.Remove(pos - 1, 1, nullptr).ok());
  }
  ASSERT_TRUE(b->ApplyUpdate(a.EncodeOpsSince(loaded)).ok());
  EXPECT_EQ(b->Text(), a.Text());
}

// A replica laid out whole (loaded from a snapshot, or merged from a whole
// history) builds its id index when an id is first looked up. The edits
// made before that (typing on, Items split, leaves split, a new agent)
// must all be found by it, and both replicas must converge after.
TEST(Codec, EditsBeforeTheFirstIdLookupAreFoundByIt) {
  Doc a(1);
  Doc c(3);
  ASSERT_TRUE(a.Insert(0, "The quick brown fox jumps over the lazy dog. ", nullptr).ok());
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(a.Insert(a.size() / 2, "ab" + std::to_string(i), nullptr).ok());
  }
  ASSERT_TRUE(c.ApplyUpdate(a.EncodeOpsSince(VersionVector())).ok());
  ASSERT_TRUE(c.Insert(10, "concurrent", nullptr).ok());
  ASSERT_TRUE(a.Insert(10, "other", nullptr).ok());
  ASSERT_TRUE(a.ApplyUpdate(c.EncodeOpsSince(VersionVector())).ok());

  Result<Doc> loaded = Doc::LoadSnapshot(a.EncodeSnapshot(), 2);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  Doc merged(4);
  ASSERT_TRUE(merged.ApplyUpdate(a.EncodeOpsSince(VersionVector())).ok());
  for (Doc* b : {&*loaded, &merged}) {
    const VersionVector before = b->version();
    // Typing on, Items cut by inserts and deletes, and enough text in one
    // place to split leaves (moving Items between them).
    ASSERT_TRUE(b->Insert(5, "typed", nullptr).ok());
    ASSERT_TRUE(b->Insert(10, " on", nullptr).ok());
    ASSERT_TRUE(b->Remove(40, 25, nullptr).ok());
    for (int i = 0; i < 400; ++i) {
      ASSERT_TRUE(b->Insert(200 + (i * 7) % 300, std::to_string(i), nullptr).ok());
    }
    ASSERT_TRUE(b->Remove(3, 2, nullptr).ok());
    ASSERT_TRUE(b->CheckInvariants().ok()) << b->CheckInvariants().ToString();
    Doc other(5);
    ASSERT_TRUE(other.ApplyUpdate(a.EncodeOpsSince(VersionVector())).ok());
    ASSERT_TRUE(other.Insert(1, "far", nullptr).ok());
    ASSERT_TRUE(b->ApplyUpdate(other.EncodeOpsSince(before)).ok());
    ASSERT_TRUE(other.ApplyUpdate(b->EncodeOpsSince(other.version())).ok());
    EXPECT_EQ(b->Text(), other.Text());
    EXPECT_TRUE(b->CheckInvariants().ok());
  }
}

}  // namespace
}  // namespace weft::engine
