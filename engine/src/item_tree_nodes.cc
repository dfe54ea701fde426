// ItemTree: the B+tree's shape. Making room in a full leaf (moving Items to
// a neighbour, or splitting), splitting nodes, and building a whole tree
// bottom-up.
#include <algorithm>
#include <cassert>

#include "item_tree.h"

namespace weft::engine::detail {

void ItemTree::SetParent(uint32_t child, bool is_leaf, uint32_t parent, uint32_t slot) {
  if (is_leaf) {
    leaves_[child].parent = parent;
    leaves_[child].slot = slot;
  } else {
    nodes_[child].parent = parent;
    nodes_[child].slot = slot;
  }
}

void ItemTree::SlotCounts(uint32_t node, uint32_t slot, uint64_t out[3]) const {
  out[0] = nodes_[node].vis[slot];
  out[1] = nodes_[node].all[slot];
  out[2] = tracking_ ? prep_nodes_[node].count[slot] : 0;
}

void ItemTree::LeafCounts(uint32_t leaf, uint64_t out[3]) const {
  out[0] = leaves_[leaf].vis;
  out[1] = leaves_[leaf].all;
  out[2] = tracking_ ? prep_leaves_[leaf].count : 0;
}

void ItemTree::RecountLeaf(uint32_t leaf) {
  Leaf& l = leaves_[leaf];
  l.vis = l.all = 0;
  uint64_t prep = 0;
  for (uint32_t i = 0; i < l.n; ++i) {
    l.vis += l.items[i].visible();
    l.all += l.items[i].len;
    if (tracking_) prep += PrepLen(leaf, i);
  }
  if (tracking_) prep_leaves_[leaf].count = prep;
}

void ItemTree::IndexItems(uint32_t leaf, uint32_t from, uint32_t to) {
  // The moved Items' id ranges sorted by (agent, seq), joined where they
  // are consecutive, then one index update per agent: Items that moved
  // together mostly hold ids of a few runs in a few blocks.
  struct AgentRange {
    uint32_t agent;
    IdIndex::Range range;
  };
  AgentRange moved[kLeafCap];
  size_t n = 0;
  const Leaf& l = leaves_[leaf];
  for (uint32_t i = from; i < to; ++i) {
    const Item& it = l.items[i];
    moved[n++] = AgentRange{it.agent, {it.seq, it.seq + it.len}};
  }
  std::sort(moved, moved + n, [](const AgentRange& a, const AgentRange& b) {
    return a.agent != b.agent ? a.agent < b.agent : a.range.seq < b.range.seq;
  });
  IdIndex::Range ranges[kLeafCap];
  for (size_t i = 0; i < n;) {
    uint32_t agent = moved[i].agent;
    size_t m = 0;
    for (; i < n && moved[i].agent == agent; ++i) {
      if (m > 0 && ranges[m - 1].end == moved[i].range.seq) {
        ranges[m - 1].end = moved[i].range.end;
      } else {
        ranges[m++] = moved[i].range;
      }
    }
    index_.SetRanges(agent, ranges, m, leaf);
  }
}

uint32_t ItemTree::NewLeaf() {
  uint32_t leaf = static_cast<uint32_t>(leaves_.size());
  leaves_.emplace_back();
  if (tracking_) prep_leaves_.emplace_back();
  return leaf;
}

uint32_t ItemTree::NewNode() {
  uint32_t node = static_cast<uint32_t>(nodes_.size());
  nodes_.emplace_back();
  if (tracking_) prep_nodes_.emplace_back();
  return node;
}

void ItemTree::InsertChild(uint32_t node, uint32_t slot, uint32_t child, const uint64_t counts[3]) {
  uint32_t left = kNone, right = kNone;
  if (nodes_[node].n == kFanout) {
    left = node;
    right = SplitNode(node);
    uint32_t half = nodes_[node].n;
    if (slot > half) {
      node = right;
      slot -= half;
    }
  }
  InsertSlot(node, slot, child, counts);
  if (left != kNone) {
    // The split counted the halves before the new child was in either; count
    // both again now (their ancestors above already include the child).
    RecountInParent(left);
    RecountInParent(right);
  }
}

void ItemTree::RecountInParent(uint32_t node) {
  const Node& nd = nodes_[node];
  uint64_t sum[3] = {0, 0, 0};
  for (uint32_t i = 0; i < nd.n; ++i) {
    uint64_t c[3];
    SlotCounts(node, i, c);
    for (int k = 0; k < 3; ++k) sum[k] += c[k];
  }
  nodes_[nd.parent].vis[nd.slot] = sum[0];
  nodes_[nd.parent].all[nd.slot] = sum[1];
  if (tracking_) prep_nodes_[nd.parent].count[nd.slot] = sum[2];
}

void ItemTree::InsertSlot(uint32_t node, uint32_t slot, uint32_t child, const uint64_t counts[3]) {
  Node& nd = nodes_[node];
  for (uint32_t i = nd.n; i > slot; --i) {
    nd.child[i] = nd.child[i - 1];
    nd.vis[i] = nd.vis[i - 1];
    nd.all[i] = nd.all[i - 1];
    if (tracking_) prep_nodes_[node].count[i] = prep_nodes_[node].count[i - 1];
  }
  nd.child[slot] = child;
  nd.vis[slot] = counts[0];
  nd.all[slot] = counts[1];
  if (tracking_) prep_nodes_[node].count[slot] = counts[2];
  ++nd.n;
  for (uint32_t i = slot; i < nd.n; ++i) SetParent(nd.child[i], nd.leaf_children, node, i);
}

uint32_t ItemTree::SplitNode(uint32_t node) {
  uint32_t right = NewNode();
  Node& l = nodes_[node];
  Node& r = nodes_[right];
  uint32_t half = l.n / 2;
  r.leaf_children = l.leaf_children;
  r.n = l.n - half;
  uint64_t moved[3] = {0, 0, 0};
  for (uint32_t i = 0; i < r.n; ++i) {
    r.child[i] = l.child[half + i];
    r.vis[i] = l.vis[half + i];
    r.all[i] = l.all[half + i];
    if (tracking_) prep_nodes_[right].count[i] = prep_nodes_[node].count[half + i];
    uint64_t c[3];
    SlotCounts(right, i, c);
    for (int k = 0; k < 3; ++k) moved[k] += c[k];
  }
  l.n = half;
  for (uint32_t i = 0; i < r.n; ++i) SetParent(nodes_[right].child[i], r.leaf_children, right, i);
  uint32_t parent = nodes_[node].parent;
  if (parent == kNone) {
    uint32_t root = NewNode();
    Node& nr = nodes_[root];
    nr.leaf_children = false;
    nr.n = 2;
    nr.child[0] = node;
    nr.child[1] = right;
    SetParent(node, false, root, 0);
    SetParent(right, false, root, 1);
    RecountInParent(node);
    RecountInParent(right);
    root_ = root;
  } else {
    uint32_t slot = nodes_[node].slot;
    nodes_[parent].vis[slot] -= moved[0];
    nodes_[parent].all[slot] -= moved[1];
    if (tracking_) prep_nodes_[parent].count[slot] -= moved[2];
    InsertChild(parent, slot + 1, right, moved);
  }
  return right;
}

Loc ItemTree::MakeRoom(Loc loc, bool is_item) {
  Leaf& l = leaves_[loc.leaf];
  if (l.n < kLeafCap) return loc;
  FlushCounts();
  cache_valid_ = false;
  hint_valid_ = false;
  prep_cache_valid_ = false;
  // A neighbour with room takes some Items instead of a new leaf taking
  // half: leaves stay about 3/4 full rather than 1/2 to 3/4 after random
  // edits (Items are most of a Doc's memory).
  constexpr uint32_t kMinRoom = 4;
  uint32_t next = l.next;
  if (next != kNone && kLeafCap - leaves_[next].n >= kMinRoom) {
    uint32_t k = (kLeafCap - leaves_[next].n) / 2;
    SpillNext(loc.leaf, k);
    uint32_t kept = leaves_[loc.leaf].n;
    bool moved = is_item ? loc.idx >= kept : loc.idx > kept;
    return moved ? Loc{next, loc.idx - kept} : loc;
  }
  uint32_t prev = l.prev;
  if (prev != kNone && kLeafCap - leaves_[prev].n >= kMinRoom) {
    uint32_t k = (kLeafCap - leaves_[prev].n) / 2;
    uint32_t before = leaves_[prev].n;
    SpillPrev(loc.leaf, k);
    // An insertion point at index k is the front of this leaf, which now
    // has room.
    return loc.idx < k ? Loc{prev, before + loc.idx} : Loc{loc.leaf, loc.idx - k};
  }
  return SplitLeaf(loc);
}

void ItemTree::SpillNext(uint32_t leaf, uint32_t k) {
  Leaf& l = leaves_[leaf];
  const uint32_t next = l.next;
  Leaf& r = leaves_[next];
  const uint32_t from = l.n - k;
  std::copy_backward(r.items, r.items + r.n, r.items + r.n + k);
  std::copy_n(l.items + from, k, r.items);
  int64_t moved[3] = {0, 0, 0};
  for (uint32_t i = from; i < l.n; ++i) {
    moved[0] += l.items[i].visible();
    moved[1] += l.items[i].len;
    if (tracking_) moved[2] += PrepLen(leaf, i);
  }
  if (tracking_) {
    uint32_t* ls = prep_leaves_[leaf].state;
    uint32_t* rs = prep_leaves_[next].state;
    std::copy_backward(rs, rs + r.n, rs + r.n + k);
    std::copy_n(ls + from, k, rs);
  }
  l.n = from;
  r.n += k;
  IndexItems(next, 0, k);
  Adjust(leaf, -moved[0], -moved[1], -moved[2]);
  Adjust(next, moved[0], moved[1], moved[2]);
  FlushCounts();
}

void ItemTree::SpillPrev(uint32_t leaf, uint32_t k) {
  Leaf& r = leaves_[leaf];
  const uint32_t prev = r.prev;
  Leaf& l = leaves_[prev];
  const uint32_t at = l.n;
  std::copy_n(r.items, k, l.items + at);
  std::copy(r.items + k, r.items + r.n, r.items);
  if (tracking_) {
    uint32_t* ls = prep_leaves_[prev].state;
    uint32_t* rs = prep_leaves_[leaf].state;
    std::copy_n(rs, k, ls + at);
    std::copy(rs + k, rs + r.n, rs);
  }
  l.n += k;
  r.n -= k;
  int64_t moved[3] = {0, 0, 0};
  for (uint32_t i = at; i < l.n; ++i) {
    moved[0] += l.items[i].visible();
    moved[1] += l.items[i].len;
    if (tracking_) moved[2] += PrepLen(prev, i);
  }
  IndexItems(prev, at, l.n);
  Adjust(leaf, -moved[0], -moved[1], -moved[2]);
  Adjust(prev, moved[0], moved[1], moved[2]);
  FlushCounts();
}

Loc ItemTree::SplitLeaf(Loc loc) {
  FlushCounts();
  cache_valid_ = false;
  hint_valid_ = false;
  prep_cache_valid_ = false;
  uint32_t right = NewLeaf();
  Leaf& l = leaves_[loc.leaf];
  Leaf& r = leaves_[right];
  // Split where the insertion is when that is in the back half: typing
  // inserts at one place, so the leaf left behind stays nearly full instead
  // of half empty.
  uint32_t half = std::clamp(loc.idx, l.n / 2, l.n - 1);
  r.n = l.n - half;
  std::copy_n(l.items + half, r.n, r.items);
  if (tracking_) std::copy_n(prep_leaves_[loc.leaf].state + half, r.n, prep_leaves_[right].state);
  l.n = half;
  r.prev = loc.leaf;
  r.next = l.next;
  if (l.next != kNone) leaves_[l.next].prev = right;
  l.next = right;
  RecountLeaf(right);
  RecountLeaf(loc.leaf);
  IndexItems(right, 0, r.n);
  uint64_t moved[3];
  LeafCounts(right, moved);
  uint32_t parent = l.parent;
  uint32_t slot = l.slot;
  nodes_[parent].vis[slot] -= moved[0];
  nodes_[parent].all[slot] -= moved[1];
  if (tracking_) prep_nodes_[parent].count[slot] -= moved[2];
  InsertChild(parent, slot + 1, right, moved);
  if (loc.idx >= half) return Loc{right, loc.idx - half};
  return loc;
}

void ItemTree::Build(const std::vector<Item>& items, std::string_view arena,
                     const std::vector<uint32_t>& next_seq) {
  arena_.assign(arena.begin(), arena.end());
  BuildShape(items);
  IndexLater(next_seq);
}

void ItemTree::IndexLater(const std::vector<uint32_t>& next_seq) {
  // Empty but addressable: edits made before the build update it as usual
  // (cheap, and no test on their paths), and it tells the build each
  // agent's seq bound.
  index_.Clear(next_seq.size());
  for (size_t a = 0; a < next_seq.size(); ++a) {
    index_.Reserve(static_cast<uint32_t>(a), next_seq[a]);
  }
  index_stale_ = true;
}

void ItemTree::BuildIndex() const {
  std::vector<uint64_t> next_seq(index_.agents());
  for (size_t a = 0; a < next_seq.size(); ++a) {
    next_seq[a] = index_.addressable(static_cast<uint32_t>(a));
  }
  index_.LoadItems(std::move(next_seq), [&](auto&& fn) {
    for (uint32_t leaf = Begin().leaf; leaf != kNone; leaf = leaves_[leaf].next) {
      const Leaf& l = leaves_[leaf];
      for (uint32_t i = 0; i < l.n; ++i) {
        const Item& it = l.items[i];
        fn(it.agent, IdIndex::LeafRange{it.seq, it.seq + it.len, leaf});
      }
    }
  });
  index_stale_ = false;
}

void ItemTree::StartLayout() {
  assert(!tracking_);
  leaves_.clear();
  nodes_.clear();
  pending_leaf_ = kNone;
  pending_vis_ = pending_all_ = pending_prep_ = 0;
  cache_valid_ = false;
  hint_valid_ = false;
  prep_cache_valid_ = false;
}

void ItemTree::FinishLayout(size_t nleaves) {
  constexpr uint32_t kNodeFill = kFanout * 3 / 4;
  visible_ = all_ = 0;
  for (size_t k = 0; k < nleaves; ++k) {
    visible_ += leaves_[k].vis;
    all_ += leaves_[k].all;
  }
  // Level by level: children [0, count) of the level below, leaves first.
  size_t count = nleaves;
  size_t first = 0;  // first node index of the level below (nodes only)
  bool leaf_level = true;
  for (;;) {
    size_t parents = (count + kNodeFill - 1) / kNodeFill;
    size_t base = nodes_.size();
    nodes_.resize(base + parents);
    for (size_t p = 0; p < parents; ++p) {
      Node& nd = nodes_[base + p];
      nd.leaf_children = leaf_level;
      size_t begin = p * kNodeFill;
      size_t end = std::min(count, begin + kNodeFill);
      for (size_t c = begin; c < end; ++c) {
        uint32_t child = static_cast<uint32_t>(leaf_level ? c : first + c);
        nd.child[nd.n] = child;
        if (leaf_level) {
          nd.vis[nd.n] = leaves_[child].vis;
          nd.all[nd.n] = leaves_[child].all;
          SetParent(child, true, static_cast<uint32_t>(base + p), nd.n);
        } else {
          uint64_t v = 0, a = 0;
          for (uint32_t i = 0; i < nodes_[child].n; ++i) {
            v += nodes_[child].vis[i];
            a += nodes_[child].all[i];
          }
          nd.vis[nd.n] = v;
          nd.all[nd.n] = a;
          SetParent(child, false, static_cast<uint32_t>(base + p), nd.n);
        }
        ++nd.n;
      }
    }
    if (parents == 1) {
      root_ = static_cast<uint32_t>(base);
      nodes_[root_].parent = kNone;
      break;
    }
    first = base;
    count = parents;
    leaf_level = false;
  }
}

}  // namespace weft::engine::detail
