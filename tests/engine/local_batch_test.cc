// Doc::ApplyLocal: a batch of local edits must leave exactly what the same
// edits made one by one leave (text, encodings, undo steps), and stop at
// the first bad edit with the ones before it applied.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "engine_test_util.h"
#include "weft/engine/doc.h"

namespace weft::engine {
namespace {

using Kind = LocalEdit::Kind;

// A batch: the edits and their inserts' texts back to back.
struct Batch {
  std::vector<LocalEdit> edits;
  std::string text;
  void Insert(uint64_t pos, const std::string& s) {
    edits.push_back({Kind::kInsert, pos, s.size()});
    text += s;
  }
  void Delete(uint64_t pos, uint64_t len) { edits.push_back({Kind::kDelete, pos, len}); }
};

// Edits shaped like an editor's: typing at a cursor (with multi-byte and
// astral characters), forward deletes and backspaces there, selections
// deleted, and jumps elsewhere.
Batch EditorSession(std::mt19937& rng, int steps) {
  const char* alphabet[] = {"a", "b", " ", "é", "€", "𝄞", "\n"};
  Batch b;
  uint64_t size = 0;
  uint64_t cursor = 0;
  for (int i = 0; i < steps; ++i) {
    uint32_t r = rng() % 100;
    if (size == 0 || r < 60) {
      std::string s = alphabet[rng() % 7];
      if (rng() % 10 == 0) s += alphabet[rng() % 7];
      if (rng() % 50 == 0) s.clear();  // empty inserts are edits too
      b.Insert(cursor, s);
      uint64_t n = testing::CodePoints(s).size();
      cursor += n;
      size += n;
    } else if (r < 72 && cursor < size) {
      uint64_t n = 1 + rng() % std::min<uint64_t>(3, size - cursor);
      b.Delete(cursor, n);  // Delete key
      size -= n;
    } else if (r < 84 && cursor > 0) {
      b.Delete(cursor - 1, 1);  // Backspace
      --cursor;
      --size;
    } else if (r < 88) {
      b.Delete(cursor, 0);
    } else {
      cursor = rng() % (size + 1);
    }
  }
  return b;
}

// The same edits one by one through Insert and Remove.
void OneByOne(Doc& doc, const Batch& b) {
  size_t off = 0;
  for (const LocalEdit& e : b.edits) {
    if (e.kind == Kind::kInsert) {
      ASSERT_TRUE(doc.Insert(e.pos, b.text.substr(off, e.len), nullptr).ok());
      off += e.len;
    } else {
      ASSERT_TRUE(doc.Remove(e.pos, e.len, nullptr).ok());
    }
  }
}

// Applies `b` in slices of random length, as a binding flushing its queue
// at random moments would.
void InSlices(Doc& doc, const Batch& b, std::mt19937& rng) {
  size_t i = 0;
  size_t off = 0;
  while (i < b.edits.size()) {
    size_t n = std::min<size_t>(b.edits.size() - i, 1 + rng() % 64);
    std::span<const LocalEdit> slice(b.edits.data() + i, n);
    size_t bytes = 0;
    for (const LocalEdit& e : slice) bytes += e.kind == Kind::kInsert ? e.len : 0;
    size_t applied = 99;
    ASSERT_TRUE(doc.ApplyLocal(slice, std::string_view(b.text).substr(off, bytes), &applied).ok());
    ASSERT_EQ(applied, n);
    i += n;
    off += bytes;
  }
}

void ExpectSame(const Doc& a, const Doc& b) {
  ASSERT_EQ(a.Text(), b.Text());
  EXPECT_EQ(a.version(), b.version());
  EXPECT_EQ(a.EncodeOpsSince(VersionVector{}), b.EncodeOpsSince(VersionVector{}));
  EXPECT_EQ(a.EncodeSnapshot(), b.EncodeSnapshot());
  EXPECT_TRUE(b.CheckInvariants().ok());
}

TEST(LocalBatch, SameAsOneByOneIncludingUndo) {
  for (uint32_t seed = 1; seed <= static_cast<uint32_t>(testing::PropertyScenarios(60)); ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    Batch b = EditorSession(rng, 300 + rng() % 500);
    Doc single(7);
    Doc batched(7);
    OneByOne(single, b);
    InSlices(batched, b, rng);
    ExpectSame(single, batched);
    // Undo walks back edit by edit in both, redo forward again.
    int undos = static_cast<int>(rng() % 60);
    for (int k = 0; k < undos && single.CanUndo(); ++k) {
      ASSERT_TRUE(single.Undo().ok());
      ASSERT_TRUE(batched.Undo().ok());
      ASSERT_EQ(single.Text(), batched.Text()) << "after undo " << k;
    }
    EXPECT_EQ(single.CanUndo(), batched.CanUndo());
    for (int k = 0; k < undos / 2 && single.CanRedo(); ++k) {
      ASSERT_TRUE(single.Redo().ok());
      ASSERT_TRUE(batched.Redo().ok());
    }
    ExpectSame(single, batched);
  }
}

TEST(LocalBatch, TypingGoesInAsRuns) {
  // Typing "hello" key by key, then Delete pressed three times at 1: the
  // text and the undo steps are those of eight edits.
  Batch b;
  const std::string word = "hello";
  for (size_t i = 0; i < word.size(); ++i) b.Insert(i, word.substr(i, 1));
  for (int i = 0; i < 3; ++i) b.Delete(1, 1);
  Doc doc(1);
  size_t applied = 0;
  ASSERT_TRUE(doc.ApplyLocal(b.edits, b.text, &applied).ok());
  EXPECT_EQ(applied, 8u);
  EXPECT_EQ(doc.Text(), "ho");
  ASSERT_TRUE(doc.Undo().ok());
  EXPECT_EQ(doc.Text(), "hlo");
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(doc.Undo().ok());
  EXPECT_EQ(doc.Text(), "hello");
  ASSERT_TRUE(doc.Undo().ok());
  EXPECT_EQ(doc.Text(), "hell");
}

TEST(LocalBatch, StopsAtTheFirstBadEditWithTheOnesBeforeApplied) {
  struct Case {
    const char* what;
    Batch batch;
    size_t applied;
    StatusCode code;
    std::string text;
  };
  std::vector<Case> cases;
  {
    Batch b;  // invalid UTF-8 in the middle of a typing run
    b.Insert(0, "ab");
    b.Insert(2, "\xC3");
    b.Insert(3, "c");
    cases.push_back({"bad utf8", b, 1, StatusCode::kInvalidArgument, "ab"});
  }
  {
    Batch b;  // the second Delete runs past the end
    b.Insert(0, "abc");
    b.Delete(1, 1);
    b.Delete(1, 2);
    cases.push_back({"delete past end", b, 2, StatusCode::kOutOfRange, "ac"});
  }
  {
    Batch b;  // an insert past the end, first of its run
    b.Insert(0, "abc");
    b.Delete(0, 1);
    b.Insert(3, "x");
    cases.push_back({"insert past end", b, 2, StatusCode::kOutOfRange, "bc"});
  }
  {
    Batch b;  // an insert claiming more text than the batch holds
    b.Insert(0, "abc");
    b.edits.push_back({Kind::kInsert, 3, 10});
    cases.push_back({"text past end", b, 1, StatusCode::kInvalidArgument, "abc"});
  }
  {
    Batch b;  // the very first edit bad: nothing changes
    b.Delete(0, 1);
    b.Insert(0, "abc");
    cases.push_back({"first bad", b, 0, StatusCode::kOutOfRange, ""});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Doc doc(3);
    size_t applied = 99;
    Status s = doc.ApplyLocal(c.batch.edits, c.batch.text, &applied);
    EXPECT_EQ(s.code(), c.code);
    EXPECT_EQ(applied, c.applied);
    EXPECT_EQ(doc.Text(), c.text);
    EXPECT_TRUE(doc.CheckInvariants().ok());
    // The edits that were applied are undone one by one, and no further.
    Doc single(3);
    Batch prefix;
    prefix.text = c.batch.text;
    prefix.edits.assign(c.batch.edits.begin(), c.batch.edits.begin() + c.applied);
    OneByOne(single, prefix);
    ExpectSame(single, doc);
    while (single.CanUndo()) {
      ASSERT_TRUE(single.Undo().ok());
      ASSERT_TRUE(doc.Undo().ok());
      EXPECT_EQ(single.Text(), doc.Text());
    }
    EXPECT_FALSE(doc.CanUndo());
  }
}

}  // namespace
}  // namespace weft::engine
