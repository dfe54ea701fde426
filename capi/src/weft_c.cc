// The C API (weft.h) over weft::engine::Doc.
//
// Every entry point runs its body inside Guarded() (noexcept), which
// turns a Status into a weft_status and any exception (std::bad_alloc
// included) into an error code, so no exception ever reaches a C caller.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "utf16.h"
#include "version_codec.h"
#include "weft.h"
#include "weft/engine/doc.h"

using weft::Result;
using weft::Status;
using weft::StatusCode;
using weft::engine::Doc;

// weft.h promises these layouts to FFI callers (ctypes, JNA, ...), which
// declare the structs field by field: a change here is an ABI change.
static_assert(sizeof(weft_anchor) == 24, "weft_anchor: two uint64_t, two uint32_t");
static_assert(sizeof(void*) != 8 || sizeof(weft_delta_step) == 32,
              "weft_delta_step on 64-bit targets: 4 + 4 + 8 + 8 + 8 bytes");

struct weft_doc {
  explicit weft_doc(Doc d) : doc(std::move(d)) {}

  Doc doc;
  weft_observer_fn observer = nullptr;
  void* user_data = nullptr;
  // Set while the observer runs: calls on this doc from inside it are
  // refused instead of corrupting the engine in the middle of an Apply.
  bool in_observer = false;
  // Set when an exception interrupted a call that changes the doc: its state
  // may be half-changed, so it is no longer used (see weft.h).
  bool broken = false;
  // Reused for every delta handed to the observer.
  std::vector<weft_delta_step> steps;
};

namespace {

// The message weft_last_error returns. A fixed array, so recording an error
// can neither allocate nor throw (it runs while handling std::bad_alloc).
thread_local char g_last_error[256] = "";

void ClearError() { g_last_error[0] = '\0'; }

weft_status Fail(weft_status code, std::string_view message) {
  size_t n = std::min(message.size(), sizeof(g_last_error) - 1);
  std::memcpy(g_last_error, message.data(), n);
  g_last_error[n] = '\0';
  return code;
}

weft_status ToCode(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return WEFT_OK;
    case StatusCode::kInvalidArgument:
    case StatusCode::kNotFound:
      return WEFT_INVALID_ARGUMENT;
    case StatusCode::kOutOfRange:
      return WEFT_OUT_OF_RANGE;
    case StatusCode::kCorruption:
      return WEFT_CORRUPTION;
    case StatusCode::kResourceExhausted:
    case StatusCode::kTooLarge:
      return WEFT_RESOURCE_EXHAUSTED;
    case StatusCode::kFailedPrecondition:
      return WEFT_FAILED_PRECONDITION;
    default:
      return WEFT_INTERNAL;
  }
}

weft_status FromStatus(const Status& status) {
  if (status.ok()) return WEFT_OK;
  // Status::ToString allocates; the message view does not.
  return Fail(ToCode(status.code()), status.message());
}

