// HistoryImporter: positional histories into one replica make the same ops
// as one replica per agent would; bad input is an error that changes
// nothing.
#include "weft/engine/history_import.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "engine_test_util.h"
#include "many_agent_trace.h"
#include "weft/engine/doc.h"
#include "weft/engine/trace.h"

namespace weft::engine {
namespace {

using testing::StateOf;

// One character's op: an insert with its origins and text, or a delete with
// its target. Two replicas hold the same ops exactly when these lists are
// equal, however each has cut its ops into runs.
struct CharOp {
  OpId id;
  bool insert = true;
  std::optional<OpId> left, right;  // insert
  OpId target;                      // delete
  friend auto operator<=>(const CharOp&, const CharOp&) = default;
};

std::vector<CharOp> CharOps(const Doc& doc) {
  Result<Ops> ops = Doc::DecodeUpdate(doc.EncodeOpsSince(VersionVector()));
  EXPECT_TRUE(ops.ok());
  std::vector<CharOp> out;
  for (const Op& op : *ops) {
    for (uint64_t i = 0; i < op.len; ++i) {
      CharOp c;
      c.id = OpId{op.id.agent, op.id.seq + i};
      c.insert = op.kind == Op::Kind::kInsert;
      if (c.insert) {
        c.left = i == 0 ? op.origin_left : OpId{op.id.agent, op.id.seq + i - 1};
        c.right = op.origin_right;
      } else {
        c.target = OpId{op.target.agent, op.backward ? op.target.seq - i : op.target.seq + i};
      }
      out.push_back(c);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Imports `trace` and replays it with a replica per agent: same text, same
// version, the same ops character by character.
void ExpectImportMatchesReplicas(const Trace& trace) {
  Doc imported(UINT64_MAX - 3);
  Status st = ImportConcurrent(trace, imported);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(imported.CheckInvariants().ok()) << imported.CheckInvariants().ToString();
  std::vector<Doc> replicas;
  ASSERT_TRUE(ReplayConcurrent(trace, replicas).ok());
  EXPECT_EQ(imported.Text(), replicas[0].Text());
  EXPECT_EQ(imported.version(), replicas[0].version());
  EXPECT_EQ(CharOps(imported), CharOps(replicas[0]));
}

TEST(HistoryImport, ManyAgentHistoriesMakeTheReplicasOps) {
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    ExpectImportMatchesReplicas(testing::ManyAgentTrace(2 + seed % 5 * 3, 250, seed));
  }
}

// Authors who come back after thousands of others' txns type under their
// own ids again (their txns descend from their last), and the text is
// exact; the merge of the import's ops gives it too.
TEST(HistoryImport, ReturningAuthorsOfALongHistoryKeepTheirIds) {
  ManyAuthorsOptions o;
  o.authors = 3000;
  o.txns = 9000;
  Trace t = GenerateManyAuthorsTrace(o);
  Doc doc(UINT64_MAX - 3);
  ASSERT_TRUE(ImportConcurrent(t, doc).ok());
  EXPECT_EQ(doc.Text(), t.end_content);
  EXPECT_TRUE(doc.CheckInvariants().ok());
  EXPECT_EQ(doc.known_seqs(TraceAgentId(o.authors)), 0u) << "an author was given a second id";
  uint64_t seqs = 0;
  for (uint32_t k = 0; k < o.authors; ++k) seqs += doc.known_seqs(TraceAgentId(k));
  EXPECT_EQ(seqs, t.patches);
  Doc merged(7);
  ASSERT_TRUE(merged.ApplyUpdate(doc.EncodeOpsSince({})).ok());
  EXPECT_EQ(merged.Text(), t.end_content);
}

TEST(HistoryImport, AgentOnTwoBranchesTakesTheReplaysNextId) {
  Trace t = testing::ManyAgentTrace(3, 40, 9);
  // One of agent 0's txns starts over from the empty document, concurrently
  // with everything before it: agent 0's id cannot make it.
  for (size_t i = 1; i < t.txns.size(); ++i) {
    if (t.txns[i].agent == 0 && !t.txns[i].parents.empty() &&
        t.txns[t.txns[i].parents[0]].agent == 0) {
      t.txns[i].parents.clear();
      t.txns[i].patches = {TracePatch{0, 0, "branch"}};
      break;
    }
  }
  ExpectImportMatchesReplicas(t);
  Doc doc(UINT64_MAX - 3);
  ASSERT_TRUE(ImportConcurrent(t, doc).ok());
  EXPECT_GT(doc.known_seqs(TraceAgentId(3)), 0u);  // the branch's own id
}

TEST(HistoryImport, SharedTracesImportExactly) {
  // friendsforever and node_nodecc must give their endContent; git-makefile
  // orders some concurrent inserts by agent numbers no replay can know
  // (see the traces' README), so it must converge: the same text from its
  // ops merged into a fresh replica and loaded from a snapshot.
  for (const char* name :
       {"concurrent/friendsforever", "egwalker/node_nodecc", "egwalker/git-makefile"}) {
    SCOPED_TRACE(name);
    std::string path = testing::TracesDir() + "/" + name + ".json.gz";
    if (!std::filesystem::exists(path)) continue;
    Result<Trace> trace = LoadTrace(path);
    ASSERT_TRUE(trace.ok()) << trace.status().ToString();
    Doc doc(UINT64_MAX - 3);
    Status st = ImportConcurrent(*trace, doc);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_TRUE(doc.CheckInvariants().ok()) << doc.CheckInvariants().ToString();
    if (std::string(name) != "egwalker/git-makefile") {
      EXPECT_EQ(doc.Text(), trace->end_content);
    }
    Doc merged(1);
    ASSERT_TRUE(merged.ApplyUpdate(doc.EncodeOpsSince(VersionVector())).ok());
    EXPECT_EQ(merged.Text(), doc.Text());
    Result<Doc> loaded = Doc::LoadSnapshot(doc.EncodeSnapshot(), 2);
    ASSERT_TRUE(loaded.ok());
    EXPECT_EQ(loaded->Text(), doc.Text());
  }
}

// A small importer vocabulary: txns by index, patches as tuples.
using Patch = std::tuple<uint64_t, uint64_t, std::string>;
Result<uint32_t> Add(HistoryImporter& imp, uint64_t agent, std::vector<uint32_t> parents,
                     const std::vector<Patch>& patches) {
  std::vector<PositionalPatch> p;
  for (const auto& [pos, del, text] : patches) p.push_back(PositionalPatch{pos, del, text});
  return imp.AddTxn(agent, parents, p);
}

TEST(HistoryImport, ConcurrentTxnsSeeOnlyTheirParents) {
  Doc doc(100);
  HistoryImporter imp(doc);
  ASSERT_TRUE(Add(imp, 1, {}, {{0, 0, "hello"}}).ok());            // 0
  ASSERT_TRUE(Add(imp, 1, {0}, {{5, 0, " world"}}).ok());          // 1
  ASSERT_TRUE(Add(imp, 2, {0}, {{0, 1, "J"}, {5, 0, "!"}}).ok());  // 2: "Jello!"
  // " world" and "!" went after the same "o" at once: agent 1's first.
  EXPECT_EQ(doc.Text(), "Jello world!");
  ASSERT_TRUE(Add(imp, 1, {1, 2}, {{0, 0, ">"}}).ok());  // 3: sees both
  EXPECT_EQ(doc.Text(), ">Jello world!");
  ASSERT_TRUE(Add(imp, 3, {0}, {{1, 4, ""}}).ok());  // 4: "hello" without "ello"
  EXPECT_EQ(doc.Text(), ">J world!");
  imp.Finish();
  EXPECT_TRUE(doc.CheckInvariants().ok());
  // An ordinary replica again.
  ASSERT_TRUE(doc.Insert(0, "#", nullptr).ok());
  EXPECT_EQ(doc.Text(), "#>J world!");
}

TEST(HistoryImport, TxnsWithoutParentsStartFromTheDocAsItWas) {
  Doc doc(100);
  ASSERT_TRUE(doc.Insert(0, "base", nullptr).ok());
  HistoryImporter imp(doc);
  ASSERT_TRUE(Add(imp, 1, {}, {{4, 0, "!"}}).ok());
  ASSERT_TRUE(Add(imp, 2, {}, {{0, 1, "B"}}).ok());
  imp.Finish();
  EXPECT_EQ(doc.Text(), "Base!");
}

TEST(HistoryImport, BadInputIsAnErrorThatChangesNothing) {
  Doc doc(100);
  HistoryImporter imp(doc);
  ASSERT_TRUE(Add(imp, 1, {}, {{0, 0, "abc"}}).ok());
  const testing::DocState before = StateOf(doc);
  struct Case {
    const char* name;
    std::vector<uint32_t> parents;
    std::vector<Patch> patches;
    StatusCode code;
  } cases[] = {
      {"parent not earlier", {1}, {{0, 0, "x"}}, StatusCode::kInvalidArgument},
      {"insert past the end", {0}, {{4, 0, "x"}}, StatusCode::kInvalidArgument},
      {"delete past the end", {0}, {{2, 2, ""}}, StatusCode::kInvalidArgument},
      {"a later patch past the end", {0}, {{0, 1, ""}, {3, 0, "x"}}, StatusCode::kInvalidArgument},
      {"against the empty version", {}, {{0, 1, ""}}, StatusCode::kInvalidArgument},
      {"not UTF-8", {0}, {{0, 0, "\xC3"}}, StatusCode::kInvalidArgument},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<uint32_t> r = Add(imp, 2, c.parents, c.patches);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), c.code);
    EXPECT_EQ(StateOf(doc), before);
    EXPECT_EQ(imp.txns(), 1u);
  }
  // The import goes on as if they had not been tried.
  ASSERT_TRUE(Add(imp, 2, {0}, {{3, 0, "d"}}).ok());
  EXPECT_EQ(doc.Text(), "abcd");
  imp.Finish();
  EXPECT_TRUE(doc.CheckInvariants().ok());
}

TEST(HistoryImport, AnAgentsTxnsMustBeCausallyOrdered) {
  Doc doc(100);
  HistoryImporter imp(doc);
  ASSERT_TRUE(Add(imp, 1, {}, {{0, 0, "a"}}).ok());
  ASSERT_TRUE(Add(imp, 2, {}, {{0, 0, "b"}}).ok());
  const testing::DocState before = StateOf(doc);
  // Agent 1 again, but not after its own first txn.
  Result<uint32_t> r = Add(imp, 1, {1}, {{0, 0, "c"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(StateOf(doc), before);
  ASSERT_TRUE(Add(imp, 3, {1}, {{0, 0, "c"}}).ok());
  ASSERT_TRUE(Add(imp, 1, {0, 2}, {{0, 0, "d"}}).ok());
}

TEST(HistoryImport, RefusesADocWithPendingOpsAndTxnsAfterFinish) {
  Doc author(1), doc(100);
  ASSERT_TRUE(author.Insert(0, "ab", nullptr).ok());
  Result<Ops> later = author.Insert(1, "X");
  ASSERT_TRUE(later.ok());
  ASSERT_TRUE(doc.Apply(*later).ok());  // waits for "ab"
  ASSERT_EQ(doc.pending_ops(), 1u);
  HistoryImporter imp(doc);
  EXPECT_EQ(Add(imp, 2, {}, {{0, 0, "x"}}).status().code(), StatusCode::kFailedPrecondition);
  imp.Finish();
  EXPECT_EQ(Add(imp, 2, {}, {{0, 0, "x"}}).status().code(), StatusCode::kFailedPrecondition);
}

TEST(HistoryImport, ChangeEventsFollowTheText) {
  Trace t = testing::ManyAgentTrace(5, 120, 31);
  Doc doc(UINT64_MAX - 3);
  std::vector<std::string> chars;  // the editor's buffer, one code point each
  doc.SetChangeListener([&](const Delta& d) {
    size_t pos = 0;
    for (const DeltaStep& s : d) {
      if (s.kind == DeltaStep::Kind::kRetain) pos += s.count;
      if (s.kind == DeltaStep::Kind::kDelete) {
        chars.erase(chars.begin() + pos, chars.begin() + pos + s.count);
      }
      if (s.kind == DeltaStep::Kind::kInsert) {
        std::vector<std::string> cps = testing::CodePoints(s.text);
        chars.insert(chars.begin() + pos, cps.begin(), cps.end());
        pos += cps.size();
      }
    }
  });
  ASSERT_TRUE(ImportConcurrent(t, doc).ok());
  std::string text;
  for (const std::string& c : chars) text += c;
  EXPECT_EQ(text, doc.Text());
}

}  // namespace
}  // namespace weft::engine

namespace weft::engine {
namespace {

TEST(HistoryImport, ImportOrderAddsParentsFirstAndBranchesWhole) {
  // 0 forks into a long branch (1..4) and a short one (5); 6 merges them.
  std::vector<std::vector<uint32_t>> parents = {{}, {0}, {1}, {2}, {3}, {0}, {4, 5}};
  Result<std::vector<uint32_t>> order = ImportOrder(parents, {1, 1, 1, 1, 1, 1, 1});
  ASSERT_TRUE(order.ok());
  // The short branch first: only it is retreated, once.
  EXPECT_EQ(*order, (std::vector<uint32_t>{0, 5, 1, 2, 3, 4, 6}));
  std::mt19937_64 rng(5);
  for (int round = 0; round < 20; ++round) {
    size_t n = 1 + rng() % 60;
    std::vector<std::vector<uint32_t>> ps(n);
    for (uint32_t i = 1; i < n; ++i) {
      for (uint64_t k = rng() % 3; k > 0; --k) ps[i].push_back(static_cast<uint32_t>(rng() % i));
    }
    Result<std::vector<uint32_t>> o = ImportOrder(ps, std::vector<uint64_t>(n, 1 + rng() % 4));
    ASSERT_TRUE(o.ok());
    ASSERT_EQ(o->size(), n);
    std::vector<size_t> at(n, n);
    for (size_t k = 0; k < n; ++k) at[(*o)[k]] = k;
    for (uint32_t i = 0; i < n; ++i) {
      ASSERT_LT(at[i], n);
      for (uint32_t p : ps[i]) EXPECT_LT(at[p], at[i]);
    }
  }
  EXPECT_EQ(ImportOrder({{}, {1}}, {}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace weft::engine
