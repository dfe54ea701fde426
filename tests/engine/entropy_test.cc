// The pieces under the Update format (engine/FORMAT.md): varints, bit
// fields, rANS, symbol sections and the text compressor. Round trips over
// awkward inputs, and refusals of what a decoder must not take.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "bit_io.h"
#include "byte_io.h"
#include "envelope.h"
#include "rans.h"
#include "symbol_coder.h"
#include "text_lz.h"

namespace weft::engine::detail {
namespace {

TEST(ByteIo, VarintsRoundTripAndMalformedOnesFail) {
  const uint64_t values[] = {0, 1, 127, 128, 300, UINT32_MAX, uint64_t{1} << 63, UINT64_MAX};
  std::string bytes;
  ByteWriter w(&bytes);
  for (uint64_t v : values) w.PutVarint(v);
  ByteReader r(bytes);
  for (uint64_t v : values) EXPECT_EQ(r.Varint(), v);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);

  struct Case {
    const char* name;
    std::string bytes;
  } bad[] = {
      {"truncated", "\x80"},
      {"eleven bytes", std::string(10, '\xff') + "\x01"},
      {"past 64 bits", std::string(9, '\xff') + "\x02"},
  };
  for (const Case& c : bad) {
    SCOPED_TRACE(c.name);
    ByteReader br(c.bytes);
    EXPECT_EQ(br.Varint(), 0u);
    EXPECT_FALSE(br.ok());
  }
}

TEST(ByteIo, ZigZagCoversTheExtremes) {
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{1}, INT64_MIN, INT64_MAX}) {
    EXPECT_EQ(UnZigZag(ZigZag(v)), v);
  }
}

TEST(BitIo, FieldsRoundTripAndReadingPastTheEndIsNoticed) {
  std::mt19937 rng(3);
  std::vector<std::pair<uint32_t, uint32_t>> fields;
  BitWriter w;
  for (int i = 0; i < 1000; ++i) {
    uint32_t n = rng() % 33;
    uint32_t v =
        n == 32 ? static_cast<uint32_t>(rng()) : static_cast<uint32_t>(rng()) & ((1u << n) - 1);
    fields.emplace_back(n, v);
    w.Put(n, v);
  }
  std::string bytes = w.Finish();
  BitReader r(bytes);
  for (auto [n, v] : fields) ASSERT_EQ(r.Get(n), v);
  EXPECT_TRUE(r.Finished());
  r.Get(9);
  EXPECT_FALSE(r.Finished());
}

// Symbols drawn from `weights` (relative), in one context.
std::vector<uint8_t> Draw(const std::vector<uint32_t>& weights, size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::discrete_distribution<int> d(weights.begin(), weights.end());
  std::vector<uint8_t> out(n);
  for (uint8_t& s : out) s = static_cast<uint8_t>(d(rng));
  return out;
}