// Runs `body` (returning weft_status) with every exception caught. If
// `broken` is not null, an exception marks that doc unusable.
template <typename Body>
weft_status Guarded(bool* broken, Body&& body) noexcept {
  ClearError();
  try {
    return body();
  } catch (const std::bad_alloc&) {
    if (broken) *broken = true;
    return Fail(WEFT_NO_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    if (broken) *broken = true;
    return Fail(WEFT_INTERNAL, e.what());
  } catch (...) {
    if (broken) *broken = true;
    return Fail(WEFT_INTERNAL, "unknown exception");
  }
}

// Checks `doc` may be used now, then runs `body(doc)` guarded. `mutates`
// says whether the body can change the doc (and so break it when thrown
// out of).
template <typename DocT, typename Body>
weft_status WithDoc(DocT* doc, bool mutates, Body&& body) noexcept {
  ClearError();
  if (doc == nullptr) return Fail(WEFT_INVALID_ARGUMENT, "doc is NULL");
  if (doc->broken) {
    return Fail(WEFT_FAILED_PRECONDITION, "doc unusable: an earlier call failed mid-change");
  }
  if (doc->in_observer) {
    return Fail(WEFT_FAILED_PRECONDITION, "doc called from its own observer");
  }
  bool* broken = mutates ? &const_cast<weft_doc*>(doc)->broken : nullptr;
  return Guarded(broken, [&] { return body(*doc); });
}

// Copies `bytes` into a new malloc buffer, NUL-terminated for text callers.
template <typename Char>
weft_status CopyOut(std::string_view bytes, Char** out_buf, size_t* out_len) {
  auto* buf = static_cast<char*>(std::malloc(bytes.size() + 1));
  if (buf == nullptr) return Fail(WEFT_NO_MEMORY, "out of memory");
  if (!bytes.empty()) std::memcpy(buf, bytes.data(), bytes.size());
  buf[bytes.size()] = '\0';
  *out_buf = reinterpret_cast<Char*>(buf);
  *out_len = bytes.size();
  return WEFT_OK;
}

// A (pointer, length) pair from C: NULL is only allowed with length 0.
bool ValidSpan(const void* p, size_t len) { return p != nullptr || len == 0; }

std::string_view Bytes(const void* p, size_t len) {
  return len == 0 ? std::string_view() : std::string_view(static_cast<const char*>(p), len);
}

weft_delta_step ToStep(const weft::engine::DeltaStep& s) {
  weft_delta_step out{};
  out.count = s.count;
  switch (s.kind) {
    case weft::engine::DeltaStep::Kind::kRetain:
      out.kind = WEFT_STEP_RETAIN;
      break;
    case weft::engine::DeltaStep::Kind::kInsert:
      out.kind = WEFT_STEP_INSERT;
      out.text = s.text.data();
      out.text_len = s.text.size();
      break;
    case weft::engine::DeltaStep::Kind::kDelete:
      out.kind = WEFT_STEP_DELETE;
      break;
  }
  return out;
}

void Notify(weft_doc& d, const weft::engine::Delta& delta) {
  if (d.observer == nullptr || delta.empty()) return;
  d.steps.clear();
  for (const weft::engine::DeltaStep& s : delta) d.steps.push_back(ToStep(s));
  d.in_observer = true;
  // Cleared on the way out even if a C++ observer throws (the doc is then
  // retired by Guarded, but weft_doc_free must still work).
  struct Reset {
    bool& flag;
    ~Reset() { flag = false; }
  } reset{d.in_observer};
  d.observer(d.user_data, d.steps.data(), d.steps.size());
}

// The delta turning `before` into `after`: keep their common prefix and
// suffix (cut at code point boundaries), delete the old middle, insert the
// new one. Undo/Redo report no delta of their own, so this is how their
// visible change reaches the observer.
weft::engine::Delta Diff(std::string_view before, std::string_view after) {
  auto is_continuation = [](char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; };
  size_t prefix = 0;
  size_t limit = std::min(before.size(), after.size());
  while (prefix < limit && before[prefix] == after[prefix]) ++prefix;
  while (prefix > 0 && prefix < before.size() && is_continuation(before[prefix])) --prefix;
  size_t suffix = 0;
  limit -= prefix;
  while (suffix < limit && before[before.size() - 1 - suffix] == after[after.size() - 1 - suffix]) {
    ++suffix;
  }
  while (suffix > 0 && is_continuation(before[before.size() - suffix])) --suffix;

  using Kind = weft::engine::DeltaStep::Kind;
  weft::engine::Delta delta;
  uint64_t n = 0;
  weft::capi::CountCodePoints(before.substr(0, prefix), &n);
  if (n > 0) delta.push_back({Kind::kRetain, n, {}});
  weft::capi::CountCodePoints(before.substr(prefix, before.size() - prefix - suffix), &n);
  if (n > 0) delta.push_back({Kind::kDelete, n, {}});
  std::string_view inserted = after.substr(prefix, after.size() - prefix - suffix);
  weft::capi::CountCodePoints(inserted, &n);
  if (n > 0) delta.push_back({Kind::kInsert, n, std::string(inserted)});
  return delta;
}

// Undo or Redo, reporting the visible change to the observer.
weft_status UndoOrRedo(weft_doc* doc, bool undo) {
  return WithDoc(doc, true, [&](weft_doc& d) {
    std::string before;
    if (d.observer != nullptr) before = d.doc.Text();
    Result<weft::engine::Ops> ops = undo ? d.doc.Undo() : d.doc.Redo();
    if (!ops.ok()) return FromStatus(ops.status());
    if (d.observer != nullptr && !ops->empty()) Notify(d, Diff(before, d.doc.Text()));
    return WEFT_OK;
  });
}

// A new handle owning `doc`, its engine listener feeding the observer.
weft_doc* NewHandle(Doc doc) {
  auto d = std::make_unique<weft_doc>(std::move(doc));
  weft_doc* raw = d.get();
  // The handle never moves, so the listener may hold its address.
  d->doc.SetChangeListener([raw](const weft::engine::Delta& delta) { Notify(*raw, delta); });
  return d.release();
}

// Stores `get(doc)` in *out: the shape of every accessor returning a number.
template <typename T, typename Get>
weft_status ReadValue(const weft_doc* doc, T* out, Get get) {
  return WithDoc(doc, false, [&](const weft_doc& d) {
    if (out == nullptr) return Fail(WEFT_INVALID_ARGUMENT, "out is NULL");
    *out = static_cast<T>(get(d.doc));
    return WEFT_OK;
  });
}

using Conversion = Result<uint64_t> (*)(std::string_view, uint64_t);

weft_status Convert(Conversion convert, std::string_view utf8, uint64_t in, uint64_t* out) {
  Result<uint64_t> r = convert(utf8, in);
  if (!r.ok()) return FromStatus(r.status());
  *out = *r;
  return WEFT_OK;
}

weft_status ConvertDocText(const weft_doc* doc, Conversion convert, uint64_t in, uint64_t* out) {
  return WithDoc(doc, false, [&](const weft_doc& d) {
    if (out == nullptr) return Fail(WEFT_INVALID_ARGUMENT, "out is NULL");
    return Convert(convert, d.doc.Text(), in, out);
  });
}

weft_status ConvertString(const char* utf8, size_t len, Conversion convert, uint64_t in,
                          uint64_t* out) {
  return Guarded(nullptr, [&] {
    if (out == nullptr || !ValidSpan(utf8, len)) {
      return Fail(WEFT_INVALID_ARGUMENT, "NULL argument");
    }
    // The whole string is checked, not only the part before the offset, so
    // bad UTF-8 is reported whatever the offset.
    uint64_t n = 0;
    if (!weft::capi::CountCodePoints(Bytes(utf8, len), &n)) {
      return Fail(WEFT_INVALID_ARGUMENT, "invalid UTF-8");
    }
    return Convert(convert, Bytes(utf8, len), in, out);
  });
}

// A version from C: NULL with length 0 is the empty version.
weft_status ReadVersion(const uint8_t* bytes, size_t len, weft::engine::VersionVector* out) {
  if (!ValidSpan(bytes, len)) return Fail(WEFT_INVALID_ARGUMENT, "version is NULL");
  if (len == 0) return WEFT_OK;
  Result<weft::engine::VersionVector> v =
      weft::capi::DecodeVersion(std::span<const uint8_t>(bytes, len));
  if (!v.ok()) return FromStatus(v.status());
  *out = std::move(*v);
  return WEFT_OK;
}

// weft_doc_encode_since (`until` NULL) and weft_doc_encode_range.
weft_status EncodeRange(const weft_doc* doc, const uint8_t* since_bytes, size_t since_len,
                        const uint8_t* until_bytes, size_t until_len, uint8_t** out_buf,
                        size_t* out_len) {
  return WithDoc(doc, false, [&](const weft_doc& d) {
    if (out_buf == nullptr || out_len == nullptr) return Fail(WEFT_INVALID_ARGUMENT, "out is NULL");
    weft::engine::VersionVector since, until;
    if (weft_status s = ReadVersion(since_bytes, since_len, &since); s != WEFT_OK) return s;
    if (until_bytes == nullptr) return CopyOut(d.doc.EncodeOpsSince(since), out_buf, out_len);
    if (weft_status s = ReadVersion(until_bytes, until_len, &until); s != WEFT_OK) return s;
    // Nothing beyond what the doc has, whatever `until` names. Asked agent
    // by agent: the doc's whole version costs as many steps as it has
    // authors, `until` may name a few.
    weft::engine::VersionVector cut;
    for (const auto& [agent, next] : until.entries()) {
      uint64_t n = std::min(next, d.doc.known_seqs(agent));
      if (n > 0) cut.Set(agent, n);
    }
    return CopyOut(d.doc.EncodeOpsSince(since, &cut), out_buf, out_len);
  });
}

bool ValidBias(uint32_t bias) { return bias == WEFT_BIAS_LEFT || bias == WEFT_BIAS_RIGHT; }

weft::engine::Bias ToBias(uint32_t bias) {
  return bias == WEFT_BIAS_LEFT ? weft::engine::Bias::kLeft : weft::engine::Bias::kRight;
}

}  // namespace

