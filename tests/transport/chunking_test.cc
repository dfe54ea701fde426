#include "weft/transport/chunking.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

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

}  // namespace
}  // namespace weft::transport
