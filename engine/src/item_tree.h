// ItemTree: the document's Items in document order, in an order-statistic
// B+tree, plus the id index (OpId -> leaf).
//
// Leaves hold up to kLeafCap Items in an array and are linked in document
// order; internal Nodes hold up to kFanout children with, per child, the
// number of visible characters and of all characters (tombstones included)
// below it. That gives O(log n) lookup by visible position (Insert/Remove),
// O(log n) position of a known Item (change events, anchors, the order
// comparisons of Integrate) and, with the id index, O(1) leaf lookup by
// OpId. Items are never removed: a delete only marks them.
//
// Invariant: every Node's per-child counts equal the sums over that child;
// every Leaf's vis/all equal the sums over its Items.
// Invariant: the id index maps every inserted character (agent, seq) to the
// leaf holding the Item that contains it.
// Invariant: only the root may have fewer than 2 children / the single leaf
// of an empty document may be empty; no other leaf is empty.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chunked_vector.h"
#include "id_index.h"
#include "weft/status.h"

namespace weft::engine::detail {

inline constexpr uint32_t kNone = UINT32_MAX;

// A character id inside a Doc: local agent index and seq. agent == kNone
// means "no character" (document start for a left origin, end for a right).
struct Ref {
  uint32_t agent = kNone;
  uint32_t seq = 0;
  bool none() const { return agent == kNone; }
  friend bool operator==(const Ref&, const Ref&) = default;
};

// A run of characters with consecutive ids (agent, seq .. seq+len-1), typed
// one after the other: character i > 0 has origin left (agent, seq+i-1), and
// all share origin right `right`. Its UTF-8 lives in the tree's arena.
struct Item {
  Item() = default;
  uint32_t agent = kNone;
  uint32_t seq = 0;
  uint32_t len = 0;            // code points, >= 1
  uint32_t byte_off = 0;       // UTF-8 in the arena
  uint32_t byte_len : 31 = 0;  // (the arena is capped below 2 GiB)
  uint32_t deleted : 1 = 0;
  Ref left;   // origin left of the first character
  Ref right;  // origin right of every character

  uint32_t visible() const { return deleted ? 0 : len; }
  bool Contains(uint32_t a, uint32_t s) const { return a == agent && s >= seq && s - seq < len; }
};

// 36 bytes: leaves hold 32 of them, so this is most of a Doc's memory.
static_assert(sizeof(Item) == 36, "keep Item packed");

// Where an Item sits: leaf and index in it. idx == leaf size means "after the
// leaf's last Item"; leaf == kNone means the document end.
struct Loc {
  uint32_t leaf = kNone;
  uint32_t idx = 0;
};

class ItemTree {
 public:
  static constexpr uint32_t kLeafCap = 32;
  static constexpr uint32_t kFanout = 16;

  ItemTree();

  uint64_t visible() const { return visible_; }  // visible characters
  uint64_t all() const { return all_; }          // characters including tombstones

  Item& at(Loc loc) { return leaves_[loc.leaf].items[loc.idx]; }
  const Item& at(Loc loc) const { return leaves_[loc.leaf].items[loc.idx]; }
  Loc Begin() const { return Normalize(Loc{0, 0}); }
  // The Item after `loc`, or the end.
  Loc Next(Loc loc) const { return Normalize(Loc{loc.leaf, loc.idx + 1}); }
  // The Item before `loc` (which may be an insertion point), or leaf kNone.
  Loc Prev(Loc loc) const;
  // Moves an insertion point at the end of a leaf to the start of the next.
  Loc Normalize(Loc loc) const;

  struct Found {
    Loc loc;
    uint32_t offset;  // code points into the Item
  };
  // The visible character at `pos`. REQUIRES: pos < visible().
  Found FindVisible(uint64_t pos) const;
  // The Item containing character (agent, seq). REQUIRES: it was inserted.
  Found FindId(uint32_t agent, uint32_t seq) const;
  // True when (agent, seq) is an inserted character (some Item holds it).
  // REQUIRES: agent is a known local index.
  bool Holds(uint32_t agent, uint32_t seq) const;
  // Visible characters / all characters before the Item at `loc`.
  uint64_t VisibleBefore(Loc loc) const;
  uint64_t AllBefore(Loc loc) const;

