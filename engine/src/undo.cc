// Undo/redo of the local agent's own edits. Every step is inverted by making
// new ops, never by rewinding state, so it composes with concurrent remote
// edits: undoing an insert deletes what is left of it, undoing a delete
// inserts the deleted text again at the place of its first character.
#include <algorithm>
#include <string>
#include <vector>

#include "doc_state.h"
#include "utf8.h"

namespace weft::engine::detail {

void DocState::PushUndo(UndoStep step) {
  if (options_.undo_limit == 0) return;
  undo_.push_back(step);
  if (undo_.size() > options_.undo_limit) undo_.pop_front();
  redo_.clear();
}

Result<Ops> DocState::UndoRedo(bool undo) {
  std::deque<UndoStep>& from = undo ? undo_ : redo_;
  std::deque<UndoStep>& to = undo ? redo_ : undo_;
  Ops out;
  if (from.empty()) return out;
  UndoStep step = from.back();
  uint32_t before = next_seq_[local_];
  if (step.insert) {
    // The step's characters, and every copy that undoing a delete of them
    // brought back since (copies of copies too).
    std::vector<std::pair<uint32_t, uint32_t>> work = {{step.seq, step.len}};
    for (size_t w = 0; w < work.size(); ++w) {
      auto [seq, len] = work[w];
      if (len > 0) LocalDeleteIds(local_, seq, len, &out);
      for (const UndoReplacement& r : replacements_) {
        uint32_t lo = std::max(seq, r.original_seq);
        uint32_t hi = std::min(seq + len, r.original_seq + r.len);
        if (lo < hi) work.emplace_back(r.copy_seq + (lo - r.original_seq), hi - lo);
      }
    }
    from.pop_back();
    to.push_back(UndoStep{false, before, next_seq_[local_] - before});
    return out;
  }
  // The characters the step deleted, as id ranges, in document order.
  struct Range {
    uint64_t pos;
    Ref first;
    uint32_t len;
  };
  std::vector<Range> ranges;
  uint32_t end = step.seq + step.len;
  for (size_t k = FirstRunFrom(local_, step.seq); k < runs_of_[local_].size(); ++k) {
    const LogRun& r = log_[runs_of_[local_][k]];
    if (r.seq >= end) break;
    uint32_t a = std::max(r.seq, step.seq) - r.seq;
    uint32_t b = std::min(r.seq + r.len, end) - r.seq;
    for (uint32_t off = a; off < b;) {
      // Forward runs give one range per Item; backward ones one per character.
      uint32_t s = r.kind == RunKind::kDeleteBackward ? r.target.seq - off : r.target.seq + off;
      ItemTree::Found f = tree_.FindId(r.target.agent, s);
      const Item& it = tree_.at(f.loc);
      uint32_t take = r.kind == RunKind::kDeleteBackward ? 1 : std::min(b - off, it.len - f.offset);
      ranges.push_back(Range{tree_.AllBefore(f.loc) + f.offset, Ref{r.target.agent, s}, take});
      off += take;
    }
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& x, const Range& y) { return x.pos < y.pos; });
  std::string text;
  for (const Range& rg : ranges) {
    for (uint32_t s = rg.first.seq; s < rg.first.seq + rg.len;) {
      ItemTree::Found f = tree_.FindId(rg.first.agent, s);
      const Item& it = tree_.at(f.loc);
      uint32_t take = std::min(rg.first.seq + rg.len - s, it.len - f.offset);
      std::string_view bytes = tree_.Bytes(it);
      size_t b0 = Utf8OffsetNear(bytes, it.len, f.offset);
      size_t b1 = b0 + Utf8OffsetNear(bytes.substr(b0), it.len - f.offset, take);
      text.append(bytes.substr(b0, b1 - b0));
      s += take;
    }
  }
  if (!ranges.empty()) {
    // Right before the first deleted character, tombstones included, so the
    // text comes back exactly where it was even if nearby text moved.
    if (next_seq_[local_] + uint64_t{step.len} > kMaxSeq) {
      return Status::ResourceExhausted("agent seq space exhausted");
    }
    ItemTree::Found f = tree_.FindId(ranges.front().first.agent, ranges.front().first.seq);
    Loc at = f.offset > 0 ? tree_.SplitItem(f.loc, f.offset) : f.loc;
    Loc prev = tree_.Prev(at);
    Ref left;
    if (prev.leaf != kNone) {
      const Item& p = tree_.at(prev);
      left = Ref{p.agent, p.seq + p.len - 1};
    }
    uint32_t copy = next_seq_[local_];
    InsertAt(at, left, text, step.len, &out);
    for (const Range& rg : ranges) {
      if (rg.first.agent == local_) {
        replacements_.push_back(UndoReplacement{rg.first.seq, rg.len, copy});
      }
      copy += rg.len;
    }
  }
  from.pop_back();
  to.push_back(UndoStep{true, before, next_seq_[local_] - before});
  return out;
}

}  // namespace weft::engine::detail
