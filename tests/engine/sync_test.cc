// Remote ops: idempotence, order independence, Pending, change events.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "engine_test_util.h"
#include "weft/engine/doc.h"

namespace weft::engine {
namespace {

using testing::StateOf;

// A delete by agent 9 (its first op) of `len` characters from `target` on.
Op RemoteDelete(OpId target, uint64_t len) {
  Op op;
  op.kind = Op::Kind::kDelete;
  op.id = OpId{9, 0};
  op.len = len;
  op.target = target;
  return op;
}

Ops Edit(Doc& doc, uint64_t pos, std::string_view text) {
  Result<Ops> ops = doc.Insert(pos, text);
  EXPECT_TRUE(ops.ok());
  return ops.ok() ? *ops : Ops{};
}

TEST(Sync, UpdateRoundTripsBetweenReplicas) {
  Doc a(1), b(2);
  Edit(a, 0, "hello");
  ASSERT_TRUE(b.ApplyUpdate(a.EncodeOpsSince(b.version())).ok());
  Edit(b, 5, " world");
  ASSERT_TRUE(a.ApplyUpdate(b.EncodeOpsSince(a.version())).ok());
  EXPECT_EQ(a.Text(), "hello world");
  EXPECT_EQ(b.Text(), "hello world");
  EXPECT_EQ(a.version(), b.version());
}

TEST(Sync, ApplyTwiceEqualsApplyOnce) {
  Doc a(1), b(2);
  Edit(a, 0, "abc");
  ASSERT_TRUE(a.Remove(1, 1).ok());
  std::string update = a.EncodeOpsSince(VersionVector());
  ASSERT_TRUE(b.ApplyUpdate(update).ok());
  auto once = StateOf(b);
  ASSERT_TRUE(b.ApplyUpdate(update).ok());
  EXPECT_EQ(StateOf(b), once);
  EXPECT_EQ(b.Text(), "ac");
}

TEST(Sync, OwnOpsComingBackAreIgnored) {
  Doc a(1);
  Ops ops = Edit(a, 0, "xyz");
  ASSERT_TRUE(a.Apply(ops).ok());
  EXPECT_EQ(a.Text(), "xyz");
}

TEST(Sync, OpsBeforeTheirDependenciesWaitInPending) {
  Doc a(1), b(2);
  Ops first = Edit(a, 0, "ab");
  Ops second = Edit(a, 1, "X");
  ASSERT_TRUE(b.Apply(second).ok());
  EXPECT_EQ(b.pending_ops(), 1u);
  EXPECT_EQ(b.Text(), "");
  ASSERT_TRUE(b.Apply(first).ok());
  EXPECT_EQ(b.pending_ops(), 0u);
  EXPECT_EQ(b.Text(), "aXb");
}

TEST(Sync, PendingOverflowIsAnErrorAndChangesNothing) {
  Doc a(1);
  Ops all;
  for (int i = 0; i < 4; ++i) {
    Ops ops = Edit(a, 0, "x");
    all.insert(all.end(), ops.begin(), ops.end());
  }
  DocOptions small;
  small.max_pending_ops = 2;
  Doc b(2, small);
  Ops late(all.begin() + 1, all.end());  // all wait for the first
  auto before = StateOf(b);
  Status st = b.Apply(late);
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(StateOf(b), before);
  ASSERT_TRUE(b.Apply(Ops(all.begin(), all.begin() + 1)).ok());
  ASSERT_TRUE(b.Apply(late).ok());
  EXPECT_EQ(b.Text(), a.Text());
}

TEST(Sync, PendingTextOverflowIsAnErrorAndChangesNothing) {
  Doc a(1);
  Ops first = *a.Insert(0, "x");
  Ops big = *a.Insert(1, std::string(1000, 'y'));
  DocOptions small;
  small.max_pending_bytes = 999;
  Doc b(2, small);
  auto before = StateOf(b);
  EXPECT_EQ(b.Apply(big).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(StateOf(b), before);
  ASSERT_TRUE(b.Apply(first).ok());
  ASSERT_TRUE(b.Apply(big).ok());
  EXPECT_EQ(b.size(), 1001u);
}

TEST(Sync, OpsSinceIsExactlyWhatIsMissing) {
  Doc a(1), b(2);
  Edit(a, 0, "one ");
  ASSERT_TRUE(b.ApplyUpdate(a.EncodeOpsSince(b.version())).ok());
  VersionVector mid = b.version();
  Edit(a, 4, "two");
  Result<Ops> missing = Doc::DecodeUpdate(a.EncodeOpsSince(mid));
  ASSERT_TRUE(missing.ok());
  ASSERT_EQ(missing->size(), 1u);
  EXPECT_EQ((*missing)[0].text, "two");
  EXPECT_EQ((*missing)[0].id, (OpId{1, 4}));
}

// An `until` naming some agents cuts the others out whatever `since` says
// of them: a writer sends its own edits by naming only its own agents.
TEST(Sync, OpsUpToAVersionNamingSomeAgentsAreOnlyTheirs) {
  Doc a(1), b(2);
  Edit(a, 0, "one ");
  ASSERT_TRUE(b.ApplyUpdate(a.EncodeOpsSince({})).ok());
  Edit(b, 4, "two ");
  ASSERT_TRUE(a.ApplyUpdate(b.EncodeOpsSince({})).ok());
  Edit(a, 8, "three");
  VersionVector since, until;
  since.Set(1, 4);
  until.Set(1, 1000);  // past what a holds: capped at its version
  until.Set(77, 5);    // an agent a never saw: nothing
  Result<Ops> mine = Doc::DecodeUpdate(a.EncodeOpsSince(since, &until));
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->size(), 1u);
  EXPECT_EQ((*mine)[0].text, "three");
  EXPECT_EQ((*mine)[0].id, (OpId{1, 4}));
  // The same from b's side of the history: b's ops are left out although
  // `since` lacks them, and the cut falls inside a run.
  until.Set(1, 6);
  Result<Ops> cut = Doc::DecodeUpdate(a.EncodeOpsSince(since, &until));
  ASSERT_TRUE(cut.ok());
  ASSERT_EQ(cut->size(), 1u);
  EXPECT_EQ((*cut)[0].text, "th");
  // Nothing when `since` already has all `until` names.
  since.Set(1, 6);
  Result<Ops> none = Doc::DecodeUpdate(a.EncodeOpsSince(since, &until));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  // A version of some agents names those the replica knows, at its seqs.
  VersionVector own;
  own.Set(1, a.known_seqs(1));
  EXPECT_EQ(a.version(std::vector<uint64_t>{1, 77}), own);
  // The replica missing only a's last run takes it and converges.
  Doc c(3);
  ASSERT_TRUE(c.ApplyUpdate(b.EncodeOpsSince({})).ok());
  since.Set(1, 4);
  until.Set(1, a.known_seqs(1));
  ASSERT_TRUE(c.ApplyUpdate(a.EncodeOpsSince(since, &until)).ok());
  EXPECT_EQ(c.Text(), a.Text());
  EXPECT_EQ(c.pending_ops(), 0u);
}

TEST(Sync, DeleteOfAnIdThatIsADeleteIsRejected) {
  Doc a(1);
  Edit(a, 0, "ab");
  Ops del = *a.Remove(0, 1);  // seq 2 is a delete
  Op hostile = RemoteDelete(OpId{1, 2}, 1);
  Doc b(2);
  ASSERT_TRUE(b.ApplyUpdate(a.EncodeOpsSince(VersionVector())).ok());
  auto before = StateOf(b);
  EXPECT_EQ(b.Apply(Ops{hostile}).code(), StatusCode::kCorruption);
  EXPECT_EQ(StateOf(b), before);
}

// Within one batch, as against the Doc: a delete target or an origin must
// be an inserted character, also when the batch itself made the seq a
// delete, and also for ranges that span many seqs.
TEST(Sync, OriginsAndTargetsNamingDeletesOfTheSameBatchAreRejected) {
  Doc a(1);
  Edit(a, 0, std::string(100, 'x'));  // seqs 0..99
  ASSERT_TRUE(a.Remove(10, 1).ok());  // seq 100 is a delete
  Edit(a, 99, std::string(70, 'y'));  // seqs 101..170
  Result<Ops> history = Doc::DecodeUpdate(a.EncodeOpsSince(VersionVector()));
  ASSERT_TRUE(history.ok());
  auto with = [&](const Op& extra) {
    Ops ops = *history;
    ops.push_back(extra);
    return ops;
  };
  {
    // Deletes [101, 171): past a whole word of seqs, every one inserted.
    Op del = RemoteDelete(OpId{1, 101}, 70);
    Doc b(2);
    ASSERT_TRUE(b.Apply(with(del)).ok());
    EXPECT_EQ(b.Text(), std::string(99, 'x'));
  }
  for (uint64_t first : {95u, 100u}) {
    // [95, 105) and [100, 110) hold seq 100, the batch's own delete.
    Op del = RemoteDelete(OpId{1, first}, 10);
    Doc b(2);
    EXPECT_EQ(b.Apply(with(del)).code(), StatusCode::kCorruption) << first;
    EXPECT_EQ(b.Text(), "");
  }
  Op ins;
  ins.kind = Op::Kind::kInsert;
  ins.id = OpId{9, 0};
  ins.len = 1;
  ins.text = "z";
  ins.origin_left = OpId{1, 100};
  Doc b(2);
  EXPECT_EQ(b.Apply(with(ins)).code(), StatusCode::kCorruption);
  EXPECT_EQ(b.Text(), "");
  ins.origin_left = OpId{1, 99};
  ASSERT_TRUE(b.Apply(with(ins)).ok());
  std::string text = b.Text();
  ASSERT_EQ(std::count(text.begin(), text.end(), 'z'), 1) << text;
  text.erase(text.find('z'), 1);
  EXPECT_EQ(text, a.Text());
}

TEST(Sync, RemoteChangesArriveAsDeltas) {
  Doc a(1), b(2);
  std::string editor;  // b's editor buffer, patched only by deltas
  b.SetChangeListener([&](const Delta& delta) {
    size_t pos = 0;  // byte offset; the test text is ASCII
    for (const DeltaStep& s : delta) {
      switch (s.kind) {
        case DeltaStep::Kind::kRetain:
          pos += s.count;
          break;
        case DeltaStep::Kind::kInsert:
          editor.insert(pos, s.text);
          pos += s.text.size();
          break;
        case DeltaStep::Kind::kDelete:
          editor.erase(pos, s.count);
          break;
      }
    }
  });
  Edit(a, 0, "hello world");
  ASSERT_TRUE(b.ApplyUpdate(a.EncodeOpsSince(b.version())).ok());
  ASSERT_TRUE(a.Remove(0, 6).ok());
  Edit(a, 5, "!");
  ASSERT_TRUE(b.ApplyUpdate(a.EncodeOpsSince(b.version())).ok());
  EXPECT_EQ(editor, "world!");
  EXPECT_EQ(b.Text(), "world!");
}

}  // namespace
}  // namespace weft::engine

