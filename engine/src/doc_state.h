// DocState: everything a Doc holds, and the operations on it. doc_state.cc
// holds agents, the op log and local edits; integrate.cc remote ops;
// update_codec.cc / snapshot_codec.cc the byte formats; undo.cc undo/redo;
// doc.cc the public Doc forwarding to all of these.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent_map.h"
#include "chunked_vector.h"
#include "item_tree.h"
#include "weft/engine/change.h"
#include "weft/engine/doc.h"
#include "weft/engine/op.h"
#include "weft/engine/version_vector.h"
#include "weft/status.h"

namespace weft::engine::detail {

// Internally seqs are 32-bit: a replica refuses ops past this seq.
inline constexpr uint64_t kMaxSeq = UINT32_MAX - 1;
// The most seqs (summed over agents) a Doc accepts for a document holding
// `chars` characters, tombstones included: each character is deleted at most
// a few times even concurrently, so real histories stay far below this,
// while a hostile peer cannot make a replica allocate per-seq state without
// bound.
inline uint64_t SeqBound(uint64_t chars) {
  return std::min<uint64_t>(kMaxSeq, 16 * chars + (1u << 24));
}
// All text ever inserted (the arena) stays below 2 GiB so Item offsets fit.
inline constexpr uint64_t kMaxArena = INT32_MAX;

enum class RunKind : uint8_t { kInsert = 0, kDeleteForward = 1, kDeleteBackward = 2 };

// One run of the op log: `len` consecutive seqs of `agent`, all inserts or
// all deletes. For deletes, `target` is the first id deleted; the run deletes
// target.seq, target.seq + 1, ... (forward) or target.seq, target.seq - 1, ...
// (backward). Insert runs keep no text or origins: the Items have them.
struct LogRun {
  uint32_t agent = 0;
  uint32_t seq = 0;
  uint32_t len = 0;
  RunKind kind = RunKind::kInsert;
  Ref target;

  // Lowest target seq of a delete run.
  uint32_t TargetLow() const {
    return kind == RunKind::kDeleteBackward ? target.seq - (len - 1) : target.seq;
  }
};

// An op as decoded or as borrowed from an Op: text is a view into the caller's
// buffer, agents are global ids. A whole update's ops are held at once while
// it is applied, so the origins are ids beside flags (96 bytes) rather than
// two std::optional (120).
struct RawOp {
  Op::Kind kind = Op::Kind::kInsert;
  bool backward = false;
  bool has_left = false;   // left_id is an origin; none means the document start
  bool has_right = false;  // right_id is an origin; none means the document end
  uint64_t agent = 0;
  uint64_t seq = 0;
  uint64_t len = 0;
  OpId left_id, right_id;
  std::string_view text;
  OpId target;

  std::optional<OpId> left() const { return has_left ? std::optional(left_id) : std::nullopt; }
  std::optional<OpId> right() const { return has_right ? std::optional(right_id) : std::nullopt; }
  void SetOrigins(std::optional<OpId> left, std::optional<OpId> right) {
    has_left = left.has_value();
    left_id = left.value_or(OpId{});
    has_right = right.has_value();
    right_id = right.value_or(OpId{});
  }
};
static_assert(sizeof(void*) != 8 || sizeof(RawOp) == 96, "keep RawOp packed");

// Whether the inserts of a batch are known to carry valid UTF-8 of exactly
// their length (a decoder that cut them so: kChecked) or must be counted.
enum class BatchText { kUnchecked, kChecked };

// What a batch's ready ops add: text bytes, characters, seqs (every op's
// whole length, a known prefix included).
struct BatchTotals {
  uint64_t bytes = 0;
  uint64_t chars = 0;
  uint64_t seqs = 0;
};

// An Op seen as a RawOp (viewing op.text) and back (copying the text).
RawOp ViewOf(const Op& op);
Op OwnedOp(const RawOp& raw);

// One undo step: the local seqs [seq, seq + len) of one edit. An insert step
// is undone by deleting those characters, a delete step by inserting the
// text it deleted again.
struct UndoStep {
  bool insert = true;
  uint32_t seq = 0;
  uint32_t len = 0;
};

// Undoing a delete brings the text back as new characters of the local
// agent. Each such run records which of the local agent's own characters
// it stands for, so that undoing the insert that first made them removes
// the copies too (an editor's undo history refers to text, not ids).
struct UndoReplacement {
  uint32_t original_seq = 0;  // first replaced character (local agent)
  uint32_t len = 0;
  uint32_t copy_seq = 0;  // first character of the copy (local agent)
};

class DocState {
 public:
  DocState(uint64_t agent, DocOptions options);

