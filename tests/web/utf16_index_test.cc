// Utf16Index, the UTF-16 <-> code point conversion at weft.js's boundary,
// against a direct count over the text after every edit.
#include "utf16_index.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace weft::web {
namespace {

// The text as code points, each kept as its UTF-8 bytes.
using Text = std::vector<std::string>;

uint64_t DirectUtf16(const Text& t, uint64_t pos) {
  uint64_t units = 0;
  for (uint64_t i = 0; i < pos; ++i) units += t[i].size() == 4 ? 2 : 1;
  return units;
}

std::string Join(const Text& t, size_t from = 0, size_t to = SIZE_MAX) {
  std::string s;
  for (size_t i = from; i < std::min(to, t.size()); ++i) s += t[i];
  return s;
}

TEST(Utf16Index, EmojiCountTwiceAndSplitPairsAreRefused) {
  Utf16Index index;
  index.Insert(0,
               "a\xF0\x9F\x98\x80"
               "b");  // a 😀 b
  EXPECT_EQ(index.Utf16Length(3), 4u);
  EXPECT_EQ(index.Utf16FromPos(1), 1u);
  EXPECT_EQ(index.Utf16FromPos(2), 3u);
  EXPECT_EQ(*index.PosFromUtf16(3), 2u);
  EXPECT_EQ(index.PosFromUtf16(2).status().code(), StatusCode::kInvalidArgument);
  index.Delete(1, 1);
  EXPECT_EQ(index.astral_count(), 0u);
  EXPECT_EQ(*index.PosFromUtf16(2), 2u);
}

TEST(Utf16Index, FollowsRandomEditsExactly) {
  const std::vector<std::string> alphabet = {"a", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
                                             "\xF0\x9D\x84\x9E"};
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937 rng(seed);
    Utf16Index index;
    Text text;
    for (int step = 0; step < 300; ++step) {
      if (text.empty() || rng() % 3 != 0) {
        uint64_t pos = rng() % (text.size() + 1);
        Text run;
        for (uint32_t n = rng() % 4 + 1; n > 0; --n)
          run.push_back(alphabet[rng() % alphabet.size()]);
        index.Insert(pos, Join(run));
        text.insert(text.begin() + static_cast<ptrdiff_t>(pos), run.begin(), run.end());
      } else {
        uint64_t pos = rng() % text.size();
        uint64_t count = std::min<uint64_t>(rng() % 5 + 1, text.size() - pos);
        index.Delete(pos, count);
        text.erase(text.begin() + static_cast<ptrdiff_t>(pos),
                   text.begin() + static_cast<ptrdiff_t>(pos + count));
      }
      for (uint64_t pos = 0; pos <= text.size(); ++pos) {
        uint64_t units = DirectUtf16(text, pos);
        ASSERT_EQ(index.Utf16FromPos(pos), units);
        ASSERT_EQ(*index.PosFromUtf16(units), pos);
      }
      ASSERT_EQ(index.Utf16Length(text.size()), DirectUtf16(text, text.size()));
    }
    Utf16Index rebuilt;
    rebuilt.Reset(Join(text));
    EXPECT_EQ(rebuilt.astral_count(), index.astral_count());
  }
}

TEST(Utf16Index, MeasuresUtf8) {
  TextLength n = MeasureUtf8("h\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(n.code_points, 3u);
  EXPECT_EQ(n.utf16, 4u);
}

}  // namespace
}  // namespace weft::web
