#include "id_index.h"

#include <algorithm>

namespace weft::engine::detail {
namespace {
constexpr uint32_t kNoLeaf = UINT32_MAX;
}

void IdIndex::Reserve(uint32_t agent, uint64_t next_seq) {
  std::vector<Block>& blocks = agents_[agent].blocks;
  size_t want = (next_seq + kBlock - 1) / kBlock;
  if (blocks.size() < want) blocks.resize(want);
}

uint32_t IdIndex::Find(const Block& b, uint32_t off) { return b.runs[Covering(b, off)].leaf; }

size_t IdIndex::Covering(const Block& b, uint32_t off) {
  // A search whose every step is a conditional move: the runs of a block
  // of scattered edits are many and their offsets unpredictable, and a
  // branch per step mispredicted about every other time (most of this
  // lookup's cost). runs[0].offset is 0, so some run always covers `off`.
  const Run* base = b.runs.get();
  size_t n = b.n;
  while (n > 1) {
    const size_t half = n / 2;
    base = base[half].offset <= off ? base + half : base;
    n -= half;
  }
  return static_cast<size_t>(base - b.runs.get());
}

bool IdIndex::SplitRun(Block& b, uint32_t lo, uint32_t hi, uint32_t leaf) {
  size_t c = Covering(b, lo);
  const uint32_t old = b.runs[c].leaf;
  const uint32_t cover_end = c + 1 < b.n ? b.runs[c + 1].offset : kBlock;
  if (cover_end < hi || old == leaf) return false;
  // Neighbours that would get the same leaf need the merging path.
  const bool at_start = lo == b.runs[c].offset, at_end = hi == cover_end;
  if (at_start && c > 0 && b.runs[c - 1].leaf == leaf) return false;
  if (at_end && c + 1 < b.n && b.runs[c + 1].leaf == leaf) return false;
  if (at_start && at_end) {
    b.runs[c].leaf = leaf;
    return true;
  }
  // One run becomes two (a piece at either end) or three (in the middle).
  const size_t add = at_start || at_end ? 1 : 2;
  if (b.n + add > b.cap) {
    uint16_t cap = static_cast<uint16_t>(std::min<size_t>(kBlock, b.n + add + b.n / 2 + 2));
    auto runs = std::make_unique<Run[]>(cap);
    std::copy_n(b.runs.get(), b.n, runs.get());
    b.runs = std::move(runs);
    b.cap = cap;
  }
  Run* r = b.runs.get();
  std::copy_backward(r + c + 1, r + b.n, r + b.n + add);
  if (at_start) {
    r[c].leaf = leaf;
    r[c + 1] = Run{hi, old};
  } else if (at_end) {
    r[c + 1] = Run{lo, leaf};
  } else {
    r[c + 1] = Run{lo, leaf};
    r[c + 2] = Run{hi, old};
  }
  b.n = static_cast<uint16_t>(b.n + add);
  return true;
}

void IdIndex::Assign(Block& b, const Run* runs, size_t n) {
  if (n == 1) {
    b.leaf = runs[0].leaf;
    b.runs.reset();
    b.n = b.cap = 0;
    return;
  }
  if (n > b.cap) {
    // Room for a few more: a block fills up one run at a time.
    uint16_t cap = static_cast<uint16_t>(std::min<size_t>(kBlock, n + n / 2 + 2));
    b.runs = std::make_unique<Run[]>(cap);
    b.cap = cap;
  }
  std::copy_n(runs, n, b.runs.get());
  b.n = static_cast<uint16_t>(n);
}

void IdIndex::SetInBlock(Block& b, uint32_t lo, uint32_t hi, uint32_t leaf, bool tail) {
  if (b.n == 0) {
    if (b.leaf == leaf) return;
    if (lo == 0 && (hi == kBlock || tail)) {
      b.leaf = leaf;
      return;
    }
  } else {
    // The run covering `lo`: when it already says `leaf` up to `hi`,
    // nothing changes (typing on, or an Item back in a leaf it was in).
    size_t c = Covering(b, lo);
    uint32_t cover_end = c + 1 < b.n ? b.runs[c + 1].offset : kBlock;
    if (b.runs[c].leaf == leaf && cover_end >= hi) return;
    // A piece of one run (an Item split off): cut it out in place.
    if (!tail && SplitRun(b, lo, hi, leaf)) return;
  }
  if (tail) {
    // New seqs (an Item inserted, typing on): the runs from `lo` on go and
    // one for `leaf` ends the block, in place when the list has room.
    if (lo == 0) {
      Run whole{0, leaf};
      Assign(b, &whole, 1);
      return;
    }
    if (b.n > 0) {
      size_t k = b.n;
      while (k > 0 && b.runs[k - 1].offset >= lo) --k;
      if (b.runs[k - 1].leaf == leaf) {
        if (k == 1) {
          Assign(b, b.runs.get(), 1);
        } else {
          b.n = static_cast<uint16_t>(k);
        }
        return;
      }
      if (k < b.cap) {
        b.runs[k] = Run{lo, leaf};
        b.n = static_cast<uint16_t>(k + 1);
        return;
      }
    }
    hi = kBlock;
  }
  SetSpans(b, &lo, &hi, 1, leaf);
}

void IdIndex::SetSpans(Block& b, const uint32_t* lo, const uint32_t* hi, size_t m, uint32_t leaf) {
  // Merges the old runs with the new spans: the old runs' leaves wherever
  // no span covers, `leaf` wherever one does. Neighbours with one leaf
  // merge.
  Run one{0, b.leaf};
  const Run* in = b.n == 0 ? &one : b.runs.get();
  const size_t n = b.n == 0 ? 1 : b.n;
  Run out[kBlock + 2];
  size_t k = 0;
  auto push = [&](uint32_t offset, uint32_t l) {
    if (k == 0 || out[k - 1].leaf != l) out[k++] = Run{offset, l};
  };
  size_t j = 0;  // the old run in force at `pos`
  // Old runs' leaves for offsets [from, to).
  auto keep = [&](uint32_t from, uint32_t to) {
    if (from >= to) return;
    while (j + 1 < n && in[j + 1].offset <= from) ++j;
    push(from, in[j].leaf);
    for (size_t r = j + 1; r < n && in[r].offset < to; ++r) push(in[r].offset, in[r].leaf);
  };
  uint32_t pos = 0;
  for (size_t i = 0; i < m; ++i) {
    keep(pos, lo[i]);
    push(lo[i], leaf);
    pos = hi[i];
  }
  keep(pos, kBlock);
  Assign(b, out, k);
}

void IdIndex::Set(uint32_t agent, uint32_t seq, uint32_t len, uint32_t leaf) {
  Agent& ag = agents_[agent];
  uint64_t s = seq, end = uint64_t{seq} + len;
  const bool tail = end >= ag.set_end;
  if (tail && seq >= ag.set_end && (end - 1) / kBlock == seq / kBlock) {
    // Typing on: the last run of the block already covers its tail.
    const Block& b = ag.blocks[seq / kBlock];
    const Run& last = b.n == 0 ? Run{0, b.leaf} : b.runs[b.n - 1];
    if (last.leaf == leaf && last.offset <= seq % kBlock) {
      ag.set_end = end;
      return;
    }
  }
  ag.set_end = std::max(ag.set_end, end);
  while (s < end) {
    uint32_t off = static_cast<uint32_t>(s % kBlock);
    uint32_t hi = static_cast<uint32_t>(std::min<uint64_t>(kBlock, off + (end - s)));
    SetInBlock(ag.blocks[s / kBlock], off, hi, leaf, tail);
    s += hi - off;
  }
}

void IdIndex::SetRanges(uint32_t agent, const Range* ranges, size_t n, uint32_t leaf) {
  Agent& ag = agents_[agent];
  uint32_t lo[kBlock], hi[kBlock];
  for (size_t i = 0; i < n;) {
    // The spans of the ranges in block `blk`; a range crossing into the
    // next block is cut there and its rest handled with that block.
    uint64_t blk = ranges[i].seq / kBlock;
    uint64_t base = blk * kBlock;
    size_t m = 0;
    uint32_t carry = 0;  // how much of range i is already done
    while (i < n && ranges[i].seq / kBlock == blk) {
      uint64_t end = std::min<uint64_t>(ranges[i].end, base + kBlock);
      lo[m] = static_cast<uint32_t>(ranges[i].seq - base);
      hi[m] = static_cast<uint32_t>(end - base);
      ++m;
      if (end < ranges[i].end) {
        carry = static_cast<uint32_t>(end);
        break;
      }
      ++i;
    }
    SetSpans(ag.blocks[blk], lo, hi, m, leaf);
    if (carry != 0) {
      // The rest of range i, from the next block on.
      Set(agent, carry, ranges[i].end - carry, leaf);
      ++i;
    }
  }
}

void IdIndex::LoadRanges(uint32_t agent, const LeafRange* ranges, size_t n, uint64_t next_seq) {
  Agent& ag = agents_[agent];
  ag.blocks.clear();
  ag.blocks.resize((next_seq + kBlock - 1) / kBlock);
  ag.set_end = n > 0 ? ranges[n - 1].end : 0;
  Run runs[kBlock];
  size_t r = 0;  // the first range not wholly in earlier blocks
  for (size_t b = 0; b < ag.blocks.size(); ++b) {
    const uint64_t base = b * kBlock;
    size_t k = 0;
    for (size_t i = r; i < n && ranges[i].seq < base + kBlock; ++i) {
      uint32_t off = ranges[i].seq > base ? static_cast<uint32_t>(ranges[i].seq - base) : 0;
      // Seqs between ranges are never looked up: the open run covers them.
      if (k == 0) off = 0;
      if (k == 0 || runs[k - 1].leaf != ranges[i].leaf) runs[k++] = Run{off, ranges[i].leaf};
    }
    while (r < n && ranges[r].end <= base + kBlock) ++r;
    if (k == 0) runs[k++] = Run{0, kNoLeaf};
    Assign(ag.blocks[b], runs, k);
  }
}

size_t IdIndex::HeapBytes() const {
  size_t bytes = agents_.capacity() * sizeof(Agent);
  for (const Agent& a : agents_) {
    bytes += a.blocks.capacity() * sizeof(Block);
    for (const Block& b : a.blocks) bytes += b.cap * sizeof(Run);
  }
  return bytes;
}

}  // namespace weft::engine::detail