TEST(Rans, RoundTripsSkewedFlatAndSingleSymbolTables) {
  struct Case {
    const char* name;
    std::vector<uint32_t> weights;
    size_t n;
  } cases[] = {
      {"one symbol", {1}, 1000},
      {"skewed", {1000, 10, 1, 1}, 5000},
      {"flat bytes", std::vector<uint32_t>(256, 1), 5000},
      {"odd count", {3, 5, 7}, 1},
      {"rare tail", {1u << 20, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 3000},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<uint8_t> syms = Draw(c.weights, c.n, 7);
    std::vector<uint32_t> counts(c.weights.size(), 0);
    for (uint8_t s : syms) ++counts[s];
    FreqTable t = FreqTable::FromCounts(counts);
    uint32_t sum = 0;
    for (uint32_t s = 0; s < counts.size(); ++s) {
      if (counts[s] > 0) {
        EXPECT_GT(t.freq[s], 0u);
      }
      if (s < t.freq.size()) sum += t.freq[s];
    }
    EXPECT_EQ(sum, 1u << t.scale_bits);
    std::string table_bytes;
    ByteWriter tw(&table_bytes);
    t.Write(tw);
    ByteReader tr(table_bytes);
    FreqTable read;
    ASSERT_TRUE(read.Read(tr, 256));
    EXPECT_EQ(read.freq, t.freq);

    RansEncoder enc;
    for (uint8_t s : syms) enc.Add(0, s);
    std::string stream = enc.Finish(std::span(&t, 1));
    DecodeTables tables;
    tables.Assign(std::span(&read, 1));
    RansDecoder dec(stream);
    std::vector<uint8_t> back(syms.size());
    dec.DecodeMany(tables.tables()[0], back.data(), back.size());
    EXPECT_EQ(back, syms);
    EXPECT_TRUE(dec.Finished());
  }
}

TEST(Rans, TablesThatDoNotSumUpAreRefused) {
  struct Case {
    const char* name;
    std::string bytes;
  } bad[] = {
      {"scale past the maximum", "\x2f"},                          // 2 symbols, scale 15
      {"frequencies past the total", std::string("\x23\x09", 2)},  // scale 3: 9 > 8
      {"last symbol left nothing", std::string("\x23\x08", 2)},
      {"alphabet too large", std::string("\x93\x20", 2)},  // 257 symbols
  };
  for (const Case& c : bad) {
    SCOPED_TRACE(c.name);
    ByteReader r(c.bytes);
    FreqTable t;
    EXPECT_FALSE(t.Read(r, 256));
  }
}

constexpr uint16_t kTwoContexts[] = {3, kNumAlphabet};

TEST(SymbolSection, RawAndCodedReadBackTheSameSymbols) {
  for (bool coded : {false, true}) {
    SCOPED_TRACE(coded ? "coded" : "raw");
    SymbolWriter w(kTwoContexts);
    std::mt19937 rng(11);
    std::vector<std::pair<uint32_t, uint32_t>> put;
    for (int i = 0; i < 3000; ++i) {
      uint32_t kind = rng() % 10 == 0 ? 2 : rng() % 3 == 0;
      uint32_t num = rng() % 4 == 0 ? static_cast<uint32_t>(rng()) : rng() % 20;
      w.Put(0, kind);
      w.PutNum(1, num);
      put.emplace_back(kind, num);
    }
    std::string bytes;
    ByteWriter out(&bytes);
    EXPECT_EQ(w.Write(out, coded) > 0, coded);
    ByteReader in(bytes);
    SymbolReader r;
    ASSERT_TRUE(r.Read(in, kTwoContexts));
    EXPECT_EQ(in.remaining(), 0u);
    ASSERT_TRUE(r.Decode(r.coded_symbols()));
    for (auto [kind, num] : put) {
      ASSERT_EQ(r.Get(0), kind);
      ASSERT_EQ(r.GetNum(1), num);
    }
    EXPECT_TRUE(r.Finished());
    r.Get(0);
    EXPECT_FALSE(r.ok()) << "reading past a context's end fails";
  }
}

TEST(SymbolSection, RawSymbolsOutsideTheAlphabetAreRefused) {
  // Context 0 has 3 symbols; a raw 3 is malformed.
  std::string bytes("\x02\x03\x00\x00", 4);
  ByteReader in(bytes);
  SymbolReader r;
  EXPECT_FALSE(r.Read(in, kTwoContexts));
}

TEST(SymbolSection, CodedSymbolsOverTheCallersBudgetAreNotDecoded) {
  SymbolWriter w(kTwoContexts);
  for (int i = 0; i < 100000; ++i) w.Put(0, 0);  // nearly free to code
  std::string bytes;
  ByteWriter out(&bytes);
  ASSERT_EQ(w.Write(out, true), 100000u);
  ByteReader in(bytes);
  SymbolReader r;
  ASSERT_TRUE(r.Read(in, kTwoContexts));
  EXPECT_LT(r.bytes(), 64u);
  EXPECT_FALSE(r.Decode(99999));
}

// Compresses and decompresses `text`: the same text back, or (for text
// that compresses past the expansion budget, which the Update encoder then
// stores as it is) a refusal.
void ExpectRoundTrip(const std::string& text) {
  std::string bytes;
  ByteWriter w(&bytes);
  CompressText(text, w);
  ByteReader r(bytes);
  Result<std::string> back = DecompressText(r, text.size());
  if (text.size() > ExpansionBudget(bytes.size())) {
    EXPECT_FALSE(back.ok()) << "expands past the budget";
    return;
  }
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_TRUE(*back == text) << "differs; " << back->size() << " bytes back of " << text.size();
}

TEST(TextLz, RoundTripsAwkwardTexts) {
  std::mt19937 rng(5);
  std::string random(50000, '\0');
  for (char& c : random) c = static_cast<char>(rng());
  std::string words;
  const char* vocabulary[] = {
      "the ", "merge ", "of ", "a ", "history ", "\xc3\xa9t\xc3\xa9 ", "\xf0\x9d\x84\x9e ", "\n"};
  while (words.size() < 100000) words += vocabulary[rng() % 8];
  std::string overlapping = "ab" + std::string(20000, 'x') + "abcabcabcabcabcabcabc";
  // Copies of one block, each with a byte changed at another offset within
  // an eight-byte word: a match must end exactly at each change.
  std::string block = random.substr(0, 3000), copies = block;
  for (size_t k = 0; k < 24; ++k) {
    std::string copy = block;
    copy[1000 + 9 * k] ^= 0x20;
    copies += copy;
  }
  struct Case {
    const char* name;
    std::string text;
  } cases[] = {
      {"empty", ""},
      {"one byte", "x"},
      {"incompressible", random},
      {"words", words},
      {"one byte repeated", std::string(60000, ' ')},
      {"past the budget", std::string(300000, ' ')},
      {"short overlapping repeats", overlapping},
      {"copies that differ at every byte of a word", copies},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ExpectRoundTrip(c.text);
  }
}

TEST(TextLz, ClaimingMoreThanTheBudgetOrThanItHoldsIsRefused) {
  std::string text(1 << 20, 'a');
  std::string bytes;
  ByteWriter w(&bytes);
  CompressText(text, w);
  ASSERT_LT(bytes.size() * 256, text.size()) << "a bomb: expands past the budget";
  ByteReader r(bytes);
  EXPECT_FALSE(DecompressText(r, text.size()).ok());
  ByteReader again(bytes);
  EXPECT_FALSE(DecompressText(again, 1000).ok()) << "holds more than it claims";
}

TEST(Envelope, OtherVersionsKindsAndDamageAreRefused) {
  std::string sealed = Seal(PayloadKind::kUpdate, "body");
  Result<std::string_view> body = Unseal(sealed, PayloadKind::kUpdate);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body, "body");
  EXPECT_FALSE(Unseal(sealed, PayloadKind::kSnapshot).ok());
  std::string v3 = sealed;
  v3[0] = 3;
  EXPECT_NE(Unseal(v3, PayloadKind::kUpdate).status().ToString().find("version 3"),
            std::string::npos);
  EXPECT_FALSE(Unseal(sealed.substr(0, 5), PayloadKind::kUpdate).ok());
}

}  // namespace
}  // namespace weft::engine::detail
