#include "id_index.h"

#include <algorithm>

namespace weft::engine::detail {
namespace {
constexpr uint32_t kNoLeaf = UINT32_MAX;
}

void IdIndex::Reserve(uint32_t agent, uint64_t next_seq) {
  std::vector<Block>& blocks = agents_[agent].blocks;
  size_t want = (next_seq + kBlock - 1) / kBlock;
  while (blocks.size() < want) blocks.push_back(Block{Run{0, kNoLeaf}});
}

uint32_t IdIndex::Get(uint32_t agent, uint32_t seq) const {
  const Block& b = agents_[agent].blocks[seq / kBlock];
  uint32_t off = seq % kBlock;
  auto it = std::upper_bound(b.begin(), b.end(), off,
                             [](uint32_t o, const Run& r) { return o < r.offset; });
  return std::prev(it)->leaf;
}

void IdIndex::SetInBlock(Block& b, uint32_t lo, uint32_t hi, uint32_t leaf, bool tail) {
  // The run covering `lo` and the first run starting after it.
  auto cover = std::prev(std::upper_bound(b.begin(), b.end(), lo,
                                          [](uint32_t o, const Run& r) { return o < r.offset; }));
  auto next = std::next(cover);
  uint32_t cover_end = next == b.end() ? kBlock : next->offset;
  if (cover->leaf == leaf && cover_end >= hi) return;  // typing on: nothing changes
  if (tail) hi = kBlock;
  // The leaf in force at `hi` must survive the overwrite.
  auto at_hi = std::prev(std::upper_bound(b.begin(), b.end(), hi,
                                          [](uint32_t o, const Run& r) { return o < r.offset; }));
  uint32_t hi_leaf = hi < kBlock ? at_hi->leaf : kNoLeaf;
  auto first = std::lower_bound(b.begin(), b.end(), lo,
                                [](const Run& r, uint32_t o) { return r.offset < o; });
  auto last = std::upper_bound(b.begin(), b.end(), hi,
                               [](uint32_t o, const Run& r) { return o < r.offset; });
  Run repl[2] = {{lo, leaf}, {hi, hi_leaf}};
  size_t nrepl = hi < kBlock ? 2 : 1;
  auto pos = b.erase(first, last);
  b.insert(pos, repl, repl + nrepl);
  // Merge neighbours with equal leaves.
  b.erase(
      std::unique(b.begin(), b.end(), [](const Run& x, const Run& y) { return x.leaf == y.leaf; }),
      b.end());
}

void IdIndex::Set(uint32_t agent, uint32_t seq, uint32_t len, uint32_t leaf) {
  Agent& ag = agents_[agent];
  uint64_t s = seq, end = uint64_t{seq} + len;
  const bool tail = end >= ag.set_end;
  ag.set_end = std::max(ag.set_end, end);
  while (s < end) {
    uint32_t off = static_cast<uint32_t>(s % kBlock);
    uint32_t hi = static_cast<uint32_t>(std::min<uint64_t>(kBlock, off + (end - s)));
    SetInBlock(ag.blocks[s / kBlock], off, hi, leaf, tail);
    s += hi - off;
  }
}

size_t IdIndex::HeapBytes() const {
  size_t bytes = agents_.capacity() * sizeof(Agent);
  for (const Agent& a : agents_) {
    bytes += a.blocks.capacity() * sizeof(Block);
    for (const Block& b : a.blocks) bytes += b.capacity() * sizeof(Run);
  }
  return bytes;
}

}  // namespace weft::engine::detail
