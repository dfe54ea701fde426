// ItemTree: the prepare state that importing a positional history keeps
// beside the Items (see history_import.cc).
#include <algorithm>
#include <cassert>

#include "item_tree.h"

namespace weft::engine::detail {

void ItemTree::BeginTracking() {
  assert(!tracking_);
  FlushCounts();
  tracking_ = true;
  prep_leaves_.assign(leaves_.size(), PrepLeaf{});
  for (uint32_t leaf = 0; leaf < leaves_.size(); ++leaf) {
    const Leaf& l = leaves_[leaf];
    for (uint32_t i = 0; i < l.n; ++i) {
      prep_leaves_[leaf].state[i] = kPrepInserted | (l.items[i].deleted ? 1 : 0);
    }
    prep_leaves_[leaf].count = l.vis;
  }
  prep_nodes_.assign(nodes_.size(), PrepNode{});
  for (uint32_t node = 0; node < nodes_.size(); ++node) {
    std::copy_n(nodes_[node].vis, kFanout, prep_nodes_[node].count);
  }
  prep_visible_ = visible_;
  prep_cache_valid_ = false;
}

void ItemTree::EndTracking(const std::vector<uint32_t>& next_seq) {
  FlushCounts();
  tracking_ = false;
  std::vector<PrepLeaf>().swap(prep_leaves_);
  std::vector<PrepNode>().swap(prep_nodes_);
  prep_visible_ = 0;
  pending_prep_ = 0;
  // Moving the prepare version split Items at txn boundaries that nothing
  // else tells apart (a run typed on over two txns, say): join them again,
  // across leaves too, and lay the tree out afresh, as a snapshot load
  // does: the joins would leave the leaves sparse.
  std::vector<Item> items;
  for (Loc loc = Begin(); loc.leaf != kNone; loc = Next(loc)) {
    const Item& it = at(loc);
    if (!items.empty() && Continues(items.back(), it)) {
      items.back().len += it.len;
      items.back().byte_len += it.byte_len;
    } else {
      items.push_back(it);
    }
  }
  BuildShape(items);
  IndexLater(next_seq);
}

void ItemTree::SetPrepState(Loc loc, uint32_t state) {
  uint32_t& st = prep_leaves_[loc.leaf].state[loc.idx];
  int64_t d = int64_t{PrepVisible(state)} - int64_t{PrepVisible(st)};
  st = state;
  if (d != 0) Adjust(loc.leaf, 0, 0, d * at(loc).len);
}

ItemTree::Found ItemTree::FindPrep(uint64_t pos) const {
  assert(tracking_ && pos < prep_visible_);
  uint32_t leaf;
  uint64_t rel;
  if (prep_cache_valid_ && pos >= prep_cache_start_ &&
      pos - prep_cache_start_ < prep_leaves_[prep_cache_leaf_].count) {
    // A txn's patches are mostly near each other.
    leaf = prep_cache_leaf_;
    rel = pos - prep_cache_start_;
  } else {
    rel = pos;
    leaf = Descend(&rel, true);
    prep_cache_valid_ = true;
    prep_cache_leaf_ = leaf;
    prep_cache_start_ = pos - rel;
  }
  const Leaf& l = leaves_[leaf];
  for (uint32_t i = 0; i < l.n; ++i) {
    uint64_t v = PrepLen(leaf, i);
    if (rel < v) return Found{Loc{leaf, i}, static_cast<uint32_t>(rel)};
    rel -= v;
  }
  assert(false && "prepare counts out of step with items");
  return Found{Loc{kNone, 0}, 0};
}

Loc ItemTree::NextPrepVisible(Loc loc) const {
  while (loc.leaf != kNone) {
    const Leaf& l = leaves_[loc.leaf];
    if (prep_leaves_[loc.leaf].count > 0) {
      for (uint32_t i = loc.idx; i < l.n; ++i) {
        if (PrepVisible(prep_leaves_[loc.leaf].state[i])) return Loc{loc.leaf, i};
      }
    }
    loc = Loc{l.next, 0};
  }
  return loc;
}

}  // namespace weft::engine::detail
