/* weft.h: the C API of weft, a collaborative text-editing engine.
 *
 * A weft_doc is one replica of a text document (a sequence CRDT). Local
 * edits go in by position; replicas exchange encoded Updates; every replica
 * that has seen the same edits has the same text, whatever the order the
 * Updates arrived in. This header is plain C (C99 or later, and C++) so that
 * editors written in any language can embed the engine through their
 * foreign-function interface.
 *
 * Positions and lengths are Unicode code points of the visible text, which
 * is UTF-8 everywhere. weft_doc_utf16_from_pos / weft_doc_pos_from_utf16
 * convert to and from UTF-16 code unit offsets (JavaScript, Java, Windows).
 *
 * Errors: every function that can fail returns a weft_status; WEFT_OK (0) is
 * success. weft_strerror names a code, weft_last_error describes the latest
 * failure on the calling thread. Invalid arguments (NULL pointers, bad
 * UTF-8, positions past the end) give an error code; they never crash. On
 * an error the document is unchanged and output parameters are untouched,
 * with one exception: if memory runs out (WEFT_NO_MEMORY) or weft hits a bug
 * (WEFT_INTERNAL) in the middle of a call that changes a doc, the doc may be
 * half-changed, so every later call on it fails with
 * WEFT_FAILED_PRECONDITION and only weft_doc_free is allowed (keep
 * snapshots to recover from). No C++ exception ever leaves a function of
 * this header.
 *
 * Ownership: every buffer the library returns (text, versions, updates,
 * snapshots) is allocated by the library and must be released with
 * weft_free. A weft_doc is released with weft_doc_free.
 *
 * Threading: a weft_doc may be used from one thread at a time (calls on one
 * doc must not overlap); different docs may be used from different threads
 * at once. weft_last_error is per thread.
 *
 * ABI: handles are opaque, every integer has an explicit width, and structs
 * passed by value only ever grow at the end in a new WEFT_ABI_VERSION.
 * Compare weft_abi_version() with WEFT_ABI_VERSION at startup when loading
 * the library dynamically.
 */
#ifndef WEFT_H_
#define WEFT_H_

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#if defined(WEFT_C_BUILDING)
#define WEFT_API __declspec(dllexport)
#else
#define WEFT_API __declspec(dllimport)
#endif
#elif defined(__GNUC__)
#define WEFT_API __attribute__((visibility("default")))
#else
#define WEFT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a declaration here changes incompatibly. */
#define WEFT_ABI_VERSION 1

/* The WEFT_ABI_VERSION the library was built with. */
WEFT_API uint32_t weft_abi_version(void);

/* ---- Errors ------------------------------------------------------------ */

/* Values are stable; new codes are only ever added at the end. */
typedef enum weft_status {
  WEFT_OK = 0,
  WEFT_INVALID_ARGUMENT = 1,    /* NULL pointer, invalid UTF-8, bad flag */
  WEFT_OUT_OF_RANGE = 2,        /* a position or length past the end */
  WEFT_CORRUPTION = 3,          /* untrusted bytes failed validation */
  WEFT_RESOURCE_EXHAUSTED = 4,  /* a limit was reached (e.g. Pending ops) */
  WEFT_NO_MEMORY = 5,           /* an allocation failed */
  WEFT_FAILED_PRECONDITION = 6, /* call not allowed now (see each function) */
  WEFT_INTERNAL = 7             /* a bug in weft */
} weft_status;

/* A static, lower-case name for `status` ("ok", "out of range", ...);
 * "unknown" for a value not listed above. Never NULL. */
WEFT_API const char* weft_strerror(weft_status status);

/* A NUL-terminated description of the most recent weft call made on this
 * thread: "" if it succeeded, else the reason it failed. Valid until the
 * next weft call on this thread. Never NULL. */
WEFT_API const char* weft_last_error(void);

/* Releases a buffer returned by any weft function. NULL is allowed. */
WEFT_API void weft_free(void* buffer);

/* ---- Documents --------------------------------------------------------- */

typedef struct weft_doc weft_doc;

/* Makes an empty replica whose local edits are made by `agent`, a 64-bit id
 * unique among all replicas that ever edit the document (pick it at random).
 * On success stores the new doc in *out; release it with weft_doc_free. */
