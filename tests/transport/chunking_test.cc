#include "weft/transport/chunking.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "weft/engine/trace.h"

namespace weft::transport {
namespace {

std::string TracesDir() {
  const char* env = std::getenv("WEFT_TRACES_DIR");
  return env != nullptr ? env : WEFT_TRACES_DIR;
}

void ExpectChunksRebuild(const engine::Doc& doc, const engine::VersionVector& since,
                         engine::Doc& target, size_t max_bytes) {
  Result<std::vector<std::string>> chunks = EncodeChunks(doc, since, max_bytes);
  ASSERT_TRUE(chunks.ok()) << chunks.status().ToString();
  for (const std::string& c : *chunks) {
    EXPECT_LE(c.size(), max_bytes);
    ASSERT_TRUE(target.ApplyUpdate(c).ok());
    EXPECT_EQ(target.pending_ops(), 0u) << "a chunk depended on a later one";
  }
  EXPECT_EQ(target.Text(), doc.Text());
  EXPECT_EQ(target.version(), doc.version());
}

TEST(EncodeChunks, WholeHistoryOfARealTraceInFrameSizedPieces) {
  Result<engine::Trace> trace =
      engine::LoadTrace(TracesDir() + "/sequential/automerge-paper.json.gz");
  ASSERT_TRUE(trace.ok()) << trace.status().ToString();
  engine::Doc doc(1);
  ASSERT_TRUE(engine::ReplaySequential(*trace, doc).ok());
  engine::Doc fresh(2);
  ExpectChunksRebuild(doc, {}, fresh, kMaxUpdateBytes);
}

// Every shared history, and refactoring-shaped big pastes and deletes,
// rebuilds from its chunks; and the chunks are full enough that a history
// costs few more frames and bytes than its own encoding.
TEST(EncodeChunks, EveryHistoryRebuildsFromFullChunks) {
  std::vector<std::pair<std::string, engine::Doc>> docs;
  for (const char* name :
       {"automerge-paper", "seph-blog1", "sveltecomponent", "friendsforever_flat"}) {
    Result<engine::Trace> trace =
        engine::LoadTrace(TracesDir() + "/sequential/" + name + ".json.gz");
    ASSERT_TRUE(trace.ok()) << trace.status().ToString();
    engine::Doc doc(1);
    ASSERT_TRUE(engine::ReplaySequential(*trace, doc).ok());
    docs.emplace_back(name, std::move(doc));
  }
  {
    Result<engine::Trace> trace =
        engine::LoadTrace(TracesDir() + "/concurrent/friendsforever.json.gz");
    ASSERT_TRUE(trace.ok()) << trace.status().ToString();
    engine::Doc doc(1000);
    ASSERT_TRUE(engine::ImportConcurrent(*trace, doc).ok());
    docs.emplace_back("friendsforever", std::move(doc));
  }
  {
    engine::PasteDeleteOptions o;
    o.cycles = 10;
    o.max_chars = 100'000;
    engine::Doc doc(1);
    ASSERT_TRUE(engine::ReplaySequential(engine::GeneratePasteDeleteTrace(o), doc).ok());
    docs.emplace_back("paste-delete", std::move(doc));
  }
  for (const auto& [name, doc] : docs) {
    SCOPED_TRACE(name);
    engine::Doc fresh(2);
    ExpectChunksRebuild(doc, {}, fresh, kMaxUpdateBytes);
    Result<std::vector<std::string>> chunks = EncodeChunks(doc, {});
    ASSERT_TRUE(chunks.ok());
    const size_t whole = doc.EncodeOpsSince({}).size();
    size_t sum = 0;
    for (const std::string& c : *chunks) sum += c.size();
    // On average a third of the limit at least, and no more than half
    // again what one encoding of the whole history takes.
    EXPECT_LE(chunks->size(), whole / (kMaxUpdateBytes / 3) + 1) << whole << " bytes in all";
    EXPECT_LE(sum, whole + whole / 2) << chunks->size() << " chunks";
  }
}

// Text that compresses to almost nothing (one line pasted over and over)
// still comes in chunks a receiver decodes under a node's bound on one
// batch's decoded bytes.
TEST(EncodeChunks, TextThatCompressesFarStaysDecodable) {
  engine::Doc doc(1);
  std::string line = "the same line, pasted again and again\n";
  std::string text;
  while (text.size() < (size_t{4} << 20)) text += line;
  ASSERT_TRUE(doc.Insert(0, text).ok());
  Result<std::vector<std::string>> chunks = EncodeChunks(doc, {});
  ASSERT_TRUE(chunks.ok()) << chunks.status().ToString();
  engine::DocOptions bounded;
  bounded.max_decoded_bytes = size_t{16} << 20;
  engine::Doc fresh(2, bounded);
  for (const std::string& c : *chunks) {
    ASSERT_LE(c.size(), kMaxUpdateBytes);
    ASSERT_TRUE(fresh.ApplyUpdate(c).ok());
  }
  EXPECT_EQ(fresh.size(), doc.size());
}

TEST(EncodeChunks, OneHugeInsertIsCut) {
  engine::Doc doc(1);
  std::string text;
  for (int i = 0; i < 20000; ++i) text += static_cast<char>('a' + (i * 7919) % 26);
  text += "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";  // multi-byte characters at the end
  ASSERT_TRUE(doc.Insert(0, text).ok());
  engine::Doc fresh(2);
  ExpectChunksRebuild(doc, {}, fresh, 4096);
}

TEST(EncodeChunks, OnlyWhatTheOtherSideLacks) {
  engine::Doc a(1), b(2);
  ASSERT_TRUE(a.Insert(0, "hello").ok());
  ASSERT_TRUE(b.ApplyUpdate(a.EncodeOpsSince({})).ok());
  ASSERT_TRUE(a.Insert(5, " world").ok());
  Result<std::vector<std::string>> none = EncodeChunks(a, a.version());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  ExpectChunksRebuild(a, b.version(), b, kMaxUpdateBytes);
}

// A writer sends its own agents' edits, in pieces when they are large,
// naming only its own agents: others' ops it holds are not sent although
// `since` does not list them.
TEST(EncodeChunks, UntilOwnAgentsSendsOnlyTheirOpsInPieces) {
  engine::Doc a(1), b(2);
  ASSERT_TRUE(a.Insert(0, "hello ").ok());
  ASSERT_TRUE(b.ApplyUpdate(a.EncodeOpsSince({})).ok());
  ASSERT_TRUE(b.Insert(6, "world").ok());
  ASSERT_TRUE(a.ApplyUpdate(b.EncodeOpsSince({})).ok());
  std::string text;
  for (int i = 0; i < 20000; ++i) text += static_cast<char>('a' + (i * 7919) % 26);
  ASSERT_TRUE(a.Insert(3, text).ok());
  engine::VersionVector since, until;
  since.Set(1, 6);
  until.Set(1, a.known_seqs(1));
  Result<std::vector<std::string>> chunks = EncodeChunksUntil(a, since, until, 4096);
  ASSERT_TRUE(chunks.ok()) << chunks.status().ToString();
  EXPECT_GT(chunks->size(), 1u);
  engine::Doc c(3);  // holds a's first edit and b's, through b
  ASSERT_TRUE(c.ApplyUpdate(b.EncodeOpsSince({})).ok());
  for (const std::string& chunk : *chunks) {
    EXPECT_LE(chunk.size(), 4096u);
    Result<engine::Ops> ops = engine::Doc::DecodeUpdate(chunk);
    ASSERT_TRUE(ops.ok());
    for (const engine::Op& op : *ops) EXPECT_EQ(op.id.agent, 1u);
    ASSERT_TRUE(c.ApplyUpdate(chunk).ok());
    EXPECT_EQ(c.pending_ops(), 0u) << "a chunk depended on a later one";
  }
  EXPECT_EQ(c.Text(), a.Text());
  Result<std::vector<std::string>> none = EncodeChunksUntil(a, until, until);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace weft::transport
