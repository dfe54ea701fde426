#include "rans.h"

#include <algorithm>

namespace weft::engine::detail {
namespace {

// Precision of a table beyond what its alphabet needs.
constexpr uint32_t kScaleBitsOverAlphabet = 4;

uint32_t BitLen(uint64_t v) {
  uint32_t n = 0;
  while (v != 0) {
    ++n;
    v >>= 1;
  }
  return n;
}

// -log2(f / 2^scale) in 1/256 bit units, for f in [1, 2^scale].
uint32_t CostUnits(uint32_t f, uint32_t scale_bits) {
  // log2 by the position of the top bit plus a linear guess below it: close
  // enough to choose between encodings, and integer-only.
  uint32_t top = BitLen(f) - 1;
  uint64_t frac = (uint64_t{f - (1u << top)} << 8) >> top;
  return static_cast<uint32_t>((uint64_t{scale_bits} << 8) - ((uint64_t{top} << 8) + frac));
}

}  // namespace

FreqTable FreqTable::FromCounts(std::span<const uint32_t> counts) {
  FreqTable t;
  uint64_t total = 0;
  uint32_t used = 0, size = 0;
  for (uint32_t s = 0; s < counts.size(); ++s) {
    if (counts[s] == 0) continue;
    total += counts[s];
    ++used;
    size = s + 1;
  }
  if (used == 0) return t;
  // Room for every used symbol several times over, and no more precision
  // than the counts carry: a smaller table is cheaper to send, and to
  // decode with (it stays in the first-level cache).
  uint32_t scale = std::min({BitLen(total), BitLen(used) + kScaleBitsOverAlphabet, kMaxScaleBits});
  scale = std::max(scale, BitLen(2 * used - 1));
  t.scale_bits = scale;
  const uint64_t m = uint64_t{1} << scale;
  t.freq.assign(size, 0);
  uint64_t sum = 0;
  uint32_t largest = 0;
  for (uint32_t s = 0; s < size; ++s) {
    if (counts[s] == 0) continue;
    t.freq[s] = static_cast<uint32_t>(std::max<uint64_t>(1, counts[s] * m / total));
    sum += t.freq[s];
    if (counts[s] > counts[largest]) largest = s;
  }
  if (sum < m) t.freq[largest] += static_cast<uint32_t>(m - sum);
  if (sum > m) {
    // Take the excess from the most frequent symbols first (ties: lowest
    // symbol), never below 1.
    std::vector<uint32_t> order;
    for (uint32_t s = 0; s < size; ++s) {
      if (t.freq[s] > 1) order.push_back(s);
    }
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      return t.freq[a] != t.freq[b] ? t.freq[a] > t.freq[b] : a < b;
    });
    for (uint32_t s : order) {
      uint64_t take = std::min<uint64_t>(sum - m, t.freq[s] - 1);
      t.freq[s] -= static_cast<uint32_t>(take);
      sum -= take;
      if (sum == m) break;
    }
  }
  t.cum.assign(size, 0);
  for (uint32_t s = 1; s < size; ++s) t.cum[s] = t.cum[s - 1] + t.freq[s - 1];
  return t;
}

uint32_t FreqTable::SymbolCost(uint32_t sym) const {
  if (sym >= freq.size() || freq[sym] == 0) return 16 << 8;
  return static_cast<uint32_t>(CostUnits(freq[sym], scale_bits));
}

// table := varint(size << 4 | scale_bits), then freq[s] for s < size - 1 as
// varints (the last is what remains of 1 << scale_bits). size 0: empty.
void FreqTable::Write(ByteWriter& out) const {
  if (empty()) {
    out.PutVarint(0);
    return;
  }
  out.PutVarint(uint64_t{freq.size()} << 4 | scale_bits);
  for (size_t s = 0; s + 1 < freq.size(); ++s) out.PutVarint(freq[s]);
}

bool FreqTable::Read(ByteReader& in, uint32_t alphabet) {
  uint64_t head = in.VarintAtMost(uint64_t{alphabet} << 4 | 15);
  uint64_t size = head >> 4;
  scale_bits = static_cast<uint32_t>(head & 15);
  freq.clear();
  cum.clear();
  if (!in.ok()) return false;
  if (size == 0) return head == 0;
  if (scale_bits > kMaxScaleBits) {
    in.Fail();
    return false;
  }
  const uint64_t m = uint64_t{1} << scale_bits;
  freq.resize(size);
  cum.resize(size);
  uint64_t sum = 0;
  for (size_t s = 0; s + 1 < size; ++s) {
    cum[s] = static_cast<uint32_t>(sum);
    freq[s] = static_cast<uint32_t>(in.VarintAtMost(m));
    sum += freq[s];
  }
  if (!in.ok() || sum >= m) {
    in.Fail();
    return false;
  }
  cum[size - 1] = static_cast<uint32_t>(sum);
  freq[size - 1] = static_cast<uint32_t>(m - sum);
  return true;
}

