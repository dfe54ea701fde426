// Remote ops: the readiness check (Pending), validation of a whole batch
// before any change, and Integrate.
#include <algorithm>
#include <cassert>
#include <functional>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "bit_words.h"
#include "doc_state.h"
#include "utf8.h"

namespace weft::engine::detail {
namespace {

// A batch goes the linear way into a Doc holding text when it has an op
// for every this many Items the Doc may hold (ItemTree::item_bound): then
// putting the Items in the list and laying them out again costs less than
// the searches and shifts the tree would spend on the batch's ops.
// Measured (callgrind, a replica holding the first part of a sequential
// trace merging the rest): with the rest half the history the linear way
// runs 10-20 % fewer instructions; with it a quarter, about as many; with
// it a tenth, up to 40 % more. At 2 the Doc's larger batches go the linear
// way and its smaller ones do not.
constexpr size_t kLinearItemsPerOp = 2;

// The version a batch would reach, tracked without touching the Doc: which
// seqs of each agent would be known, and which of the newly known ones are
// inserted characters (origins and delete targets must be).
class Simulation {
 public:
  explicit Simulation(const DocState& doc) : doc_(doc) {}

  uint64_t Next(uint64_t agent) { return Get(agent).next; }

  // True when seqs [lo, hi] of `agent` are known insert seqs. REQUIRES: known.
  bool IsInsertRange(uint64_t agent, uint64_t lo, uint64_t hi) {
    Agent& a = Get(agent);
    if (lo < a.doc_next) {
      uint64_t doc_hi = std::min(hi, a.doc_next - 1);
      if (!doc_.IsInsertRange(a.local, static_cast<uint32_t>(lo), static_cast<uint32_t>(doc_hi))) {
        return false;
      }
      if (hi < a.doc_next) return true;
      lo = a.doc_next;
    }
    // One bit per seq the batch adds (set: an inserted character): origins
    // anywhere in the history cost one test, not a search.
    const uint64_t* w = a.inserted.data();
    return ForBitWords(lo - a.doc_next, hi - a.doc_next,
                       [w](uint64_t k, uint64_t m) { return (w[k] & m) == m; });
  }

  // Takes the ready `op`'s new seqs out of `room`; false (nothing changed)
  // if there is not room for them.
  bool Accept(const RawOp& op, uint64_t* room) {
    Agent& a = Get(op.agent);
    // Ready ops continue their agent's seqs (a known prefix is cut off):
    // the new seqs are [next, end).
    const uint64_t end = op.seq + op.len;
    if (end - a.next > *room) return false;
    *room -= end - a.next;
    const uint64_t from = a.next - a.doc_next, to = end - a.doc_next;
    const uint64_t words = (to + 63) / 64;
    if (a.inserted.size() < words) {
      a.inserted.resize(static_cast<size_t>(std::max<uint64_t>(words, 2 * a.inserted.size())), 0);
    }
    if (op.kind == Op::Kind::kInsert && from < to) {
      uint64_t* w = a.inserted.data();
      ForBitWords(from, to - 1, [w](uint64_t k, uint64_t m) {
        w[k] |= m;
        return true;
      });
    }
    a.next = end;
    return true;
  }

 private:
  struct Agent {
    uint32_t local = kNone;  // the Doc's index, if it knows the agent
    uint64_t doc_next = 0;   // seqs the Doc has
    uint64_t next = 0;       // seqs the Doc and the ops accepted so far have
    // Bit k: seq doc_next + k is an inserted character (k < next - doc_next).
    std::vector<uint64_t> inserted;
  };
  // Every agent a batch names is looked up in the Doc once. Ops come in
  // runs by one agent: the last one found is tried first.
  Agent& Get(uint64_t agent) {
    if (last_ != kNone && last_id_ == agent) return agents_[last_];
    return Find(agent);
  }
  // Get's lookup, out of line so the test above inlines at its many calls.
  [[gnu::noinline]] Agent& Find(uint64_t agent) {
    std::optional<uint32_t> i = index_.Find(agent);
    if (!i) {
      i = static_cast<uint32_t>(agents_.size());
      index_.Add(agent, *i);
      Agent& a = agents_.emplace_back();
      if (std::optional<uint32_t> local = doc_.FindAgent(agent)) {
        a.local = *local;
        a.doc_next = a.next = doc_.next_seq_[*local];
      }
    }
    last_id_ = agent;
    last_ = *i;
    return agents_[*i];
  }

