// IdIndex: (agent, seq) -> leaf of the item tree holding that character.
//
// Per agent, the seq space is cut into blocks of kBlock seqs, found by
// direct indexing. A block is either one leaf for all its seqs (no heap
// memory: a paste, or a stretch typed into one leaf) or a short sorted list
// of runs {first offset, leaf}, a run lasting until the next one starts.
// Characters typed together sit in one leaf, so a list usually has a handful
// of runs: a few bytes per Item instead of four bytes per seq, and every
// update touches only the blocks of the seqs it names.
//
// Invariant: a block's runs are sorted by offset, start with offset 0, and
// no two neighbours have the same leaf; a block of one run keeps no list.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace weft::engine::detail {

class IdIndex {
 public:
  static constexpr uint32_t kBlock = 256;

  void AddAgent() { agents_.emplace_back(); }
  size_t agents() const { return agents_.size(); }
  // One past the highest seq of `agent` that Reserve made addressable.
  uint64_t addressable(uint32_t agent) const {
    return uint64_t{agents_[agent].blocks.size()} * kBlock;
  }
  // Makes seqs below `next_seq` of `agent` addressable.
  void Reserve(uint32_t agent, uint64_t next_seq);
  // The leaf recorded for (agent, seq). REQUIRES: Reserve covered seq.
  uint32_t Get(uint32_t agent, uint32_t seq) const {
    const Block& b = agents_[agent].blocks[seq / kBlock];
    if (b.n == 0) return b.leaf;
    return Find(b, seq % kBlock);
  }
  // Get, or UINT32_MAX when no block covers seq (an agent that never
  // inserted that far). The result is only a candidate for a seq that is
  // not an inserted character.
  uint32_t Probe(uint32_t agent, uint32_t seq) const {
    if (seq / kBlock >= agents_[agent].blocks.size()) return UINT32_MAX;
    return Get(agent, seq);
  }
  // Records `leaf` for seqs [seq, seq + len) of `agent`.
  void Set(uint32_t agent, uint32_t seq, uint32_t len, uint32_t leaf);
  // Records `leaf` for the seqs [seq, end) of several ranges of `agent`,
  // sorted and disjoint, with one pass over each block they touch (the
  // Items moving to another leaf together).
  struct Range {
    uint32_t seq;
    uint32_t end;
  };
  void SetRanges(uint32_t agent, const Range* ranges, size_t n, uint32_t leaf);
  void Clear(size_t agents) {
    agents_.clear();
    agents_.resize(agents);
  }
  // Replaces `agent`'s entries with `leaf` for each range [seq, end) of
  // `ranges` (sorted by seq, disjoint; seqs between them are never looked
  // up), seqs below `next_seq` addressable: O(ranges + blocks).
  struct LeafRange {
    uint32_t seq, end, leaf;
  };
  void LoadRanges(uint32_t agent, const LeafRange* ranges, size_t n, uint64_t next_seq);
  // Replaces every entry with one range per Item, seqs below `next_seq[a]`
  // (and below each Item's end) addressable for agent a. `each(fn)` calls
  // fn(agent, range) for every Item, in the same order each time it is
  // called (three times), in any order of ids: document order, as a
  // tree's leaves or a list's nodes hold them.
  template <typename EachItem>
  void LoadItems(std::vector<uint64_t> next_seq, EachItem&& each);
  size_t HeapBytes() const;