// stream := state 0:u64le  state 1:u64le  renormalization words:u32le...
// Symbol i is coded with state i % 2.
std::string RansEncoder::Finish(std::span<const FreqTable> tables) const {
  std::vector<uint32_t> words;  // in reverse; flipped at the end
  uint64_t x[2] = {kRansLow, kRansLow};
  for (size_t i = events_.size(); i-- > 0;) {
    const FreqTable& t = tables[events_[i] >> 16];
    const uint32_t s = events_[i] & 0xffff;
    const uint64_t f = t.freq[s];
    const uint64_t x_max = ((kRansLow >> t.scale_bits) << 32) * f;
    uint64_t& xi = x[i & 1];
    if (xi >= x_max) {
      words.push_back(static_cast<uint32_t>(xi));
      xi >>= 32;
    }
    xi = ((xi / f) << t.scale_bits) + (xi % f) + t.cum[s];
  }
  std::string out;
  ByteWriter w(&out);
  w.PutLe64(x[0]);
  w.PutLe64(x[1]);
  for (size_t k = words.size(); k-- > 0;) w.PutLe32(words[k]);
  return out;
}

void DecodeTables::Assign(std::span<const FreqTable> tables) {
  size_t total = 0;
  for (const FreqTable& t : tables) total += t.empty() ? 0 : size_t{1} << t.scale_bits;
  slots_.resize(total);
  tables_.assign(tables.size(), DecodeTable{});
  size_t at = 0;
  for (size_t c = 0; c < tables.size(); ++c) {
    const FreqTable& t = tables[c];
    if (t.empty()) continue;
    uint32_t* slots = slots_.data() + at;
    for (uint32_t s = 0; s < t.freq.size(); ++s) {
      const uint32_t f = t.freq[s];
      for (uint32_t k = 0; k < f; ++k) slots[t.cum[s] + k] = s | (f - 1) << 8 | k << 20;
    }
    tables_[c] = DecodeTable{slots, t.scale_bits, (1u << t.scale_bits) - 1};
    at += size_t{1} << t.scale_bits;
  }
}

void RansDecoder::DecodeMany(const DecodeTable& t, uint8_t* out, size_t n) {
  // On locals, so the states stay in registers; the two states' chains of
  // steps are independent and overlap.
  const uint32_t* slots = t.slots;
  const uint32_t mask = t.mask;
  const uint32_t scale = t.scale_bits;
  uint64_t a = x_, b = other_;
  const uint8_t* p = p_;
  bool ok = ok_;
  auto step = [&](uint64_t& x) {
    const uint32_t e = slots[x & mask];
    x = (((e >> 8) & 0xfff) + 1) * (x >> scale) + (e >> 20);
    if (x < kRansLow) {
      if (end_ - p >= 4) {
        x = x << 32 |
            (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24);
        p += 4;
      } else {
        ok = false;
        x = kRansLow;
      }
    }
    return static_cast<uint8_t>(e & 0xff);
  };
  size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    out[i] = step(a);
    out[i + 1] = step(b);
  }
  if (i < n) {
    out[i] = step(a);
    std::swap(a, b);
  }
  x_ = a;
  other_ = b;
  p_ = p;
  ok_ = ok;
}

RansDecoder::RansDecoder(std::string_view stream) {
  ByteReader in(stream);
  x_ = in.Le64();
  other_ = in.Le64();
  // The encoder's states are always in range, and whole words follow.
  if (!in.ok() || in.remaining() % 4 != 0) ok_ = false;
  for (uint64_t* x : {&x_, &other_}) {
    if (*x < kRansLow || *x >= kRansLow << 32) {
      ok_ = false;
      *x = kRansLow;
    }
  }
  std::string_view words = in.Rest();
  p_ = reinterpret_cast<const uint8_t*>(words.data());
  end_ = p_ + (ok_ ? words.size() : 0);
}

}  // namespace weft::engine::detail
