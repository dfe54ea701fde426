// IdIndex: (agent, seq) -> leaf of the item tree holding that character.
//
// Per agent, the seq space is cut into blocks of kBlock seqs; each block keeps
// a short sorted list of runs {first offset, leaf}, a run lasting until the
// next one starts. Characters typed together sit in one leaf, so a block
// usually has a handful of runs: a few bytes per Item instead of four bytes
// per seq, and every update touches only the blocks of the seqs it names.
//
// Invariant: runs in a block are sorted by offset, start with offset 0 and
// no two neighbours have the same leaf.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace weft::engine::detail {

class IdIndex {
 public:
  static constexpr uint32_t kBlock = 256;

  void AddAgent() { agents_.emplace_back(); }
  // Makes seqs below `next_seq` of `agent` addressable.
  void Reserve(uint32_t agent, uint64_t next_seq);
  // The leaf recorded for (agent, seq). REQUIRES: Reserve covered seq.
  uint32_t Get(uint32_t agent, uint32_t seq) const;
  // Get, or UINT32_MAX when no block covers seq (an agent that never
  // inserted that far). The result is only a candidate for a seq that is
  // not an inserted character.
  uint32_t Probe(uint32_t agent, uint32_t seq) const {
    if (seq / kBlock >= agents_[agent].blocks.size()) return UINT32_MAX;
    return Get(agent, seq);
  }
  // Records `leaf` for seqs [seq, seq + len) of `agent`.
  void Set(uint32_t agent, uint32_t seq, uint32_t len, uint32_t leaf);
  // A run of seqs of one agent held by one leaf, for Rebuild.
  struct Span {
    uint32_t agent, seq, len, leaf;
  };
  // Replaces every entry at once (snapshots): agent a covers the seqs below
  // next_seq[a], and span_at(i) for i < count gives the spans of inserted
  // characters, in any order, none overlapping another. Seqs no span covers
  // (deletes) are never looked up and read as any leaf. O(spans + blocks).
  template <typename SpanAt>
  void Rebuild(std::span<const uint32_t> next_seq, size_t count, SpanAt span_at);
  size_t HeapBytes() const;

 private:
  struct Run {
    uint32_t offset;
    uint32_t leaf;
  };
  using Block = std::vector<Run>;
  // `tail`: no seq at or after `hi` in this block was ever set, so what the
  // runs say there does not matter and the new run may cover it (typing on
  // then finds its seqs already mapped).
  static void SetInBlock(Block& b, uint32_t lo, uint32_t hi, uint32_t leaf, bool tail);

  struct Agent {
    std::vector<Block> blocks;
    uint64_t set_end = 0;  // one past the highest seq ever set
  };
  std::vector<Agent> agents_;
};

template <typename SpanAt>
void IdIndex::Rebuild(std::span<const uint32_t> next_seq, size_t count, SpanAt span_at) {
  agents_.assign(next_seq.size(), Agent{});
  // Blocks of all agents in one numbering: first_block[a] is agent a's first.
  std::vector<uint32_t> first_block(next_seq.size() + 1, 0);
  for (size_t a = 0; a < next_seq.size(); ++a) {
    agents_[a].set_end = next_seq[a];
    agents_[a].blocks.resize((size_t{next_seq[a]} + kBlock - 1) / kBlock);
    first_block[a + 1] = first_block[a] + static_cast<uint32_t>(agents_[a].blocks.size());
  }
  // One entry per span and block it touches, put in (block, offset) order
  // by two counting passes (offset, then block, each keeping the order of
  // the last): linear, where sorting each block was most of a load.
  struct Entry {
    uint32_t block, offset, leaf;
  };
  std::vector<Entry> entries, sorted;
  entries.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const Span s = span_at(i);
    for (uint64_t b = s.seq / kBlock; b * kBlock < uint64_t{s.seq} + s.len; ++b) {
      uint32_t offset = static_cast<uint32_t>(std::max<uint64_t>(s.seq, b * kBlock) - b * kBlock);
      entries.push_back(Entry{first_block[s.agent] + static_cast<uint32_t>(b), offset, s.leaf});
    }
  }
  sorted.resize(entries.size());
  std::vector<uint32_t> start(std::max<size_t>(kBlock, first_block.back()) + 1, 0);
  auto pass = [&](auto key, size_t buckets) {
    std::fill(start.begin(), start.begin() + buckets + 1, 0);
    for (const Entry& e : entries) ++start[key(e) + 1];
    for (size_t k = 0; k < buckets; ++k) start[k + 1] += start[k];
    for (const Entry& e : entries) sorted[start[key(e)]++] = e;
    entries.swap(sorted);
  };
  pass([](const Entry& e) { return e.offset; }, kBlock);
  pass([](const Entry& e) { return e.block; }, first_block.back());
  // Each block from offset 0 (seqs before its first span are deletes),
  // without neighbours of the same leaf.
  Run runs[kBlock + 1];  // one block's runs, copied out with one allocation
  size_t at = 0;
  for (size_t a = 0; a < next_seq.size(); ++a) {
    for (Block& block : agents_[a].blocks) {
      const uint32_t id = first_block[a] + static_cast<uint32_t>(&block - agents_[a].blocks.data());
      size_t n = 0;
      for (; at < entries.size() && entries[at].block == id; ++at) {
        if (n > 0 && runs[n - 1].leaf == entries[at].leaf) continue;
        runs[n++] = Run{n == 0 ? 0 : entries[at].offset, entries[at].leaf};
      }
      if (n == 0) runs[n++] = Run{0, UINT32_MAX};
      block.assign(runs, runs + n);
    }
  }
}

}  // namespace weft::engine::detail
