#include "history_tracker.h"

#include <algorithm>
#include <queue>
#include <string>
#include <utility>

#include "utf8.h"

namespace weft::engine::detail {

HistoryTracker::HistoryTracker(DocState& doc) : doc_(doc) { doc_.tree_.BeginTracking(); }

HistoryTracker::~HistoryTracker() { Finish(); }

void HistoryTracker::Finish() {
  if (finished_) return;
  finished_ = true;
  doc_.tree_.EndTracking(doc_.next_seq_);
  std::vector<Txn>().swap(txns_);
  std::vector<uint32_t>().swap(parents_);
  std::vector<uint8_t>().swap(in_prep_);
  std::vector<uint32_t>().swap(last_txn_);
  std::vector<Entry>().swap(walk_);
  std::vector<uint32_t>().swap(retreat_);
  std::vector<uint32_t>().swap(advance_);
}

Result<uint32_t> HistoryTracker::AddTxn(uint64_t agent, std::span<const uint32_t> parents,
                                        std::span<const PositionalPatch> patches) {
  if (finished_) return Status::FailedPrecondition("the import has finished");
  if (!doc_.pending_.empty()) {
    return Status::FailedPrecondition("the Doc has ops waiting in Pending");
  }
  const size_t index = txns_.size();
  if (index >= kNone) return Status::ResourceExhausted("too many txns");
  for (uint32_t p : parents) {
    if (p >= index) return Status::InvalidArgument("a parent is not an earlier txn");
  }
  MoveTo(parents);
  std::optional<uint32_t> known = doc_.FindAgent(agent);
  if (known && *known < last_txn_.size() && last_txn_[*known] != kNone &&
      !in_prep_[last_txn_[*known]]) {
    return Status::FailedPrecondition(
        "the agent's previous txn is not an ancestor of this one (each agent's txns must be "
        "causally ordered)");
  }
  std::vector<uint32_t> lengths;
  WEFT_RETURN_IF_ERROR(Check(agent, patches, &lengths));

  const uint32_t local = doc_.AgentIndex(agent);
  if (last_txn_.size() <= local) last_txn_.resize(local + 1, kNone);
  const uint32_t begin = doc_.next_seq_[local];
  // The log run that will hold the txn's first seq: a new one, or the last
  // one if the first op joins it.
  const std::vector<uint32_t>& runs = doc_.runs_of_[local];
  uint32_t first_run = static_cast<uint32_t>(runs.size());
  for (size_t i = 0; i < patches.size(); ++i) {
    const PositionalPatch& p = patches[i];
    if (p.del > 0) Delete(local, p.pos, p.del);
    if (lengths[i] > 0) Insert(local, p.pos, p.text, lengths[i]);
  }
  if (first_run > 0 &&
      doc_.log_[runs[first_run - 1]].seq + uint64_t{doc_.log_[runs[first_run - 1]].len} > begin) {
    --first_run;
  }
  txns_.push_back(Txn{local, begin, doc_.next_seq_[local], first_run,
                      static_cast<uint32_t>(parents_.size()),
                      static_cast<uint32_t>(parents_.size() + parents.size())});
  parents_.insert(parents_.end(), parents.begin(), parents.end());
  in_prep_.push_back(1);
  last_txn_[local] = static_cast<uint32_t>(index);
  frontier_.assign(1, static_cast<uint32_t>(index));
  return static_cast<uint32_t>(index);
}

Status HistoryTracker::Check(uint32_t agent, std::span<const PositionalPatch> patches,
                             std::vector<uint32_t>* lengths) const {
  // Replayed on lengths alone: every patch must fit the text the earlier
  // ones leave, and the whole txn the Doc's limits.
  uint64_t len = doc_.tree_.prep_visible();
  uint64_t seqs = 0, bytes = 0;
  lengths->reserve(patches.size());
  for (const PositionalPatch& p : patches) {
    if (p.pos > len || p.del > len - p.pos) {
      return Status::InvalidArgument("a patch reaches past the end of its version");
    }
    std::optional<uint64_t> n = CountUtf8(p.text);
    if (!n) return Status::InvalidArgument("patch text is not valid UTF-8");
    if (*n > kMaxSeq || p.del > kMaxSeq) {
      return Status::ResourceExhausted("agent seq space exhausted");
    }
    lengths->push_back(static_cast<uint32_t>(*n));
    len = len - p.del + *n;
    seqs += p.del + *n;
    bytes += p.text.size();
  }
  std::optional<uint32_t> a = doc_.FindAgent(agent);
  uint64_t next = a ? doc_.next_seq_[*a] : 0;
  if (next + seqs > kMaxSeq) return Status::ResourceExhausted("agent seq space exhausted");
  if (doc_.tree_.arena_size() + bytes > kMaxArena) {
    return Status::ResourceExhausted("document text exceeds 2 GiB");
  }
  return Status::Ok();
}

void HistoryTracker::MoveTo(std::span<const uint32_t> target) {
  if (std::is_permutation(frontier_.begin(), frontier_.end(), target.begin(), target.end())) {
    return;
  }
  // Walk back from both frontiers at once, latest txn first (a txn's index
  // is above its parents'), marking each txn reached from the old frontier
  // (1), the new one (2) or both (3), until only shared txns are left to
  // walk. Those reached from one side only are the difference.
  std::vector<Entry>& heap = walk_;
  heap.clear();
  size_t open = 0;  // entries not yet known to be shared
  auto push = [&](uint32_t txn, uint8_t side) {
    heap.push_back(Entry{txn, side});
    std::push_heap(heap.begin(), heap.end());
    if (side != 3) ++open;
  };
  auto pop = [&] {
    std::pop_heap(heap.begin(), heap.end());
    Entry e = heap.back();
    heap.pop_back();
    if (e.second != 3) --open;
    return e;
  };
  for (uint32_t t : frontier_) push(t, 1);
  for (uint32_t t : target) push(t, 2);
  retreat_.clear();
  advance_.clear();
  while (open > 0) {
    auto [txn, side] = pop();
    while (!heap.empty() && heap.front().first == txn) side |= pop().second;
    if (side == 1) retreat_.push_back(txn);
    if (side == 2) advance_.push_back(txn);
    for (uint32_t p : ParentsOf(txn)) push(p, side);
  }
  // Latest first out of the version, earliest first into it. (The prepare
  // states count, so the order only matters for clarity.)
  for (uint32_t t : retreat_) {
    Shift(t, -1);
    in_prep_[t] = 0;
  }
  for (auto it = advance_.rbegin(); it != advance_.rend(); ++it) {
    Shift(*it, 1);
    in_prep_[*it] = 1;
  }
  frontier_.assign(target.begin(), target.end());
}

void HistoryTracker::Shift(uint32_t txn, int dir) {
  const Txn& t = txns_[txn];
  const std::vector<uint32_t>& runs = doc_.runs_of_[t.agent];
  for (size_t k = t.first_run; k < runs.size(); ++k) {
    const LogRun& r = doc_.log_[runs[k]];
    if (r.seq >= t.seq_end) break;
    uint32_t lo = std::max(r.seq, t.seq_begin);
    uint32_t hi = static_cast<uint32_t>(std::min<uint64_t>(uint64_t{r.seq} + r.len, t.seq_end));
    if (r.kind == RunKind::kInsert) {
      ShiftIds(t.agent, lo, hi, dir * int64_t{ItemTree::kPrepInserted});
      continue;
    }
    // Seq r.seq + i deletes target.seq + i (forward) or target.seq - i.
    uint32_t first = r.kind == RunKind::kDeleteBackward ? r.target.seq - (hi - 1 - r.seq)
                                                        : r.target.seq + (lo - r.seq);
    ShiftIds(r.target.agent, first, first + (hi - lo), dir);
  }
}

void HistoryTracker::ShiftIds(uint32_t agent, uint32_t lo, uint32_t hi, int64_t delta) {
  ItemTree& tree = doc_.tree_;
  for (uint32_t s = lo; s < hi;) {
    // Consecutive ids are mostly in consecutive Items.
    ItemTree::Found f = tree.FindIdNear(agent, s, hint_);
    Loc loc = f.offset > 0 ? tree.SplitItem(f.loc, f.offset) : f.loc;
    if (tree.at(loc).len > hi - s) {
      Loc second = tree.SplitItem(loc, hi - s);
      loc = Loc{second.leaf, second.idx - 1};
    }
    tree.SetPrepState(loc, static_cast<uint32_t>(int64_t{tree.PrepState(loc)} + delta));
    s += tree.at(loc).len;
    hint_ = Loc{loc.leaf, loc.idx + 1};
  }
}

void HistoryTracker::Delete(uint32_t agent, uint64_t pos, uint64_t len) {
  ItemTree& tree = doc_.tree_;
  ItemTree::Found f = tree.FindPrep(pos);
  Loc loc = f.offset > 0 ? tree.SplitItem(f.loc, f.offset) : f.loc;
  for (uint64_t remaining = len; remaining > 0;) {
    if (tree.at(loc).len > remaining) {
      Loc second = tree.SplitItem(loc, static_cast<uint32_t>(remaining));
      loc = Loc{second.leaf, second.idx - 1};
    }
    const Item it = tree.at(loc);
    tree.SetPrepState(loc, tree.PrepState(loc) + 1);
    if (!it.deleted) {
      uint64_t at = doc_.listener_ ? tree.VisibleBefore(loc) : 0;
      tree.MarkDeleted(loc);
      if (doc_.listener_) doc_.EmitDelete(at, it.len);
    }
    uint32_t seq = doc_.next_seq_[agent];
    doc_.next_seq_[agent] = seq + it.len;
    doc_.AppendLog(LogRun{agent, seq, it.len, RunKind::kDeleteForward, Ref{it.agent, it.seq}});
    remaining -= it.len;
    // The next character the prepare version shows: Items it lacks or
    // deleted already lie in between.
    if (remaining > 0) loc = tree.NextPrepVisible(tree.Next(loc));
  }
}

void HistoryTracker::Insert(uint32_t agent, uint64_t pos, std::string_view text, uint32_t len) {
  ItemTree& tree = doc_.tree_;
  // L: the character before `pos` in the prepare version; `cur`: right
  // after it, where the scan among concurrent Items starts.
  Ref left;
  Loc cur;
  if (pos == 0) {
    cur = tree.Begin();
  } else {
    cur = tree.SplitAfter(tree.FindPrep(pos - 1), &left);
  }
  // R: the next character the prepare version has (deleted there or not).
  // The Items before it are the ones that version lacks: concurrent.
  Loc r = cur;
  while (r.leaf != kNone && !(tree.PrepState(r) & ItemTree::kPrepInserted)) r = tree.Next(r);
  Ref right = r.leaf == kNone ? Ref{} : Ref{tree.at(r).agent, tree.at(r).seq};
  uint32_t seq = doc_.next_seq_[agent];
  doc_.IntegrateAt(cur, agent, seq, len, text, left, right);
  doc_.next_seq_[agent] = seq + len;
  doc_.AppendLog(LogRun{agent, seq, len, RunKind::kInsert, Ref{}});
}

}  // namespace weft::engine::detail
