#include "text_lz.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <memory>
#include <vector>

#include "envelope.h"

namespace weft::engine::detail {
namespace {

enum TextContext : uint32_t { kLiteral, kLitLen, kMatchLen, kOffset, kTextContexts };
constexpr uint16_t kTextAlphabet[kTextContexts] = {256, kNumAlphabet, kNumAlphabet, kNumAlphabet};

constexpr uint32_t kMinMatch = 4;
constexpr uint32_t kReps = 3;
// Offset codes: 0..2 name a repeat offset, 3 + k the offset k + 1.
constexpr uint32_t kFirstOffsetCode = kReps;

// Match search effort: chain steps per position, and a length past which
// the first match found is taken.
constexpr uint32_t kMaxChain = 48;
constexpr uint32_t kNiceLength = 128;
// Matches reach back at most this far (the chain links are a ring of this
// many positions): larger texts cost the encoder bounded memory.
constexpr uint32_t kMaxWindow = 1u << 22;

uint32_t BitLen(uint32_t v) { return v == 0 ? 0 : 32 - static_cast<uint32_t>(__builtin_clz(v)); }

uint32_t Load32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// Eight bytes, the first in the low byte, so the lowest set bit of two
// words' XOR falls in their first differing byte.
uint64_t Load64(const uint8_t* p) {
  uint64_t word;
  std::memcpy(&word, p, sizeof word);
  if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
  return word;
}

// Costs in 1/16 bit, estimates for choosing matches (the coder decides the
// real ones). A number costs its extra bits plus a few for the token.
uint32_t NumCost(uint32_t v) { return (v < 16 ? 3 : 3 + TokenOf(v).nbits) * 16; }

class MatchFinder {
 public:
  explicit MatchFinder(std::string_view text)
      : p_(reinterpret_cast<const uint8_t*>(text.data())), n_(static_cast<uint32_t>(text.size())) {
    hash_bits_ = std::clamp(BitLen(n_), 10u, 18u);
    head_.assign(size_t{1} << hash_bits_, kNil);
    window_ = std::min(kMaxWindow, uint32_t{1} << std::clamp(BitLen(n_), 10u, 22u));
    // Left unset: a chain reads a position's link only while the position
    // is within the window, and InsertBefore wrote it then. Setting it
    // first touched every page of up to 16 MiB before the search began.
    // (new[], not make_unique_for_overwrite: the WebAssembly build's
    // library lacks it.)
    prev_.reset(new uint32_t[window_]);
  }

  // Adds every position before `pos` to the chains.
  void InsertBefore(uint32_t pos) {
    for (; next_ < pos && next_ + kMinMatch <= n_; ++next_) {
      uint32_t h = Hash(next_);
      prev_[next_ & (window_ - 1)] = head_[h];
      head_[h] = next_;
    }
  }

  // Length of the common prefix of pos and pos - dist, at most `max`.
  uint32_t Extend(uint32_t pos, uint32_t dist, uint32_t max) const {
    // Eight bytes a step: a pasted block repeats thousands of bytes, and
    // every candidate of a search is measured.
    uint32_t len = 0;
    while (len + 8 <= max) {
      const uint64_t diff = Load64(p_ + pos + len) ^ Load64(p_ + pos + len - dist);
      if (diff != 0) return len + static_cast<uint32_t>(__builtin_ctzll(diff)) / 8;
      len += 8;
    }
    while (len < max && p_[pos + len] == p_[pos + len - dist]) ++len;
    return len;
  }

  // The longest match at `pos` found in the chain of earlier positions.
  // REQUIRES: InsertBefore(pos) was called, pos + kMinMatch <= size.
  void Longest(uint32_t pos, uint32_t* best_len, uint32_t* best_dist) const {
    *best_len = 0;
    *best_dist = 0;
    const uint32_t max = n_ - pos;
    uint32_t cand = head_[Hash(pos)];
    for (uint32_t steps = 0; cand != kNil && steps < kMaxChain; ++steps) {
      if (cand >= pos || pos - cand > window_ - 1) break;
      const uint32_t dist = pos - cand;
      // A candidate can only be longer if it matches at the current best
      // length (which is below `max`, or the search would have stopped).
      if (p_[cand + *best_len] == p_[pos + *best_len]) {
        uint32_t len = Extend(pos, dist, max);
        if (len > *best_len) {
          *best_len = len;
          *best_dist = dist;
          if (len >= kNiceLength || len == max) break;
        }
      }
      cand = prev_[cand & (window_ - 1)];
    }
    if (*best_len < kMinMatch) *best_len = 0;
  }

 private:
  static constexpr uint32_t kNil = UINT32_MAX;
  uint32_t Hash(uint32_t pos) const {
    return (Load32(p_ + pos) * 2654435761u) >> (32 - hash_bits_);
  }

