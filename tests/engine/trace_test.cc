// Every trace in WEFT_TRACES_DIR replays to its endContent, through local
// edits, a full-history merge and a snapshot load; concurrent traces also in
// several random delivery orders.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "engine_test_util.h"
#include "weft/engine/doc.h"
#include "weft/engine/trace.h"

namespace weft::engine {
namespace {

std::vector<std::string> TraceFiles(const std::string& sub) {
  std::vector<std::string> out;
  std::filesystem::path dir = std::filesystem::path(testing::TracesDir()) / sub;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.ends_with(".json") || name.ends_with(".json.gz")) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void CheckMergeAndLoad(const Doc& doc, const std::string& expected) {
  Doc merged(1000);
  ASSERT_TRUE(merged.ApplyUpdate(doc.EncodeOpsSince(VersionVector())).ok());
  EXPECT_EQ(merged.Text(), expected);
  EXPECT_EQ(merged.version(), doc.version());
  Result<Doc> loaded = Doc::LoadSnapshot(doc.EncodeSnapshot(), 1001);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->Text(), expected);
  EXPECT_TRUE(loaded->CheckInvariants().ok());
  // A loaded replica keeps editing and serving ops like the original.
  ASSERT_TRUE(loaded->Insert(0, "x", nullptr).ok());
  Doc again(1002);
  ASSERT_TRUE(again.ApplyUpdate(loaded->EncodeOpsSince(VersionVector())).ok());
  EXPECT_EQ(again.Text(), "x" + expected);
}

TEST(Traces, SequentialTracesReplayExactly) {
  std::vector<std::string> files = TraceFiles("sequential");
  ASSERT_FALSE(files.empty()) << "no traces under " << testing::TracesDir();
  for (const std::string& f : files) {
    SCOPED_TRACE(f);
    Result<Trace> trace = LoadTrace(f);
    ASSERT_TRUE(trace.ok()) << trace.status().ToString();
    Doc doc(1);
    ASSERT_TRUE(ReplaySequential(*trace, doc).ok());
    ASSERT_EQ(doc.Text(), trace->end_content);
    EXPECT_TRUE(doc.CheckInvariants().ok()) << doc.CheckInvariants().ToString();
    CheckMergeAndLoad(doc, trace->end_content);
  }
}

TEST(Traces, ConcurrentTracesReplayExactly) {
  std::vector<std::string> files = TraceFiles("concurrent");
  ASSERT_FALSE(files.empty()) << "no traces under " << testing::TracesDir();
  for (const std::string& f : files) {
    SCOPED_TRACE(f);
    Result<Trace> trace = LoadTrace(f);
    ASSERT_TRUE(trace.ok()) << trace.status().ToString();
    std::vector<Doc> replicas;
    Status st = ReplayConcurrent(*trace, replicas);
    ASSERT_TRUE(st.ok()) << st.ToString();
    for (const Doc& r : replicas) {
      ASSERT_EQ(r.Text(), trace->end_content);
      EXPECT_TRUE(r.CheckInvariants().ok());
    }
    CheckMergeAndLoad(replicas[0], trace->end_content);
    // The same ops merged in other delivery orders give the same document.
    Result<Ops> ops = Doc::DecodeUpdate(replicas[0].EncodeOpsSince(VersionVector()));
    ASSERT_TRUE(ops.ok());
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      SCOPED_TRACE("order seed " + std::to_string(seed));
      std::mt19937_64 rng(seed);
      Ops shuffled = *ops;
      // Shuffle within windows: out of order, yet Pending stays small.
      for (size_t i = 0; i < shuffled.size(); i += 64) {
        std::shuffle(shuffled.begin() + i, shuffled.begin() + std::min(i + 64, shuffled.size()), rng);
      }
      Doc d(2000 + seed);
      for (size_t i = 0; i < shuffled.size(); i += 16) {
        std::span<const Op> chunk(shuffled.data() + i, std::min<size_t>(16, shuffled.size() - i));
        ASSERT_TRUE(d.Apply(chunk).ok());
      }
      EXPECT_EQ(d.pending_ops(), 0u);
      EXPECT_EQ(d.Text(), trace->end_content);
    }
  }
}

TEST(Traces, MalformedTraceIsAnError) {
  Result<Trace> missing = LoadTrace("/nonexistent/trace.json.gz");
  EXPECT_FALSE(missing.ok());
}

}  // namespace
}  // namespace weft::engine
