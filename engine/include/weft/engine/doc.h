// Doc: one replica of a text document, a FugueMax sequence CRDT.
//
// Vocabulary (engine/README.md defines it): every character has an OpId
// (agent, seq); an Item is a run of characters with consecutive ids; an
// insert Op carries a run plus its Origins (the characters it was typed
// between); a delete Op names id ranges. Integrate places a remote insert
// among concurrent ones so that runs typed concurrently at one place never
// interleave. Ops whose dependencies have not arrived wait in Pending.
//
// Positions and lengths are Unicode code points over UTF-8 text.
//
// Threading: a Doc is a plain value-like object; use it from one thread at a
// time. A moved-from Doc may only be assigned to or destroyed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "weft/engine/anchor.h"
#include "weft/engine/change.h"
#include "weft/engine/op.h"
#include "weft/engine/version_vector.h"
#include "weft/status.h"

namespace weft::engine {

namespace detail {
class DocState;
}
class HistoryImporter;

struct DocOptions {
  // Most ops (runs) that may wait in Pending for missing dependencies. An
  // Apply that would exceed it fails with kResourceExhausted and changes
  // nothing.
  size_t max_pending_ops = 100'000;
  // Most bytes of inserted text those ops may hold, with the same rule.
  size_t max_pending_bytes = size_t{64} << 20;
  // Largest Update or Snapshot accepted, counted as decoded (its text plus
  // 16 bytes per run of ops; engine/FORMAT.md, "Limits").
  size_t max_decoded_bytes = size_t{1} << 30;
  // Compress encoded Updates (entropy-coded ops, compressed text) where
  // that is smaller. Off, they are faster to write and read but larger.
  // Snapshots are laid out for loading fast and are not compressed.
  bool compress = true;
  // Most local edits remembered for Undo (oldest dropped first); 0 turns
  // undo history off. Each costs 12 bytes.
  size_t undo_limit = 1000;
};

// One edit of a batch for Doc::ApplyLocal: an insert at `pos` of the next
// `len` bytes of the batch's text, or a delete of `len` characters at `pos`.
struct LocalEdit {
  enum class Kind : uint8_t { kInsert, kDelete };
  Kind kind = Kind::kInsert;
  uint64_t pos = 0;
  uint64_t len = 0;
};

class Doc {
 public:
  // An empty replica whose local edits are made by `agent` (a 64-bit id,
  // unique among all replicas that ever edit this document).
  explicit Doc(uint64_t agent, DocOptions options = {});
  ~Doc();
  Doc(Doc&&) noexcept;
  Doc& operator=(Doc&&) noexcept;
  Doc(const Doc&) = delete;
  Doc& operator=(const Doc&) = delete;

  uint64_t agent() const;

  // ---- Local edits -------------------------------------------------------
  // Inserts `utf8` before the character at `pos` (pos == size() appends).
  // Returns the ops made (one insert op; none for empty text). Errors, with
  // the Doc unchanged: kInvalidArgument for invalid UTF-8, kOutOfRange for
  // pos > size().
  Result<Ops> Insert(uint64_t pos, std::string_view utf8);
  // Deletes `len` characters starting at `pos`. Returns one delete op per run
  // of consecutive ids removed. kOutOfRange (Doc unchanged) if
  // pos + len > size().
  Result<Ops> Remove(uint64_t pos, uint64_t len);
  // The same, appending the ops made to `*out` (if not null) instead of
  // returning them: no allocation per edit when the caller keeps no ops.
  Status Insert(uint64_t pos, std::string_view utf8, Ops* out);
  Status Remove(uint64_t pos, uint64_t len, Ops* out);
  // Applies `edits` in order, as Insert and Remove one by one would: the
  // same characters, ids, undo steps and encodings. The inserts' texts lie
  // back to back in `text`. A binding that queues keystrokes between reads
  // hands them over here: typing (each insert where the last one ended)
  // and forward deletes at one position go into the tree as one run, so
  // the queue costs per run, not per keystroke. Stops at the first edit
  // that fails, with its error and the edits before it applied; `*applied`
  // (if not null) counts those.
  Status ApplyLocal(std::span<const LocalEdit> edits, std::string_view text,
                    size_t* applied = nullptr);

  // ---- Reading -----------------------------------------------------------
  std::string Text() const;
  uint64_t size() const;  // visible code points
  VersionVector version() const;
  // version()'s entries for `agents` only: what a writer sending its own
  // edits needs, at the cost of those agents, not of every author the
  // document has had.
  VersionVector version(std::span<const uint64_t> agents) const;
  // version().Get(agent) without building the vector.
  uint64_t known_seqs(uint64_t agent) const;
  size_t pending_ops() const;  // ops waiting for dependencies