  const DocState& doc_;
  AgentMap index_;
  std::vector<Agent> agents_;
  uint64_t last_id_ = 0;
  uint32_t last_ = kNone;
};

enum class Readiness { kWait, kReady, kDuplicate, kBad };

// What a waiting op waits for: the Simulation knowing seq `seq` of `agent`.
struct Blocker {
  uint64_t agent = 0;
  uint64_t seq = 0;
};

Readiness CheckReady(Simulation& sim, const RawOp& op, Blocker* blocker) {
  uint64_t known = sim.Next(op.agent);
  if (known >= op.seq + op.len) return Readiness::kDuplicate;
  if (known < op.seq) {
    *blocker = Blocker{op.agent, op.seq - 1};
    return Readiness::kWait;
  }
  auto dep_ready = [&](uint64_t agent, uint64_t lo, uint64_t hi) {
    if (hi >= sim.Next(agent)) {
      *blocker = Blocker{agent, hi};
      return Readiness::kWait;
    }
    return sim.IsInsertRange(agent, lo, hi) ? Readiness::kReady : Readiness::kBad;
  };
  if (op.kind == Op::Kind::kInsert) {
    // When a prefix is already known the rest's left origin is that prefix.
    if (op.has_left && known == op.seq) {
      Readiness r = dep_ready(op.left_id.agent, op.left_id.seq, op.left_id.seq);
      if (r != Readiness::kReady) return r;
    }
    if (op.has_right) return dep_ready(op.right_id.agent, op.right_id.seq, op.right_id.seq);
    return Readiness::kReady;
  }
  uint64_t lo = op.backward ? op.target.seq - (op.len - 1) : op.target.seq;
  return dep_ready(op.target.agent, lo, lo + op.len - 1);
}

// Structural checks that need no Doc state. The text is counted unless
// the caller already knows it (`text`).
Status CheckShape(const RawOp& op, BatchText text) {
  if (op.len == 0) return Status::Corruption("op of length 0");
  if (op.seq > kMaxSeq || op.len > kMaxSeq - op.seq)
    return Status::Corruption("op seq out of range");
  if (op.kind == Op::Kind::kInsert) {
    if (text == BatchText::kUnchecked) {
      std::optional<uint64_t> n = CountUtf8(op.text);
      if (!n) return Status::Corruption("insert text is not valid UTF-8");
      if (*n != op.len) return Status::Corruption("insert text length differs from op length");
    }
    if ((op.has_left && op.left_id.seq > kMaxSeq) || (op.has_right && op.right_id.seq > kMaxSeq)) {
      return Status::Corruption("origin seq out of range");
    }
    return Status::Ok();
  }
  if (op.backward ? op.target.seq < op.len - 1 || op.target.seq > kMaxSeq
                  : op.target.seq > kMaxSeq || op.len > kMaxSeq - op.target.seq) {
    return Status::Corruption("delete target out of range");
  }
  return Status::Ok();
}

}  // namespace

RawOp ViewOf(const Op& op) {
  RawOp r;
  r.kind = op.kind;
  r.agent = op.id.agent;
  r.seq = op.id.seq;
  r.len = op.len;
  r.SetOrigins(op.origin_left, op.origin_right);
  r.text = op.text;
  r.target = op.target;
  r.backward = op.backward;
  return r;
}

Op OwnedOp(const RawOp& r) {
  Op op;
  op.kind = r.kind;
  op.id = OpId{r.agent, r.seq};
  op.len = r.len;
  op.origin_left = r.left();
  op.origin_right = r.right();
  op.text = std::string(r.text);
  op.target = r.target;
  op.backward = r.backward;
  return op;
}

namespace {

// Orders `all` for applying: each op is checked once in batch order; one
// that has to wait is parked under the (agent, seq) it waits for and checked
// again only when the Simulation learns that seq. Any arrival order costs
// O(n log n), not a pass over every waiting op per op that becomes ready.
// Fills `order` with the ready ops in a causal order and marks `state`
// (0 waiting, 1 ready, 2 duplicate), and sums what the ready ops add in
// `ready`; kCorruption for a hostile dependency.
// `known_seqs`: the seqs the Doc holds, all agents together.
// `chars`: the characters the Doc and every insert of `all` hold.
Status PlanBatch(const DocState& doc, std::span<const RawOp> all, uint64_t known_seqs,
                 uint64_t chars, std::vector<size_t>* order, std::vector<uint8_t>* state,
                 BatchTotals* ready) {
  // The bits the plan keeps grow with the seqs it accepts, and a delete may
  // name any range of inserted characters again and again: the seqs are
  // held to the bound CheckBatchBounds applies after planning (with every
  // insert of the batch counted, so no batch it would pass stops here).
  uint64_t room = SeqBound(chars) > known_seqs ? SeqBound(chars) - known_seqs : 0;
  Simulation sim(doc);
  state->assign(all.size(), 0);
  order->reserve(all.size());
  using Waiter = std::pair<uint64_t, size_t>;  // (seq waited for, op index)
  std::unordered_map<uint64_t, std::priority_queue<Waiter, std::vector<Waiter>, std::greater<>>>
      waiters;
  std::vector<size_t> work;
  for (size_t next = 0; next < all.size() || !work.empty();) {
    size_t i;
    if (!work.empty()) {
      i = work.back();
      work.pop_back();
    } else {
      i = next++;
    }
    Blocker blocker;
    switch (CheckReady(sim, all[i], &blocker)) {
      case Readiness::kWait:
        waiters[blocker.agent].push(Waiter{blocker.seq, i});
        break;
      case Readiness::kDuplicate:
        (*state)[i] = 2;
        break;
      case Readiness::kBad:
        return Status::Corruption("op depends on an id that is not an inserted character");
      case Readiness::kReady: {
        (*state)[i] = 1;
        if (!sim.Accept(all[i], &room)) {
          return Status::Corruption("op seq runs implausibly far ahead of the document");
        }
        order->push_back(i);
        ready->seqs += all[i].len;
        if (all[i].kind == Op::Kind::kInsert) {
          ready->bytes += all[i].text.size();
          ready->chars += all[i].len;
        }
        if (waiters.empty()) break;
        auto w = waiters.find(all[i].agent);
        if (w == waiters.end()) break;
        uint64_t known = sim.Next(all[i].agent);
        while (!w->second.empty() && w->second.top().first < known) {
          work.push_back(w->second.top().second);
          w->second.pop();
        }
        break;
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Status DocState::CheckBatchBounds(std::span<const RawOp> all, uint64_t known_seqs,
                                  const BatchTotals& ready,
                                  const std::vector<uint8_t>& state) const {
  // Bounds a hostile peer cannot push this replica past: text ever inserted
  // (Item offsets are 31-bit), and how far seqs may run ahead of the
  // characters the document holds (deletes take seqs too; per-seq
  // structures such as the id index grow with them).
  if (tree_.arena_size() + ready.bytes > kMaxArena) {
    return Status::ResourceExhausted("document text would exceed 2 GiB");
  }
  if (known_seqs + ready.seqs > SeqBound(tree_.all() + ready.chars)) {
    return Status::Corruption("op seq runs implausibly far ahead of the document");
  }
  size_t waiting = 0, waiting_bytes = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    if (state[i] == 0) {
      ++waiting;
      waiting_bytes += all[i].text.size();
    }
  }
  if (waiting_bytes > options_.max_pending_bytes) {
    return Status::ResourceExhausted("pending buffer full: " + std::to_string(waiting_bytes) +
                                     " bytes of text wait for missing dependencies");
  }
  if (waiting > options_.max_pending_ops) {
    return Status::ResourceExhausted("pending buffer full: " + std::to_string(waiting) +
                                     " ops wait for missing dependencies (limit " +
                                     std::to_string(options_.max_pending_ops) + ")");
  }
  return Status::Ok();
}

// Validate, then commit. Phase 1 runs the batch together with Pending
// through PlanBatch, rejecting the whole batch on any malformed or hostile
// op (an origin or target that names a delete, bad UTF-8, ...), then checks
// the bounds (text, seqs, Pending). Phase 2 applies the ready ops in the
// order they became ready, which is causal, and keeps the rest in Pending.
// Phase 2 cannot fail.
Status DocState::ApplyBatch(std::span<const RawOp> batch, BatchText text) {
  // The characters the Doc would hold with every insert planned, counted in
  // the same pass as the checks (a pass over a large batch is not free).
  uint64_t chars = tree_.all();
  for (const RawOp& op : batch) {
    WEFT_RETURN_IF_ERROR(CheckShape(op, text));
    if (op.kind == Op::Kind::kInsert) chars += op.len;
  }
  // With nothing in Pending (the usual case) the batch is planned in place.
  std::vector<RawOp> joined;
  std::span<const RawOp> all = batch;
  if (!pending_.empty()) {
    joined.reserve(pending_.size() + batch.size());
    for (const Op& op : pending_) {
      joined.push_back(ViewOf(op));
      if (op.kind == Op::Kind::kInsert) chars += op.len;
    }
    joined.insert(joined.end(), batch.begin(), batch.end());
    all = joined;
  }
  std::vector<size_t> order;
  std::vector<uint8_t> state;
  // Both bounds below start from what the Doc holds.
  const uint64_t known_seqs = logged_seqs_;
  BatchTotals ready;
  WEFT_RETURN_IF_ERROR(PlanBatch(*this, all, known_seqs, chars, &order, &state, &ready));
  WEFT_RETURN_IF_ERROR(CheckBatchBounds(all, known_seqs, ready, state));
  tree_.ReserveArena(ready.bytes);
  // Into an empty Doc (a first sync, a catch-up) a linear history needs no
  // order statistics until the end; nor into a Doc small beside the batch,
  // whose Items are laid out again with the batch's (kLinearItemsPerOp).
  // Change events need positions as they go, so a listener keeps the
  // usual path.
  size_t done = 0;
  if (!tree_.tracking() && !listener_ && order.size() > 1 &&
      (tree_.all() == 0 || order.size() * kLinearItemsPerOp >= tree_.item_bound())) {
    done = CommitLinear(all, order);
  }
  for (size_t k = done; k < order.size(); ++k) CommitOp(all[order[k]]);
  std::vector<Op> still;
  for (size_t i = 0; i < all.size(); ++i) {
    if (state[i] == 0) still.push_back(OwnedOp(all[i]));
  }
  pending_ = std::move(still);
  return Status::Ok();
}

void DocState::CommitOp(const RawOp& op) {
  uint32_t agent = AgentIndex(op.agent);
  uint32_t known = next_seq_[agent];
  uint32_t skip = known - static_cast<uint32_t>(op.seq);
  uint32_t seq = known;
  uint32_t len = static_cast<uint32_t>(op.len) - skip;
  if (op.kind == Op::Kind::kInsert) {
    std::string_view text = op.text.substr(Utf8Offset(op.text, skip));
    Ref left = skip > 0 ? Ref{agent, seq - 1} : (op.has_left ? ToRef(op.left_id) : Ref{});
    Ref right = op.has_right ? ToRef(op.right_id) : Ref{};
    IntegrateInsert(agent, seq, len, text, left, right);
    next_seq_[agent] = seq + len;
    AppendLog(LogRun{agent, seq, len, RunKind::kInsert, Ref{}});
    return;
  }
  Ref target = ToRef(op.target);
  target.seq = op.backward ? target.seq - skip : target.seq + skip;
  IntegrateDelete(agent, seq, len, target, op.backward);
}

// Integrate (FugueMax, as in the Fugue paper; diamond-types orders the same
// way). The new run goes somewhere after its origin left L and before its
// origin right R. Every Item o met between them is concurrent with it (its
// author saw L and R adjacent). For each o, with o.left / o.right its origins
// and positions compared in document order:
//   o.left before L      -> o belongs to an ancestor's subtree: stop, insert here.
//   o.left after L       -> o is inside the subtree of an item we skip: go on.
//   o.left == L, o.right == R
//                        -> siblings: the lower (agent id, seq) goes first; if
//                           ours is lower stop here, else go on past o.
//   o.left == L, o.right before R
//                        -> o's subtree may end before us: remember the first
//                           such o (scanning) and go on.
//   o.left == L, o.right after R (or equal to nothing we know)
//                        -> we go after o: forget the remembered o.
// At R (or the end) insert at the remembered o if any, else here.
void DocState::IntegrateInsert(uint32_t agent, uint32_t seq, uint32_t len, std::string_view text,
                               Ref left, Ref right) {
  // R first, then L: splitting R's Item may move Items, L's split comes
  // last so `cur` stays valid. Without concurrency L is right before R, and
  // both are usually next to what the previous op touched (hint_).
  Loc near = hint_;
  if (!right.none()) {
    ItemTree::Found f = tree_.FindIdNear(right.agent, right.seq, hint_);
    near = tree_.Prev(f.offset > 0 ? tree_.SplitItem(f.loc, f.offset) : f.loc);
  }
  Loc cur;
  if (left.none()) {
    cur = tree_.Begin();
  } else {
    Ref id;
    cur = tree_.SplitAfter(tree_.FindIdNear(left.agent, left.seq, near), &id);
  }
  hint_ = IntegrateAt(cur, agent, seq, len, text, left, right);
}

Loc DocState::IntegrateAt(Loc cur, uint32_t agent, uint32_t seq, uint32_t len,
                          std::string_view text, Ref left, Ref right) {
  auto pos_of = [&](Ref r, uint64_t if_none) -> uint64_t {
    if (r.none()) return if_none;
    ItemTree::Found f = tree_.FindId(r.agent, r.seq);
    return tree_.AllBefore(f.loc) + f.offset;
  };
  // Positions of L and R, looked up only when an item's origins need them.
  std::optional<uint64_t> left_pos, right_pos;
  // Every Item passed so far lies after L, so an item whose origin left is
  // one of their characters does too (its subtree is being skipped). The
  // last few passed answer that for most of a scanned subtree without a
  // position lookup, which is a cold walk of the tree in a large document.
  constexpr int kRecent = 8;
  Item recent[kRecent];
  int nrecent = 0;
  int next_recent = 0;
  auto passed = [&](Ref r) {
    for (int i = 0; i < nrecent; ++i) {
      if (recent[i].Contains(r.agent, r.seq)) return true;
    }
    return false;
  };
  bool scanning = false;
  Loc scan_start;
  while (cur.leaf != kNone) {
    const Item& o = tree_.at(cur);
    if (o.agent == right.agent && o.seq == right.seq) break;
    // o.left against L: before (< 0), the same character (0), after (> 0).
    // Positions count every character, tombstones included, so two
    // characters share a position only if they are the same one.
    int side;
    if (o.left == left) {
      side = 0;
    } else if (!o.left.none() && passed(o.left)) {
      side = 1;
    } else {
      if (!left_pos) left_pos = left.none() ? 0 : pos_of(left, 0) + 1;
      uint64_t o_left = o.left.none() ? 0 : pos_of(o.left, 0) + 1;
      side = o_left < *left_pos ? -1 : (o_left == *left_pos ? 0 : 1);
    }
    if (side < 0) break;
    if (side == 0) {
      if (o.right == right) {
        uint64_t mine = agent_ids_[agent], theirs = agent_ids_[o.agent];
        if (mine < theirs || (mine == theirs && seq < o.seq)) break;
        scanning = false;
      } else {
        if (!right_pos) right_pos = pos_of(right, tree_.all());
        if (pos_of(o.right, tree_.all()) < *right_pos) {
          if (!scanning) {
            scanning = true;
            scan_start = cur;
          }
        } else {
          scanning = false;
        }
      }
    }
    recent[next_recent] = o;
    next_recent = (next_recent + 1) % kRecent;
    nrecent = std::min(nrecent + 1, kRecent);
    cur = tree_.Next(cur);
  }
  if (scanning) cur = scan_start;
  uint64_t pos = listener_ ? tree_.VisibleBefore(cur) : 0;
  Loc placed = PlaceRun(cur, agent, seq, len, text, left, right);
  if (listener_) EmitInsert(pos, text, len);
  return placed;
}

void DocState::IntegrateDelete(uint32_t agent, uint32_t seq, uint32_t len, Ref target,
                               bool backward) {
  uint32_t lo = backward ? target.seq - (len - 1) : target.seq;
  // Deleted in increasing id order; for a backward run that is the reverse
  // of the order it was made in, which changes nothing about the result.
  DeleteIdRange(target.agent, lo, lo + len - 1, [&](Loc loc) {
    if (listener_) EmitDelete(tree_.VisibleBefore(loc), tree_.at(loc).len);
  });
  next_seq_[agent] = seq + len;
  AppendLog(LogRun{agent, seq, len,
                   backward && len > 1 ? RunKind::kDeleteBackward : RunKind::kDeleteForward,
                   target});
}

}  // namespace weft::engine::detail
