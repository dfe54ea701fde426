// LinearMerge: a batch of remote ops into an empty Doc (a first sync, a
// catch-up) while their history is linear.
//
// Integrate places an insert after its origin left L, scanning the Items
// between L and its origin right R, which are concurrent with it. When R
// directly follows L there is nothing to scan and the insert goes right
// after L: positions, counts and the order-statistic tree are not needed
// to apply it, only L's place. So while every insert finds R right after L,
// the Items are kept in a linked list whose nodes never move (an id index
// by node, updated only for new nodes and splits), and the item tree is
// laid out once, bottom-up, at the end. The first insert whose R is not
// right after L (concurrency) ends the list: the tree is built from it and
// the rest of the batch is integrated the usual way. The result is the
// same Doc either way.
//
// A Doc that already holds text (a replica catching up after a long time
// offline, a node taking in a large batch) goes the same way when the
// batch is large beside it: its Items are put in the list first, which
// costs a step per Item where the tree costs a search and a shift per op.
#include <cassert>
#include <string_view>
#include <utility>
#include <vector>

#include "doc_state.h"
#include "id_index.h"
#include "utf8.h"

namespace weft::engine::detail {
namespace {

class LinearMerge {
 public:
  // `ops`: how many ops may follow, `items`: how many Items are there
  // already. A node for each is room enough for most histories (typing on
  // adds none, a split one more). Not the bound, two nodes an op: with
  // that much room, a process merging one long history after another got
  // its memory back from glibc in a way it had to fault in afresh each
  // time (gen_paste_delete's merge, repeated: 30 -> 135 ms).
  LinearMerge(DocState& doc, size_t ops, size_t items) : doc_(doc) {
    nodes_.reserve(2 + items + ops);
    nodes_.push_back(Node{});  // kHead: the document start
    nodes_.push_back(Node{});  // kTail: the document end
    nodes_[kHead].next = kTail;
    nodes_[kTail].prev = kHead;
  }

  // Puts the Doc's Items in the list, in document order.
  void Load() {
    const ItemTree& tree = doc_.tree_;
    assert(nodes_.size() == kFirst);  // nodes kFirst.. are then the Items, in order
    AddAgents();
    for (Loc loc = tree.Begin(); loc.leaf != kNone; loc = tree.Next(loc)) {
      Link(tree.at(loc), nodes_[kTail].prev);
    }
    // Indexed in id order, each agent at once: set in document order, the
    // runs of a block would be inserted out of order, a shift each.
    index_.LoadItems(std::vector<uint64_t>(doc_.next_seq_.begin(), doc_.next_seq_.end()),
                     [&](auto&& fn) {
                       for (uint32_t n = kFirst; n < nodes_.size(); ++n) {
                         const Item& it = nodes_[n].item;
                         fn(it.agent, IdIndex::LeafRange{it.seq, it.seq + it.len, n});
                       }
                     });
  }

  // Applies the op, or returns false (nothing changed) if it is an insert
  // whose origins are not adjacent.
  bool Apply(const RawOp& op) {
    uint32_t agent = doc_.AgentIndex(op.agent);
    AddAgents();
    uint32_t known = doc_.next_seq_[agent];
    uint32_t skip = known - static_cast<uint32_t>(op.seq);
    uint32_t seq = known;
    uint32_t len = static_cast<uint32_t>(op.len) - skip;
    if (op.kind == Op::Kind::kInsert) {
      Ref left = skip > 0 ? Ref{agent, seq - 1} : (op.has_left ? doc_.ToRef(op.left_id) : Ref{});
      Ref right = op.has_right ? doc_.ToRef(op.right_id) : Ref{};
      std::string_view text = op.text.substr(Utf8Offset(op.text, skip));
      if (!Insert(agent, seq, len, text, left, right)) return false;
      doc_.next_seq_[agent] = seq + len;
      doc_.AppendLog(LogRun{agent, seq, len, RunKind::kInsert, Ref{}});
      return true;
    }
    Ref target = doc_.ToRef(op.target);
    target.seq = op.backward ? target.seq - skip : target.seq + skip;
    uint32_t lo = op.backward ? target.seq - (len - 1) : target.seq;
    Delete(target.agent, lo, lo + len);
    doc_.next_seq_[agent] = seq + len;
    doc_.AppendLog(LogRun{
        agent, seq, len,
        op.backward && len > 1 ? RunKind::kDeleteBackward : RunKind::kDeleteForward, target});
    return true;
  }

