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

#include <algorithm>
#include <cstddef>
#include <cstdint>
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

// True when `b` directly continues `a`, so the two can be one Item: same
// agent, next ids, typed right after it with the same origin right, text
// adjacent in the arena, both deleted or neither.
inline bool Continues(const Item& a, const Item& b) {
  return a.agent == b.agent && uint64_t{a.seq} + a.len == b.seq && a.deleted == b.deleted &&
         b.left == Ref{a.agent, b.seq - 1} && a.right == b.right &&
         uint64_t{a.byte_off} + a.byte_len == b.byte_off;
}

// Cuts `it` after `offset` code points (0 < offset < it.len) and returns
// the second part; `bytes` is its text.
Item CutItem(Item& it, std::string_view bytes, uint32_t offset);

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
  // At least as many as the Items there are (leaves are at most full).
  size_t item_bound() const { return leaves_.size() * size_t{kLeafCap}; }

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
  // FindId, trying the Item at `hint` and the two after it in its leaf
  // first: runs of lookups of neighbouring ids skip the index. `hint` may be any Loc, even
  // one made stale by later edits.
  Found FindIdNear(uint32_t agent, uint32_t seq, Loc hint) const;
  // True when (agent, seq) is an inserted character (some Item holds it).
  // REQUIRES: agent is a known local index.
  bool Holds(uint32_t agent, uint32_t seq) const;
  // Visible characters / all characters before the Item at `loc`.
  uint64_t VisibleBefore(Loc loc) const;
  uint64_t AllBefore(Loc loc) const;

  // Splits the Item at `loc` after `offset` code points (0 < offset < len);
  // returns the Loc of the second part. Counts are unchanged. Locs into the
  // leaf of `loc` and its neighbours are invalidated.
  Loc SplitItem(Loc loc, uint32_t offset);
  // The insertion point right after the character `f` names (its Item
  // split there unless it is the Item's last), and that character's id.
  Loc SplitAfter(Found f, Ref* id);
  // Inserts `item` at insertion point `loc`; returns where it went. While
  // tracking, a new Item is visible in the prepare version (it was made
  // against it).
  Loc Insert(Loc loc, const Item& item);
  // Grows the Item at `loc` (the last of its run) by `len` code points whose
  // UTF-8 (byte_len bytes) was appended to the arena right after it.
  void Extend(Loc loc, uint32_t len, uint32_t byte_len);
  // Marks the Item at `loc` deleted. Consecutive marks in one leaf update
  // the counts above it once (see pending_leaf_).
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
  // Appends the visible text to `out`, leaf by leaf; neighbours whose bytes
  // are neighbours in the arena (a loaded snapshot's, text typed in one
  // go) are copied together.
  void AppendText(std::string* out) const;
  // Appends UTF-8 to the arena; returns its offset.
  uint32_t Append(std::string_view utf8);
  // Room for `more` bytes of text at once, so that a batch bringing
  // megabytes (a first sync) does not grow the arena step by step, copying
  // it each time into freshly faulted memory. Growth is by a quarter at
  // least, not double: the arena lives as long as the Doc and the copies
  // are cheap next to the edits that fill it; and never exact, which for
  // a stream of small batches would copy the whole arena for each one.
  void ReserveArena(size_t more) {
    if (arena_.capacity() - arena_.size() < more) {
      arena_.reserve(std::max(arena_.size() + more, arena_.capacity() / 4 * 5 + 4096));
    }
  }
  // An Item for a new run, its text appended to the arena.
  Item NewItem(uint32_t agent, uint32_t seq, uint32_t len, std::string_view utf8, Ref left,
               Ref right) {
    Item item;
    item.agent = agent;
    item.seq = seq;
    item.len = len;
    item.byte_len = static_cast<uint32_t>(utf8.size());
    item.byte_off = Append(utf8);
    item.left = left;
    item.right = right;
    return item;
  }
  // True when a new run typed after Item `p` continues it (typing on):
  // the next ids, typed right after p with p's origin right, and p's text
  // ends the arena.
  bool TypesOn(const Item& p, uint32_t agent, uint32_t seq, Ref left, Ref right) const {
    return p.agent == agent && uint64_t{p.seq} + p.len == seq && !p.deleted && p.right == right &&
           left == Ref{agent, seq - 1} && uint64_t{p.byte_off} + p.byte_len == arena_.size();
  }
  size_t arena_size() const { return arena_.size(); }

  // Build() fills leaves to 3/4 so the first edits after a load do not
  // split everything at once.
  static constexpr uint32_t kBuildFill = kLeafCap * 3 / 4;
  // Replaces the Items with those `source` gives (document order, see
  // BuildShapeFrom), keeping the arena their text is in, laid out as
  // Build() does. `next_seq[agent]` bounds each agent's seqs.
  template <class Source>
  void RebuildFrom(Source& source, const std::vector<uint32_t>& next_seq) {
    BuildShapeFrom(source);
    IndexLater(next_seq);
  }
  // Replaces the whole content with `items` (document order) over a copy
  // of `arena`. `next_seq[agent]` bounds each agent's seqs. REQUIRES: the
  // items' byte ranges lie in `arena`.
  void Build(const std::vector<Item>& items, std::string_view arena,
             const std::vector<uint32_t>& next_seq);

  // ---- Prepare state, for importing a positional history ----------------
  // While tracking, every Item also has a prepare state: whether its
  // characters are in the version a txn was made against, and how many
  // deletes in that version removed them (HistoryImporter moves it back and
  // forth along the causal graph). Positions in that version are found
  // through a third count per child. Outside an import none of it exists.
  static constexpr uint32_t kPrepInserted = 1u << 31;  // | number of deletes
  // Starts tracking with every Item in the prepare version as it is now
  // (inserted; deleted once if it is a tombstone).
  void BeginTracking();
  // Drops the prepare state, joins Items that only it kept apart and lays
  // the tree out afresh (joins leave leaves sparse). `next_seq[agent]`
  // bounds each agent's seqs.
  void EndTracking(const std::vector<uint32_t>& next_seq);
  bool tracking() const { return tracking_; }
  uint64_t prep_visible() const { return prep_visible_; }
  uint32_t PrepState(Loc loc) const { return prep_leaves_[loc.leaf].state[loc.idx]; }
  void SetPrepState(Loc loc, uint32_t state);
  // The character visible in the prepare version at `pos`.
  // REQUIRES: tracking, pos < prep_visible().
  Found FindPrep(uint64_t pos) const;
  // The first Item at or after `loc` visible in the prepare version, or the
  // end. Leaves with nothing visible there are skipped whole.
  Loc NextPrepVisible(Loc loc) const;

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
  // The prepare state beside a Leaf / Node (same index), while tracking.
  struct PrepLeaf {
    uint64_t count = 0;  // characters visible in the prepare version
    uint32_t state[kLeafCap];
  };
  struct PrepNode {
    uint64_t count[kFanout];
  };
  static bool PrepVisible(uint32_t state) { return state == kPrepInserted; }

  // The leaf holding visible (or, with `prep`, prepare-visible) character
  // *rel, descending from the root; *rel becomes its index in that leaf.
  uint32_t Descend(uint64_t* rel, bool prep) const;
  void Adjust(uint32_t leaf, int64_t dvis, int64_t dall, int64_t dprep = 0);
  // Adds the counts Adjust kept back for pending_leaf_ to its ancestors.
  void FlushCounts() const;
  // Items at index >= idx of `leaf` moved or changed their visible count.
  void Touched(uint32_t leaf, uint32_t idx);
  uint64_t CountBefore(Loc loc, bool visible_only) const;
  // Makes the leaf of `loc` non-full: moves Items into a neighbour with
  // room, or splits the leaf. Returns where `loc` is now: an insertion point
  // (`is_item` false) may stay at the end of its leaf; an Item (`is_item`)
  // stays in a leaf with room for one more beside it.
  Loc MakeRoom(Loc loc, bool is_item);
  Loc SplitLeaf(Loc loc);
  // Moves the last `k` Items of `leaf` to the front of the next leaf, or
  // the first `k` to the back of the previous one.
  void SpillNext(uint32_t leaf, uint32_t k);
  void SpillPrev(uint32_t leaf, uint32_t k);
  // Lays `items` out in fresh leaves and nodes (counts included); the
  // arena and the id index are the callers'.
  void BuildShape(const std::vector<Item>& items) {
    struct {
      const std::vector<Item>& items;
      size_t i = 0;
      bool Done() const { return i == items.size(); }
      void Next(Item* out) { *out = items[i++]; }
    } source{items};
    BuildShapeFrom(source);
  }
  // BuildShape() from a source of Items in document order: `Done()` when
  // none is left, else `Next(Item*)` stores the next one. It stores it
  // straight into its leaf: held in between, an Item is split into its
  // fields and its bit fields are packed again at every copy.
  template <class Source>
  void BuildShapeFrom(Source& source) {
    StartLayout();
    uint32_t k = 0;
    do {
      leaves_.emplace_back();
      Leaf& l = leaves_[k];
      if (k > 0) {
        l.prev = k - 1;
        leaves_[k - 1].next = k;
      }
      // Counted in locals: `Next` writes through a pointer the compiler
      // cannot tell apart from the leaf's fields.
      uint32_t n = 0;
      uint64_t vis = 0, all = 0;
      for (; n < kBuildFill && !source.Done(); ++n) {
        Item& it = l.items[n];
        source.Next(&it);
        vis += it.visible();
        all += it.len;
      }
      l.n = n;
      l.vis = vis;
      l.all = all;
      ++k;
    } while (!source.Done());
    FinishLayout(k);
  }
  // Empties the tree for a layout in fresh leaves.
  void StartLayout();
  // Sums the filled leaves' counts and builds the nodes above them.
  void FinishLayout(size_t nleaves);
  // Drops the id index until a lookup needs it; `next_seq[agent]` bounds
  // each agent's seqs.
  void IndexLater(const std::vector<uint32_t>& next_seq);
  void EnsureIndex() const {
    if (index_stale_) BuildIndex();
  }
  // Points the id index at the leaves the Items are in now.
  void BuildIndex() const;
  uint32_t NewLeaf();
  uint32_t NewNode();
  // Joins Item i + 1 of `leaf` into Item i when it continues it (and, while
  // tracking, has the same prepare state); true if it did.
  bool JoinNext(uint32_t leaf, uint32_t i);
  uint32_t SplitNode(uint32_t node);
  // Inserts `child` with its counts at `slot` of `node`, splitting full
  // nodes upwards. The counts of every ancestor above `node` must already
  // include the child's (callers move them out of a sibling's slot).
  void InsertChild(uint32_t node, uint32_t slot, uint32_t child, const uint64_t counts[3]);
  void InsertSlot(uint32_t node, uint32_t slot, uint32_t child, const uint64_t counts[3]);
  void RecountInParent(uint32_t node);
  void SetParent(uint32_t child, bool is_leaf, uint32_t parent, uint32_t slot);
  // The counts of a child slot / a leaf as {vis, all, prep}.
  void SlotCounts(uint32_t node, uint32_t slot, uint64_t out[3]) const;
  void LeafCounts(uint32_t leaf, uint64_t out[3]) const;
  // Sums a leaf's counts from its Items.
  void RecountLeaf(uint32_t leaf);
  // Points the id index at `leaf` for Items [from, to) of it, one update per
  // run of Items with consecutive ids.
  void IndexItems(uint32_t leaf, uint32_t from, uint32_t to);
  // Opens slot `idx` of a non-full leaf (with its prepare state).
  void OpenSlot(uint32_t leaf, uint32_t idx);
  // Removes slot `idx` of a leaf.
  void CloseSlot(uint32_t leaf, uint32_t idx);
  uint64_t PrepLen(uint32_t leaf, uint32_t idx) const {
    return PrepVisible(prep_leaves_[leaf].state[idx]) ? leaves_[leaf].items[idx].len : 0;
  }

  ChunkedVector<Leaf, 4> leaves_;  // small chunks: an empty Doc stays small
  // Mutable only so that a const lookup can add kept-back counts
  // (FlushCounts) before it reads them.
  mutable ChunkedVector<Node, 4> nodes_;
  uint32_t root_ = 0;
  uint64_t visible_ = 0;  // Invariant: the sums over the root's children
  uint64_t all_ = 0;
  std::vector<char> arena_;  // a vector: reserve() is exact, a string's doubles
  // The id index is built when an id is first looked up, not when the
  // tree is laid out afresh (a snapshot load, a linear merge, the end of an
  // import): a replica loaded to be read, or typed into, may never look
  // one up. Until then it holds only what was set since (nothing reads
  // it). Mutable for the lookups that build it (a Doc is used from one
  // thread at a time).
  mutable IdIndex index_;
  mutable bool index_stale_ = false;

  // A delete spanning many Items marks them one by one; their leaf's counts
  // change at once, and the path above it only when another leaf's counts
  // change or a lookup reads the path (FlushCounts). pending_leaf_ is kNone
  // when nothing is kept back.
  mutable uint32_t pending_leaf_ = kNone;
  mutable int64_t pending_vis_ = 0, pending_all_ = 0, pending_prep_ = 0;

  bool tracking_ = false;
  uint64_t prep_visible_ = 0;
  std::vector<PrepLeaf> prep_leaves_;
  mutable std::vector<PrepNode> prep_nodes_;

  // Cursor cache for runs of nearby local edits: the leaf last found by
  // FindVisible and the visible characters before it. Valid until a count
  // changes outside that leaf or Items move between leaves.
  mutable bool cache_valid_ = false;
  mutable uint32_t cache_leaf_ = 0;
  mutable uint64_t cache_start_ = 0;
  // Within that leaf, the Item last found and the visible characters before
  // it, so typing at one place does not rescan the leaf. Valid until an Item
  // at or before it moves or changes its count (Touched).
  mutable bool hint_valid_ = false;
  mutable uint32_t hint_idx_ = 0;
  mutable uint64_t hint_start_ = 0;
  // The same for FindPrep: the leaf it found last and the characters visible
  // in the prepare version before it. Valid until such a count changes
  // outside that leaf or Items move between leaves.
  mutable bool prep_cache_valid_ = false;
  mutable uint32_t prep_cache_leaf_ = 0;
  mutable uint64_t prep_cache_start_ = 0;
};

}  // namespace weft::engine::detail
