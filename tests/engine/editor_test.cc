// Editor support under concurrency: anchors and per-agent undo/redo.
#include <gtest/gtest.h>

#include <string>

#include "engine_test_util.h"
#include "weft/engine/doc.h"

namespace weft::engine {
namespace {

void Sync(Doc& a, Doc& b) {
  ASSERT_TRUE(a.ApplyUpdate(b.EncodeOpsSince(a.version())).ok());
  ASSERT_TRUE(b.ApplyUpdate(a.EncodeOpsSince(b.version())).ok());
}

TEST(Anchor, FollowsItsCharacterAcrossRemoteEdits) {
  Doc a(1), b(2);
  ASSERT_TRUE(a.Insert(0, "hello world", nullptr).ok());
  Sync(a, b);
  Anchor caret = a.AnchorAt(6, Bias::kRight);  // before "world"
  Anchor mark = a.AnchorAt(5, Bias::kLeft);    // after "hello"
  ASSERT_TRUE(b.Insert(0, ">> ", nullptr).ok());
  ASSERT_TRUE(b.Remove(3 + 1, 2, nullptr).ok());  // "hello" -> "hlo"
  Sync(a, b);
  EXPECT_EQ(a.Text(), ">> hlo world");
  EXPECT_EQ(a.Resolve(caret), 7u);
  EXPECT_EQ(a.Resolve(mark), 6u);
}

TEST(Anchor, BiasDecidesWhereInsertedTextGoes) {
  Doc a(1), b(2);
  ASSERT_TRUE(a.Insert(0, "ab", nullptr).ok());
  Sync(a, b);
  Anchor left = a.AnchorAt(1, Bias::kLeft);
  Anchor right = a.AnchorAt(1, Bias::kRight);
  ASSERT_TRUE(b.Insert(1, "XYZ", nullptr).ok());
  Sync(a, b);
  EXPECT_EQ(a.Resolve(left), 1u);
  EXPECT_EQ(a.Resolve(right), 4u);
}

TEST(Anchor, DeletedCharacterResolvesToWhereItWas) {
  Doc a(1);
  ASSERT_TRUE(a.Insert(0, "abcdef", nullptr).ok());
  Anchor at_d = a.AnchorAt(3, Bias::kRight);
  ASSERT_TRUE(a.Remove(2, 3, nullptr).ok());  // "abf"
  EXPECT_EQ(a.Resolve(at_d), 2u);
  Anchor end = a.AnchorAt(a.size(), Bias::kRight);
  ASSERT_TRUE(a.Insert(3, "gh", nullptr).ok());
  EXPECT_EQ(a.Resolve(end), a.size());
}

TEST(Undo, UndoAndRedoOwnEditsOnly) {
  Doc a(1), b(2);
  ASSERT_TRUE(a.Insert(0, "one ", nullptr).ok());
  Sync(a, b);
  ASSERT_TRUE(b.Insert(4, "two", nullptr).ok());
  Sync(a, b);
  ASSERT_TRUE(a.Insert(0, "zero ", nullptr).ok());
  EXPECT_EQ(a.Text(), "zero one two");
  Result<Ops> u = a.Undo();
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(a.Text(), "one two");
  ASSERT_TRUE(a.Undo().ok());
  EXPECT_EQ(a.Text(), "two") << "b's insert is not a's to undo";
  EXPECT_FALSE(a.CanUndo());
  ASSERT_TRUE(a.Redo().ok());
  ASSERT_TRUE(a.Redo().ok());
  EXPECT_EQ(a.Text(), "zero one two");
  EXPECT_FALSE(a.CanRedo());
  Sync(a, b);
  EXPECT_EQ(b.Text(), "zero one two");
}

TEST(Undo, UndoOfADeleteComposesWithConcurrentEdits) {
  Doc a(1), b(2);
  ASSERT_TRUE(a.Insert(0, "the quick fox", nullptr).ok());
  Sync(a, b);
  ASSERT_TRUE(a.Remove(4, 6, nullptr).ok());  // "the fox"
  ASSERT_TRUE(b.Insert(13, "!", nullptr).ok());
  ASSERT_TRUE(b.Insert(0, "See ", nullptr).ok());
  Sync(a, b);
  EXPECT_EQ(a.Text(), "See the fox!");
  Result<Ops> undo = a.Undo();  // made while b keeps typing
  ASSERT_TRUE(undo.ok());
  ASSERT_TRUE(b.Insert(b.size(), "?", nullptr).ok());
  Sync(a, b);
  EXPECT_EQ(a.Text(), "See the quick fox!?");
  EXPECT_EQ(b.Text(), a.Text());
  ASSERT_TRUE(a.Redo().ok());
  Sync(a, b);
  EXPECT_EQ(b.Text(), "See the fox!?");
}

TEST(Undo, UndoOfAnInsertLeavesConcurrentTextAlone) {
  Doc a(1), b(2);
  ASSERT_TRUE(a.Insert(0, "abc", nullptr).ok());
  Sync(a, b);
  ASSERT_TRUE(b.Insert(1, "123", nullptr).ok());  // inside a's run
  Sync(a, b);
  ASSERT_TRUE(a.Undo().ok());
  Sync(a, b);
  EXPECT_EQ(a.Text(), "123");
  EXPECT_EQ(b.Text(), "123");
}

TEST(Undo, NewEditClearsRedo) {
  Doc a(1);
  ASSERT_TRUE(a.Insert(0, "x", nullptr).ok());
  ASSERT_TRUE(a.Undo().ok());
  EXPECT_TRUE(a.CanRedo());
  ASSERT_TRUE(a.Insert(0, "y", nullptr).ok());
  EXPECT_FALSE(a.CanRedo());
  Result<Ops> none = a.Redo();
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace weft::engine

namespace weft::engine {
namespace {

// Regression: undoing a delete brought the text back as new characters, and
// undoing the insert that first made it then left those copies behind
// ("hello", delete "h", undo, undo gave "h" instead of "").
TEST(Undo, UndoingTheInsertAlsoRemovesTextAnUndoBroughtBack) {
  Doc d(1);
  ASSERT_TRUE(d.Insert(0, "hello").ok());
  ASSERT_TRUE(d.Remove(0, 1).ok());
  ASSERT_TRUE(d.Undo().ok());
  EXPECT_EQ(d.Text(), "hello");
  ASSERT_TRUE(d.Undo().ok());
  EXPECT_EQ(d.Text(), "");
  EXPECT_FALSE(d.CanUndo());
  // And forward again, through copies of copies.
  ASSERT_TRUE(d.Redo().ok());
  EXPECT_EQ(d.Text(), "hello");
  ASSERT_TRUE(d.Redo().ok());
  EXPECT_EQ(d.Text(), "ello");
  ASSERT_TRUE(d.Undo().ok());
  ASSERT_TRUE(d.Undo().ok());
  EXPECT_EQ(d.Text(), "");
}

TEST(Undo, CopiesFollowTheInsertUnderConcurrency) {
  Doc a(1), b(2);
  ASSERT_TRUE(a.Insert(0, "abc").ok());
  ASSERT_TRUE(a.Remove(1, 1).ok());
  ASSERT_TRUE(a.Undo().ok());  // "b" back, as a copy
  ASSERT_TRUE(b.ApplyUpdate(a.EncodeOpsSince({})).ok());
  ASSERT_TRUE(b.Insert(3, "!").ok());
  ASSERT_TRUE(a.ApplyUpdate(b.EncodeOpsSince(a.version())).ok());
  Result<Ops> ops = a.Undo();  // the original "abc", copy included
  ASSERT_TRUE(ops.ok());
  EXPECT_EQ(a.Text(), "!");
  ASSERT_TRUE(b.Apply(*ops).ok());
  EXPECT_EQ(b.Text(), "!");
}

// Undo remembers the last undo_limit edits, oldest forgotten first, and
// none at 0; redo gives back what undo took.
TEST(Undo, RemembersTheLastUndoLimitEdits) {
  for (size_t limit : {size_t{0}, size_t{1}, size_t{3}, size_t{20}, size_t{1000}}) {
    SCOPED_TRACE("limit " + std::to_string(limit));
    DocOptions o;
    o.undo_limit = limit;
    Doc doc(1, o);
    std::vector<std::string> texts = {""};
    const size_t edits = limit + 17;
    for (size_t i = 0; i < edits; ++i) {
      if (i % 5 == 4) {
        ASSERT_TRUE(doc.Remove(0, 1, nullptr).ok());
      } else {
        ASSERT_TRUE(
            doc.Insert(doc.size(), std::string(1, static_cast<char>('a' + i % 26)), nullptr).ok());
      }
      texts.push_back(doc.Text());
    }
    size_t undone = 0;
    while (doc.CanUndo()) {
      ASSERT_TRUE(doc.Undo().ok());
      ++undone;
      ASSERT_EQ(doc.Text(), texts[edits - undone]);
    }
    EXPECT_EQ(undone, limit);
    for (size_t k = 0; k < undone; ++k) ASSERT_TRUE(doc.Redo().ok());
    EXPECT_FALSE(doc.CanRedo());
    EXPECT_EQ(doc.Text(), texts[edits]);
  }
}

}  // namespace
}  // namespace weft::engine