  // ---- agents ----
  uint32_t AgentIndex(uint64_t agent);  // adds an unknown agent
  std::optional<uint32_t> FindAgent(uint64_t agent) const {
    // Ops come in runs by one agent: most lookups repeat the last one
    // (inline: merges make several per op).
    if (last_agent_index_ < agent_ids_.size() && agent_ids_[last_agent_index_] == agent) {
      return last_agent_index_;
    }
    return FindAgentInMap(agent);
  }
  std::optional<uint32_t> FindAgentInMap(uint64_t agent) const;
  uint64_t NextSeq(uint64_t agent) const;  // by global id

  // ---- local edits ----
  Status LocalInsert(uint64_t pos, std::string_view utf8, Ops* out, bool record_undo);
  Status LocalRemove(uint64_t pos, uint64_t len, Ops* out, bool record_undo);
  // LocalInsert of text whose `chars` code points the caller counted.
  Status LocalInsertCounted(uint64_t pos, std::string_view utf8, uint64_t chars, Ops* out,
                            bool record_undo);
  Status LocalEdits(std::span<const LocalEdit> edits, std::string_view text, size_t* applied);
  // Inserts a local run at insertion point `at`, whose preceding character
  // (tombstones included) is `left`. REQUIRES: checks done by the caller.
  void InsertAt(Loc at, Ref left, std::string_view utf8, uint32_t len, Ops* out);
  // Deletes whatever is still visible of the local ids [seq, seq + len).
  void LocalDeleteIds(uint32_t agent, uint32_t seq, uint32_t len, Ops* out);
  // Logs a local delete of the Item at `loc` (just marked) and reports it.
  void LogLocalDelete(Loc loc, Ops* out);

  // ---- remote ops (integrate.cc) ----
  Status ApplyBatch(std::span<const RawOp> batch, BatchText text = BatchText::kUnchecked);

  // ---- the log ----
  void AppendLog(const LogRun& run);
  // True when every seq in [lo, hi] of `agent` is a known inserted character.
  bool IsInsertRange(uint32_t agent, uint32_t lo, uint32_t hi) const;
  // Index into log_ of the first run of `agent` containing a seq >= seq, or
  // runs_of_[agent].size() if none.
  size_t FirstRunFrom(uint32_t agent, uint32_t seq) const;

  // ---- codecs ----
  // `compress` false: uncompressed whatever options_.compress says.
  std::string EncodeOpsSince(const VersionVector& since, const VersionVector* until,
                             bool compress) const;
  std::string EncodeSnapshot() const;
  // Loads EncodeSnapshot bytes (untrusted) into this empty DocState.
  Status LoadSnapshot(std::string_view bytes);

  // ---- undo (undo.cc) ----
  Result<Ops> UndoRedo(bool undo);
  void PushUndo(UndoStep step);

  Status CheckInvariants() const;
  size_t HeapBytes() const;

  Ref ToRef(const OpId& id) const {  // REQUIRES: agent known
    return Ref{*FindAgent(id.agent), static_cast<uint32_t>(id.seq)};
  }
  OpId ToId(Ref ref) const { return OpId{agent_ids_[ref.agent], ref.seq}; }
  std::optional<OpId> ToOptId(Ref ref) const {
    if (ref.none()) return std::nullopt;
    return ToId(ref);
  }
  // Emits a change event (if a listener is set).
  void EmitInsert(uint64_t pos, std::string_view text, uint64_t len);
  void EmitDelete(uint64_t pos, uint64_t len);

