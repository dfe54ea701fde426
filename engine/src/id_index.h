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

#include <cstddef>
#include <cstdint>
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
  void Clear(size_t agents) { agents_.assign(agents, Agent{}); }
  // Replaces `agent`'s entries with `leaf_of[seq]` for every seq: a bulk
  // load in one pass (snapshots). Values >= UINT32_MAX - 1 mark seqs that
  // will never be looked up (deletes): they join whatever run is open.
  void Load(uint32_t agent, const std::vector<uint32_t>& leaf_of);
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

}  // namespace weft::engine::detail