WEFT_API weft_status weft_doc_new(uint64_t agent, weft_doc** out);

/* Releases `doc` and everything it owns. NULL is allowed. Must not be
 * called from the doc's own observer (such a call is ignored). */
WEFT_API void weft_doc_free(weft_doc* doc);

/* ---- Local edits -------------------------------------------------------
 * Local edits change the text at once. They do not call the change observer
 * (the editor made them itself) and they are recorded for undo. */

/* Inserts `len` bytes of UTF-8 at code point `pos` (0..length; length
 * appends). `utf8` may be NULL only when `len` is 0.
 * WEFT_INVALID_ARGUMENT for invalid UTF-8, WEFT_OUT_OF_RANGE for pos past
 * the end. */
WEFT_API weft_status weft_doc_insert(weft_doc* doc, uint64_t pos, const char* utf8, size_t len);

/* Deletes `count` code points starting at `pos`. WEFT_OUT_OF_RANGE if
 * pos + count is past the end. */
WEFT_API weft_status weft_doc_delete(weft_doc* doc, uint64_t pos, uint64_t count);

typedef enum weft_edit_kind { WEFT_EDIT_INSERT = 0, WEFT_EDIT_DELETE = 1 } weft_edit_kind;

/* One edit of a batch for weft_doc_edit: an insert at code point `pos` of
 * the next `len` bytes of the batch's text, or a delete of `len` code
 * points at `pos`. */
typedef struct weft_edit {
  uint32_t kind;     /* a weft_edit_kind */
  uint32_t reserved; /* 0 */
  uint64_t pos;
  uint64_t len;
} weft_edit;

/* Applies `edits[0..n)` in order, exactly as weft_doc_insert and
 * weft_doc_delete one by one would (the same ids, undo steps and bytes);
 * the inserts' texts lie back to back in `text[0..text_len)`. For bindings
 * that queue keystrokes and hand them over at once: typing and forward
 * deletes at one position are applied as one run each. Stops at the first
 * edit that fails (its error as weft_doc_insert/delete would give it, or
 * WEFT_INVALID_ARGUMENT for an unknown kind or text past `text_len`), the
 * edits before it applied; `*applied` (if not NULL) counts those. */
WEFT_API weft_status weft_doc_edit(weft_doc* doc, const weft_edit* edits, size_t n,
                                   const char* text, size_t text_len, size_t* applied);

/* ---- Reading ----------------------------------------------------------- */

/* The length of the text in code points. */
WEFT_API weft_status weft_doc_len(const weft_doc* doc, uint64_t* out);

/* The text as UTF-8: *out_buf gets a new NUL-terminated buffer (free it with
 * weft_free) and *out_len its length in bytes, not counting the NUL. */
WEFT_API weft_status weft_doc_text(const weft_doc* doc, char** out_buf, size_t* out_len);

/* The agent id the doc was made with. */
WEFT_API weft_status weft_doc_agent(const weft_doc* doc, uint64_t* out);

/* The number of remote edits waiting in Pending for edits they depend on. */
WEFT_API weft_status weft_doc_pending(const weft_doc* doc, uint64_t* out);

/* ---- Synchronising replicas --------------------------------------------
 * A version says which edits a replica has: for each agent, how many of its
 * edits (numbered 0, 1, 2, ... in code points) are known. Encoded as
 *
 *   version := count:varint entry{count}
 *   entry   := agent:varint next_seq:varint
 *
 * where varint is unsigned LEB128 (7 bits per byte, low bits first, high bit
 * set on every byte but the last, at most 10 bytes), entries are in strictly
 * increasing agent order and every next_seq is at least 1. The empty version
 * (a new doc) is the single byte 00. Example: agent 1 knowing 5 seqs and
 * agent 300 knowing 2 encode as 02 01 05 ac 02 02.
 *
 * To bring replica B up to date with A: B sends weft_doc_version(B) to A, A
 * answers weft_doc_encode_since(A, that version), B calls weft_doc_apply. */

/* The doc's version, encoded as above, in a new buffer (free with
 * weft_free). */
WEFT_API weft_status weft_doc_version(const weft_doc* doc, uint8_t** out_buf, size_t* out_len);

