// Every trace in WEFT_TRACES_DIR replays to its endContent, through local
// edits, a full-history merge and a snapshot load; concurrent traces also in
// several random delivery orders.
#include "weft/engine/trace.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine_test_util.h"
#include "many_agent_trace.h"
#include "weft/engine/doc.h"

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
  DocOptions raw;
  raw.compress = false;
  Doc merged(1000, raw);
  ASSERT_TRUE(merged.ApplyUpdate(doc.EncodeOpsSince(VersionVector())).ok());
  EXPECT_EQ(merged.Text(), expected);
  EXPECT_EQ(merged.version(), doc.version());
  // The same history written raw (no tables, text stored) reads back too.
  Doc from_raw(999);
  ASSERT_TRUE(from_raw.ApplyUpdate(merged.EncodeOpsSince(VersionVector())).ok());
  EXPECT_EQ(from_raw.Text(), expected);
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
        std::shuffle(shuffled.begin() + i, shuffled.begin() + std::min(i + 64, shuffled.size()),
                     rng);
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

// Large pastes and deletes spanning thousands of Items (a generated
// history, checked against its plain-buffer endContent).
TEST(Traces, GeneratedPasteDeleteHistoryReplaysExactly) {
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    // Renames from the top down, and from the bottom up (which cuts long
    // non-ASCII Items near their ends).
    const bool bottom_up = seed > 2;
    SCOPED_TRACE("seed " + std::to_string(seed));
    Trace trace = GeneratePasteDeleteTrace(PasteDeleteOptions{seed, 6, 120'000, bottom_up});
    Doc doc(1);
    ASSERT_TRUE(ReplaySequential(trace, doc).ok());
    ASSERT_EQ(doc.Text(), trace.end_content);
    EXPECT_TRUE(doc.CheckInvariants().ok()) << doc.CheckInvariants().ToString();
    CheckMergeAndLoad(doc, trace.end_content);
  }
}

// Small generated histories, whose renames often reach the document's
// start: the generator's own arithmetic near position 0, as well as the
// Doc, is checked against the plain buffer.
TEST(Traces, SmallGeneratedHistoriesReplayExactly) {
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Trace trace = GeneratePasteDeleteTrace(PasteDeleteOptions{seed, 4, 1'500, seed % 2 == 0});
    Doc doc(1);
    ASSERT_TRUE(ReplaySequential(trace, doc).ok());
    ASSERT_EQ(doc.Text(), trace.end_content);
  }
}

TEST(Traces, MalformedTraceIsAnError) {
  Result<Trace> missing = LoadTrace("/nonexistent/trace.json.gz");
  EXPECT_EQ(missing.status().code(), StatusCode::kIoError);
}

// Writes `json` to a file of its own and loads it. The name is the test's
// and the process's: ctest runs tests as parallel processes, and two that
// shared one file read each other's JSON.
Result<Trace> LoadJson(const std::string& json) {
  std::string path = ::testing::TempDir() + "weft_trace_test_" +
                     ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" +
                     std::to_string(getpid()) + ".json";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  EXPECT_NE(f, nullptr);
  std::fwrite(json.data(), 1, json.size(), f);
  std::fclose(f);
  Result<Trace> t = LoadTrace(path);
  std::remove(path.c_str());
  return t;
}

TEST(Traces, TraceJsonIsReadInAnyKeyOrderAndUnknownKeysAreSkipped) {
  Result<Trace> t = LoadJson(
      R"({"txns": [{"parents": [], "agent": 1, "extra": {"a": [1, 2]}, "patches": [[0, 0, "hi"]]},
                   {"agent": 0, "patches": [[1, 1, "é"]], "parents": [0], "numChildren": 0}],
          "numAgents": 2, "endContent": "hé", "kind": "concurrent", "note": null})");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_TRUE(t->concurrent);
  EXPECT_EQ(t->num_agents, 2u);
  ASSERT_EQ(t->txns.size(), 2u);
  EXPECT_EQ(t->txns[1].parents, std::vector<uint64_t>{0});
  EXPECT_EQ(t->txns[1].patches[0].text, "é");
  EXPECT_EQ(t->patches, 2u);
  std::vector<Doc> replicas;
  ASSERT_TRUE(ReplayConcurrent(*t, replicas).ok());
  EXPECT_EQ(replicas[0].Text(), "hé");
}

TEST(Traces, MalformedTraceJsonIsRejected) {
  struct Case {
    const char* name;
    const char* json;
  } cases[] = {
      {"not JSON", "{\"txns\": ["},
      {"not an object", "[1, 2]"},
      {"no endContent", R"({"txns": []})"},
      {"no txns", R"({"endContent": ""})"},
      {"patch too short", R"({"endContent": "", "txns": [{"patches": [[0, 0]]}]})"},
      {"patch too long", R"({"endContent": "", "txns": [{"patches": [[0, 0, "a", 1]]}]})"},
      {"negative position", R"({"endContent": "", "txns": [{"patches": [[-1, 0, "a"]]}]})"},
      {"text not a string", R"({"endContent": "", "txns": [{"patches": [[0, 0, 5]]}]})"},
      {"txn without patches", R"({"endContent": "", "txns": [{}]})"},
      {"unknown kind", R"({"kind": "weird", "endContent": "", "txns": []})"},
      {"concurrent without numAgents", R"({"kind": "concurrent", "endContent": "", "txns": []})"},
      {"agent out of range",
       R"({"kind": "concurrent", "numAgents": 1, "endContent": "",
           "txns": [{"agent": 1, "parents": [], "patches": []}]})"},
      {"parent not earlier",
       R"({"kind": "concurrent", "numAgents": 1, "endContent": "",
           "txns": [{"agent": 0, "parents": [0], "patches": []}]})"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<Trace> t = LoadJson(c.json);
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), StatusCode::kCorruption);
  }
}

}  // namespace
}  // namespace weft::engine

