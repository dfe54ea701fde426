// weft_web_*: the functions the WebAssembly module exports for weft.js, over
// the C API (weft.h), which the module exports too.
//
// What they add for JavaScript:
// - positions and lengths in UTF-16 code units, converted at this boundary
//   by a Utf16Index that follows every change of the doc;
// - remote changes (and undo/redo) recorded as events in UTF-16 units that
//   weft.js reads after the call, instead of a callback into JavaScript;
// - results (text, versions, updates, snapshots) kept in one buffer that
//   weft.js copies out before its next call, and a scratch buffer for its
//   inputs, so a call allocates nothing on the JavaScript side;
// - numbers JavaScript passes without BigInt: positions as doubles, 64-bit
//   agent ids as two 32-bit halves.
//
// Every function returning int returns a weft_status (weft_last_error says
// why). Single-threaded, like JavaScript.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "utf16_index.h"
#include "weft.h"

namespace {

// Event kinds, as weft.js reads them.
enum EventKind : uint32_t { kRetain = 0, kInsert = 1, kDelete = 2, kEndOfDelta = 3 };

struct Event {
  uint32_t kind;
  uint32_t count;     // UTF-16 units retained, inserted or deleted
  uint32_t text_at;   // kInsert: offset of its UTF-8 text in the text arena
  uint32_t text_len;  // kInsert: its length in bytes
};
static_assert(sizeof(Event) == 16, "weft.js reads events as four uint32 each");

}  // namespace

struct weft_web_doc {
  weft_doc* doc = nullptr;
  weft::web::Utf16Index index;
  // The changes the latest call made to the text, for weft.js to deliver.
  std::vector<Event> events;
  std::string event_text;
};

namespace {

// The latest result; weft.js copies it before its next call.
uint8_t* g_result = nullptr;
size_t g_result_len = 0;
// Where weft.js writes inputs (text to insert, versions, updates).
std::vector<uint8_t> g_scratch;
// Where it queues local edits for weft_web_apply_local.
std::vector<weft_edit> g_edits;
// The latest anchor weft_web_anchor made.
weft_anchor g_anchor{};

void SetResult(uint8_t* buf, size_t len) {
  weft_free(g_result);
  g_result = buf;
  g_result_len = len;
}

uint64_t Agent(uint32_t lo, uint32_t hi) { return uint64_t{hi} << 32 | lo; }

// Follows one delta from the C API: converts each step to UTF-16 units
// against the index as it was before the step, then updates the index, so
// applied in order the events turn the old JavaScript string into the new.
void OnDelta(void* user, const weft_delta_step* steps, size_t n) {
  auto* d = static_cast<weft_web_doc*>(user);
  uint64_t at = 0;  // code points
  for (size_t i = 0; i < n; ++i) {
    const weft_delta_step& s = steps[i];
    uint64_t from = d->index.Utf16FromPos(at);
    switch (s.kind) {
      case WEFT_STEP_RETAIN:
        at += s.count;
        d->events.push_back(
            {kRetain, static_cast<uint32_t>(d->index.Utf16FromPos(at) - from), 0, 0});
        break;
      case WEFT_STEP_INSERT: {
        std::string_view text(s.text, s.text_len);
        d->index.Insert(at, text);
        d->events.push_back({kInsert, static_cast<uint32_t>(weft::web::MeasureUtf8(text).utf16),
                             static_cast<uint32_t>(d->event_text.size()),
                             static_cast<uint32_t>(text.size())});
        d->event_text.append(text);
        at += s.count;
        break;
      }
      case WEFT_STEP_DELETE: {
        uint32_t units = static_cast<uint32_t>(d->index.Utf16FromPos(at + s.count) - from);
        d->index.Delete(at, s.count);
        d->events.push_back({kDelete, units, 0, 0});
        break;
      }
      default:
        break;
    }
  }
  d->events.push_back({kEndOfDelta, 0, 0, 0});
}

// Runs a C API call that returns a buffer and keeps it as the result.
int Produce(weft_status (*fn)(const weft_doc*, uint8_t**, size_t*), const weft_web_doc* d) {
  uint8_t* buf = nullptr;
  size_t len = 0;
  weft_status s = fn(d->doc, &buf, &len);
  if (s == WEFT_OK) SetResult(buf, len);
  return s;
}

void ClearEvents(weft_web_doc* d) {
  d->events.clear();
  d->event_text.clear();
}

weft_web_doc* Wrap(weft_doc* doc) {
  auto* d = new weft_web_doc;
  d->doc = doc;
  weft_doc_set_observer(doc, OnDelta, d);
  return d;
}

// The code point position of UTF-16 offset `pos16`. An offset past the end
// maps to a position past the end (the conversion is monotonic), which the
// engine refuses; so the text's length is not needed here.
weft_status ToPos(const weft_web_doc* d, double pos16, uint64_t* out) {
  if (!(pos16 >= 0) || pos16 > 9.0e15) return WEFT_OUT_OF_RANGE;
  weft::Result<uint64_t> pos = d->index.PosFromUtf16(static_cast<uint64_t>(pos16));
  if (!pos.ok()) return WEFT_INVALID_ARGUMENT;
  *out = *pos;
  return WEFT_OK;
}

// Whether UTF-8 `text` holds a character outside the BMP (a four-byte
// sequence, lead byte 0xF0 and up).
bool HasAstral(const char* text, size_t len) {
  for (size_t i = 0; i < len; ++i) {
    if (static_cast<unsigned char>(text[i]) >= 0xF0) return true;
  }
  return false;
}

}  // namespace

