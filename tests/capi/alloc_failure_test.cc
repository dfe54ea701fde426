// Memory running out inside the library: every call either succeeds or
// returns WEFT_NO_MEMORY; std::bad_alloc never reaches the caller. This
// binary replaces the global operator new so a test can make the k-th
// allocation on this thread throw, and sweeps k over a whole call.
#include <cstdlib>
#include <functional>
#include <new>
#include <string>

#include "capi/capi_test_util.h"

namespace {

// Allocations on this thread until the one that throws; -1: never.
thread_local long g_allocs_until_failure = -1;

void* Allocate(size_t n) {
  if (g_allocs_until_failure == 0) {
    g_allocs_until_failure = -1;
    throw std::bad_alloc();
  }
  if (g_allocs_until_failure > 0) --g_allocs_until_failure;
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void* operator new(size_t n) { return Allocate(n); }
void* operator new[](size_t n) { return Allocate(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace weft::capi::testing {
namespace {

// Runs `call` with allocation k failing, for k = 0, 1, ... until a run makes
// fewer than k + 1 allocations (then it must succeed). `setup` runs before each
// call with no failures; `check` sees each result.
void SweepAllocationFailures(const std::function<void()>& setup,
                             const std::function<weft_status()>& call,
                             const std::function<void(weft_status)>& check) {
  for (long k = 0;; ++k) {
    SCOPED_TRACE(k);
    setup();
    g_allocs_until_failure = k;
    weft_status s = call();
    bool failed_one = g_allocs_until_failure == -1;
    g_allocs_until_failure = -1;
    if (!failed_one) {
      EXPECT_EQ(s, WEFT_OK) << weft_last_error();
      EXPECT_GT(k, 0) << "the call made no allocation to fail";
      check(s);
      return;
    }
    EXPECT_TRUE(s == WEFT_OK || s == WEFT_NO_MEMORY) << weft_strerror(s);
    check(s);
    ASSERT_LT(k, 100000) << "no end to the allocations";
  }
}

TEST(CApiNoMemory, ReadingCallsFailCleanlyAndKeepTheDoc) {
  Replica a(1);
  ASSERT_EQ(a.Insert(0, "héllo wörld 😀"), WEFT_OK);
  ASSERT_EQ(a.Delete(2, 3), WEFT_OK);
  const std::string text = a.Text();
  uint8_t* buf = nullptr;
  size_t len = 0;
  char* tbuf = nullptr;
  auto free_output = [&](weft_status s) {
    if (s == WEFT_OK) {
      weft_free(buf);
      weft_free(tbuf);
    } else {
      EXPECT_STREQ(weft_last_error(), "out of memory");
    }
    buf = nullptr;
    tbuf = nullptr;
    EXPECT_EQ(a.Text(), text);  // a read never breaks the doc
  };
  const Bytes empty = {0x00};
  auto none = [] {};
  SweepAllocationFailures(
      none, [&] { return weft_doc_text(a.get(), &tbuf, &len); }, free_output);
  SweepAllocationFailures(
      none, [&] { return weft_doc_version(a.get(), &buf, &len); }, free_output);
  SweepAllocationFailures(
      none, [&] { return weft_doc_snapshot(a.get(), &buf, &len); }, free_output);
  SweepAllocationFailures(
      none, [&] { return weft_doc_encode_since(a.get(), empty.data(), empty.size(), &buf, &len); },
      free_output);
}

TEST(CApiNoMemory, NewAndLoadReturnNoDocOnFailure) {
  Replica a(1);
  ASSERT_EQ(a.Insert(0, "snapshot me"), WEFT_OK);
  const Bytes snap = a.Snapshot();
  weft_doc* doc = nullptr;
  auto check = [&](weft_status s) {
    if (s == WEFT_OK) {
      EXPECT_NE(doc, nullptr);
      weft_doc_free(doc);
    } else {
      EXPECT_EQ(doc, nullptr);
    }
    doc = nullptr;
  };
  auto none = [] {};
  SweepAllocationFailures(
      none, [&] { return weft_doc_new(2, &doc); }, check);
  SweepAllocationFailures(
      none, [&] { return weft_doc_load(2, snap.data(), snap.size(), &doc); }, check);
}

// A change interrupted by bad_alloc may leave the doc half-changed, so the
// doc refuses further use instead of risking divergence (weft.h).
TEST(CApiNoMemory, InterruptedChangesRetireTheDoc) {
  Replica a(1);
  ASSERT_EQ(a.Insert(0, "base text"), WEFT_OK);
  Bytes base = a.Snapshot();
  ASSERT_EQ(a.Insert(4, " 😀 remote"), WEFT_OK);
  const Bytes update = a.UpdateSince(Bytes{0x01, 0x01, 0x09});  // since "base text"
  struct Change {
    const char* name;
    std::function<weft_status(weft_doc*)> call;
  } changes[] = {
      {"insert", [](weft_doc* d) { return weft_doc_insert(d, 2, "ins😀", 7); }},
      {"delete", [](weft_doc* d) { return weft_doc_delete(d, 1, 5); }},
      {"apply", [&](weft_doc* d) { return weft_doc_apply(d, update.data(), update.size()); }},
      {"undo", [](weft_doc* d) { return weft_doc_undo(d); }},
      {"redo", [](weft_doc* d) { return weft_doc_redo(d); }},
  };
  for (const Change& c : changes) {
    SCOPED_TRACE(c.name);
    weft_doc* doc = nullptr;
    Shadow shadow;
    auto setup = [&] {
      // A replica of its own (agent 2) with one local edit undone, so undo
      // and redo both have work to do.
      ASSERT_EQ(weft_doc_load(2, base.data(), base.size(), &doc), WEFT_OK);
      ASSERT_EQ(weft_doc_insert(doc, 0, "ab", 2), WEFT_OK);
      ASSERT_EQ(weft_doc_insert(doc, 1, "cd", 2), WEFT_OK);
      ASSERT_EQ(weft_doc_undo(doc), WEFT_OK);
      char* text = nullptr;
      size_t len = 0;
      ASSERT_EQ(weft_doc_text(doc, &text, &len), WEFT_OK);
      shadow.text = TakeString(text, len);
      ASSERT_EQ(weft_doc_set_observer(doc, &Shadow::Observe, &shadow), WEFT_OK);
    };
    auto call = [&] { return c.call(doc); };
    auto check = [&](weft_status s) {
      uint64_t n = 0;
      if (s == WEFT_OK) {
        EXPECT_EQ(weft_doc_len(doc, &n), WEFT_OK);
      } else {
        EXPECT_EQ(weft_doc_len(doc, &n), WEFT_FAILED_PRECONDITION);
        EXPECT_EQ(weft_doc_insert(doc, 0, "x", 1), WEFT_FAILED_PRECONDITION);
      }
      weft_doc_free(doc);
      doc = nullptr;
    };
    SweepAllocationFailures(setup, call, check);
  }
}

}  // namespace
}  // namespace weft::capi::testing