namespace weft::engine {
namespace {

TEST(Traces, ManyAgentHistoryReplaysExactly) {
  Trace t = testing::ManyAgentTrace(12, 400, 7);
  std::vector<Doc> replicas;
  Status st = ReplayConcurrent(t, replicas);
  ASSERT_TRUE(st.ok()) << st.ToString();
  for (const Doc& r : replicas) EXPECT_EQ(r.Text(), t.end_content);
}

TEST(Traces, ManyAgentHistoryChecksAndReleasesReplicasOnRequest) {
  Trace t = testing::ManyAgentTrace(12, 400, 11);
  ConcurrentReplayOptions options;
  options.keep_replicas = false;
  options.threads = 3;
  std::vector<Doc> replicas;
  Status st = ReplayConcurrent(t, replicas, {}, options);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(replicas.size(), 1u);
  EXPECT_EQ(replicas[0].Text(), t.end_content);
  EXPECT_EQ(replicas[0].agent(), TraceAgentId(0));
  // Replica 0 has every agent's ops, as the replay's merge and snapshot need.
  for (uint32_t k = 0; k < t.num_agents; ++k) {
    uint64_t authored = 0;
    for (const TraceTxn& txn : t.txns) authored += txn.agent == k ? 1 : 0;
    if (authored > 0) {
      EXPECT_GT(replicas[0].known_seqs(TraceAgentId(k)), 0u) << "agent " << k;
    }
  }
}

TEST(Traces, FinalSyncReportsProgressOnTheCallingThread) {
  Trace t = testing::ManyAgentTrace(10, 200, 17);
  ConcurrentReplayOptions options;
  options.threads = 3;
  std::vector<std::pair<size_t, size_t>> calls;
  const std::thread::id caller = std::this_thread::get_id();
  bool other_thread = false;
  options.catch_up_progress = [&](size_t done, size_t total) {
    other_thread |= std::this_thread::get_id() != caller;
    calls.emplace_back(done, total);
  };
  std::vector<Doc> replicas;
  ASSERT_TRUE(ReplayConcurrent(t, replicas, {}, options).ok());
  EXPECT_FALSE(other_thread);
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back(), std::make_pair(size_t{10}, size_t{10}));
  for (size_t i = 1; i < calls.size(); ++i) EXPECT_LE(calls[i - 1].first, calls[i].first);
}

TEST(Traces, ConcurrentTraceWithoutAgentsReplaysToNothing) {
  Trace t;
  t.concurrent = true;
  t.num_agents = 0;
  ConcurrentReplayOptions options;
  options.threads = 2;
  std::vector<Doc> replicas;
  EXPECT_TRUE(ReplayConcurrent(t, replicas, {}, options).ok());
  EXPECT_TRUE(replicas.empty());
}

TEST(Traces, ParallelFinalSyncKeepsEveryReplica) {
  Trace t = testing::ManyAgentTrace(9, 300, 13);
  ConcurrentReplayOptions options;
  options.threads = 4;
  std::vector<Doc> replicas;
  Status st = ReplayConcurrent(t, replicas, {}, options);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(replicas.size(), 9u);
  for (const Doc& r : replicas) EXPECT_EQ(r.Text(), t.end_content);
}

// An agent whose txns are not totally ordered (one of them does not descend
// from the agent's previous one, as for someone committing on two branches)
// types that txn into a replica of its own.
TEST(Traces, AgentOnTwoBranchesGetsASecondReplica) {
  Trace t = testing::ManyAgentTrace(3, 40, 9);
  // Cut one of agent 0's later txns loose from its own previous txn: it now
  // starts from the empty document, concurrently with everything before it.
  size_t cut = 0;
  for (size_t i = 1; i < t.txns.size(); ++i) {
    TraceTxn& txn = t.txns[i];
    if (txn.agent == 0 && !txn.parents.empty() && t.txns[txn.parents[0]].agent == 0) {
      txn.parents.clear();
      // Its patches were recorded against the fuller document: keep only
      // an insert at the start, which fits any document.
      txn.patches = {TracePatch{0, 0, "branch"}};
      cut = i;
      break;
    }
  }
  ASSERT_NE(cut, 0u);
  std::vector<Doc> replicas;
  Status st = ReplayConcurrent(t, replicas);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(replicas.size(), 4u);  // three agents, and agent 0's second replica
  EXPECT_EQ(replicas[3].agent(), TraceAgentId(3));
  for (const Doc& r : replicas) EXPECT_EQ(r.Text(), replicas[0].Text());
  EXPECT_NE(replicas[0].Text().find("branch"), std::string::npos);
}

}  // namespace
}  // namespace weft::engine
