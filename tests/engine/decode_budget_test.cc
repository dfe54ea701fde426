// Decompression bombs: an Update whose compressed text expands (or claims to
// expand) far beyond its size, an Update that claims far more runs than its
// few coded bytes may hold, and a Snapshot that claims far more than it
// holds, are refused; the memory spent refusing them follows what arrived,
// not the sizes they declare. This binary replaces the global operator new
// to record the largest single allocation, which is what a bomb inflates.
//
// The bombs are built by the grammar of engine/FORMAT.md, with the
// engine's own writers for the parts that are not the point.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "byte_io.h"
#include "envelope.h"
#include "op_model.h"
#include "symbol_coder.h"
#include "weft/engine/doc.h"

namespace {

std::atomic<size_t> g_largest_allocation{0};

void* Allocate(size_t n) {
  size_t seen = g_largest_allocation.load(std::memory_order_relaxed);
  // Relaxed: a statistic read by the same thread after the call it measures.
  while (n > seen &&
         !g_largest_allocation.compare_exchange_weak(seen, n, std::memory_order_relaxed)) {
  }
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(size_t n) { return Allocate(n); }
void* operator new[](size_t n) { return Allocate(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace weft::engine {
namespace {

using detail::ByteWriter;
using detail::PayloadKind;
using detail::Seal;
using detail::SymbolWriter;

constexpr uint64_t kBombBytes = uint64_t{256} << 20;
// Far above what refusing a few KiB of input needs, far below the bomb.
constexpr size_t kMaxAllocation = size_t{4} << 20;

// Text contexts (FORMAT.md, "Text"): literal, literal count, match length,
// offset code.
constexpr uint16_t kTextAlphabet[] = {256, detail::kNumAlphabet, detail::kNumAlphabet,
                                      detail::kNumAlphabet};
constexpr uint32_t kMinMatch = 4;

// A compressed text of `real` bytes: one 'x', then one match repeating it
// (offset code 0: the first repeat offset, 1).
std::string BombText(uint64_t real) {
  SymbolWriter w(kTextAlphabet);
  w.PutNum(1, 1);
  w.Put(0, 'x');
  w.PutNum(2, static_cast<uint32_t>(real - 1 - kMinMatch));
  w.PutNum(3, 0);
  std::string out;
  ByteWriter bw(&out);
  w.Write(bw, true);
  return out;
}

// An Update (FORMAT.md, "Update") of one agent whose header claims
// `claimed_text` bytes of text and `claimed_runs` runs, around the given
// text and ops sections.
std::string BombUpdate(uint64_t claimed_text, uint64_t claimed_runs, const std::string& text,
                       const std::string& ops) {
  std::string body;
  ByteWriter w(&body);
  w.PutVarint(1);  // agents
  w.PutLe64(7);    // agent id
  w.PutVarint(0);  // its first seq
  w.PutVarint(claimed_runs);
  w.PutVarint(claimed_text);
  w.PutU8(1);  // text compressed
  w.PutBytes(text);
  w.PutBytes(ops);
  return Seal(PayloadKind::kUpdate, body);
}

// Ops (FORMAT.md, "Ops") for `runs` identical inserts of one character at
// the document start: every symbol is the only one of its context, so the
// coded section is a few dozen bytes whatever the count.
std::string CheapOps(uint64_t runs) {
  SymbolWriter w(detail::OpAlphabets());
  for (uint64_t i = 0; i < runs; ++i) {
    w.Put(detail::kHeadAfterInsert, 0);  // insert, same agent
    w.PutNum(detail::kLenInsert, 0);     // one character
    w.Put(detail::kModeLeft, 0);         // document start
    w.Put(detail::kModeRight, 0);        // document end
  }
  std::string out;
  ByteWriter bw(&out);
  w.Write(bw, true);
  return out;
}

struct Case {
  const char* name;
  uint64_t claimed;
};
// The header tells the truth; claims a billion bytes; claims a little (so
// only the stream itself betrays the bomb).
constexpr Case kCases[] = {
    {"truthful", kBombBytes}, {"claims 1 GB", 1'000'000'000}, {"claims 4 KiB", 4096}};

void ExpectRefusedCheaply(const std::string& bomb) {
  Doc doc(1);
  ASSERT_TRUE(doc.Insert(0, "kept").ok());
  g_largest_allocation = 0;
  Status s = doc.ApplyUpdate(bomb);
  EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.ToString();
  EXPECT_LT(g_largest_allocation.load(), kMaxAllocation);
  EXPECT_EQ(doc.Text(), "kept");
  g_largest_allocation = 0;
  EXPECT_FALSE(Doc::DecodeUpdate(std::string_view(bomb)).ok());
  EXPECT_LT(g_largest_allocation.load(), kMaxAllocation);
}

TEST(DecodeBudget, TextBombIsRefusedWithoutAllocatingItsClaim) {
  const std::string text = BombText(kBombBytes);
  ASSERT_LT(text.size(), size_t{1} << 10);
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    ExpectRefusedCheaply(BombUpdate(c.claimed, 1, text, CheapOps(1)));
  }
}

TEST(DecodeBudget, RunBombIsRefusedWithoutAllocatingItsClaim) {
  // A million runs in a section of a few dozen bytes: refused before any
  // run is decoded, whether or not the header admits to them all.
  const std::string ops = CheapOps(1'000'000);
  ASSERT_LT(ops.size(), size_t{256});
  const std::string text = BombText(64);
  ExpectRefusedCheaply(BombUpdate(64, 1'000'000, text, ops));
  ExpectRefusedCheaply(BombUpdate(64, 64, text, ops));
}

// A Snapshot (FORMAT.md, "Snapshot") of one agent with `next_seq` seqs and
// `text_bytes` declared, whose log and items claim `records` each.
std::string BombSnapshot(uint64_t next_seq, uint64_t text_bytes, uint64_t records) {
  std::string body;
  ByteWriter w(&body);
  w.PutVarint(1);
  w.PutLe64(7);
  w.PutVarint(next_seq);
  w.PutVarint(text_bytes);
  w.PutU8(1);  // ASCII
  w.PutVarint(records);
  w.PutVarint(uint64_t{1} << 3);  // an insert run of one character
  return Seal(PayloadKind::kSnapshot, body);
}

TEST(DecodeBudget, SnapshotClaimsAreRefusedWithoutAllocatingThem) {
  struct SnapshotCase {
    const char* name;
    uint64_t next_seq, text_bytes, records;
  } cases[] = {
      {"a billion bytes of text", 1, 1'000'000'000, 1},
      {"a billion log runs", 1, 0, 1'000'000'000},
      // Allowed seqs for so little text (SeqBound), costing bits, not words.
      {"2^24 seqs", uint64_t{1} << 24, 0, 1},
      {"4 billion seqs", UINT32_MAX - 1, 0, 1},
  };
  for (const SnapshotCase& c : cases) {
    SCOPED_TRACE(c.name);
    std::string bomb = BombSnapshot(c.next_seq, c.text_bytes, c.records);
    g_largest_allocation = 0;
    EXPECT_FALSE(Doc::LoadSnapshot(bomb, 1).ok());
    EXPECT_LT(g_largest_allocation.load(), kMaxAllocation);
  }
}

TEST(DecodeBudget, DeletesOfOneRangeOverAndOverAreRefusedCheaply) {
  // A delete may name inserted characters that are deleted already: 6,400
  // deletes of the same 10,000 characters take 64 M seqs, far past what a
  // document of 10,000 characters may run ahead to. Refused while planned,
  // before what the plan keeps per seq (a bit) passes that bound.
  Doc doc(1);
  ASSERT_TRUE(doc.Insert(0, std::string(10000, 'a')).ok());
  Ops ops(6400);
  for (size_t k = 0; k < ops.size(); ++k) {
    ops[k].kind = Op::Kind::kDelete;
    ops[k].id = OpId{9, k * 10000};
    ops[k].len = 10000;
    ops[k].target = OpId{1, 0};
  }
  g_largest_allocation = 0;
  EXPECT_EQ(doc.Apply(ops).code(), StatusCode::kCorruption);
  EXPECT_LT(g_largest_allocation.load(), size_t{8} << 20);
  EXPECT_EQ(doc.size(), 10000u);
}

TEST(DecodeBudget, HighlyCompressibleTextStillRoundTrips) {
  // What the encoder makes, the decoder takes: a paste that compresses past
  // the expansion budget is sent uncompressed rather than refused later.
  Doc src(1);
  ASSERT_TRUE(src.Insert(0, std::string(size_t{4} << 20, ' ')).ok());
  Doc dst(2);
  ASSERT_TRUE(dst.ApplyUpdate(src.EncodeOpsSince(VersionVector())).ok());
  EXPECT_EQ(dst.Text().size(), size_t{4} << 20);
  Result<Doc> loaded = Doc::LoadSnapshot(src.EncodeSnapshot(), 3);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->Text().size(), size_t{4} << 20);
}

TEST(DecodeBudget, ManyIdenticalRunsStillRoundTrip) {
  // The ops counterpart: runs so alike that coded they would decode past
  // the budget are written raw instead.
  Doc src(1);
  for (int i = 0; i < 20000; ++i) ASSERT_TRUE(src.Insert(0, "a").ok());
  Doc dst(2);
  ASSERT_TRUE(dst.ApplyUpdate(src.EncodeOpsSince(VersionVector())).ok());
  EXPECT_EQ(dst.Text(), src.Text());
}

}  // namespace
}  // namespace weft::engine