namespace weft::engine {
namespace {

// Regression: deletes take seqs, so a peer could push its seqs to billions
// with a few small ops (each deleting the whole text again) and make the id
// index allocate per seq.
TEST(Sync, SeqsRunningFarAheadOfTheTextAreRejected) {
  const uint64_t n = 100'000;
  Doc a(1);
  ASSERT_TRUE(a.Insert(0, std::string(n, 'x'), nullptr).ok());
  Doc b(2);
  ASSERT_TRUE(b.ApplyUpdate(a.EncodeOpsSince(VersionVector())).ok());
  auto deletes = [&](uint64_t first_seq, int count) {
    Ops ops;
    for (int i = 0; i < count; ++i) {
      Op d;
      d.kind = Op::Kind::kDelete;
      d.id = OpId{9, first_seq + i * n};
      d.len = n;
      d.target = OpId{1, 0};
      ops.push_back(d);
    }
    return ops;
  };
  EXPECT_TRUE(b.Apply(deletes(0, 5)).ok()) << "deleting the text a few times over is plausible";
  auto before = testing::StateOf(b);
  EXPECT_EQ(b.Apply(deletes(5 * n, 200)).code(), StatusCode::kCorruption);
  EXPECT_EQ(testing::StateOf(b), before);
}

// The bound counts the seqs a replica holds, those a snapshot brought too:
// a loaded replica may not be pushed further than the one it was taken from.
TEST(Sync, SeqsASnapshotBroughtCountTowardsTheBound) {
  const uint64_t n = 100'000;
  Doc a(1);
  ASSERT_TRUE(a.Insert(0, std::string(n, 'x'), nullptr).ok());
  Ops deletes;
  for (uint64_t i = 0; i < 100; ++i) {
    Op d;
    d.kind = Op::Kind::kDelete;
    d.id = OpId{9, i * n};
    d.len = n;
    d.target = OpId{1, 0};
    deletes.push_back(d);
  }
  ASSERT_TRUE(a.Apply(deletes).ok()) << "10^7 seqs over 10^5 characters are within the bound";
  Result<Doc> b = Doc::LoadSnapshot(a.EncodeSnapshot(), 2);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_TRUE(b->CheckInvariants().ok());
  // 9 * 10^6 more would be within the bound for a replica holding nothing,
  // not for one holding the snapshot's 1.01 * 10^7.
  for (Op& d : deletes) d.id.seq += 100 * n;
  deletes.resize(90);
  auto before = StateOf(*b);
  EXPECT_EQ(b->Apply(deletes).code(), StatusCode::kCorruption);
  EXPECT_EQ(StateOf(*b), before);
}

}  // namespace
}  // namespace weft::engine