/* An Update holding every edit this doc has that a replica at `version`
 * lacks (edits still in Pending are not included). `version` is bytes from
 * weft_doc_version of any replica; NULL with version_len 0 means the empty
 * version, i.e. everything. WEFT_CORRUPTION if `version` is malformed.
 * The result is a new buffer (free with weft_free). */
WEFT_API weft_status weft_doc_encode_since(const weft_doc* doc, const uint8_t* version,
                                           size_t version_len, uint8_t** out_buf, size_t* out_len);

/* The part of weft_doc_encode_since(doc, since) that lies inside `until`:
 * the edits a replica at `since` lacks of those a replica at `until` has.
 * `until` must be a version some replica had (weft_doc_version bytes, from
 * any replica at any time): such a version names every edit its edits
 * depend on, so the result applies on its own once `since` is reached.
 * This is how a large Update is cut into pieces that each apply in order:
 * encode (v0, v1), (v1, v2), ... for versions v0 < v1 < v2 ... The result
 * holds nothing beyond what the doc has. NULL with length 0 means the empty
 * version for `since`; `until` is required. WEFT_CORRUPTION if either
 * version is malformed. The result is a new buffer (free with weft_free). */
WEFT_API weft_status weft_doc_encode_range(const weft_doc* doc, const uint8_t* since,
                                           size_t since_len, const uint8_t* until, size_t until_len,
                                           uint8_t** out_buf, size_t* out_len);

/* Applies an Update from weft_doc_encode_since of any replica. Idempotent
 * and order-independent: edits already known are skipped, edits whose
 * dependencies have not arrived wait in Pending. Calls the change observer
 * for every visible change, before returning. Malformed, truncated or
 * hostile bytes give WEFT_CORRUPTION, too many Pending edits give
 * WEFT_RESOURCE_EXHAUSTED; either way the doc is unchanged. */
WEFT_API weft_status weft_doc_apply(weft_doc* doc, const uint8_t* update, size_t len);

/* ---- Snapshots --------------------------------------------------------- */

/* The whole replica (text, history and ids; not Pending) in a new buffer
 * (free with weft_free), for weft_doc_load. */
WEFT_API weft_status weft_doc_snapshot(const weft_doc* doc, uint8_t** out_buf, size_t* out_len);

/* A new replica for `agent` loaded from weft_doc_snapshot bytes; it can
 * merge and serve weft_doc_encode_since like the original. Release it with
 * weft_doc_free. WEFT_CORRUPTION for bad bytes. Undo history is not part of
 * a snapshot. To continue editing as the saved replica, pass its agent, but
 * only once that replica is no longer used: two live replicas with one
 * agent would number different edits alike. */
WEFT_API weft_status weft_doc_load(uint64_t agent, const uint8_t* snapshot, size_t len,
                                   weft_doc** out);

/* ---- Change observer ---------------------------------------------------
 * A delta tells an editor how to change its own copy of the text. It walks
 * the text from its start: keep `count` code points, insert `text`, or
 * delete `count` code points; what it does not mention stays as it is. */

typedef enum weft_step_kind {
  WEFT_STEP_RETAIN = 0,
  WEFT_STEP_INSERT = 1,
  WEFT_STEP_DELETE = 2
} weft_step_kind;

typedef struct weft_delta_step {
  uint32_t kind;     /* a weft_step_kind */
  uint32_t reserved; /* 0 */
  uint64_t count;    /* code points retained, inserted or deleted */
  const char* text;  /* WEFT_STEP_INSERT: `text_len` bytes of UTF-8 (not
                        NUL-terminated); NULL otherwise */
  size_t text_len;
} weft_delta_step;

/* Called with one delta (`steps[0..n_steps)`). `steps` and the text it
 * points to are valid only during the call. */
typedef void (*weft_observer_fn)(void* user_data, const weft_delta_step* steps, size_t n_steps);

/* Sets the doc's change observer (NULL `fn` removes it). It is called on the
 * calling thread, during weft_doc_apply (once per visible change made by a
 * remote edit, including edits released from Pending) and during
 * weft_doc_undo / weft_doc_redo (one delta from the text before to the text
 * after), in order. Applied in the order delivered, the deltas turn the old
 * text into the new one. Local inserts and deletes do not call it.
 * The observer must not call any weft_doc_* function on the same doc; such
 * calls fail with WEFT_FAILED_PRECONDITION. `user_data` is passed through. */