extern "C" {

weft_web_doc* weft_web_new(uint32_t agent_lo, uint32_t agent_hi) {
  weft_doc* doc = nullptr;
  if (weft_doc_new(Agent(agent_lo, agent_hi), &doc) != WEFT_OK) return nullptr;
  return Wrap(doc);
}

weft_web_doc* weft_web_load(uint32_t agent_lo, uint32_t agent_hi, const uint8_t* snapshot,
                            size_t len) {
  weft_doc* doc = nullptr;
  if (weft_doc_load(Agent(agent_lo, agent_hi), snapshot, len, &doc) != WEFT_OK) return nullptr;
  weft_web_doc* d = Wrap(doc);
  char* text = nullptr;
  size_t text_len = 0;
  if (weft_doc_text(doc, &text, &text_len) == WEFT_OK) {
    d->index.Reset(std::string_view(text, text_len));
    weft_free(text);
  }
  return d;
}

void weft_web_free(weft_web_doc* d) {
  if (d == nullptr) return;
  weft_doc_free(d->doc);
  delete d;
}

int weft_web_insert(weft_web_doc* d, double pos16, const char* utf8, size_t len) {
  uint64_t pos = 0;
  if (weft_status s = ToPos(d, pos16, &pos); s != WEFT_OK) return s;
  weft_status s = weft_doc_insert(d->doc, pos, utf8, len);
  if (s == WEFT_OK) d->index.Insert(pos, std::string_view(utf8, len));
  return s;
}

int weft_web_delete(weft_web_doc* d, double pos16, double len16) {
  uint64_t from = 0, to = 0;
  if (weft_status s = ToPos(d, pos16, &from); s != WEFT_OK) return s;
  if (weft_status s = ToPos(d, pos16 + len16, &to); s != WEFT_OK) return s;
  if (to <= from) return WEFT_OK;
  weft_status s = weft_doc_delete(d->doc, from, to - from);
  if (s == WEFT_OK) d->index.Delete(from, to - from);
  return s;
}

// Applies `n` local edits weft.js queued, in order, their inserts' texts
// back to back in `text[0..text_len)`: weft_doc_edit records, except that
// positions (and a delete's count) are UTF-16 units. Typing makes one call
// per batch instead of one per keystroke. Stops at the first error
// (weft.js checks bounds before it queues, so there is none but running
// out of memory).
int weft_web_apply_local(weft_web_doc* d, const weft_edit* edits, size_t n, const char* text,
                         size_t text_len) {
  if (d->index.astral_count() == 0 && !HasAstral(text, text_len)) {
    // No character outside the BMP before or after: UTF-16 offsets are
    // code points and the index stays empty, so the batch goes to the
    // engine as it is (what weft.js queues: it queues BMP text only).
    return weft_doc_edit(d->doc, edits, n, text, text_len, nullptr);
  }
  for (size_t i = 0; i < n; ++i) {
    const weft_edit& e = edits[i];
    const bool insert = e.kind == WEFT_EDIT_INSERT;
    if (insert && e.len > text_len) return WEFT_INVALID_ARGUMENT;
    const auto pos = static_cast<double>(e.pos);
    int s = insert ? weft_web_insert(d, pos, text, e.len)
                   : weft_web_delete(d, pos, static_cast<double>(e.len));
    if (s != WEFT_OK) return s;
    if (insert) {
      text += e.len;
      text_len -= e.len;
    }
  }
  return WEFT_OK;
}

// Characters outside the BMP in the text (0: UTF-16 offsets equal code
// points, which lets weft.js check positions itself).
double weft_web_astral_count(const weft_web_doc* d) {
  return static_cast<double>(d->index.astral_count());
}

double weft_web_length(const weft_web_doc* d) {
  uint64_t len = 0;
  if (weft_doc_len(d->doc, &len) != WEFT_OK) return -1;
  return static_cast<double>(d->index.Utf16Length(len));
}

double weft_web_utf16_from_pos(const weft_web_doc* d, double pos) {
  uint64_t len = 0;
  if (weft_doc_len(d->doc, &len) != WEFT_OK || !(pos >= 0) || pos > static_cast<double>(len)) {
    return -1;
  }
  return static_cast<double>(d->index.Utf16FromPos(static_cast<uint64_t>(pos)));
}

double weft_web_pos_from_utf16(const weft_web_doc* d, double pos16) {
  uint64_t pos = 0, len = 0;
  if (ToPos(d, pos16, &pos) != WEFT_OK || weft_doc_len(d->doc, &len) != WEFT_OK || pos > len) {
    return -1;
  }
  return static_cast<double>(pos);
}

int weft_web_text(const weft_web_doc* d) {
  char* buf = nullptr;
  size_t len = 0;
  weft_status s = weft_doc_text(d->doc, &buf, &len);
  if (s == WEFT_OK) SetResult(reinterpret_cast<uint8_t*>(buf), len);
  return s;
}

int weft_web_version(const weft_web_doc* d) { return Produce(weft_doc_version, d); }

// `until` NULL: everything beyond `since`.
int weft_web_encode(const weft_web_doc* d, const uint8_t* since, size_t since_len,
                    const uint8_t* until, size_t until_len) {
  uint8_t* buf = nullptr;
  size_t len = 0;
  weft_status s = until == nullptr ? weft_doc_encode_since(d->doc, since, since_len, &buf, &len)
                                   : weft_doc_encode_range(d->doc, since, since_len, until,
                                                           until_len, &buf, &len);
  if (s == WEFT_OK) SetResult(buf, len);
  return s;
}

int weft_web_apply(weft_web_doc* d, const uint8_t* update, size_t len) {
  ClearEvents(d);
  return weft_doc_apply(d->doc, update, len);
}

int weft_web_snapshot(const weft_web_doc* d) { return Produce(weft_doc_snapshot, d); }

int weft_web_undo(weft_web_doc* d) {
  ClearEvents(d);
  return weft_doc_undo(d->doc);
}

int weft_web_redo(weft_web_doc* d) {
  ClearEvents(d);
  return weft_doc_redo(d->doc);
}

int weft_web_can_undo(const weft_web_doc* d) {
  int32_t out = 0;
  return weft_doc_can_undo(d->doc, &out) == WEFT_OK ? out : 0;
}

int weft_web_can_redo(const weft_web_doc* d) {
  int32_t out = 0;
  return weft_doc_can_redo(d->doc, &out) == WEFT_OK ? out : 0;
}

double weft_web_pending(const weft_web_doc* d) {
  uint64_t n = 0;
  return weft_doc_pending(d->doc, &n) == WEFT_OK ? static_cast<double>(n) : -1;
}

// An anchor at UTF-16 offset `pos16`, left in the struct weft_web_anchor_out
// points to.
int weft_web_anchor(const weft_web_doc* d, double pos16, uint32_t bias) {
  uint64_t pos = 0;
  if (weft_status s = ToPos(d, pos16, &pos); s != WEFT_OK) return s;
  return weft_doc_anchor(d->doc, pos, bias, &g_anchor);
}

weft_anchor* weft_web_anchor_out(void) { return &g_anchor; }

// The UTF-16 offset an anchor resolves to; -1 for a malformed anchor.
double weft_web_resolve(const weft_web_doc* d, uint32_t agent_lo, uint32_t agent_hi, double seq,
                        uint32_t has_id, uint32_t bias) {
  weft_anchor a{Agent(agent_lo, agent_hi), static_cast<uint64_t>(seq), has_id, bias};
  uint64_t pos = 0;
  if (weft_doc_resolve(d->doc, &a, &pos) != WEFT_OK) return -1;
  return static_cast<double>(d->index.Utf16FromPos(pos));
}

const uint8_t* weft_web_result(void) { return g_result; }
size_t weft_web_result_len(void) { return g_result_len; }

const Event* weft_web_events(const weft_web_doc* d) { return d->events.data(); }
size_t weft_web_event_count(const weft_web_doc* d) { return d->events.size(); }
const char* weft_web_event_text(const weft_web_doc* d) { return d->event_text.data(); }

// A buffer of at least `n` bytes for the next call's input; valid until the
// next weft_web_scratch.
uint8_t* weft_web_scratch(size_t n) {
  if (g_scratch.size() < n) g_scratch.resize(std::max(n, 2 * g_scratch.size()));
  return g_scratch.data();
}

// Room for `n` queued edits (weft_edit records, 24 bytes each, zeroed
// where weft.js does not write); valid until the next call.
weft_edit* weft_web_edit_buffer(size_t n) {
  if (g_edits.size() < n) g_edits.resize(n);
  return g_edits.data();
}

}  // extern "C"
