// Local edits by position: text, errors, Unicode, and a random model check
// against a plain string.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "engine_test_util.h"
#include "weft/engine/doc.h"

namespace weft::engine {
namespace {

using testing::CodePoints;

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s;
  return out;
}

TEST(LocalEdit, InsertAndRemoveByCodePoint) {
  Doc doc(1);
  ASSERT_TRUE(doc.Insert(0, "hello", nullptr).ok());
  ASSERT_TRUE(doc.Insert(5, " world", nullptr).ok());
  ASSERT_TRUE(doc.Insert(0, ">", nullptr).ok());
  EXPECT_EQ(doc.Text(), ">hello world");
  ASSERT_TRUE(doc.Remove(1, 6, nullptr).ok());
  EXPECT_EQ(doc.Text(), ">world");
  EXPECT_EQ(doc.size(), 6u);
  EXPECT_TRUE(doc.CheckInvariants().ok());
}

TEST(LocalEdit, RandomEditsMatchPlainString) {
  const char* alphabet[] = {"a", "b", "c", "é", "€", "𝄞", "\n"};
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    Doc doc(seed);
    std::vector<std::string> model;
    for (int step = 0; step < 400; ++step) {
      if (model.empty() || rng() % 3 != 0) {
        size_t pos = rng() % (model.size() + 1);
        std::string ins;
        int n = 1 + rng() % (rng() % 4 == 0 ? 20 : 3);
        for (int k = 0; k < n; ++k) ins += alphabet[rng() % 7];
        ASSERT_TRUE(doc.Insert(pos, ins, nullptr).ok());
        auto chars = CodePoints(ins);
        model.insert(model.begin() + pos, chars.begin(), chars.end());
      } else {
        size_t pos = rng() % model.size();
        size_t len = 1 + rng() % std::min<size_t>(model.size() - pos, 8);
        ASSERT_TRUE(doc.Remove(pos, len, nullptr).ok());
        model.erase(model.begin() + pos, model.begin() + pos + len);
      }
      ASSERT_EQ(doc.Text(), Join(model));
      ASSERT_TRUE(doc.CheckInvariants().ok()) << doc.CheckInvariants().ToString();
    }
  }
}

// Typing and backspacing around a cursor that now and then jumps: the
// pattern the cursor caches of the item tree are built for.
TEST(LocalEdit, TypingAtACursorMatchesPlainString) {
  const char* alphabet[] = {"a", "b", "é", "€", "𝄞"};
  for (uint32_t seed = 1; seed <= 100; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    Doc doc(seed);
    std::vector<std::string> model;
    size_t cursor = 0;
    for (int step = 0; step < 600; ++step) {
      if (rng() % 4 == 0) cursor = rng() % (model.size() + 1);
      uint32_t action = rng() % 10;
      if (model.empty() || action < 6) {
        std::string ins;
        for (int k = 1 + rng() % (rng() % 5 == 0 ? 40 : 2); k > 0; --k) ins += alphabet[rng() % 5];
        ASSERT_TRUE(doc.Insert(cursor, ins, nullptr).ok());
        auto chars = CodePoints(ins);
        model.insert(model.begin() + cursor, chars.begin(), chars.end());
        cursor += chars.size();
      } else if (action < 9 && cursor > 0) {
        size_t len = 1 + rng() % std::min<size_t>(cursor, 3);
        ASSERT_TRUE(doc.Remove(cursor - len, len, nullptr).ok());
        model.erase(model.begin() + (cursor - len), model.begin() + cursor);
        cursor -= len;
      } else if (!model.empty()) {
        size_t pos = rng() % model.size();
        size_t len = 1 + rng() % std::min<size_t>(model.size() - pos, 5);
        ASSERT_TRUE(doc.Remove(pos, len, nullptr).ok());
        model.erase(model.begin() + pos, model.begin() + pos + len);
        cursor = std::min(cursor, pos);
      }
      ASSERT_EQ(doc.Text(), Join(model));
    }
    ASSERT_TRUE(doc.CheckInvariants().ok()) << doc.CheckInvariants().ToString();
  }
}

}  // namespace
}  // namespace weft::engine