WEFT_API weft_status weft_doc_set_observer(weft_doc* doc, weft_observer_fn fn, void* user_data);

/* ---- Anchors -----------------------------------------------------------
 * An anchor is a cursor position that follows its character across local
 * and remote edits. It is a plain value: copy it, store it, no need to free.
 * An anchor made on one replica resolves on any replica that has the
 * character it is tied to. */

typedef enum weft_bias {
  /* Tied to the character before the position: text inserted exactly there
   * lands after the anchor (it stays put, like the end of a selection). */
  WEFT_BIAS_LEFT = 0,
  /* Tied to the character after the position: text inserted exactly there
   * lands before the anchor (it moves right, like a typing caret). */
  WEFT_BIAS_RIGHT = 1
} weft_bias;

typedef struct weft_anchor {
  uint64_t agent; /* id of the character tied to (when has_id) */
  uint64_t seq;
  uint32_t has_id; /* 0: the document start (left bias) or end (right) */
  uint32_t bias;   /* a weft_bias */
} weft_anchor;

/* An anchor at code point `pos` (0..length) with `bias` (a weft_bias).
 * WEFT_OUT_OF_RANGE past the end, WEFT_INVALID_ARGUMENT for a bias not
 * listed above. */
WEFT_API weft_status weft_doc_anchor(const weft_doc* doc, uint64_t pos, uint32_t bias,
                                     weft_anchor* out);

/* The anchor's current position (0..length). If its character was deleted,
 * the position where it was. An anchor naming a character this replica does
 * not have resolves to 0 (left bias) or the length (right bias).
 * WEFT_INVALID_ARGUMENT for a bias not listed above. */
WEFT_API weft_status weft_doc_resolve(const weft_doc* doc, const weft_anchor* anchor,
                                      uint64_t* out);

/* ---- Undo and redo -----------------------------------------------------
 * Undo reverts this replica's own local edits, newest first: undoing an
 * insert deletes what is still visible of it, undoing a delete inserts the
 * deleted text again where it was. Both make new edits (sent to other
 * replicas by weft_doc_encode_since like any local edit), so they compose
 * with concurrent remote edits. A new local edit clears the redo history.
 * Both call the change observer with the visible change they made. Doing
 * nothing when there is nothing to undo or redo is not an error. */

WEFT_API weft_status weft_doc_undo(weft_doc* doc);
WEFT_API weft_status weft_doc_redo(weft_doc* doc);
/* *out = 1 if there is something to undo (redo), else 0. */
WEFT_API weft_status weft_doc_can_undo(const weft_doc* doc, int32_t* out);
WEFT_API weft_status weft_doc_can_redo(const weft_doc* doc, int32_t* out);

/* ---- UTF-16 offsets ----------------------------------------------------
 * Conversions between code point positions and UTF-16 code unit offsets of
 * the same text: a character outside the Basic Multilingual Plane (an emoji,
 * say) is 1 code point and 2 UTF-16 code units. The doc versions read the
 * doc's text, so they cost time linear in its length. */

/* The UTF-16 offset of code point position `pos` (0..length) of the text.
 * WEFT_OUT_OF_RANGE past the end. */
WEFT_API weft_status weft_doc_utf16_from_pos(const weft_doc* doc, uint64_t pos, uint64_t* out);

/* The code point position of UTF-16 offset `utf16` of the text.
 * WEFT_OUT_OF_RANGE past the end, WEFT_INVALID_ARGUMENT if the offset falls
 * between the two halves of a surrogate pair. */
WEFT_API weft_status weft_doc_pos_from_utf16(const weft_doc* doc, uint64_t utf16, uint64_t* out);

/* The same over any UTF-8 string (`len` bytes; NULL only when len is 0),
 * e.g. the text of an insert step. WEFT_INVALID_ARGUMENT for invalid UTF-8. */
WEFT_API weft_status weft_utf8_utf16_from_pos(const char* utf8, size_t len, uint64_t pos,
                                              uint64_t* out);
WEFT_API weft_status weft_utf8_pos_from_utf16(const char* utf8, size_t len, uint64_t utf16,
                                              uint64_t* out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* WEFT_H_ */
