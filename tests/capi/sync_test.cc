// Replicas syncing through the C API: Updates, snapshots, the change
// observer, anchors and undo/redo under concurrent edits, hostile bytes.
#include <random>
#include <string>
#include <vector>

#include "capi/capi_test_util.h"

namespace weft::capi::testing {
namespace {

TEST(CApiSync, ConcurrentInsertsAtOnePlaceConverge) {
  Replica a(1), b(2);
  ASSERT_EQ(a.Insert(0, "ac"), WEFT_OK);
  Deliver(a, b);
  ASSERT_EQ(a.Insert(1, "XXX"), WEFT_OK);
  ASSERT_EQ(b.Insert(1, "ÿÿ"), WEFT_OK);
  ASSERT_EQ(b.Delete(0, 1), WEFT_OK);
  Sync(a, b);
  EXPECT_EQ(a.Text(), b.Text());
  EXPECT_EQ(a.Version(), b.Version());
  // Runs typed concurrently at one place never interleave.
  std::string t = a.Text();
  EXPECT_TRUE(t == "XXXÿÿc" || t == "ÿÿXXXc") << t;
}

TEST(CApiSync, ApplyIsIdempotent) {
  Replica a(1), b(2);
  ASSERT_EQ(a.Insert(0, "once"), WEFT_OK);
  Bytes update = a.UpdateSince(b.Version());
  ASSERT_EQ(b.Apply(update), WEFT_OK);
  ASSERT_EQ(b.Apply(update), WEFT_OK);
  EXPECT_EQ(b.Text(), "once");
}

TEST(CApiSync, OutOfOrderUpdatesWaitInPending) {
  Replica a(1), b(2);
  ASSERT_EQ(a.Insert(0, "ab"), WEFT_OK);
  Bytes first = a.UpdateSince(Bytes{0x00});
  Bytes v1 = a.Version();
  ASSERT_EQ(a.Insert(2, "cd"), WEFT_OK);
  Bytes second = a.UpdateSince(v1);
  ASSERT_EQ(b.Apply(second), WEFT_OK);
  uint64_t pending = 0;
  ASSERT_EQ(weft_doc_pending(b.get(), &pending), WEFT_OK);
  EXPECT_GT(pending, 0u);
  EXPECT_EQ(b.Text(), "");
  ASSERT_EQ(b.Apply(first), WEFT_OK);
  EXPECT_EQ(b.Text(), "abcd");
}

TEST(CApiSync, NullVersionMeansEverything) {
  Replica a(1), b(2);
  ASSERT_EQ(a.Insert(0, "all"), WEFT_OK);
  uint8_t* buf = nullptr;
  size_t len = 0;
  ASSERT_EQ(weft_doc_encode_since(a.get(), nullptr, 0, &buf, &len), WEFT_OK);
  ASSERT_EQ(b.Apply(TakeBytes(buf, len)), WEFT_OK);
  EXPECT_EQ(b.Text(), "all");
}

TEST(CApiSync, RangesCutAnUpdateIntoPiecesThatApplyInOrder) {
  Replica a(1), b(2);
  std::vector<Bytes> versions = {a.Version()};
  for (const char* word : {"one ", "two ", "three"}) {
    ASSERT_EQ(a.Insert(a.Len(), word), WEFT_OK);
    versions.push_back(a.Version());
  }
  for (size_t i = 1; i < versions.size(); ++i) {
    uint8_t* buf = nullptr;
    size_t len = 0;
    const Bytes& since = versions[i - 1];
    const Bytes& until = versions[i];
    ASSERT_EQ(weft_doc_encode_range(a.get(), since.data(), since.size(), until.data(), until.size(),
                                    &buf, &len),
              WEFT_OK)
        << weft_last_error();
    ASSERT_EQ(b.Apply(TakeBytes(buf, len)), WEFT_OK);
    EXPECT_EQ(b.Version(), until);
  }
  EXPECT_EQ(b.Text(), "one two three");
}

TEST(CApiSync, RangeNeedsAWellFormedUntil) {
  Replica a(1);
  ASSERT_EQ(a.Insert(0, "x"), WEFT_OK);
  uint8_t* buf = nullptr;
  size_t len = 0;
  EXPECT_EQ(weft_doc_encode_range(a.get(), nullptr, 0, nullptr, 0, &buf, &len),
            WEFT_INVALID_ARGUMENT);
  const uint8_t truncated[] = {0x01, 0x01};
  EXPECT_EQ(weft_doc_encode_range(a.get(), nullptr, 0, truncated, 2, &buf, &len), WEFT_CORRUPTION);
  // A version beyond the doc's holds nothing the doc does not have.
  const uint8_t ahead[] = {0x01, 0x01, 0x09};
  ASSERT_EQ(weft_doc_encode_range(a.get(), nullptr, 0, ahead, 3, &buf, &len), WEFT_OK);
  Replica b(2);
  ASSERT_EQ(b.Apply(TakeBytes(buf, len)), WEFT_OK);
  EXPECT_EQ(b.Text(), "x");
}

// Flip every byte and cut at every length: the result is an error with the
// doc unchanged, or OK; never a crash.
TEST(CApiSync, DamagedUpdatesLeaveTheDocUnchanged) {
  Replica a(1);
  ASSERT_EQ(a.Insert(0, "hello, wörld 😀"), WEFT_OK);
  ASSERT_EQ(a.Delete(3, 2), WEFT_OK);
  const Bytes update = a.UpdateSince(Bytes{0x00});
  for (size_t i = 0; i <= update.size(); ++i) {
    SCOPED_TRACE(i);
    std::vector<Bytes> damaged = {Bytes(update.begin(), update.begin() + i)};
    if (i < update.size()) {
      damaged.push_back(update);
      damaged.back()[i] ^= 0x5a;
    }
    for (const Bytes& bytes : damaged) {
      Replica b(2);
      ASSERT_EQ(b.Insert(0, "mine"), WEFT_OK);
      Bytes version = b.Version();
      weft_status s = b.Apply(bytes);
      if (s != WEFT_OK) {
        EXPECT_NE(std::string(weft_last_error()), "");
        EXPECT_EQ(b.Text(), "mine");
        EXPECT_EQ(b.Version(), version);
      }
    }
  }
}

TEST(CApiSync, GarbageIsCorruption) {
  Replica b(2);
  const Bytes garbage = {0x01, 0x02, 0x03, 0x04, 0xff};
  EXPECT_EQ(b.Apply(garbage), WEFT_CORRUPTION);
  EXPECT_EQ(weft_doc_apply(b.get(), nullptr, 0), WEFT_CORRUPTION);
  EXPECT_EQ(b.Text(), "");
}

TEST(CApiSnapshot, RoundTripKeepsTextAndHistory) {
  Replica a(1), b(2);
  ASSERT_EQ(a.Insert(0, "snap😀shot"), WEFT_OK);
  Deliver(a, b);
  ASSERT_EQ(b.Insert(0, ">"), WEFT_OK);
  Bytes snap = a.Snapshot();
  weft_doc* raw = nullptr;
  ASSERT_EQ(weft_doc_load(1, snap.data(), snap.size(), &raw), WEFT_OK);
  Replica loaded(raw);
  EXPECT_EQ(loaded.Text(), "snap😀shot");
  EXPECT_EQ(loaded.Version(), a.Version());
  int32_t can_undo = -1;
  ASSERT_EQ(weft_doc_can_undo(loaded.get(), &can_undo), WEFT_OK);
  EXPECT_EQ(can_undo, 0);  // undo history is not saved
  // The loaded replica merges and serves updates like the original.
  ASSERT_EQ(loaded.Insert(4, "-"), WEFT_OK);
  Sync(loaded, b);
  EXPECT_EQ(loaded.Text(), ">snap-😀shot");
  EXPECT_EQ(b.Text(), loaded.Text());
}

TEST(CApiSnapshot, DamagedSnapshotsAreErrors) {
  Replica a(1);
  ASSERT_EQ(a.Insert(0, "some text"), WEFT_OK);
  const Bytes snap = a.Snapshot();
  for (size_t i = 0; i < snap.size(); ++i) {
    SCOPED_TRACE(i);
    Bytes cut(snap.begin(), snap.begin() + i);
    weft_doc* raw = nullptr;
    EXPECT_NE(weft_doc_load(1, cut.data(), cut.size(), &raw), WEFT_OK);
    EXPECT_EQ(raw, nullptr);
    Bytes flipped = snap;
    flipped[i] ^= 0x21;
    if (weft_doc_load(1, flipped.data(), flipped.size(), &raw) == WEFT_OK) weft_doc_free(raw);
  }
}

TEST(CApiObserver, DeltasReproduceTheText) {
  Replica a(1), b(2);
  Shadow shadow;
  shadow.Attach(b);
  ASSERT_EQ(a.Insert(0, "héllo world"), WEFT_OK);
  Deliver(a, b);
  ASSERT_EQ(a.Delete(1, 4), WEFT_OK);
  ASSERT_EQ(a.Insert(1, "i 😀"), WEFT_OK);
  ASSERT_EQ(b.Insert(b.Len(), "!"), WEFT_OK);  // local: no delta
  shadow.text += "!";
  Deliver(a, b);
  EXPECT_GT(shadow.calls, 0);
  EXPECT_EQ(shadow.text, b.Text());
}

TEST(CApiObserver, LocalEditsDoNotCallIt) {
  Replica a(1);
  Shadow shadow;
  shadow.Attach(a);
  ASSERT_EQ(a.Insert(0, "x"), WEFT_OK);
  ASSERT_EQ(a.Delete(0, 1), WEFT_OK);
  EXPECT_EQ(shadow.calls, 0);
}

TEST(CApiObserver, RemovedObserverIsNotCalled) {
  Replica a(1), b(2);
  Shadow shadow;
  shadow.Attach(b);
  ASSERT_EQ(weft_doc_set_observer(b.get(), nullptr, nullptr), WEFT_OK);
  ASSERT_EQ(a.Insert(0, "x"), WEFT_OK);
  Deliver(a, b);
  EXPECT_EQ(shadow.calls, 0);
}

// Calls on the doc from inside its own observer are refused, not run in the
// middle of the Apply that called the observer.
struct Reentrant {
  weft_doc* doc = nullptr;
  weft_status insert = WEFT_OK;
  weft_status len = WEFT_OK;
  static void Observe(void* self, const weft_delta_step*, size_t) {
    auto* r = static_cast<Reentrant*>(self);
    r->insert = weft_doc_insert(r->doc, 0, "x", 1);
    uint64_t n = 0;
    r->len = weft_doc_len(r->doc, &n);
    weft_doc_free(r->doc);  // ignored
  }
};

TEST(CApiObserver, ReentrantCallsFailWithFailedPrecondition) {
  Replica a(1), b(2);
  Reentrant r{b.get()};
  ASSERT_EQ(weft_doc_set_observer(b.get(), &Reentrant::Observe, &r), WEFT_OK);
  ASSERT_EQ(a.Insert(0, "abc"), WEFT_OK);
  Deliver(a, b);
  EXPECT_EQ(r.insert, WEFT_FAILED_PRECONDITION);
  EXPECT_EQ(r.len, WEFT_FAILED_PRECONDITION);
  EXPECT_EQ(b.Text(), "abc");
}

TEST(CApiAnchor, FollowsItsCharacterAcrossRemoteEdits) {
  Replica a(1), b(2);
  ASSERT_EQ(a.Insert(0, "hello world"), WEFT_OK);
  Deliver(a, b);
  weft_anchor caret = a.Anchor(6, WEFT_BIAS_RIGHT);  // before "w"
  weft_anchor mark = a.Anchor(6, WEFT_BIAS_LEFT);    // after " "
  EXPECT_EQ(caret.has_id, 1u);
  ASSERT_EQ(b.Insert(6, "big "), WEFT_OK);
  ASSERT_EQ(b.Insert(0, "😀"), WEFT_OK);
  Deliver(b, a);
  EXPECT_EQ(a.Resolve(caret), 11u);
  EXPECT_EQ(a.Resolve(mark), 7u);
  // An anchor is a plain value: it resolves on the other replica too.
  EXPECT_EQ(b.Resolve(caret), 11u);
}

TEST(CApiAnchor, DeletedCharacterResolvesToWhereItWas) {
  Replica a(1);
  ASSERT_EQ(a.Insert(0, "abcdef"), WEFT_OK);
  weft_anchor at_d = a.Anchor(3, WEFT_BIAS_RIGHT);
  ASSERT_EQ(a.Delete(2, 3), WEFT_OK);
  EXPECT_EQ(a.Resolve(at_d), 2u);
}

TEST(CApiAnchor, EdgesAndUnknownCharacters) {
  Replica a(1), b(2);
  ASSERT_EQ(a.Insert(0, "abc"), WEFT_OK);
  weft_anchor start = a.Anchor(0, WEFT_BIAS_LEFT);
  weft_anchor end = a.Anchor(3, WEFT_BIAS_RIGHT);
  EXPECT_EQ(start.has_id, 0u);
  EXPECT_EQ(end.has_id, 0u);
  ASSERT_EQ(a.Insert(3, "de"), WEFT_OK);
  EXPECT_EQ(a.Resolve(start), 0u);
  EXPECT_EQ(a.Resolve(end), 5u);
  // b has never seen the character: left bias goes to 0, right to the end.
  ASSERT_EQ(b.Insert(0, "xy"), WEFT_OK);
  weft_anchor mid = a.Anchor(1, WEFT_BIAS_RIGHT);
  EXPECT_EQ(b.Resolve(mid), 2u);
  mid.bias = WEFT_BIAS_LEFT;
  EXPECT_EQ(b.Resolve(mid), 0u);
}

TEST(CApiUndo, UndoAndRedoLocalEdits) {
  Replica a(1);
  int32_t can = -1;
  ASSERT_EQ(weft_doc_can_undo(a.get(), &can), WEFT_OK);
  EXPECT_EQ(can, 0);
  EXPECT_EQ(weft_doc_undo(a.get()), WEFT_OK);  // nothing to undo: no error
  ASSERT_EQ(a.Insert(0, "hello"), WEFT_OK);
  ASSERT_EQ(a.Insert(5, " wörld"), WEFT_OK);
  ASSERT_EQ(weft_doc_can_undo(a.get(), &can), WEFT_OK);
  EXPECT_EQ(can, 1);
  ASSERT_EQ(weft_doc_undo(a.get()), WEFT_OK);
  EXPECT_EQ(a.Text(), "hello");
  ASSERT_EQ(weft_doc_undo(a.get()), WEFT_OK);
  EXPECT_EQ(a.Text(), "");
  ASSERT_EQ(weft_doc_can_redo(a.get(), &can), WEFT_OK);
  EXPECT_EQ(can, 1);
  ASSERT_EQ(weft_doc_redo(a.get()), WEFT_OK);
  ASSERT_EQ(weft_doc_redo(a.get()), WEFT_OK);
  EXPECT_EQ(a.Text(), "hello wörld");
  ASSERT_EQ(a.Delete(0, 6), WEFT_OK);
  ASSERT_EQ(weft_doc_can_redo(a.get(), &can), WEFT_OK);
  EXPECT_EQ(can, 0);  // a new edit clears redo
  ASSERT_EQ(weft_doc_undo(a.get()), WEFT_OK);
  EXPECT_EQ(a.Text(), "hello wörld");
  ASSERT_EQ(weft_doc_redo(a.get()), WEFT_OK);
  EXPECT_EQ(a.Text(), "wörld");
}

TEST(CApiUndo, ComposesWithConcurrentRemoteEdits) {
  Replica a(1), b(2);
  Shadow shadow;
  shadow.Attach(a);
  ASSERT_EQ(a.Insert(0, "hello"), WEFT_OK);
  shadow.text = "hello";
  Deliver(a, b);
  ASSERT_EQ(b.Insert(5, " wörld"), WEFT_OK);
  ASSERT_EQ(b.Insert(2, "😀"), WEFT_OK);
  Deliver(b, a);
  ASSERT_EQ(weft_doc_undo(a.get()), WEFT_OK);
  EXPECT_EQ(a.Text(), "😀 wörld");
  EXPECT_EQ(shadow.text, a.Text());
  Sync(a, b);
  EXPECT_EQ(b.Text(), "😀 wörld");
  ASSERT_EQ(weft_doc_redo(a.get()), WEFT_OK);
  EXPECT_EQ(shadow.text, a.Text());
  Sync(a, b);
  EXPECT_EQ(b.Text(), a.Text());
  EXPECT_EQ(a.Len(), 12u);
}

// Random edits, undos and redos on three replicas, with random pairwise
// syncs; every observer shadow tracks its replica and all converge at the
// end.
TEST(CApiSync, RandomConcurrentEditsConverge) {
  const char* pieces[] = {"a", "bc", "é", "😀", "ñu", " ", "🇫🇷"};
  for (uint32_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE(seed);
    std::mt19937 rng(seed);
    Replica r0(10), r1(11), r2(12);
    Replica* rs[] = {&r0, &r1, &r2};
    Shadow shadows[3];
    for (int i = 0; i < 3; ++i) shadows[i].Attach(*rs[i]);
    for (int step = 0; step < 300; ++step) {
      int i = static_cast<int>(rng() % 3);
      Replica& r = *rs[i];
      uint64_t len = r.Len();
      if (rng() % 4 == 0) {
        int j = static_cast<int>(rng() % 3);
        if (j != i) Deliver(*rs[j], r);
      } else if (rng() % 6 == 0) {
        // The observer reports what undo/redo changed.
        ASSERT_EQ(rng() % 3 == 0 ? weft_doc_redo(r.get()) : weft_doc_undo(r.get()), WEFT_OK);
      } else if (len > 0 && rng() % 3 == 0) {
        uint64_t pos = rng() % len;
        uint64_t n = 1 + rng() % std::min<uint64_t>(3, len - pos);
        ASSERT_EQ(r.Delete(pos, n), WEFT_OK);
        size_t at = ByteOffset(shadows[i].text, pos);
        shadows[i].text.erase(at, ByteOffset(shadows[i].text, pos + n) - at);
      } else {
        uint64_t pos = rng() % (len + 1);
        const char* p = pieces[rng() % std::size(pieces)];
        ASSERT_EQ(r.Insert(pos, p), WEFT_OK);
        shadows[i].text.insert(ByteOffset(shadows[i].text, pos), p);
      }
      ASSERT_EQ(shadows[i].text, r.Text()) << "step " << step;
    }
    for (int round = 0; round < 2; ++round) {
      for (Replica* x : rs) {
        for (Replica* y : rs) {
          if (x != y) Deliver(*x, *y);
        }
      }
    }
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(rs[i]->Text(), r0.Text());
      EXPECT_EQ(rs[i]->Version(), r0.Version());
      EXPECT_EQ(shadows[i].text, r0.Text());
    }
  }
}

}  // namespace
}  // namespace weft::capi::testing
