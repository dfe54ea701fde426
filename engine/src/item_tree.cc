// ItemTree: lookups and edits of Items. The B+tree's node maintenance
// (splits, moving Items between leaves, bulk build) is in
// item_tree_nodes.cc, the prepare state of imports in item_tree_prep.cc.
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
    rel = pos;
    leaf = Descend(&rel, false);
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

uint32_t ItemTree::Descend(uint64_t* rel, bool prep) const {
  FlushCounts();
  uint32_t node = root_;
  for (;;) {
    const Node& nd = nodes_[node];
    const uint64_t* counts = prep ? prep_nodes_[node].count : nd.vis;
    uint32_t i = 0;
    while (i + 1 < nd.n && *rel >= counts[i]) *rel -= counts[i++];
    if (nd.leaf_children) return nd.child[i];
    node = nd.child[i];
  }
}

ItemTree::Found ItemTree::FindId(uint32_t agent, uint32_t seq) const {
  EnsureIndex();
  uint32_t leaf = index_.Get(agent, seq);
  const Leaf& l = leaves_[leaf];
  for (uint32_t i = 0; i < l.n; ++i) {
    const Item& it = l.items[i];
    if (it.Contains(agent, seq)) return Found{Loc{leaf, i}, seq - it.seq};
  }
  assert(false && "id index out of step with items");
  return Found{Loc{kNone, 0}, 0};
}

ItemTree::Found ItemTree::FindIdNear(uint32_t agent, uint32_t seq, Loc hint) const {
  // A hint may be stale (Items moved since): only a live slot counts, and
  // a live slot holding the id is the one place that holds it.
  if (hint.leaf < leaves_.size()) {
    const Leaf& l = leaves_[hint.leaf];
    for (uint32_t i = hint.idx; i < l.n && i < hint.idx + 3; ++i) {
      if (l.items[i].Contains(agent, seq)) return Found{Loc{hint.leaf, i}, seq - l.items[i].seq};
    }
  }
  return FindId(agent, seq);
}

