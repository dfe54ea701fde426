// The C API's local edits, reading calls, error codes and UTF-16 helpers.
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "capi/capi_test_util.h"

namespace weft::capi::testing {
namespace {

TEST(CApi, AbiVersionMatchesHeader) { EXPECT_EQ(weft_abi_version(), WEFT_ABI_VERSION); }

TEST(CApi, StrerrorNamesEveryCode) {
  EXPECT_STREQ(weft_strerror(WEFT_OK), "ok");
  EXPECT_STREQ(weft_strerror(WEFT_INVALID_ARGUMENT), "invalid argument");
  EXPECT_STREQ(weft_strerror(WEFT_OUT_OF_RANGE), "out of range");
  EXPECT_STREQ(weft_strerror(WEFT_CORRUPTION), "corruption");
  EXPECT_STREQ(weft_strerror(WEFT_RESOURCE_EXHAUSTED), "resource exhausted");
  EXPECT_STREQ(weft_strerror(WEFT_NO_MEMORY), "out of memory");
  EXPECT_STREQ(weft_strerror(WEFT_FAILED_PRECONDITION), "failed precondition");
  EXPECT_STREQ(weft_strerror(WEFT_INTERNAL), "internal");
  EXPECT_STREQ(weft_strerror(static_cast<weft_status>(1000)), "unknown");
}

TEST(CApi, LastErrorDescribesTheLatestCallOnly) {
  Replica r(1);
  EXPECT_EQ(r.Insert(5, "x"), WEFT_OUT_OF_RANGE);
  EXPECT_STRNE(weft_last_error(), "");
  EXPECT_EQ(r.Insert(0, "x"), WEFT_OK);
  EXPECT_STREQ(weft_last_error(), "");
}

TEST(CApi, LastErrorIsPerThread) {
  Replica r(1);
  std::string other;
  std::thread t([&] {
    EXPECT_EQ(weft_doc_len(nullptr, nullptr), WEFT_INVALID_ARGUMENT);
    other = weft_last_error();
  });
  t.join();
  EXPECT_EQ(r.Delete(0, 0), WEFT_OK);
  EXPECT_STREQ(weft_last_error(), "");
  EXPECT_EQ(other, "doc is NULL");
}

TEST(CApi, InsertAndDeleteCountCodePoints) {
  Replica r(1);
  ASSERT_EQ(r.Insert(0, "héllo wörld"), WEFT_OK);
  EXPECT_EQ(r.Len(), 11u);
  ASSERT_EQ(r.Insert(5, ","), WEFT_OK);
  ASSERT_EQ(r.Delete(1, 1), WEFT_OK);
  EXPECT_EQ(r.Text(), "hllo, wörld");
  ASSERT_EQ(r.Insert(r.Len(), "!"), WEFT_OK);
  EXPECT_EQ(r.Text(), "hllo, wörld!");
}

TEST(CApi, TextIsNulTerminated) {
  Replica r(1);
  ASSERT_EQ(r.Insert(0, "abc"), WEFT_OK);
  char* buf = nullptr;
  size_t len = 0;
  ASSERT_EQ(weft_doc_text(r.get(), &buf, &len), WEFT_OK);
  EXPECT_EQ(len, 3u);
  EXPECT_STREQ(buf, "abc");
  weft_free(buf);
}

TEST(CApi, EmptyInsertAndDeleteDoNothing) {
  Replica r(1);
  EXPECT_EQ(weft_doc_insert(r.get(), 0, nullptr, 0), WEFT_OK);
  EXPECT_EQ(r.Delete(0, 0), WEFT_OK);
  EXPECT_EQ(r.Text(), "");
}

TEST(CApi, AgentAndPendingAreReported) {
  Replica r(42);
  uint64_t agent = 0, pending = 7;
  ASSERT_EQ(weft_doc_agent(r.get(), &agent), WEFT_OK);
  ASSERT_EQ(weft_doc_pending(r.get(), &pending), WEFT_OK);
  EXPECT_EQ(agent, 42u);
  EXPECT_EQ(pending, 0u);
}

TEST(CApi, NullArgumentsAreInvalid) {
  Replica r(1);
  uint64_t n = 0;
  char* text = nullptr;
  uint8_t* bytes = nullptr;
  size_t len = 0;
  int32_t flag = 0;
  weft_anchor a{};
  weft_doc* doc = nullptr;
  EXPECT_EQ(weft_doc_new(1, nullptr), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_insert(nullptr, 0, "a", 1), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_insert(r.get(), 0, nullptr, 1), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_delete(nullptr, 0, 0), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_len(nullptr, &n), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_len(r.get(), nullptr), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_text(r.get(), nullptr, &len), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_text(r.get(), &text, nullptr), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_agent(r.get(), nullptr), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_pending(nullptr, &n), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_version(r.get(), &bytes, nullptr), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_encode_since(r.get(), nullptr, 3, &bytes, &len), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_encode_since(nullptr, nullptr, 0, &bytes, &len), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_apply(r.get(), nullptr, 3), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_apply(nullptr, nullptr, 0), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_snapshot(r.get(), nullptr, &len), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_load(1, nullptr, 3, &doc), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_load(1, nullptr, 0, nullptr), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_set_observer(nullptr, nullptr, nullptr), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_anchor(r.get(), 0, WEFT_BIAS_LEFT, nullptr), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_resolve(r.get(), nullptr, &n), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_resolve(r.get(), &a, nullptr), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_undo(nullptr), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_redo(nullptr), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_can_undo(r.get(), nullptr), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_can_redo(nullptr, &flag), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_utf16_from_pos(r.get(), 0, nullptr), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_pos_from_utf16(nullptr, 0, &n), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_utf8_utf16_from_pos(nullptr, 2, 0, &n), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_utf8_pos_from_utf16("a", 1, 0, nullptr), WEFT_INVALID_ARGUMENT);
  weft_free(nullptr);
  weft_doc_free(nullptr);
  EXPECT_EQ(text, nullptr);
  EXPECT_EQ(bytes, nullptr);
  EXPECT_EQ(doc, nullptr);
}

TEST(CApi, InvalidUtf8IsRejectedAndChangesNothing) {
  struct Case {
    const char* name;
    std::string bytes;
  } cases[] = {
      {"stray continuation", "a\x80"}, {"0xff", "\xff"},
      {"overlong slash", "\xc0\xaf"},  {"overlong three bytes", "\xe0\x80\xaf"},
      {"surrogate", "\xed\xa0\x80"},   {"above U+10FFFF", "\xf4\x90\x80\x80"},
      {"truncated", "ok\xe2\x82"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Replica r(1);
    ASSERT_EQ(r.Insert(0, "keep"), WEFT_OK);
    EXPECT_EQ(r.Insert(2, c.bytes), WEFT_INVALID_ARGUMENT);
    EXPECT_EQ(r.Text(), "keep");
  }
}

// Typing with corrections, as a binding queues it: more edits than one
// call converts at a time, so runs cross its slices.
struct EditBatch {
  std::vector<weft_edit> edits;
  std::string text;
  EditBatch() {
    uint64_t cursor = 0;
    for (int i = 0; i < 700; ++i) {
      if (i % 7 == 6) {
        edits.push_back({WEFT_EDIT_DELETE, 0, cursor - 1, 1});
        --cursor;
      } else {
        const char* ch = i % 5 == 0 ? "\xc3\xa9" : "x";
        edits.push_back({WEFT_EDIT_INSERT, 0, cursor, std::strlen(ch)});
        text += ch;
        ++cursor;
      }
    }
  }
};

TEST(CApi, EditBatchMatchesOneCallPerEdit) {
  EditBatch b;
  Replica single(5);
  size_t off = 0;
  for (const weft_edit& e : b.edits) {
    if (e.kind == WEFT_EDIT_INSERT) {
      ASSERT_EQ(single.Insert(e.pos, std::string_view(b.text).substr(off, e.len)), WEFT_OK);
      off += e.len;
    } else {
      ASSERT_EQ(single.Delete(e.pos, e.len), WEFT_OK);
    }
  }
  Replica batched(5);
  size_t applied = 0;
  ASSERT_EQ(weft_doc_edit(batched.get(), b.edits.data(), b.edits.size(), b.text.data(),
                          b.text.size(), &applied),
            WEFT_OK)
      << weft_last_error();
  EXPECT_EQ(applied, b.edits.size());
  EXPECT_EQ(batched.Text(), single.Text());
  EXPECT_EQ(batched.Snapshot(), single.Snapshot());
  EXPECT_EQ(batched.UpdateSince({}), single.UpdateSince({}));
}

TEST(CApi, EditBatchStopsAtTheFirstBadEdit) {
  EditBatch b;
  // An unknown kind at 400: the 400 before it stay, in another slice than
  // the bad edit's.
  std::vector<weft_edit> edits = b.edits;
  edits[400].kind = 7;
  Replica r(5);
  size_t applied = 0;
  EXPECT_EQ(
      weft_doc_edit(r.get(), edits.data(), edits.size(), b.text.data(), b.text.size(), &applied),
      WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(applied, 400u);
  Replica prefix(5);
  ASSERT_EQ(weft_doc_edit(prefix.get(), b.edits.data(), 400, b.text.data(), b.text.size(), nullptr),
            WEFT_OK);
  EXPECT_EQ(r.Text(), prefix.Text());
  EXPECT_EQ(r.Snapshot(), prefix.Snapshot());

  // Text the edits claim but the call does not pass.
  Replica short_text(5);
  EXPECT_EQ(
      weft_doc_edit(short_text.get(), b.edits.data(), b.edits.size(), b.text.data(), 10, &applied),
      WEFT_INVALID_ARGUMENT);
  // Ten bytes cover the first nine edits (eight inserts, é twice, and a
  // delete); the tenth would read past them.
  EXPECT_EQ(applied, 9u);
  EXPECT_EQ(short_text.Len(), 7u);

  // Invalid UTF-8 and NULL arguments.
  weft_edit one{WEFT_EDIT_INSERT, 0, 0, 1};
  Replica bad(5);
  EXPECT_EQ(weft_doc_edit(bad.get(), &one, 1, "\xff", 1, &applied), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(applied, 0u);
  EXPECT_EQ(weft_doc_edit(bad.get(), &one, 1, nullptr, 1, &applied), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_edit(bad.get(), nullptr, 1, "x", 1, &applied), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_edit(nullptr, &one, 1, "x", 1, &applied), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(bad.Len(), 0u);
  EXPECT_EQ(weft_doc_edit(bad.get(), nullptr, 0, nullptr, 0, &applied), WEFT_OK);
}

TEST(CApi, PositionsPastTheEndAreOutOfRange) {
  Replica r(1);
  ASSERT_EQ(r.Insert(0, "añb"), WEFT_OK);
  weft_anchor a{};
  EXPECT_EQ(r.Insert(4, "x"), WEFT_OUT_OF_RANGE);
  EXPECT_EQ(r.Delete(2, 2), WEFT_OUT_OF_RANGE);
  EXPECT_EQ(r.Delete(4, 0), WEFT_OUT_OF_RANGE);
  // pos + count wraps around 2^64: still out of range, not a small delete.
  EXPECT_EQ(r.Delete(2, UINT64_MAX), WEFT_OUT_OF_RANGE);
  EXPECT_EQ(weft_doc_anchor(r.get(), 4, WEFT_BIAS_LEFT, &a), WEFT_OUT_OF_RANGE);
  EXPECT_EQ(r.Text(), "añb");
}

TEST(CApi, UnknownBiasIsInvalid) {
  Replica r(1);
  weft_anchor a{};
  uint64_t pos = 0;
  EXPECT_EQ(weft_doc_anchor(r.get(), 0, 2, &a), WEFT_INVALID_ARGUMENT);
  a.bias = 7;
  EXPECT_EQ(weft_doc_resolve(r.get(), &a, &pos), WEFT_INVALID_ARGUMENT);
  a.bias = WEFT_BIAS_LEFT;
  a.has_id = 2;
  EXPECT_EQ(weft_doc_resolve(r.get(), &a, &pos), WEFT_INVALID_ARGUMENT);
}

// The version encoding is documented in weft.h; these bytes are its worked
// example and changing them is a format change.
TEST(CApiVersion, GoldenBytes) {
  Replica empty(9);
  EXPECT_EQ(empty.Version(), (Bytes{0x00}));

  Replica a(1), b(300);
  ASSERT_EQ(a.Insert(0, "héllo"), WEFT_OK);
  ASSERT_EQ(b.Insert(0, "ok"), WEFT_OK);
  Sync(a, b);
  EXPECT_EQ(a.Version(), (Bytes{0x02, 0x01, 0x05, 0xac, 0x02, 0x02}));
  EXPECT_EQ(b.Version(), a.Version());
}

TEST(CApiVersion, MalformedVersionsAreCorruption) {
  struct Case {
    const char* name;
    Bytes bytes;
  } cases[] = {
      {"missing entry", {0x01}},
      {"truncated varint", {0x01, 0x81}},
      {"count beyond bytes", {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x01}},
      {"agents out of order", {0x02, 0x05, 0x01, 0x03, 0x01}},
      {"agent repeated", {0x02, 0x05, 0x01, 0x05, 0x02}},
      {"zero next_seq", {0x01, 0x05, 0x00}},
      {"trailing bytes", {0x00, 0x00}},
      {"varint past 64 bits",
       {0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02, 1}},
      {"eleven byte varint",
       {0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x01}},
  };
  Replica r(1);
  ASSERT_EQ(r.Insert(0, "x"), WEFT_OK);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    uint8_t* buf = nullptr;
    size_t len = 0;
    EXPECT_EQ(weft_doc_encode_since(r.get(), c.bytes.data(), c.bytes.size(), &buf, &len),
              WEFT_CORRUPTION);
    EXPECT_EQ(buf, nullptr);
  }
}

TEST(CApiVersion, LargestAgentRoundTrips) {
  Replica a(UINT64_MAX), b(1);
  ASSERT_EQ(a.Insert(0, "z"), WEFT_OK);
  Deliver(a, b);
  EXPECT_EQ(b.Version(), a.Version());
  EXPECT_EQ(b.Text(), "z");
}

TEST(CApiUtf16, NonBmpCharactersTakeTwoUnits) {
  Replica r(1);
  // a, e-acute (BMP), grinning face (U+1F600), b, flag (two regional
  // indicators, each outside the BMP).
  ASSERT_EQ(r.Insert(0, "aé😀b🇫🇷"), WEFT_OK);
  ASSERT_EQ(r.Len(), 6u);
  const uint64_t utf16_of_pos[] = {0, 1, 2, 4, 5, 7, 9};
  for (uint64_t pos = 0; pos <= 6; ++pos) {
    SCOPED_TRACE(pos);
    uint64_t units = 99, back = 99;
    ASSERT_EQ(weft_doc_utf16_from_pos(r.get(), pos, &units), WEFT_OK);
    EXPECT_EQ(units, utf16_of_pos[pos]);
    ASSERT_EQ(weft_doc_pos_from_utf16(r.get(), units, &back), WEFT_OK);
    EXPECT_EQ(back, pos);
  }
}

TEST(CApiUtf16, OffsetsInsideAPairOrPastTheEndAreErrors) {
  Replica r(1);
  ASSERT_EQ(r.Insert(0, "x😀"), WEFT_OK);
  uint64_t out = 0;
  EXPECT_EQ(weft_doc_pos_from_utf16(r.get(), 2, &out), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_doc_pos_from_utf16(r.get(), 4, &out), WEFT_OUT_OF_RANGE);
  EXPECT_EQ(weft_doc_utf16_from_pos(r.get(), 3, &out), WEFT_OUT_OF_RANGE);
  EXPECT_EQ(out, 0u);
}

TEST(CApiUtf16, StringHelpersMatchTheDocOnes) {
  const std::string s = "😀é";
  uint64_t out = 0;
  ASSERT_EQ(weft_utf8_utf16_from_pos(s.data(), s.size(), 1, &out), WEFT_OK);
  EXPECT_EQ(out, 2u);
  ASSERT_EQ(weft_utf8_utf16_from_pos(s.data(), s.size(), 2, &out), WEFT_OK);
  EXPECT_EQ(out, 3u);
  ASSERT_EQ(weft_utf8_pos_from_utf16(s.data(), s.size(), 3, &out), WEFT_OK);
  EXPECT_EQ(out, 2u);
  EXPECT_EQ(weft_utf8_pos_from_utf16(s.data(), s.size(), 1, &out), WEFT_INVALID_ARGUMENT);
  EXPECT_EQ(weft_utf8_utf16_from_pos(s.data(), s.size(), 3, &out), WEFT_OUT_OF_RANGE);
  EXPECT_EQ(weft_utf8_utf16_from_pos("\xff", 1, 0, &out), WEFT_INVALID_ARGUMENT);
  ASSERT_EQ(weft_utf8_utf16_from_pos(nullptr, 0, 0, &out), WEFT_OK);
  EXPECT_EQ(out, 0u);
}

}  // namespace
}  // namespace weft::capi::testing