  // Lays the item tree out from the list, joining the nodes that continue
  // one another. The Items go straight from the nodes into the leaves: a
  // vector of them between the two would be one more copy of the document,
  // in memory touched for the first time.
  void Finish() {
    struct {
      const std::vector<Node>& nodes;
      uint32_t n;
      bool Done() const { return n == kTail; }
      void Next(Item* joined) {
        *joined = nodes[n].item;
        for (n = nodes[n].next; n != kTail && Continues(*joined, nodes[n].item);
             n = nodes[n].next) {
          joined->len += nodes[n].item.len;
          joined->byte_len += nodes[n].item.byte_len;
        }
      }
    } source{nodes_, nodes_[kHead].next};
    doc_.tree_.RebuildFrom(source, doc_.next_seq_);
  }

 private:
  static constexpr uint32_t kHead = 0, kTail = 1;
  static constexpr uint32_t kFirst = 2;  // the first node after them

  void AddAgents() {
    while (index_agents_ < doc_.agent_ids_.size()) {
      index_.AddAgent();
      ++index_agents_;
    }
  }

  struct Node {
    Item item;
    uint32_t prev = kNone, next = kNone;
  };

  // The node holding (agent, seq) and the offset into it.
  std::pair<uint32_t, uint32_t> Find(uint32_t agent, uint32_t seq) const {
    uint32_t n = index_.Get(agent, seq);
    return {n, seq - nodes_[n].item.seq};
  }

  // Splits node `n` after `offset` code points; returns the nodes of the
  // first and the second part. The new node takes the shorter part, whose
  // seqs are the ones re-indexed: cutting a paste again and again costs
  // O(log) re-indexing per character over all the cuts, not O(length) per
  // cut.
  std::pair<uint32_t, uint32_t> Split(uint32_t n, uint32_t offset) {
    Item first = nodes_[n].item;
    Item second = CutItem(first, doc_.tree_.Bytes(first), offset);
    if (second.len >= first.len) {
      nodes_[n].item = second;
      uint32_t m = Link(first, nodes_[n].prev);
      index_.Set(first.agent, first.seq, first.len, m);
      return {m, n};
    }
    nodes_[n].item = first;
    uint32_t m = Link(second, n);
    index_.Set(second.agent, second.seq, second.len, m);
    return {n, m};
  }

  // A new node for `item` right after node `after`.
  uint32_t Link(const Item& item, uint32_t after) {
    uint32_t m = static_cast<uint32_t>(nodes_.size());
    uint32_t next = nodes_[after].next;
    nodes_.push_back(Node{item, after, next});
    nodes_[after].next = m;
    nodes_[next].prev = m;
    return m;
  }

  bool Insert(uint32_t agent, uint32_t seq, uint32_t len, std::string_view text, Ref left,
              Ref right) {
    uint32_t l = kHead;
    if (!left.none()) {
      auto [n, offset] = Find(left.agent, left.seq);
      l = offset + 1 < nodes_[n].item.len ? Split(n, offset + 1).first : n;
    }
    uint32_t r = nodes_[l].next;
    bool adjacent = right.none() ? r == kTail
                                 : r != kTail && nodes_[r].item.agent == right.agent &&
                                       nodes_[r].item.seq == right.seq;
    if (!adjacent) return false;
    ItemTree& tree = doc_.tree_;
    index_.Reserve(agent, uint64_t{seq} + len);
    Item& p = nodes_[l].item;
    // Typing on: the run continues the node before it (as PlaceRun does).
    if (l != kHead && tree.TypesOn(p, agent, seq, left, right)) {
      tree.Append(text);
      p.len += len;
      p.byte_len += static_cast<uint32_t>(text.size());
      index_.Set(agent, seq, len, l);
      return true;
    }
    Item item = tree.NewItem(agent, seq, len, text, left, right);
    index_.Set(agent, seq, len, Link(item, l));
    return true;
  }

  // Marks deleted the characters [lo, hi) of `agent`.
  void Delete(uint32_t agent, uint32_t lo, uint32_t hi) {
    for (uint32_t s = lo; s < hi;) {
      auto [n, offset] = Find(agent, s);
      if (offset > 0) n = Split(n, offset).second;
      if (nodes_[n].item.len > hi - s) n = Split(n, hi - s).first;
      nodes_[n].item.deleted = true;
      s += nodes_[n].item.len;
    }
  }

  DocState& doc_;
  std::vector<Node> nodes_;
  IdIndex index_;  // (agent, seq) -> node
  size_t index_agents_ = 0;
};

}  // namespace

size_t DocState::CommitLinear(std::span<const RawOp> all, const std::vector<size_t>& order) {
  LinearMerge merge(*this, order.size(), tree_.all() > 0 ? tree_.item_bound() : 0);
  if (tree_.all() > 0) merge.Load();
  size_t k = 0;
  while (k < order.size() && merge.Apply(all[order[k]])) ++k;
  merge.Finish();
  return k;
}

}  // namespace weft::engine::detail