  // ---- Remote ops ----------------------------------------------------------
  // Applies ops made by other replicas (or this one: duplicates are
  // ignored). Idempotent and order-independent: ops whose dependencies are
  // missing wait in Pending and are applied when they arrive. Validates the
  // whole batch first: on any error nothing changes.
  Status Apply(std::span<const Op> ops);
  // The ops this replica has that a replica at `since` lacks, encoded as an
  // Update (engine/FORMAT.md). Pending ops are not included. The bytes are
  // the same on every platform the engine builds for.
  // With `until`, only ops inside that version are included, and only the
  // agents it names are looked at: a writer sending its own edits names its
  // own agents in both versions and pays for them, not for every author
  // the document has had. An `until` some replica had (causally closed)
  // gives an update that applies at `since` on its own; one naming only
  // some agents gives their ops, whose dependencies wait in the receiver's
  // Pending until it has them.
  std::string EncodeOpsSince(const VersionVector& since,
                             const VersionVector* until = nullptr) const;
  // The same, written uncompressed when `compress` is false, whatever
  // DocOptions::compress says: cheaper to write and to decode, for a caller
  // that only sizes or splits what a replica lacks.
  std::string EncodeOpsSince(const VersionVector& since, const VersionVector* until,
                             bool compress) const;
  // Decodes and applies bytes from EncodeOpsSince. Malformed, truncated or
  // hostile bytes give kCorruption (or kResourceExhausted for Pending
  // overflow) and leave the Doc unchanged.
  Status ApplyUpdate(std::span<const std::byte> bytes);
  Status ApplyUpdate(std::string_view bytes);
  // Decodes an Update into ops without applying it.
  static Result<Ops> DecodeUpdate(std::span<const std::byte> bytes,
                                  size_t max_decoded_bytes = size_t{1} << 30);
  static Result<Ops> DecodeUpdate(std::string_view bytes,
                                  size_t max_decoded_bytes = size_t{1} << 30);

  // ---- Snapshots -----------------------------------------------------------
  // The whole replica: text, ids, tombstones and op log order, so the loaded
  // replica can merge and serve EncodeOpsSince like this one. Pending ops
  // are not included.
  std::string EncodeSnapshot() const;
  // A replica for `agent` loaded from EncodeSnapshot bytes; kCorruption for
  // bad bytes.
  static Result<Doc> LoadSnapshot(std::span<const std::byte> bytes, uint64_t agent,
                                  DocOptions options = {});
  static Result<Doc> LoadSnapshot(std::string_view bytes, uint64_t agent, DocOptions options = {});

  // ---- Editor support ------------------------------------------------------
  // Called once per visible change made by Apply/ApplyUpdate (remote ops and
  // ops released from Pending), in order, during the call. Local edits do
  // not call it. Pass an empty function to stop.
  void SetChangeListener(std::function<void(const Delta&)> listener);

  // An anchor at `pos` (0..size()), REQUIRES pos <= size() (clamped).
  Anchor AnchorAt(uint64_t pos, Bias bias) const;
  // The anchor's current position in 0..size(). An anchor naming a character
  // this replica does not have resolves to 0 (kLeft) or size() (kRight).
  uint64_t Resolve(const Anchor& anchor) const;

  // Undo/redo of this replica's own local edits (made by agent()), newest
  // first. Undo of an insert deletes what is still visible of it; undo of a
  // delete inserts the deleted text again where it was. Both produce new
  // ops (returned, to send like any local edit), so they compose with
  // concurrent remote edits. Empty Ops when there is nothing to undo/redo.
  // A new local edit clears the redo stack.
  Result<Ops> Undo();
  Result<Ops> Redo();
  bool CanUndo() const;
  bool CanRedo() const;

  // ---- Diagnostics ---------------------------------------------------------
  // Bytes of heap held by the replica (engine accounting of its containers).
  size_t HeapBytes() const;
  // Checks every Invariant of the item tree and indexes; OK or kInternal.
  Status CheckInvariants() const;

 private:
  friend class HistoryImporter;  // tracks the Doc's own items while importing
  explicit Doc(std::unique_ptr<detail::DocState> state);
  std::unique_ptr<detail::DocState> state_;
};

}  // namespace weft::engine