namespace weft::engine {
namespace {

// Regression: readiness was found by passes over every waiting op, so a
// history delivered newest first took one pass per op (quadratic: minutes
// for this one). Waiting ops are now woken by the seq they wait for.
TEST(Sync, HistoryDeliveredNewestFirstAppliesInOneCall) {
  Doc a(1);
  Ops all;
  for (int i = 0; i < 20'000; ++i) {
    // Typing backwards: every op is its own run that depends on the last.
    Ops ops = *a.Insert(0, i % 7 == 0 ? "é" : "x");
    all.insert(all.end(), ops.begin(), ops.end());
  }
  std::reverse(all.begin(), all.end());
  Doc b(2);
  ASSERT_TRUE(b.Apply(all).ok());
  EXPECT_EQ(b.pending_ops(), 0u);
  EXPECT_EQ(b.Text(), a.Text());
}

}  // namespace
}  // namespace weft::engine

namespace weft::engine {
namespace {

// The replica the linear merge made (`fast`) against the one the usual
// way made: the same text, version and history, and sound.
void ExpectSameReplica(const Doc& fast, const Doc& usual, int seed) {
  ASSERT_TRUE(fast.CheckInvariants().ok()) << "seed " << seed;
  EXPECT_EQ(fast.Text(), usual.Text()) << "seed " << seed;
  EXPECT_EQ(fast.version(), usual.version()) << "seed " << seed;
  EXPECT_EQ(fast.EncodeOpsSince(VersionVector()), usual.EncodeOpsSince(VersionVector()))
      << "seed " << seed;
}

// A history merged into a fresh replica is applied without positions while
// it is linear (each op made against everything before it), and the usual
// way from the first concurrent op on. A change listener forces the usual
// way throughout: both must give the same replica.
TEST(Sync, LinearHistoryMergesIntoAFreshReplicaLikeTheUsualPath) {
  for (int seed = 0; seed < testing::PropertyScenarios(20); ++seed) {
    std::mt19937_64 rng(static_cast<uint64_t>(seed));
    const char* pieces[] = {"a", "bc", "é", "日本", "xyz", "🙂", "hello world "};
    // A few authors take turns, each up to date before editing (linear),
    // then two edit concurrently on some seeds (the fallback mid-batch).
    std::vector<Doc> authors;
    for (uint64_t a = 1; a <= 3; ++a) authors.emplace_back(a * 1000 + static_cast<uint64_t>(seed));
    Ops history;
    auto edit = [&](Doc& doc) {
      std::string text;
      int n = static_cast<int>(rng() % 3) + 1;
      for (int i = 0; i < n; ++i) text += pieces[rng() % std::size(pieces)];
      uint64_t size = doc.size();
      Ops ops;
      if (size > 0 && rng() % 3 == 0) {
        uint64_t pos = rng() % size;
        uint64_t len = 1 + rng() % std::min<uint64_t>(size - pos, rng() % 5 == 0 ? 200 : 4);
        ops = *doc.Remove(pos, len);
      } else {
        ops = *doc.Insert(size == 0 ? 0 : rng() % (size + 1), text);
      }
      return ops;
    };
    for (int step = 0; step < 300; ++step) {
      Doc& doc = authors[rng() % authors.size()];
      ASSERT_TRUE(doc.Apply(history).ok());
      Ops ops = edit(doc);
      history.insert(history.end(), ops.begin(), ops.end());
    }
    if (seed % 2 == 1) {
      for (Doc& doc : authors) ASSERT_TRUE(doc.Apply(history).ok());
      for (int step = 0; step < 40; ++step) {
        Ops ops = edit(authors[static_cast<size_t>(step % 2)]);
        history.insert(history.end(), ops.begin(), ops.end());
      }
    }
    Doc fast(7), usual(8);
    usual.SetChangeListener([](const Delta&) {});
    ASSERT_TRUE(fast.Apply(history).ok());
    ASSERT_TRUE(usual.Apply(history).ok());
    ExpectSameReplica(fast, usual, seed);
    // Both go on merging alike.
    Ops more = edit(authors[0]);
    ASSERT_TRUE(fast.Apply(more).ok());
    ASSERT_TRUE(usual.Apply(more).ok());
    EXPECT_EQ(fast.Text(), usual.Text()) << "seed " << seed;
    ASSERT_TRUE(fast.CheckInvariants().ok());
  }
}

// A merge into a fresh replica lays its Items out in leaves straight from
// its list, a fixed number to a leaf. Whatever their number, every leaf
// holds some (the last one full included) and edits go on as usual.
TEST(Sync, AMergeLaysOutWholeLeavesForAnyNumberOfItems) {
  for (int items = 1; items <= 100; ++items) {
    Doc author(1);
    Ops history;
    // Each insert at the start is an Item of its own: nothing joins them.
    for (int i = 0; i < items; ++i) {
      Ops ops = Edit(author, 0, i % 2 == 0 ? "a" : "é");
      history.insert(history.end(), ops.begin(), ops.end());
    }
    Doc merged(2);
    ASSERT_TRUE(merged.Apply(history).ok());
    ASSERT_EQ(merged.Text(), author.Text()) << items << " items";
    ASSERT_TRUE(merged.CheckInvariants().ok()) << items << " items";
    ASSERT_TRUE(merged.Insert(merged.size(), "z").ok());
    ASSERT_TRUE(merged.Insert(merged.size() / 2, "y").ok());
    ASSERT_TRUE(merged.Remove(0, 1).ok());
    ASSERT_TRUE(merged.CheckInvariants().ok()) << items << " items";
  }
}

// A replica that already holds part of a history and takes in the rest as
// one large batch (a catch-up after a long time offline) puts its Items in
// the linear merge's list first. It must end as the usual way ends: with
// the history linear, with its own edit made meanwhile (the fallback at
// the first insert next to it), with part of the rest already there.
TEST(Sync, ALargeBatchIntoAReplicaHoldingTextMergesLikeTheUsualPath) {
  for (int seed = 0; seed < testing::PropertyScenarios(24); ++seed) {
    std::mt19937_64 rng(static_cast<uint64_t>(seed) + 100);
    const char* pieces[] = {"a", "bc", "é", "日本", "xyz", "🙂", "hello world "};
    std::vector<Doc> authors;
    for (uint64_t a = 1; a <= 3; ++a) authors.emplace_back(a * 1000 + static_cast<uint64_t>(seed));
    Ops history;
    std::vector<size_t> seen(authors.size(), 0);  // how much of history each author has
    // One long history, whose Items are enough to be put in order by the
    // radix sort rather than a comparison sort.
    const int steps = seed == 0 ? 12000 : 400;
    for (int step = 0; step < steps; ++step) {
      const size_t who = rng() % authors.size();
      Doc& doc = authors[who];
      ASSERT_TRUE(
          doc.Apply(Ops(history.begin() + static_cast<std::ptrdiff_t>(seen[who]), history.end()))
              .ok());
      const uint64_t size = doc.size();
      const uint64_t pos = size == 0 ? 0 : rng() % size;
      Result<Ops> ops = size > 0 && rng() % 3 == 0
                            ? doc.Remove(pos, 1 + rng() % std::min<uint64_t>(
                                                              size - pos, rng() % 5 == 0 ? 100 : 4))
                            : doc.Insert(pos, pieces[rng() % std::size(pieces)]);
      ASSERT_TRUE(ops.ok());
      history.insert(history.end(), ops->begin(), ops->end());
      seen[who] = history.size();
    }
    // The replica's part: a prefix, and on some seeds a few ops of the
    // rest too (they come again in the batch, known in part or whole).
    const size_t held = history.size() / (2 + seed % 3);
    Ops prefix(history.begin(), history.begin() + static_cast<std::ptrdiff_t>(held));
    Ops rest(history.begin() + static_cast<std::ptrdiff_t>(held), history.end());
    if (seed % 3 == 2) prefix.insert(prefix.end(), rest.begin(), rest.begin() + 5);
    // One agent for both: they never meet, and their own edits must encode alike.
    Doc fast(7), usual(7);
    ASSERT_TRUE(fast.Apply(prefix).ok());
    ASSERT_TRUE(usual.Apply(prefix).ok());
    if (seed % 2 == 1) {
      // An edit of its own, concurrent with the whole batch.
      const uint64_t at = fast.size() / 2;
      ASSERT_TRUE(fast.Insert(at, "mine").ok());
      ASSERT_TRUE(usual.Insert(at, "mine").ok());
    }
    usual.SetChangeListener([](const Delta&) {});
    ASSERT_TRUE(fast.Apply(rest).ok());
    ASSERT_TRUE(usual.Apply(rest).ok());
    ExpectSameReplica(fast, usual, seed);
    // Both go on alike.
    ASSERT_TRUE(fast.Insert(1, "z").ok());
    ASSERT_TRUE(usual.Insert(1, "z").ok());
    EXPECT_EQ(fast.Text(), usual.Text()) << "seed " << seed;
    ASSERT_TRUE(fast.CheckInvariants().ok());
  }
}

}  // namespace
}  // namespace weft::engine