  uint64_t agent_;
  uint32_t local_;
  DocOptions options_;
  std::vector<uint64_t> agent_ids_;
  AgentMap agent_index_;
  // The local index FindAgent found last (a hint, checked before use).
  mutable uint32_t last_agent_index_ = 0;
  // The Item Integrate placed or deleted last: the next remote op's
  // origins and targets are usually in it or beside it (a hint, checked
  // before use; see ItemTree::FindIdNear).
  Loc hint_;
  std::vector<uint32_t> next_seq_;   // per local agent
  ChunkedVector<LogRun, 1024> log_;  // causal order
  // The seqs log_ covers, all agents together (the sum of next_seq_): a
  // batch's bounds start from it, and a document with many authors must
  // not sum every agent for each batch it applies.
  uint64_t logged_seqs_ = 0;
  std::vector<std::vector<uint32_t>> runs_of_;  // per agent: indices into log_
  ItemTree tree_;
  std::vector<Op> pending_;
  std::function<void(const Delta&)> listener_;
  std::deque<UndoStep> undo_, redo_;
  std::vector<UndoReplacement> replacements_;

 private:
  // Places a remote insert run among concurrent ones (FugueMax) and inserts it.
  void IntegrateInsert(uint32_t agent, uint32_t seq, uint32_t len, std::string_view text, Ref left,
                       Ref right);
  // Marks deleted the ids of a delete run.
  void IntegrateDelete(uint32_t agent, uint32_t seq, uint32_t len, Ref target, bool backward);
  void CommitOp(const RawOp& op);
  // Commits ops all[order[0..k)] into this empty Doc while their history
  // is linear (linear_merge.cc); returns k.
  size_t CommitLinear(std::span<const RawOp> all, const std::vector<size_t>& order);
  // The limits a batch must stay within (text, seqs, Pending), given what
  // the ops PlanBatch found ready add (`ready`) and which wait (`state` 0).
  // `known_seqs`: the seqs this Doc holds, all agents together.
  Status CheckBatchBounds(std::span<const RawOp> all, uint64_t known_seqs, const BatchTotals& ready,
                          const std::vector<uint8_t>& state) const;

 public:
  // The scan and placement of IntegrateInsert: `cur` is the insertion point
  // right after L (its Item split if need be). Returns where the run is.
  Loc IntegrateAt(Loc cur, uint32_t agent, uint32_t seq, uint32_t len, std::string_view text,
                  Ref left, Ref right);
  // Inserts an Item for a new run at insertion point `at`, or extends the
  // Item before `at` when the run continues it.
  // Returns where the run's characters are now.
  Loc PlaceRun(Loc at, uint32_t agent, uint32_t seq, uint32_t len, std::string_view text, Ref left,
               Ref right);
  // Deletes the characters [lo, hi] of `agent` that are still visible;
  // calls `on_deleted(loc)` for each Item newly marked (after the mark, before
  // it is joined with neighbouring tombstones).
  template <typename F>
  void DeleteIdRange(uint32_t agent, uint32_t lo, uint32_t hi, F&& on_deleted);
};

template <typename F>
void DocState::DeleteIdRange(uint32_t agent, uint32_t lo, uint32_t hi, F&& on_deleted) {
  uint64_t s = lo;
  while (s <= hi) {
    ItemTree::Found f = tree_.FindIdNear(agent, static_cast<uint32_t>(s), hint_);
    Loc loc = f.loc;
    const Item& it = tree_.at(loc);
    uint64_t item_end = uint64_t{it.seq} + it.len - 1;
    if (it.deleted) {
      s = item_end + 1;
      continue;
    }
    if (f.offset > 0) loc = tree_.SplitItem(loc, f.offset);
    if (tree_.at(loc).seq + uint64_t{tree_.at(loc).len} - 1 > hi) {
      Loc second = tree_.SplitItem(loc, static_cast<uint32_t>(hi - tree_.at(loc).seq + 1));
      loc = Loc{second.leaf, second.idx - 1};
    }
    const Item& cut = tree_.at(loc);
    s = uint64_t{cut.seq} + cut.len;
    tree_.MarkDeleted(loc);
    on_deleted(loc);
    tree_.JoinTombstones(loc);
    // Joined into the Item before, or still here: the next ids are usually
    // in the Items that follow.
    hint_ = Loc{loc.leaf, loc.idx > 0 ? loc.idx - 1 : 0};
  }
}

}  // namespace weft::engine::detail