  const uint8_t* p_;
  uint32_t n_;
  uint32_t hash_bits_;
  uint32_t window_;
  uint32_t next_ = 0;
  std::vector<uint32_t> head_;
  std::unique_ptr<uint32_t[]> prev_;
};

struct Choice {
  uint32_t len = 0;
  uint32_t code = 0;  // offset code
  uint32_t dist = 0;
  int64_t gain = 0;  // literal cost saved minus match cost, 1/16 bit
};

// Picks the match at `pos` that saves the most: a repeat offset or the
// longest match in the chains, weighed by the literals it replaces.
class Parser {
 public:
  Parser(std::string_view text, const MatchFinder& finder,
         const std::array<uint32_t, 256>& literal_cost)
      : p_(reinterpret_cast<const uint8_t*>(text.data())),
        n_(static_cast<uint32_t>(text.size())),
        finder_(finder),
        literal_cost_(literal_cost),
        prefix_(new uint32_t[size_t{n_} + 1]) {
    prefix_[0] = 0;
    for (uint32_t i = 0; i < n_; ++i) prefix_[i + 1] = prefix_[i] + literal_cost_[p_[i]];
  }

  Choice Best(uint32_t pos, const std::array<uint32_t, kReps>& reps) const {
    Choice best;
    if (pos + kMinMatch > n_) return best;
    for (uint32_t r = 0; r < kReps; ++r) {
      if (reps[r] > pos) continue;
      uint32_t len = finder_.Extend(pos, reps[r], n_ - pos);
      if (len >= kMinMatch) Consider(pos, len, r, reps[r], &best);
    }
    uint32_t len, dist;
    finder_.Longest(pos, &len, &dist);
    if (len > 0) Consider(pos, len, kFirstOffsetCode + dist - 1, dist, &best);
    return best;
  }

  uint32_t LiteralCost(uint32_t pos) const { return literal_cost_[p_[pos]]; }

 private:
  void Consider(uint32_t pos, uint32_t len, uint32_t code, uint32_t dist, Choice* best) const {
    int64_t cost = NumCost(len - kMinMatch) + (code < kReps ? 2 * 16 : NumCost(code)) + 2 * 16;
    int64_t gain = static_cast<int64_t>(uint32_t{prefix_[pos + len] - prefix_[pos]}) - cost;
    if (gain > best->gain) *best = Choice{len, code, dist, gain};
  }