bool ItemTree::Holds(uint32_t agent, uint32_t seq) const {
  EnsureIndex();
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
  FlushCounts();
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

void ItemTree::Adjust(uint32_t leaf, int64_t dvis, int64_t dall, int64_t dprep) {
  if (leaf != cache_leaf_) cache_valid_ = false;
  if (dprep != 0 && leaf != prep_cache_leaf_) prep_cache_valid_ = false;
  visible_ += dvis;
  all_ += dall;
  leaves_[leaf].vis += dvis;
  leaves_[leaf].all += dall;
  if (tracking_) {
    prep_visible_ += dprep;
    prep_leaves_[leaf].count += dprep;
  }
  if (pending_leaf_ != leaf) {
    FlushCounts();
    pending_leaf_ = leaf;
  }
  pending_vis_ += dvis;
  pending_all_ += dall;
  pending_prep_ += dprep;
}

void ItemTree::FlushCounts() const {
  if (pending_leaf_ == kNone) return;
  uint32_t slot = leaves_[pending_leaf_].slot;
  for (uint32_t node = leaves_[pending_leaf_].parent; node != kNone; node = nodes_[node].parent) {
    nodes_[node].vis[slot] += pending_vis_;
    nodes_[node].all[slot] += pending_all_;
    if (tracking_) prep_nodes_[node].count[slot] += pending_prep_;
    slot = nodes_[node].slot;
  }
  pending_leaf_ = kNone;
  pending_vis_ = pending_all_ = pending_prep_ = 0;
}

void ItemTree::AddAgent() { index_.AddAgent(); }

void ItemTree::ReserveSeqs(uint32_t agent, uint64_t next_seq) { index_.Reserve(agent, next_seq); }

uint32_t ItemTree::Append(std::string_view utf8) {
  uint32_t off = static_cast<uint32_t>(arena_.size());
  ReserveArena(utf8.size());
  arena_.insert(arena_.end(), utf8.begin(), utf8.end());
  return off;
}

void ItemTree::OpenSlot(uint32_t leaf, uint32_t idx) {
  Leaf& l = leaves_[leaf];
  assert(l.n < kLeafCap);
  std::copy_backward(l.items + idx, l.items + l.n, l.items + l.n + 1);
  if (tracking_) {
    uint32_t* st = prep_leaves_[leaf].state;
    std::copy_backward(st + idx, st + l.n, st + l.n + 1);
  }
  ++l.n;
}

void ItemTree::CloseSlot(uint32_t leaf, uint32_t idx) {
  Leaf& l = leaves_[leaf];
  std::copy(l.items + idx + 1, l.items + l.n, l.items + idx);
  if (tracking_) {
    uint32_t* st = prep_leaves_[leaf].state;
    std::copy(st + idx + 1, st + l.n, st + idx);
  }
  --l.n;
}

Item CutItem(Item& it, std::string_view bytes, uint32_t offset) {
  uint32_t b =
      it.byte_len == it.len ? offset : static_cast<uint32_t>(Utf8OffsetNear(bytes, it.len, offset));
  Item right = it;
  right.seq += offset;
  right.len -= offset;
  right.byte_off += b;
  right.byte_len -= b;
  right.left = Ref{it.agent, it.seq + offset - 1};
  it.len = offset;
  it.byte_len = b;
  return right;
}

Loc ItemTree::SplitItem(Loc loc, uint32_t offset) {
  loc = MakeRoom(loc, true);
  Item& it = at(loc);
  assert(offset > 0 && offset < it.len);
  Item right = CutItem(it, Bytes(it), offset);
  Touched(loc.leaf, loc.idx + 1);
  OpenSlot(loc.leaf, loc.idx + 1);
  leaves_[loc.leaf].items[loc.idx + 1] = right;
  if (tracking_) {
    uint32_t* st = prep_leaves_[loc.leaf].state;
    st[loc.idx + 1] = st[loc.idx];
  }
  return Loc{loc.leaf, loc.idx + 1};
}

Loc ItemTree::SplitAfter(Found f, Ref* id) {
  const Item& it = at(f.loc);
  *id = Ref{it.agent, it.seq + f.offset};
  return f.offset + 1 < it.len ? SplitItem(f.loc, f.offset + 1) : Next(f.loc);
}

Loc ItemTree::Insert(Loc loc, const Item& item) {
  if (loc.leaf == kNone) {
    // The document end: after the last Item of the last leaf.
    Loc last = Prev(loc);
    loc = last.leaf == kNone ? Loc{0, 0} : Loc{last.leaf, last.idx + 1};
  }
  loc = MakeRoom(loc, false);
  Touched(loc.leaf, loc.idx);
  OpenSlot(loc.leaf, loc.idx);
  leaves_[loc.leaf].items[loc.idx] = item;
  int64_t dprep = 0;
  if (tracking_) {
    prep_leaves_[loc.leaf].state[loc.idx] = kPrepInserted;
    dprep = item.len;
  }
  index_.Set(item.agent, item.seq, item.len, loc.leaf);
  Adjust(loc.leaf, item.visible(), item.len, dprep);
  return loc;
}

void ItemTree::Extend(Loc loc, uint32_t len, uint32_t byte_len) {
  Touched(loc.leaf, loc.idx + 1);
  Item& it = at(loc);
  uint32_t old_len = it.len;
  it.len += len;
  it.byte_len += byte_len;
  index_.Set(it.agent, it.seq + old_len, len, loc.leaf);
  int64_t dprep = tracking_ && PrepVisible(PrepState(loc)) ? len : 0;
  Adjust(loc.leaf, it.deleted ? 0 : len, len, dprep);
}

void ItemTree::MarkDeleted(Loc loc) {
  Item& it = at(loc);
  if (it.deleted) return;
  Touched(loc.leaf, loc.idx + 1);
  it.deleted = true;
  Adjust(loc.leaf, -static_cast<int64_t>(it.len), 0);
}

bool ItemTree::JoinNext(uint32_t leaf, uint32_t i) {
  Leaf& l = leaves_[leaf];
  if (i + 1 >= l.n || !Continues(l.items[i], l.items[i + 1])) return false;
  if (tracking_ && prep_leaves_[leaf].state[i] != prep_leaves_[leaf].state[i + 1]) return false;
  l.items[i].len += l.items[i + 1].len;
  l.items[i].byte_len += l.items[i + 1].byte_len;
  CloseSlot(leaf, i + 1);
  return true;
}

void ItemTree::JoinTombstones(Loc loc) {
  Touched(loc.leaf, loc.idx);
  JoinNext(loc.leaf, loc.idx);
  if (loc.idx > 0) JoinNext(loc.leaf, loc.idx - 1);
}

Status ItemTree::CheckInvariants() const {
  FlushCounts();
  EnsureIndex();
  // Walk the leaves in order and check links, counts and the id index.
  uint64_t vis_total = 0, all_total = 0, prep_total = 0;
  uint32_t prev = kNone;
  size_t leaves_seen = 0;
  for (uint32_t leaf = 0; leaf != kNone; leaf = leaves_[leaf].next) {
    const Leaf& l = leaves_[leaf];
    if (l.prev != prev) return Status::Internal("leaf prev link broken");
    if (l.n == 0 && leaves_.size() > 1) return Status::Internal("empty leaf");
    uint64_t v = 0, a = 0, p = 0;
    for (uint32_t i = 0; i < l.n; ++i) {
      const Item& it = l.items[i];
      if (it.len == 0) return Status::Internal("empty item");
      if (CountUtf8(Bytes(it)) != it.len) return Status::Internal("item text length mismatch");
      v += it.visible();
      a += it.len;
      if (tracking_) p += PrepLen(leaf, i);
      for (uint32_t k = 0; k < it.len; ++k) {
        if (index_.Get(it.agent, it.seq + k) != leaf) return Status::Internal("id index stale");
      }
    }
    if (v != l.vis || a != l.all) return Status::Internal("leaf counts stale");
    if (tracking_ && p != prep_leaves_[leaf].count) return Status::Internal("leaf prep stale");
    vis_total += v;
    all_total += a;
    prep_total += p;
    prev = leaf;
    ++leaves_seen;
  }
  if (leaves_seen != leaves_.size()) return Status::Internal("leaf unreachable");
  for (uint32_t node = 0; node < nodes_.size(); ++node) {
    const Node& nd = nodes_[node];
    bool reachable = node == root_ || nd.parent != kNone;
    if (!reachable) continue;
    for (uint32_t i = 0; i < nd.n; ++i) {
      uint64_t want[3], got[3] = {0, 0, 0};
      SlotCounts(node, i, want);
      uint32_t c = nd.child[i];
      if (nd.leaf_children) {
        if (leaves_[c].parent != node || leaves_[c].slot != i) {
          return Status::Internal("leaf parent link broken");
        }
        LeafCounts(c, got);
      } else {
        if (nodes_[c].parent != node || nodes_[c].slot != i) {
          return Status::Internal("node parent link broken");
        }
        for (uint32_t j = 0; j < nodes_[c].n; ++j) {
          uint64_t sub[3];
          SlotCounts(c, j, sub);
          for (int k = 0; k < 3; ++k) got[k] += sub[k];
        }
      }
      if (!std::equal(want, want + 3, got)) return Status::Internal("node counts stale");
    }
  }
  uint64_t root[3] = {0, 0, 0};
  for (uint32_t i = 0; i < nodes_[root_].n; ++i) {
    uint64_t sub[3];
    SlotCounts(root_, i, sub);
    for (int k = 0; k < 3; ++k) root[k] += sub[k];
  }
  if (vis_total != visible_ || all_total != all_ || root[0] != visible_ || root[1] != all_) {
    return Status::Internal("root counts stale");
  }
  if (tracking_ && (prep_total != prep_visible_ || root[2] != prep_visible_)) {
    return Status::Internal("prep counts stale");
  }
  return Status::Ok();
}

size_t ItemTree::HeapBytes() const {
  return leaves_.HeapBytes() + nodes_.HeapBytes() + arena_.capacity() + index_.HeapBytes() +
         prep_leaves_.capacity() * sizeof(PrepLeaf) + prep_nodes_.capacity() * sizeof(PrepNode);
}

void ItemTree::AppendText(std::string* out) const {
  const char* run = arena_.data();
  size_t run_len = 0;
  for (uint32_t leaf = 0; leaf != kNone; leaf = leaves_[leaf].next) {
    const Leaf& l = leaves_[leaf];
    for (uint32_t i = 0; i < l.n; ++i) {
      const Item& it = l.items[i];
      if (it.deleted) continue;
      const char* p = arena_.data() + it.byte_off;
      if (p != run + run_len) {
        out->append(run, run_len);
        run = p;
        run_len = 0;
      }
      run_len += it.byte_len;
    }
  }
  out->append(run, run_len);
}

}  // namespace weft::engine::detail
