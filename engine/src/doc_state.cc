#include "doc_state.h"

#include <algorithm>
#include <cassert>
#include <string>

#include "utf8.h"

namespace weft::engine::detail {

DocState::DocState(uint64_t agent, DocOptions options) : agent_(agent), options_(options) {
  local_ = AgentIndex(agent);
}

uint32_t DocState::AgentIndex(uint64_t agent) {
  if (std::optional<uint32_t> a = FindAgent(agent)) return *a;
  uint32_t index = static_cast<uint32_t>(agent_ids_.size());
  agent_index_.Add(agent, index);
  agent_ids_.push_back(agent);
  next_seq_.push_back(0);
  runs_of_.emplace_back();
  tree_.AddAgent();
  return index;
}

std::optional<uint32_t> DocState::FindAgentInMap(uint64_t agent) const {
  std::optional<uint32_t> a = agent_index_.Find(agent);
  if (a) last_agent_index_ = *a;
  return a;
}

uint64_t DocState::NextSeq(uint64_t agent) const {
  std::optional<uint32_t> a = FindAgent(agent);
  return a ? next_seq_[*a] : 0;
}

void DocState::AppendLog(const LogRun& run) {
  logged_seqs_ += run.len;
  if (!log_.empty()) {
    LogRun& last = log_.back();
    if (last.agent == run.agent && last.seq + last.len == run.seq) {
      if (last.kind == RunKind::kInsert && run.kind == RunKind::kInsert) {
        last.len += run.len;
        return;
      }
      bool last_del = last.kind != RunKind::kInsert;
      bool run_del = run.kind != RunKind::kInsert;
      if (last_del && run_del && last.target.agent == run.target.agent) {
        // Delete key: targets go up. Backspace: each target is one below the last.
        bool last_fwd = last.kind == RunKind::kDeleteForward || last.len == 1;
        bool run_fwd = run.kind == RunKind::kDeleteForward || run.len == 1;
        if (last_fwd && run_fwd && run.target.seq == uint64_t{last.target.seq} + last.len) {
          last.len += run.len;
          last.kind = RunKind::kDeleteForward;
          return;
        }
        bool last_back = last.kind == RunKind::kDeleteBackward || last.len == 1;
        bool run_back = run.kind == RunKind::kDeleteBackward || run.len == 1;
        if (last_back && run_back && uint64_t{run.target.seq} + last.len == last.target.seq) {
          last.len += run.len;
          last.kind = RunKind::kDeleteBackward;
          return;
        }
      }
    }
  }
  runs_of_[run.agent].push_back(static_cast<uint32_t>(log_.size()));
  log_.push_back(run);
}

size_t DocState::FirstRunFrom(uint32_t agent, uint32_t seq) const {
  const std::vector<uint32_t>& runs = runs_of_[agent];
  auto it = std::partition_point(runs.begin(), runs.end(), [&](uint32_t i) {
    return uint64_t{log_[i].seq} + log_[i].len <= seq;
  });
  return static_cast<size_t>(it - runs.begin());
}

bool DocState::IsInsertRange(uint32_t agent, uint32_t lo, uint32_t hi) const {
  if (hi >= next_seq_[agent]) return false;
  // One character (an origin, mostly): the id index and its leaf answer
  // without a search through the log.
  if (lo == hi) return tree_.Holds(agent, lo);
  const std::vector<uint32_t>& runs = runs_of_[agent];
  for (size_t k = FirstRunFrom(agent, lo); k < runs.size(); ++k) {
    const LogRun& r = log_[runs[k]];
    if (r.kind != RunKind::kInsert) return false;
    if (uint64_t{r.seq} + r.len > hi) return true;
  }
  return false;
}

void DocState::EmitInsert(uint64_t pos, std::string_view text, uint64_t len) {
  Delta d;
  if (pos > 0) d.push_back(DeltaStep{DeltaStep::Kind::kRetain, pos, {}});
  d.push_back(DeltaStep{DeltaStep::Kind::kInsert, len, std::string(text)});
  listener_(d);
}

void DocState::EmitDelete(uint64_t pos, uint64_t len) {
  Delta d;
  if (pos > 0) d.push_back(DeltaStep{DeltaStep::Kind::kRetain, pos, {}});
  d.push_back(DeltaStep{DeltaStep::Kind::kDelete, len, {}});
  listener_(d);
}

Loc DocState::PlaceRun(Loc at, uint32_t agent, uint32_t seq, uint32_t len, std::string_view text,
                       Ref left, Ref right) {
  tree_.ReserveSeqs(agent, uint64_t{seq} + len);
  Loc prev = tree_.Prev(at);
  if (prev.leaf != kNone) {
    const Item& p = tree_.at(prev);
    // Typing on: the run continues the Item before it, so it joins that Item
    // instead of adding one (the common case for sequential typing).
    if (tree_.TypesOn(p, agent, seq, left, right)) {
      tree_.Append(text);
      tree_.Extend(prev, len, static_cast<uint32_t>(text.size()));
      return prev;
    }
  }
  return tree_.Insert(at, tree_.NewItem(agent, seq, len, text, left, right));
}

Status DocState::LocalInsert(uint64_t pos, std::string_view utf8, Ops* out, bool record_undo) {
  std::optional<uint64_t> n = CountUtf8(utf8);
  if (!n) return Status::InvalidArgument("insert text is not valid UTF-8");
  return LocalInsertCounted(pos, utf8, *n, out, record_undo);
}

Status DocState::LocalInsertCounted(uint64_t pos, std::string_view utf8, uint64_t chars, Ops* out,
                                    bool record_undo) {
  if (pos > tree_.visible()) return Status::OutOfRange("insert position past the end");
  if (chars == 0) return Status::Ok();
  uint32_t seq = next_seq_[local_];
  if (seq + chars > kMaxSeq) return Status::ResourceExhausted("agent seq space exhausted");
  if (tree_.arena_size() + utf8.size() > kMaxArena) {
    return Status::ResourceExhausted("document text exceeds 2 GiB");
  }
  Ref left;
  Loc at;
  if (pos == 0) {
    at = tree_.Begin();
  } else {
    at = tree_.SplitAfter(tree_.FindVisible(pos - 1), &left);
  }
  InsertAt(at, left, utf8, static_cast<uint32_t>(chars), out);
  if (record_undo) PushUndo(UndoStep{true, seq, static_cast<uint32_t>(chars)});
  return Status::Ok();
}

void DocState::InsertAt(Loc at, Ref left, std::string_view utf8, uint32_t len, Ops* out) {
  uint32_t seq = next_seq_[local_];
  Ref right;
  if (at.leaf != kNone) right = Ref{tree_.at(at).agent, tree_.at(at).seq};
  PlaceRun(at, local_, seq, len, utf8, left, right);
  next_seq_[local_] = seq + len;
  AppendLog(LogRun{local_, seq, len, RunKind::kInsert, Ref{}});
  if (out) {
    Op op;
    op.kind = Op::Kind::kInsert;
    op.id = OpId{agent_, seq};
    op.len = len;
    op.origin_left = ToOptId(left);
    op.origin_right = ToOptId(right);
    op.text = std::string(utf8);
    out->push_back(std::move(op));
  }
}

Status DocState::LocalRemove(uint64_t pos, uint64_t len, Ops* out, bool record_undo) {
  uint64_t size = tree_.visible();
  if (pos > size || len > size - pos) return Status::OutOfRange("remove range past the end");
  if (len == 0) return Status::Ok();
  uint32_t first_seq = next_seq_[local_];
  if (first_seq + len > kMaxSeq) return Status::ResourceExhausted("agent seq space exhausted");
  uint64_t remaining = len;
  while (remaining > 0) {
    ItemTree::Found f = tree_.FindVisible(pos);
    Loc loc = f.offset > 0 ? tree_.SplitItem(f.loc, f.offset) : f.loc;
    if (tree_.at(loc).len > remaining) {
      Loc second = tree_.SplitItem(loc, static_cast<uint32_t>(remaining));
      loc = Loc{second.leaf, second.idx - 1};
    }
    uint32_t k = tree_.at(loc).len;
    tree_.MarkDeleted(loc);
    LogLocalDelete(loc, out);
    tree_.JoinTombstones(loc);
    remaining -= k;
  }
  if (record_undo) PushUndo(UndoStep{false, first_seq, static_cast<uint32_t>(len)});
  return Status::Ok();
}

Status DocState::LocalEdits(std::span<const LocalEdit> edits, std::string_view text,
                            size_t* applied) {
  size_t done = 0;
  size_t off = 0;  // bytes of `text` the applied inserts took
  Status status = Status::Ok();
  while (done < edits.size() && status.ok()) {
    // Gathers a run: inserts each starting where the last one ended, or
    // deletes at one position. Each edit is checked as Insert or Remove
    // would check it (in their order, so both give the same error) against
    // what the edits before it leave, its resource limits included, so the
    // run as a whole cannot fail; the first edit that fails ends the run
    // and the batch. Each edit's undo step is pushed as Insert or Remove
    // would push it (empty edits push none).
    const LocalEdit& first = edits[done];
    const bool insert = first.kind == LocalEdit::Kind::kInsert;
    const uint64_t size = tree_.visible();
    const uint64_t seq = next_seq_[local_];
    size_t end = done;
    uint64_t bytes = 0;
    uint64_t chars = 0;
    for (; end < edits.size(); ++end) {
      const LocalEdit& e = edits[end];
      if (e.kind != first.kind) break;
      uint64_t n = e.len;
      if (insert) {
        if (end > done && e.pos != first.pos + chars) break;
        if (e.len > text.size() - off - bytes) {
          status = Status::InvalidArgument("insert text past the end of the batch's text");
          break;
        }
        // One ASCII key, the common case, without the general count.
        if (e.len != 1 || static_cast<unsigned char>(text[off + bytes]) >= 0x80) {
          std::optional<uint64_t> counted = CountUtf8(text.substr(off + bytes, e.len));
          if (!counted) {
            status = Status::InvalidArgument("insert text is not valid UTF-8");
            break;
          }
          n = *counted;
        }
        if (e.pos > size + chars) {
          status = Status::OutOfRange("insert position past the end");
          break;
        }
        if (n > 0 && seq + chars + n > kMaxSeq) {
          status = Status::ResourceExhausted("agent seq space exhausted");
          break;
        }
        if (n > 0 && tree_.arena_size() + bytes + e.len > kMaxArena) {
          status = Status::ResourceExhausted("document text exceeds 2 GiB");
          break;
        }
        bytes += e.len;
      } else {
        if (end > done && e.pos != first.pos) break;
        if (e.pos > size - chars || e.len > size - chars - e.pos) {
          status = Status::OutOfRange("remove range past the end");
          break;
        }
        if (n > 0 && seq + chars + n > kMaxSeq) {
          status = Status::ResourceExhausted("agent seq space exhausted");
          break;
        }
      }
      if (n > 0) {
        PushUndo(UndoStep{insert, static_cast<uint32_t>(seq + chars), static_cast<uint32_t>(n)});
      }
      chars += n;
    }
    if (end == done) break;
    Status run = insert
                     ? LocalInsertCounted(first.pos, text.substr(off, bytes), chars, nullptr, false)
                     : LocalRemove(first.pos, chars, nullptr, false);
    if (!run.ok()) {
      status = Status::Internal("a checked run of local edits failed");
      break;
    }
    done = end;
    off += bytes;
  }
  if (applied) *applied = done;
  return status;
}

void DocState::LogLocalDelete(Loc loc, Ops* out) {
  const Item& it = tree_.at(loc);
  uint32_t seq = next_seq_[local_];
  next_seq_[local_] = seq + it.len;
  Ref target{it.agent, it.seq};
  AppendLog(LogRun{local_, seq, it.len, RunKind::kDeleteForward, target});
  if (out) {
    Op op;
    op.kind = Op::Kind::kDelete;
    op.id = OpId{agent_, seq};
    op.len = it.len;
    op.target = ToId(target);
    out->push_back(std::move(op));
  }
}

void DocState::LocalDeleteIds(uint32_t agent, uint32_t seq, uint32_t len, Ops* out) {
  DeleteIdRange(agent, seq, seq + len - 1, [&](Loc loc) { LogLocalDelete(loc, out); });
}

Status DocState::CheckInvariants() const {
  WEFT_RETURN_IF_ERROR(tree_.CheckInvariants());
  // Invariant: each agent's runs are contiguous from seq 0 to next_seq.
  for (uint32_t a = 0; a < agent_ids_.size(); ++a) {
    uint64_t expect = 0;
    for (uint32_t i : runs_of_[a]) {
      const LogRun& r = log_[i];
      if (r.agent != a || r.seq != expect || r.len == 0) return Status::Internal("log run gap");
      expect += r.len;
    }
    if (expect != next_seq_[a]) return Status::Internal("log does not reach next seq");
  }
  uint64_t inserted = 0, logged = 0;
  for (size_t li = 0; li < log_.size(); ++li) {
    const LogRun& r = log_[li];
    if (r.kind == RunKind::kInsert) inserted += r.len;
    logged += r.len;
  }
  if (inserted != tree_.all()) return Status::Internal("inserted count differs from items");
  if (logged != logged_seqs_) return Status::Internal("logged seq count differs from the log");
  return Status::Ok();
}

size_t DocState::HeapBytes() const {
  size_t bytes = tree_.HeapBytes() + log_.HeapBytes() + agent_ids_.capacity() * sizeof(uint64_t) +
                 next_seq_.capacity() * 4 + runs_of_.capacity() * sizeof(runs_of_[0]) +
                 agent_index_.HeapBytes() + undo_.size() * sizeof(UndoStep) +
                 redo_.size() * sizeof(UndoStep);
  for (const auto& v : runs_of_) bytes += v.capacity() * sizeof(uint32_t);
  for (const Op& op : pending_) bytes += sizeof(Op) + op.text.capacity();
  return bytes;
}

}  // namespace weft::engine::detail