  const uint8_t* p_;
  uint32_t n_;
  const MatchFinder& finder_;
  const std::array<uint32_t, 256>& literal_cost_;
  // Literal costs of text[0, i), modulo 2^32: differences are exact for
  // spans of up to kMaxCompressedText bytes (a literal costs at most 256).
  std::unique_ptr<uint32_t[]> prefix_;
};

// Order-0 literal costs of the text, 1/16 bit: what a byte costs if sent
// as a literal.
std::array<uint32_t, 256> LiteralCosts(std::string_view text) {
  std::array<uint32_t, 256> count{};
  for (unsigned char c : text) ++count[c];
  FreqTable t = FreqTable::FromCounts(count);
  std::array<uint32_t, 256> cost{};
  // At least a bit each: text of one repeated byte costs nothing per
  // literal by its own statistics, but a match still saves its symbols.
  for (uint32_t c = 0; c < 256; ++c) cost[c] = std::max<uint32_t>(16, t.SymbolCost(c) / 16);
  return cost;
}

// Spare bytes at the end of the decoder's output, for copies in words.
constexpr size_t kSlack = 16;

// Copies n bytes from `from` (which has `avail` readable bytes) to `to`
// (which has n + kSlack writable): whole 16-byte words where it can.
void CopyShort(char* to, const uint8_t* from, size_t n, size_t avail) {
  if (n <= kSlack && avail >= kSlack) {
    std::memcpy(to, from, kSlack);
  } else {
    std::memcpy(to, from, n);
  }
}

// Copies a match of `len` bytes from `dist` back to `to` (which has
// len + kSlack writable bytes). Overlapping copies repeat a pattern.
void CopyMatch(char* to, uint32_t dist, uint32_t len) {
  const char* from = to - dist;
  if (dist >= kSlack) {
    // Each word is read before the copy reaches it: dist >= its size.
    for (uint32_t i = 0; i < len; i += kSlack) std::memcpy(to + i, from + i, kSlack);
  } else {
    for (uint32_t i = 0; i < len; ++i) to[i] = from[i];
  }
}

void PutMatch(SymbolWriter& w, uint32_t len, uint32_t code) {
  w.PutNum(kMatchLen, len - kMinMatch);
  w.PutNum(kOffset, code);
}

void UseOffset(std::array<uint32_t, kReps>& reps, uint32_t code, uint32_t dist) {
  // A repeat offset moves to the front; a new one pushes the others back.
  uint32_t r = code < kReps ? code : kReps - 1;
  for (; r > 0; --r) reps[r] = reps[r - 1];
  reps[0] = dist;
}

}  // namespace

uint64_t CompressText(std::string_view text, ByteWriter& out) {
  SymbolWriter w(kTextAlphabet);
  const uint32_t n = static_cast<uint32_t>(text.size());
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  MatchFinder finder(text);
  std::array<uint32_t, 256> literal_cost = LiteralCosts(text);
  Parser parser(text, finder, literal_cost);
  std::array<uint32_t, kReps> reps = {1, 4, 8};
  uint32_t lit_start = 0;
  uint32_t pos = 0;
  while (pos < n) {
    finder.InsertBefore(pos);
    Choice here = parser.Best(pos, reps);
    if (here.len == 0) {
      ++pos;
      continue;
    }
    // Lazy evaluation: a better match one byte on is worth a literal. (A
    // long match is taken at once: it is good enough, and searching every
    // position inside it would make long repeats quadratic.)
    if (here.len < kNiceLength) {
      finder.InsertBefore(pos + 1);
      Choice next = parser.Best(pos + 1, reps);
      if (next.gain > here.gain + static_cast<int64_t>(parser.LiteralCost(pos))) {
        ++pos;
        continue;
      }
    }
    w.PutNum(kLitLen, pos - lit_start);
    for (uint32_t i = lit_start; i < pos; ++i) w.Put(kLiteral, p[i]);
    PutMatch(w, here.len, here.code);
    UseOffset(reps, here.code, here.dist);
    pos += here.len;
    lit_start = pos;
  }
  if (lit_start < n) {
    w.PutNum(kLitLen, n - lit_start);
    for (uint32_t i = lit_start; i < n; ++i) w.Put(kLiteral, p[i]);
  }
  return w.Write(out, /*allow_coded=*/true);
}

Result<std::string> DecompressText(ByteReader& in, size_t size) {
  SymbolReader src;
  if (!src.Read(in, kTextAlphabet)) return Status::Corruption("text section malformed");
  const size_t budget = ExpansionBudget(src.bytes());
  if (size > budget) return Status::Corruption("text claims more than it may expand to");
  if (!src.Decode(budget)) return Status::Corruption("text symbols malformed");
  // The loop works on local copies of the reader's cursors (nothing it
  // writes can alias them, so they stay in registers) and writes them back.
  std::span<const uint8_t> lit_len = src.Rest(kLitLen), match_len = src.Rest(kMatchLen),
                           offset = src.Rest(kOffset), literals = src.Rest(kLiteral);
  size_t nseq = 0, nmatch = 0, nlit = 0;
  BitReader bits = src.bits();
  std::string out;
  size_t pos = 0;
  std::array<uint32_t, kReps> reps = {1, 4, 8};
  // Grows with what is produced (at most twice the bytes written so far),
  // with kSlack bytes to spare so short copies can move whole words.
  auto room = [&](size_t n) {
    if (pos + n + kSlack > out.size()) {
      out.resize(std::min(size, std::max(pos + n, 2 * out.size() + 4096)) + kSlack);
    }
  };
  while (pos < size) {
    if (nseq == lit_len.size()) return Status::Corruption("text sequences end early");
    const uint32_t lit = NumFromToken(lit_len[nseq++], bits);
    if (lit > size - pos || lit > literals.size() - nlit) {
      return Status::Corruption("text literals run past the end");
    }
    room(lit);
    CopyShort(out.data() + pos, literals.data() + nlit, lit, literals.size() - nlit);
    pos += lit;
    nlit += lit;
    if (pos == size) break;
    if (nmatch == match_len.size() || nmatch == offset.size()) {
      return Status::Corruption("text matches end early");
    }
    const uint32_t len = NumFromToken(match_len[nmatch], bits) + kMinMatch;
    const uint32_t code = NumFromToken(offset[nmatch++], bits);
    const uint32_t dist = code < kReps ? reps[code] : code - kFirstOffsetCode + 1;
    if (dist > pos || dist == 0 || len > size - pos || len < kMinMatch) {
      return Status::Corruption("text match out of range");
    }
    UseOffset(reps, code, dist);
    room(len);
    CopyMatch(out.data() + pos, dist, len);
    pos += len;
  }
  src.Skip(kLitLen, nseq);
  src.Skip(kMatchLen, nmatch);
  src.Skip(kOffset, nmatch);
  src.Skip(kLiteral, nlit);
  src.bits() = bits;
  if (!src.Finished()) return Status::Corruption("text section has bytes left over");
  out.resize(pos);
  return out;
}

}  // namespace weft::engine::detail
