#include "item_tree.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <string>

#include "utf8.h"

namespace weft::engine::detail {

ItemTree::ItemTree() {
  leaves_.emplace_back();
  nodes_.emplace_back();
  nodes_[0].n = 1;
  nodes_[0].child[0] = 0;
  nodes_[0].vis[0] = 0;
  nodes_[0].all[0] = 0;
  leaves_[0].parent = 0;
}

Loc ItemTree::Normalize(Loc loc) const {
  while (loc.leaf != kNone && loc.idx >= leaves_[loc.leaf].n) loc = Loc{leaves_[loc.leaf].next, 0};
  return loc;
}

Loc ItemTree::Prev(Loc loc) const {
  if (loc.leaf == kNone) {
    // The end: the last Item of the last leaf. Leaves are only appended after
    // their left neighbour, so the last leaf is found by walking from the root.
    uint32_t node = root_;
    while (!nodes_[node].leaf_children) node = nodes_[node].child[nodes_[node].n - 1];
    uint32_t leaf = nodes_[node].child[nodes_[node].n - 1];
    if (leaves_[leaf].n == 0) return Loc{kNone, 0};
    return Loc{leaf, leaves_[leaf].n - 1};
  }
  if (loc.idx > 0) return Loc{loc.leaf, loc.idx - 1};
  uint32_t p = leaves_[loc.leaf].prev;
  if (p == kNone) return Loc{kNone, 0};
  return Loc{p, leaves_[p].n - 1};
}

ItemTree::Found ItemTree::FindVisible(uint64_t pos) const {
  assert(pos < visible());
  uint32_t leaf;
  uint64_t rel;
  if (cache_valid_ && pos >= cache_start_ && pos - cache_start_ < leaves_[cache_leaf_].vis) {
    leaf = cache_leaf_;
    rel = pos - cache_start_;
  } else {
    uint32_t node = root_;
    rel = pos;
    for (;;) {
      const Node& nd = nodes_[node];
      uint32_t i = 0;
      while (i + 1 < nd.n && rel >= nd.vis[i]) rel -= nd.vis[i++];
      if (nd.leaf_children) {
        leaf = nd.child[i];
        break;
      }
      node = nd.child[i];
    }
    cache_valid_ = true;
    cache_leaf_ = leaf;
    cache_start_ = pos - rel;
    hint_valid_ = false;
  }
  const Leaf& l = leaves_[leaf];
  uint32_t i = 0;
  uint64_t start = 0;  // visible characters in the leaf before item i
  if (hint_valid_ && rel >= hint_start_) {
    i = hint_idx_;
    start = hint_start_;
  }
  for (; i < l.n; ++i) {
    uint32_t v = l.items[i].visible();
    if (rel - start < v) {
      hint_valid_ = true;
      hint_idx_ = i;
      hint_start_ = start;
      return Found{Loc{leaf, i}, static_cast<uint32_t>(rel - start)};
    }
    start += v;
  }
  assert(false && "visible counts out of step with items");
  return Found{Loc{kNone, 0}, 0};
}

ItemTree::Found ItemTree::FindId(uint32_t agent, uint32_t seq) const {
  uint32_t leaf = index_.Get(agent, seq);
  const Leaf& l = leaves_[leaf];
  for (uint32_t i = 0; i < l.n; ++i) {
    const Item& it = l.items[i];
    if (it.Contains(agent, seq)) return Found{Loc{leaf, i}, seq - it.seq};
  }
  assert(false && "id index out of step with items");
  return Found{Loc{kNone, 0}, 0};
}

bool ItemTree::Holds(uint32_t agent, uint32_t seq) const {
  uint32_t leaf = index_.Probe(agent, seq);
  if (leaf >= leaves_.size()) return false;
  const Leaf& l = leaves_[leaf];
  for (uint32_t i = 0; i < l.n; ++i) {
    if (l.items[i].Contains(agent, seq)) return true;
  }
  return false;
}

uint64_t ItemTree::VisibleBefore(Loc loc) const { return CountBefore(loc, true); }

uint64_t ItemTree::AllBefore(Loc loc) const { return CountBefore(loc, false); }

uint64_t ItemTree::CountBefore(Loc loc, bool visible_only) const {
  if (loc.leaf == kNone) return visible_only ? visible() : all();
  const Leaf& l = leaves_[loc.leaf];
  uint64_t sum = 0;
  for (uint32_t i = 0; i < loc.idx; ++i)
    sum += visible_only ? l.items[i].visible() : l.items[i].len;
  if (visible_only && cache_valid_ && loc.leaf == cache_leaf_) return sum + cache_start_;
  uint32_t slot = l.slot;
  for (uint32_t node = l.parent; node != kNone; node = nodes_[node].parent) {
    const uint64_t* counts = visible_only ? nodes_[node].vis : nodes_[node].all;
    for (uint32_t i = 0; i < slot; ++i) sum += counts[i];
    slot = nodes_[node].slot;
  }
  return sum;
}

void ItemTree::Touched(uint32_t leaf, uint32_t idx) {
  if (leaf == cache_leaf_ && idx <= hint_idx_) hint_valid_ = false;
}

void ItemTree::Adjust(uint32_t leaf, int64_t dvis, int64_t dall) {
  if (leaf != cache_leaf_) cache_valid_ = false;
  visible_ += dvis;
  all_ += dall;
  leaves_[leaf].vis += dvis;
  leaves_[leaf].all += dall;
  uint32_t slot = leaves_[leaf].slot;
  for (uint32_t node = leaves_[leaf].parent; node != kNone; node = nodes_[node].parent) {
    nodes_[node].vis[slot] += dvis;
    nodes_[node].all[slot] += dall;
    slot = nodes_[node].slot;
  }
}

void ItemTree::SetParent(uint32_t child, bool is_leaf, uint32_t parent, uint32_t slot) {
  if (is_leaf) {
    leaves_[child].parent = parent;
    leaves_[child].slot = slot;
  } else {
    nodes_[child].parent = parent;
    nodes_[child].slot = slot;
  }
}

void ItemTree::IndexRange(const Item& item, uint32_t leaf) {
  index_.Set(item.agent, item.seq, item.len, leaf);
}

void ItemTree::AddAgent() { index_.AddAgent(); }

void ItemTree::ReserveSeqs(uint32_t agent, uint64_t next_seq) { index_.Reserve(agent, next_seq); }

uint32_t ItemTree::Append(std::string_view utf8) {
  uint32_t off = static_cast<uint32_t>(arena_.size());
  if (arena_.size() + utf8.size() > arena_.capacity()) {
    // Grow by a quarter, not double: the arena lives as long as the Doc and
    // the copies are cheap next to the edits that fill it.
    arena_.reserve(std::max(arena_.size() + utf8.size(), arena_.capacity() / 4 * 5 + 4096));
  }
  arena_.insert(arena_.end(), utf8.begin(), utf8.end());
  return off;
}

void ItemTree::InsertChild(uint32_t node, uint32_t slot, uint32_t child, uint64_t vis,
                           uint64_t all) {
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
  InsertSlot(node, slot, child, vis, all);
  if (left != kNone) {
    // The split counted the halves before the new child was in either; count
    // both again now (their ancestors above already include the child).
    RecountInParent(left);
    RecountInParent(right);
  }
}

void ItemTree::RecountInParent(uint32_t node) {
  const Node& nd = nodes_[node];
  uint64_t v = 0, a = 0;
  for (uint32_t i = 0; i < nd.n; ++i) {
    v += nd.vis[i];
    a += nd.all[i];
  }
  nodes_[nd.parent].vis[nd.slot] = v;
  nodes_[nd.parent].all[nd.slot] = a;
}

void ItemTree::InsertSlot(uint32_t node, uint32_t slot, uint32_t child, uint64_t vis,
                          uint64_t all) {
  Node& nd = nodes_[node];
  for (uint32_t i = nd.n; i > slot; --i) {
    nd.child[i] = nd.child[i - 1];
    nd.vis[i] = nd.vis[i - 1];
    nd.all[i] = nd.all[i - 1];
  }
  nd.child[slot] = child;
  nd.vis[slot] = vis;
  nd.all[slot] = all;
  ++nd.n;
  for (uint32_t i = slot; i < nd.n; ++i) SetParent(nd.child[i], nd.leaf_children, node, i);
}

uint32_t ItemTree::SplitNode(uint32_t node) {
  uint32_t right = static_cast<uint32_t>(nodes_.size());
  nodes_.emplace_back();
  Node& l = nodes_[node];
  Node& r = nodes_[right];
  uint32_t half = l.n / 2;
  r.leaf_children = l.leaf_children;
  r.n = l.n - half;
  uint64_t svis = 0, sall = 0;
  for (uint32_t i = 0; i < r.n; ++i) {
    r.child[i] = l.child[half + i];
    r.vis[i] = l.vis[half + i];
    r.all[i] = l.all[half + i];
    svis += r.vis[i];
    sall += r.all[i];
  }
  l.n = half;
  for (uint32_t i = 0; i < r.n; ++i) SetParent(nodes_[right].child[i], r.leaf_children, right, i);
  uint32_t parent = nodes_[node].parent;
  if (parent == kNone) {
    uint32_t root = static_cast<uint32_t>(nodes_.size());
    nodes_.emplace_back();
    Node& nr = nodes_[root];
    nr.leaf_children = false;
    nr.n = 2;
    nr.child[0] = node;
    nr.child[1] = right;
    uint64_t lvis = 0, lall = 0;
    for (uint32_t i = 0; i < nodes_[node].n; ++i) {
      lvis += nodes_[node].vis[i];
      lall += nodes_[node].all[i];
    }
    nr.vis[0] = lvis;
    nr.all[0] = lall;
    nr.vis[1] = svis;
    nr.all[1] = sall;
    SetParent(node, false, root, 0);
    SetParent(right, false, root, 1);
    root_ = root;
  } else {
    uint32_t slot = nodes_[node].slot;
    nodes_[parent].vis[slot] -= svis;
    nodes_[parent].all[slot] -= sall;
    InsertChild(parent, slot + 1, right, svis, sall);
  }
  return right;
}

Loc ItemTree::SplitLeaf(Loc loc) {
  cache_valid_ = false;
  hint_valid_ = false;
  uint32_t right = static_cast<uint32_t>(leaves_.size());
  leaves_.emplace_back();
  Leaf& l = leaves_[loc.leaf];
  Leaf& r = leaves_[right];
  // Split where the insertion is when that is in the back half: typing
  // inserts at one place, so the leaf left behind stays nearly full instead
  // of half empty.
  uint32_t half = std::clamp(loc.idx, l.n / 2, l.n - 1);
  r.n = l.n - half;
  std::copy_n(l.items + half, r.n, r.items);
  l.n = half;
  r.prev = loc.leaf;
  r.next = l.next;
  if (l.next != kNone) leaves_[l.next].prev = right;
  l.next = right;
  for (uint32_t i = 0; i < r.n; ++i) {
    r.vis += r.items[i].visible();
    r.all += r.items[i].len;
    IndexRange(r.items[i], right);
  }
  l.vis -= r.vis;
  l.all -= r.all;
  uint32_t parent = l.parent;
  uint32_t slot = l.slot;
  nodes_[parent].vis[slot] -= r.vis;
  nodes_[parent].all[slot] -= r.all;
  InsertChild(parent, slot + 1, right, r.vis, r.all);
  if (loc.idx >= half) return Loc{right, loc.idx - half};
  return loc;
}

Loc ItemTree::SplitItem(Loc loc, uint32_t offset) {
  if (leaves_[loc.leaf].n == kLeafCap) loc = SplitLeaf(loc);
  Leaf& l = leaves_[loc.leaf];
  Item& it = l.items[loc.idx];
  assert(offset > 0 && offset < it.len);
  uint32_t bytes =
      it.byte_len == it.len ? offset : static_cast<uint32_t>(Utf8Offset(Bytes(it), offset));
  Item right = it;
  right.seq += offset;
  right.len -= offset;
  right.byte_off += bytes;
  right.byte_len -= bytes;
  right.left = Ref{it.agent, it.seq + offset - 1};
  it.len = offset;
  it.byte_len = bytes;
  Touched(loc.leaf, loc.idx + 1);
  for (uint32_t i = l.n; i > loc.idx + 1; --i) l.items[i] = l.items[i - 1];
  l.items[loc.idx + 1] = right;
  ++l.n;
  return Loc{loc.leaf, loc.idx + 1};
}

Loc ItemTree::Insert(Loc loc, const Item& item) {
  if (loc.leaf == kNone) {
    // The document end: after the last Item of the last leaf.
    Loc last = Prev(loc);
    loc = last.leaf == kNone ? Loc{0, 0} : Loc{last.leaf, last.idx + 1};
  }
  if (leaves_[loc.leaf].n == kLeafCap) loc = SplitLeaf(loc);
  Touched(loc.leaf, loc.idx);
  Leaf& l = leaves_[loc.leaf];
  for (uint32_t i = l.n; i > loc.idx; --i) l.items[i] = l.items[i - 1];
  l.items[loc.idx] = item;
  ++l.n;
  IndexRange(item, loc.leaf);
  Adjust(loc.leaf, item.visible(), item.len);
  return loc;
}

void ItemTree::Extend(Loc loc, uint32_t len, uint32_t byte_len) {
  Touched(loc.leaf, loc.idx + 1);
  Item& it = at(loc);
  uint32_t old_len = it.len;
  it.len += len;
  it.byte_len += byte_len;
  index_.Set(it.agent, it.seq + old_len, len, loc.leaf);
  Adjust(loc.leaf, it.deleted ? 0 : len, len);
}

void ItemTree::MarkDeleted(Loc loc) {
  Item& it = at(loc);
  if (it.deleted) return;
  Touched(loc.leaf, loc.idx + 1);
  it.deleted = true;
  Adjust(loc.leaf, -static_cast<int64_t>(it.len), 0);
}

namespace {
// True when `b` directly continues `a`: same agent, next ids, typed right
// after it with the same origin right, text adjacent in the arena.
bool Continues(const Item& a, const Item& b) {
  return a.agent == b.agent && uint64_t{a.seq} + a.len == b.seq && a.deleted == b.deleted &&
         b.left == Ref{a.agent, b.seq - 1} && a.right == b.right &&
         uint64_t{a.byte_off} + a.byte_len == b.byte_off;
}
}  // namespace

void ItemTree::JoinTombstones(Loc loc) {
  Touched(loc.leaf, loc.idx);
  Leaf& l = leaves_[loc.leaf];
  uint32_t i = loc.idx;
  if (i + 1 < l.n && Continues(l.items[i], l.items[i + 1])) {
    l.items[i].len += l.items[i + 1].len;
    l.items[i].byte_len += l.items[i + 1].byte_len;
    std::copy(l.items + i + 2, l.items + l.n, l.items + i + 1);
    --l.n;
  }
  if (i > 0 && Continues(l.items[i - 1], l.items[i])) {
    l.items[i - 1].len += l.items[i].len;
    l.items[i - 1].byte_len += l.items[i].byte_len;
    std::copy(l.items + i + 1, l.items + l.n, l.items + i);
    --l.n;
  }
}

void ItemTree::Build(std::span<const Item> items, std::string_view arena,
                     std::span<const uint32_t> next_seq) {
  constexpr uint32_t kNodeFill = kFanout * 3 / 4;
  arena_.assign(arena.begin(), arena.end());
  leaves_.clear();
  nodes_.clear();
  cache_valid_ = false;
  hint_valid_ = false;
  size_t nleaves = std::max<size_t>(1, (items.size() + kBuildFill - 1) / kBuildFill);
  leaves_.resize(nleaves);
  for (size_t k = 0; k < nleaves; ++k) {
    Leaf& l = leaves_[k];
    l.prev = k == 0 ? kNone : static_cast<uint32_t>(k - 1);
    l.next = k + 1 == nleaves ? kNone : static_cast<uint32_t>(k + 1);
    size_t begin = k * kBuildFill;
    size_t end = std::min(items.size(), begin + kBuildFill);
    for (size_t i = begin; i < end; ++i) {
      const Item& it = items[i];
      l.items[l.n++] = it;
      l.vis += it.visible();
      l.all += it.len;
    }
  }
  visible_ = all_ = 0;
  for (size_t k = 0; k < nleaves; ++k) {
    visible_ += leaves_[k].vis;
    all_ += leaves_[k].all;
  }
  index_.Rebuild(next_seq, items.size(), [&](size_t i) {
    const Item& it = items[i];
    return IdIndex::Span{it.agent, it.seq, it.len, BuiltLeafOf(i)};
  });
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

Status ItemTree::CheckInvariants() const {
  // Walk the leaves in order and check links, counts and the id index.
  uint64_t vis_total = 0, all_total = 0;
  uint32_t prev = kNone;
  size_t leaves_seen = 0;
  for (uint32_t leaf = 0; leaf != kNone; leaf = leaves_[leaf].next) {
    const Leaf& l = leaves_[leaf];
    if (l.prev != prev) return Status::Internal("leaf prev link broken");
    if (l.n == 0 && leaves_.size() > 1) return Status::Internal("empty leaf");
    uint64_t v = 0, a = 0;
    for (uint32_t i = 0; i < l.n; ++i) {
      const Item& it = l.items[i];
      if (it.len == 0) return Status::Internal("empty item");
      if (CountUtf8(Bytes(it)) != it.len) return Status::Internal("item text length mismatch");
      v += it.visible();
      a += it.len;
      for (uint32_t k = 0; k < it.len; ++k) {
        if (index_.Get(it.agent, it.seq + k) != leaf) return Status::Internal("id index stale");
      }
    }
    if (v != l.vis || a != l.all) return Status::Internal("leaf counts stale");
    vis_total += v;
    all_total += a;
    prev = leaf;
    ++leaves_seen;
  }
  if (leaves_seen != leaves_.size()) return Status::Internal("leaf unreachable");
  for (uint32_t node = 0; node < nodes_.size(); ++node) {
    const Node& nd = nodes_[node];
    bool reachable = node == root_ || nd.parent != kNone;
    if (!reachable) continue;
    for (uint32_t i = 0; i < nd.n; ++i) {
      uint64_t v = 0, a = 0;
      uint32_t c = nd.child[i];
      if (nd.leaf_children) {
        if (leaves_[c].parent != node || leaves_[c].slot != i) {
          return Status::Internal("leaf parent link broken");
        }
        v = leaves_[c].vis;
        a = leaves_[c].all;
      } else {
        if (nodes_[c].parent != node || nodes_[c].slot != i) {
          return Status::Internal("node parent link broken");
        }
        for (uint32_t j = 0; j < nodes_[c].n; ++j) {
          v += nodes_[c].vis[j];
          a += nodes_[c].all[j];
        }
      }
      if (v != nd.vis[i] || a != nd.all[i]) return Status::Internal("node counts stale");
    }
  }
  uint64_t root_vis = 0, root_all = 0;
  for (uint32_t i = 0; i < nodes_[root_].n; ++i) {
    root_vis += nodes_[root_].vis[i];
    root_all += nodes_[root_].all[i];
  }
  if (vis_total != visible_ || all_total != all_ || root_vis != visible_ || root_all != all_) {
    return Status::Internal("root counts stale");
  }
  return Status::Ok();
}

size_t ItemTree::HeapBytes() const {
  size_t bytes = leaves_.HeapBytes() + nodes_.HeapBytes() + arena_.capacity() + index_.HeapBytes();
  return bytes;
}

}  // namespace weft::engine::detail