 private:
  struct Run {
    uint32_t offset;
    uint32_t leaf;
  };
  // n == 0: every seq of the block maps to `leaf`. Otherwise runs[0, n).
  struct Block {
    std::unique_ptr<Run[]> runs;
    uint16_t n = 0;
    uint16_t cap = 0;
    uint32_t leaf = UINT32_MAX;
  };
  static uint32_t Find(const Block& b, uint32_t off);
  // Index of the run of `b` (a list) covering offset `off`.
  static size_t Covering(const Block& b, uint32_t off);
  // Sets offsets [lo, hi) of list `b` to `leaf` in place when they lie in
  // one run and no neighbour run has `leaf`; false (nothing changed)
  // otherwise.
  static bool SplitRun(Block& b, uint32_t lo, uint32_t hi, uint32_t leaf);
  // Sets offsets [lo, hi) of `b` to `leaf`. `tail`: no seq at or after `hi`
  // in this block was ever set, so what the runs say there does not matter
  // and the new run may cover it (typing on then finds its seqs mapped).
  static void SetInBlock(Block& b, uint32_t lo, uint32_t hi, uint32_t leaf, bool tail);
  // Sets the offset ranges [lo[i], hi[i]) (sorted, disjoint) of `b` to
  // `leaf` in one pass.
  static void SetSpans(Block& b, const uint32_t* lo, const uint32_t* hi, size_t m, uint32_t leaf);
  static void Assign(Block& b, const Run* runs, size_t n);

  struct Agent {
    std::vector<Block> blocks;
    uint64_t set_end = 0;  // one past the highest seq ever set
  };
  std::vector<Agent> agents_;
};

template <typename EachItem>
void IdIndex::LoadItems(std::vector<uint64_t> next_seq, EachItem&& each) {
  // Each agent's Items by seq. A comparison sort of every Item was most of
  // the work; instead a counting pass puts them into buckets of 2^shift
  // seqs, about as many buckets as Items, so few share one and what is
  // left to order is small.
  const size_t agents = next_seq.size();
  size_t count = 0;
  each([&](uint32_t agent, const LeafRange& r) {
    ++count;
    next_seq[agent] = std::max<uint64_t>(next_seq[agent], r.end);
  });
  uint64_t seqs = 0;
  for (uint64_t next : next_seq) seqs += next;
  uint32_t shift = 0;
  while ((seqs >> shift) > count) ++shift;
  const uint64_t width = uint64_t{1} << shift;
  std::vector<size_t> first_bucket(agents + 1, 0);
  for (size_t a = 0; a < agents; ++a) {
    first_bucket[a + 1] = first_bucket[a] + static_cast<size_t>((next_seq[a] + width - 1) >> shift);
  }
  // start[b + 1] counts bucket b's Items, then becomes where bucket b ends.
  std::vector<uint32_t> start(first_bucket[agents] + 1, 0);
  each([&](uint32_t agent, const LeafRange& r) {
    ++start[first_bucket[agent] + (r.seq >> shift) + 1];
  });
  for (size_t b = 1; b < start.size(); ++b) start[b] += start[b - 1];
  std::vector<LeafRange> ranges(count);
  {
    std::vector<uint32_t> fill(start.begin(), start.end() - 1);
    each([&](uint32_t agent, const LeafRange& r) {
      ranges[fill[first_bucket[agent] + (r.seq >> shift)]++] = r;
    });
  }
  Clear(agents);
  for (uint32_t a = 0; a < agents; ++a) {
    const uint32_t lo = start[first_bucket[a]], hi = start[first_bucket[a + 1]];
    // Out of order only within a bucket, a few Items as a rule: one
    // insertion pass over the agent's ranges orders them, where a sort per
    // bucket paid a call and a test for every bucket, most of them holding
    // one Item or none. Items that crowd into few buckets (deletes widen
    // them) get a sort once the moves outgrow the ranges.
    LeafRange* r = ranges.data();
    const uint64_t budget = uint64_t{8} * (hi - lo);
    uint64_t moves = 0;
    for (uint32_t i = lo + 1; i < hi; ++i) {
      if (r[i - 1].seq <= r[i].seq) continue;
      const LeafRange x = r[i];
      uint32_t j = i;
      for (; j > lo && r[j - 1].seq > x.seq; --j) r[j] = r[j - 1];
      r[j] = x;
      moves += i - j;
      if (moves > budget) {
        std::sort(r + lo, r + hi,
                  [](const LeafRange& p, const LeafRange& q) { return p.seq < q.seq; });
        break;
      }
    }
    LoadRanges(a, r + lo, hi - lo, next_seq[a]);
  }
}

}  // namespace weft::engine::detail
