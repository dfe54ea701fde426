// Test vocabulary for the C API: a Replica owning a weft_doc, with the calls
// the tests make most (Insert, Delete, Text, Version, UpdateSince, Apply) and
// Sync to exchange Updates both ways.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weft.h"

namespace weft::capi::testing {

using Bytes = std::vector<uint8_t>;

// Takes ownership of a buffer weft returned.
inline std::string TakeString(char* buf, size_t len) {
  std::string s(buf, len);
  weft_free(buf);
  return s;
}
inline Bytes TakeBytes(uint8_t* buf, size_t len) {
  Bytes b(buf, buf + len);
  weft_free(buf);
  return b;
}

class Replica {
 public:
  explicit Replica(uint64_t agent) { EXPECT_EQ(weft_doc_new(agent, &doc_), WEFT_OK); }
  explicit Replica(weft_doc* doc) : doc_(doc) {}
  ~Replica() { weft_doc_free(doc_); }
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  weft_doc* get() const { return doc_; }

  weft_status Insert(uint64_t pos, std::string_view text) {
    return weft_doc_insert(doc_, pos, text.data(), text.size());
  }
  weft_status Delete(uint64_t pos, uint64_t count) { return weft_doc_delete(doc_, pos, count); }
  std::string Text() const {
    char* buf = nullptr;
    size_t len = 0;
    EXPECT_EQ(weft_doc_text(doc_, &buf, &len), WEFT_OK) << weft_last_error();
    return TakeString(buf, len);
  }
  uint64_t Len() const {
    uint64_t n = 0;
    EXPECT_EQ(weft_doc_len(doc_, &n), WEFT_OK);
    return n;
  }
  Bytes Version() const { return Read(&weft_doc_version); }
  // The Update a replica at `version` needs from this one.
  Bytes UpdateSince(const Bytes& version) const {
    uint8_t* buf = nullptr;
    size_t len = 0;
    EXPECT_EQ(weft_doc_encode_since(doc_, version.data(), version.size(), &buf, &len), WEFT_OK)
        << weft_last_error();
    return TakeBytes(buf, len);
  }
  weft_status Apply(const Bytes& update) {
    return weft_doc_apply(doc_, update.data(), update.size());
  }
  Bytes Snapshot() const { return Read(&weft_doc_snapshot); }
  uint64_t Resolve(const weft_anchor& a) const {
    uint64_t pos = 0;
    EXPECT_EQ(weft_doc_resolve(doc_, &a, &pos), WEFT_OK);
    return pos;
  }
  weft_anchor Anchor(uint64_t pos, uint32_t bias) const {
    weft_anchor a{};
    EXPECT_EQ(weft_doc_anchor(doc_, pos, bias, &a), WEFT_OK);
    return a;
  }

 private:
  Bytes Read(weft_status (*read)(const weft_doc*, uint8_t**, size_t*)) const {
    uint8_t* buf = nullptr;
    size_t len = 0;
    EXPECT_EQ(read(doc_, &buf, &len), WEFT_OK) << weft_last_error();
    return TakeBytes(buf, len);
  }

  weft_doc* doc_ = nullptr;
};

// Brings `to` up to date with `from`, the way two editors would: `to` sends
// its version, `from` answers with what it lacks.
inline void Deliver(const Replica& from, Replica& to) {
  ASSERT_EQ(to.Apply(from.UpdateSince(to.Version())), WEFT_OK) << weft_last_error();
}
inline void Sync(Replica& a, Replica& b) {
  Deliver(a, b);
  Deliver(b, a);
}

// Byte offset of code point `pos` in valid UTF-8 `s`.
inline size_t ByteOffset(std::string_view s, uint64_t pos) {
  size_t i = 0;
  for (; pos > 0; --pos) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    i += c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
  }
  return i;
}

// An editor's own copy of the text, kept current by the observer's deltas.
struct Shadow {
  std::string text;
  int calls = 0;

  static void Observe(void* self, const weft_delta_step* steps, size_t n) {
    auto* shadow = static_cast<Shadow*>(self);
    ++shadow->calls;
    uint64_t pos = 0;
    for (size_t i = 0; i < n; ++i) {
      const weft_delta_step& s = steps[i];
      size_t at = ByteOffset(shadow->text, pos);
      switch (s.kind) {
        case WEFT_STEP_RETAIN:
          pos += s.count;
          break;
        case WEFT_STEP_INSERT:
          shadow->text.insert(at, s.text, s.text_len);
          pos += s.count;
          break;
        case WEFT_STEP_DELETE:
          shadow->text.erase(at, ByteOffset(shadow->text, pos + s.count) - at);
          break;
        default:
          ADD_FAILURE() << "unknown step kind " << s.kind;
      }
    }
  }
  void Attach(Replica& r) {
    text = r.Text();
    ASSERT_EQ(weft_doc_set_observer(r.get(), &Shadow::Observe, this), WEFT_OK);
  }
};

}  // namespace weft::capi::testing