extern "C" {

uint32_t weft_abi_version(void) { return WEFT_ABI_VERSION; }

const char* weft_strerror(weft_status status) {
  switch (status) {
    case WEFT_OK:
      return "ok";
    case WEFT_INVALID_ARGUMENT:
      return "invalid argument";
    case WEFT_OUT_OF_RANGE:
      return "out of range";
    case WEFT_CORRUPTION:
      return "corruption";
    case WEFT_RESOURCE_EXHAUSTED:
      return "resource exhausted";
    case WEFT_NO_MEMORY:
      return "out of memory";
    case WEFT_FAILED_PRECONDITION:
      return "failed precondition";
    case WEFT_INTERNAL:
      return "internal";
  }
  return "unknown";
}

const char* weft_last_error(void) { return g_last_error; }

void weft_free(void* buffer) { std::free(buffer); }

weft_status weft_doc_new(uint64_t agent, weft_doc** out) {
  return Guarded(nullptr, [&] {
    if (out == nullptr) return Fail(WEFT_INVALID_ARGUMENT, "out is NULL");
    *out = NewHandle(Doc(agent));
    return WEFT_OK;
  });
}

void weft_doc_free(weft_doc* doc) {
  // Freeing from inside the doc's own observer would pull the engine out
  // from under the Apply that is running it.
  if (doc == nullptr || doc->in_observer) return;
  delete doc;
}

weft_status weft_doc_insert(weft_doc* doc, uint64_t pos, const char* utf8, size_t len) {
  return WithDoc(doc, true, [&](weft_doc& d) {
    if (!ValidSpan(utf8, len)) return Fail(WEFT_INVALID_ARGUMENT, "utf8 is NULL");
    return FromStatus(d.doc.Insert(pos, Bytes(utf8, len), nullptr));
  });
}

weft_status weft_doc_delete(weft_doc* doc, uint64_t pos, uint64_t count) {
  return WithDoc(doc, true,
                 [&](weft_doc& d) { return FromStatus(d.doc.Remove(pos, count, nullptr)); });
}

weft_status weft_doc_edit(weft_doc* doc, const weft_edit* edits, size_t n, const char* text,
                          size_t text_len, size_t* applied) {
  if (applied != nullptr) *applied = 0;
  return WithDoc(doc, true, [&](weft_doc& d) {
    if (!ValidSpan(edits, n)) return Fail(WEFT_INVALID_ARGUMENT, "edits is NULL");
    if (!ValidSpan(text, text_len)) return Fail(WEFT_INVALID_ARGUMENT, "text is NULL");
    // Converted in slices so a long batch needs no buffer of its size.
    constexpr size_t kSlice = 256;
    weft::engine::LocalEdit slice[kSlice];
    std::string_view rest = Bytes(text, text_len);
    size_t done = 0;
    while (done < n) {
      size_t k = 0;
      weft_status bad = WEFT_OK;
      for (; k < kSlice && done + k < n; ++k) {
        const weft_edit& e = edits[done + k];
        if (e.kind > WEFT_EDIT_DELETE) {
          bad = Fail(WEFT_INVALID_ARGUMENT, "unknown edit kind");
          break;
        }
        const bool insert = e.kind == WEFT_EDIT_INSERT;
        slice[k] = {insert ? weft::engine::LocalEdit::Kind::kInsert
                           : weft::engine::LocalEdit::Kind::kDelete,
                    e.pos, e.len};
      }
      size_t got = 0;
      weft::Status s = d.doc.ApplyLocal(std::span(slice, k), rest, &got);
      // The applied inserts' text, which ApplyLocal checked is there.
      for (size_t i = 0; i < got; ++i) {
        if (slice[i].kind == weft::engine::LocalEdit::Kind::kInsert) {
          rest.remove_prefix(static_cast<size_t>(slice[i].len));
        }
      }
      done += got;
      if (applied != nullptr) *applied = done;
      if (!s.ok()) return FromStatus(s);
      if (bad != WEFT_OK) return bad;
    }
    return WEFT_OK;
  });
}

weft_status weft_doc_len(const weft_doc* doc, uint64_t* out) {
  return ReadValue(doc, out, [](const Doc& d) { return d.size(); });
}

weft_status weft_doc_text(const weft_doc* doc, char** out_buf, size_t* out_len) {
  return WithDoc(doc, false, [&](const weft_doc& d) {
    if (out_buf == nullptr || out_len == nullptr) return Fail(WEFT_INVALID_ARGUMENT, "out is NULL");
    return CopyOut(d.doc.Text(), out_buf, out_len);
  });
}

weft_status weft_doc_agent(const weft_doc* doc, uint64_t* out) {
  return ReadValue(doc, out, [](const Doc& d) { return d.agent(); });
}

weft_status weft_doc_pending(const weft_doc* doc, uint64_t* out) {
  return ReadValue(doc, out, [](const Doc& d) { return d.pending_ops(); });
}

weft_status weft_doc_version(const weft_doc* doc, uint8_t** out_buf, size_t* out_len) {
  return WithDoc(doc, false, [&](const weft_doc& d) {
    if (out_buf == nullptr || out_len == nullptr) return Fail(WEFT_INVALID_ARGUMENT, "out is NULL");
    return CopyOut(weft::capi::EncodeVersion(d.doc.version()), out_buf, out_len);
  });
}

weft_status weft_doc_encode_since(const weft_doc* doc, const uint8_t* version, size_t version_len,
                                  uint8_t** out_buf, size_t* out_len) {
  return EncodeRange(doc, version, version_len, nullptr, 0, out_buf, out_len);
}

weft_status weft_doc_encode_range(const weft_doc* doc, const uint8_t* since, size_t since_len,
                                  const uint8_t* until, size_t until_len, uint8_t** out_buf,
                                  size_t* out_len) {
  if (until == nullptr) {
    ClearError();
    return Fail(WEFT_INVALID_ARGUMENT, "until is NULL");
  }
  return EncodeRange(doc, since, since_len, until, until_len, out_buf, out_len);
}

weft_status weft_doc_apply(weft_doc* doc, const uint8_t* update, size_t len) {
  return WithDoc(doc, true, [&](weft_doc& d) {
    if (!ValidSpan(update, len)) return Fail(WEFT_INVALID_ARGUMENT, "update is NULL");
    return FromStatus(d.doc.ApplyUpdate(Bytes(update, len)));
  });
}

weft_status weft_doc_snapshot(const weft_doc* doc, uint8_t** out_buf, size_t* out_len) {
  return WithDoc(doc, false, [&](const weft_doc& d) {
    if (out_buf == nullptr || out_len == nullptr) return Fail(WEFT_INVALID_ARGUMENT, "out is NULL");
    return CopyOut(d.doc.EncodeSnapshot(), out_buf, out_len);
  });
}

weft_status weft_doc_load(uint64_t agent, const uint8_t* snapshot, size_t len, weft_doc** out) {
  return Guarded(nullptr, [&] {
    if (out == nullptr) return Fail(WEFT_INVALID_ARGUMENT, "out is NULL");
    if (!ValidSpan(snapshot, len)) return Fail(WEFT_INVALID_ARGUMENT, "snapshot is NULL");
    Result<Doc> loaded = Doc::LoadSnapshot(Bytes(snapshot, len), agent);
    if (!loaded.ok()) return FromStatus(loaded.status());
    *out = NewHandle(std::move(*loaded));
    return WEFT_OK;
  });
}

weft_status weft_doc_set_observer(weft_doc* doc, weft_observer_fn fn, void* user_data) {
  return WithDoc(doc, false, [&](weft_doc& d) {
    d.observer = fn;
    d.user_data = fn == nullptr ? nullptr : user_data;
    return WEFT_OK;
  });
}

weft_status weft_doc_anchor(const weft_doc* doc, uint64_t pos, uint32_t bias, weft_anchor* out) {
  return WithDoc(doc, false, [&](const weft_doc& d) {
    if (out == nullptr) return Fail(WEFT_INVALID_ARGUMENT, "out is NULL");
    if (!ValidBias(bias)) return Fail(WEFT_INVALID_ARGUMENT, "unknown bias");
    if (pos > d.doc.size()) return Fail(WEFT_OUT_OF_RANGE, "anchor position past the end");
    weft::engine::Anchor a = d.doc.AnchorAt(pos, ToBias(bias));
    *out = weft_anchor{a.id.agent, a.id.seq, a.has_id ? 1u : 0u, bias};
    if (!a.has_id) out->agent = out->seq = 0;
    return WEFT_OK;
  });
}

weft_status weft_doc_resolve(const weft_doc* doc, const weft_anchor* anchor, uint64_t* out) {
  return WithDoc(doc, false, [&](const weft_doc& d) {
    if (anchor == nullptr || out == nullptr) return Fail(WEFT_INVALID_ARGUMENT, "NULL argument");
    if (!ValidBias(anchor->bias)) return Fail(WEFT_INVALID_ARGUMENT, "unknown bias");
    if (anchor->has_id > 1) return Fail(WEFT_INVALID_ARGUMENT, "has_id must be 0 or 1");
    weft::engine::Anchor a;
    a.has_id = anchor->has_id == 1;
    a.id = {anchor->agent, anchor->seq};
    a.bias = ToBias(anchor->bias);
    *out = d.doc.Resolve(a);
    return WEFT_OK;
  });
}

weft_status weft_doc_undo(weft_doc* doc) { return UndoOrRedo(doc, true); }

weft_status weft_doc_redo(weft_doc* doc) { return UndoOrRedo(doc, false); }

weft_status weft_doc_can_undo(const weft_doc* doc, int32_t* out) {
  return ReadValue(doc, out, [](const Doc& d) { return d.CanUndo() ? 1 : 0; });
}

weft_status weft_doc_can_redo(const weft_doc* doc, int32_t* out) {
  return ReadValue(doc, out, [](const Doc& d) { return d.CanRedo() ? 1 : 0; });
}

weft_status weft_doc_utf16_from_pos(const weft_doc* doc, uint64_t pos, uint64_t* out) {
  return ConvertDocText(doc, &weft::capi::Utf16FromPos, pos, out);
}

weft_status weft_doc_pos_from_utf16(const weft_doc* doc, uint64_t utf16, uint64_t* out) {
  return ConvertDocText(doc, &weft::capi::PosFromUtf16, utf16, out);
}

weft_status weft_utf8_utf16_from_pos(const char* utf8, size_t len, uint64_t pos, uint64_t* out) {
  return ConvertString(utf8, len, &weft::capi::Utf16FromPos, pos, out);
}

weft_status weft_utf8_pos_from_utf16(const char* utf8, size_t len, uint64_t utf16, uint64_t* out) {
  return ConvertString(utf8, len, &weft::capi::PosFromUtf16, utf16, out);
}

}  // extern "C"