  // Splits the Item at `loc` after `offset` code points (0 < offset < len);
  // returns the Loc of the second part. Counts are unchanged.
  Loc SplitItem(Loc loc, uint32_t offset);
  // Inserts `item` at insertion point `loc`; returns where it went.
  Loc Insert(Loc loc, const Item& item);
  // Grows the Item at `loc` (the last of its run) by `len` code points whose
  // UTF-8 (byte_len bytes) was appended to the arena right after it.
  void Extend(Loc loc, uint32_t len, uint32_t byte_len);
  // Marks the Item at `loc` deleted.
  void MarkDeleted(Loc loc);
  // Joins the deleted Item at `loc` with deleted neighbours in its leaf that
  // continue the same run (a tombstone per backspace would otherwise stay an
  // Item of its own forever). Invalidates Locs into that leaf.
  void JoinTombstones(Loc loc);

  // Makes room in the id index for `agent` (a local index).
  void AddAgent();
  void ReserveSeqs(uint32_t agent, uint64_t next_seq);

  // The UTF-8 of an Item.
  std::string_view Bytes(const Item& item) const {
    return std::string_view(arena_.data() + item.byte_off, item.byte_len);
  }
  // Appends UTF-8 to the arena; returns its offset.
  uint32_t Append(std::string_view utf8);
  size_t arena_size() const { return arena_.size(); }

  // Build() puts Item i into leaf BuiltLeafOf(i): leaves filled to 3/4 so
  // the first edits after a load do not split everything at once.
  static constexpr uint32_t kBuildFill = kLeafCap * 3 / 4;
  static uint32_t BuiltLeafOf(size_t item) { return static_cast<uint32_t>(item / kBuildFill); }
  // Replaces the whole content with `items` (document order) over `arena`;
  // agent a has seqs below next_seq[a] (ids no Item holds are deletes).
  // REQUIRES: the items' byte ranges lie in `arena`, and they hold each
  // inserted id once.
  void Build(std::span<const Item> items, std::string_view arena,
             std::span<const uint32_t> next_seq);

  Status CheckInvariants() const;
  size_t HeapBytes() const;

 private:
  struct Leaf {
    uint32_t parent = kNone;
    uint32_t slot = 0;  // index among the parent's children
    uint32_t prev = kNone;
    uint32_t next = kNone;
    uint32_t n = 0;
    uint64_t vis = 0;
    uint64_t all = 0;
    Item items[kLeafCap];
  };
  struct Node {
    uint32_t parent = kNone;
    uint32_t slot = 0;  // index among the parent's children
    uint32_t n = 0;
    bool leaf_children = true;
    uint32_t child[kFanout];
    uint64_t vis[kFanout];
    uint64_t all[kFanout];
  };

  void Adjust(uint32_t leaf, int64_t dvis, int64_t dall);
  // Items at index >= idx of `leaf` moved or changed their visible count.
  void Touched(uint32_t leaf, uint32_t idx);
  uint64_t CountBefore(Loc loc, bool visible_only) const;
  Loc SplitLeaf(Loc loc);
  uint32_t SplitNode(uint32_t node);
  // Inserts `child` with its counts at `slot` of `node`, splitting full
  // nodes upwards. The counts of every ancestor above `node` must already
  // include the child's (callers move them out of a sibling's slot).
  void InsertChild(uint32_t node, uint32_t slot, uint32_t child, uint64_t vis, uint64_t all);
  void InsertSlot(uint32_t node, uint32_t slot, uint32_t child, uint64_t vis, uint64_t all);
  void RecountInParent(uint32_t node);
  void SetParent(uint32_t child, bool is_leaf, uint32_t parent, uint32_t slot);
  void IndexRange(const Item& item, uint32_t leaf);

  ChunkedVector<Leaf, 4> leaves_;  // small chunks: an empty Doc stays small
  ChunkedVector<Node, 4> nodes_;
  uint32_t root_ = 0;
  uint64_t visible_ = 0;  // Invariant: the sums over the root's children
  uint64_t all_ = 0;
  std::vector<char> arena_;  // a vector: reserve() is exact, a string's doubles
  IdIndex index_;

  // Cursor cache for runs of nearby local edits: the leaf last found by
  // FindVisible and the visible characters before it. Valid until a count
  // changes outside that leaf or a leaf splits.
  mutable bool cache_valid_ = false;
  mutable uint32_t cache_leaf_ = 0;
  mutable uint64_t cache_start_ = 0;
  // Within that leaf, the Item last found and the visible characters before
  // it, so typing at one place does not rescan the leaf. Valid until an Item
  // at or before it moves or changes its count (Touched).
  mutable bool hint_valid_ = false;
  mutable uint32_t hint_idx_ = 0;
  mutable uint64_t hint_start_ = 0;
};

}  // namespace weft::engine::detail
