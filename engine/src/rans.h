// rANS: entropy coding of symbols with static frequency tables
// (engine/FORMAT.md, "Sections"). Many tables share one coder: each
// symbol is coded with the table of its context, so a model picks the
// table by what it is reading.
//
// A coder state is 64 bits, kept in [kRansLow, 2^32 * kRansLow) by moving
// 32-bit words, so a decoder reads a word only every several symbols. A
// table's frequencies sum to 1 << scale_bits (at most kMaxScaleBits); a
// symbol of frequency f costs about scale_bits - log2(f) bits. The encoder
// takes the symbols in reverse, so the decoder reads them, and the words,
// forwards. Integer arithmetic only: the same symbols give the same bytes
// on every platform.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "byte_io.h"

namespace weft::engine::detail {

inline constexpr uint64_t kRansLow = uint64_t{1} << 31;
inline constexpr uint32_t kMaxScaleBits = 12;
// Symbols are bytes: no table has more.
inline constexpr uint32_t kMaxAlphabet = 256;

// Normalized frequencies: freq[s] for every symbol s < freq.size(), summing
// to 1 << scale_bits; the last symbol's is at least 1.
struct FreqTable {
  uint32_t scale_bits = 0;
  std::vector<uint32_t> freq;
  std::vector<uint32_t> cum;  // cum[s] = sum of freq[t] for t < s

  bool empty() const { return freq.empty(); }
  // The table for symbol `counts` (indexed by symbol, at most kMaxAlphabet),
  // or an empty one when every count is zero. Every symbol with a nonzero
  // count gets a nonzero frequency.
  static FreqTable FromCounts(std::span<const uint32_t> counts);
  // What coding symbol `sym` once costs, in 1/256 bit (an estimate, for
  // choosing between encodings); a symbol not in the table costs 16 bits.
  uint32_t SymbolCost(uint32_t sym) const;
  void Write(ByteWriter& out) const;
  // Reads a table of at most `alphabet` symbols (empty if it was written
  // empty). False, with the reader failed, on malformed bytes.
  bool Read(ByteReader& in, uint32_t alphabet);
};

// Collects symbols in decode order and writes them as one rANS stream.
// Two coder states take turns, symbol by symbol, so a decoder can work on
// two symbols at once; they share the stream of bytes.
class RansEncoder {
 public:
  void Add(uint32_t table, uint32_t symbol) { events_.push_back(table << 16 | symbol); }
  // The stream for `tables` (which must hold every added symbol).
  std::string Finish(std::span<const FreqTable> tables) const;

 private:
  std::vector<uint32_t> events_;
};

// A table as the decoder uses it: one entry per slot, in storage the
// caller owns (see DecodeTables).
struct DecodeTable {
  // symbol | (freq - 1) << 8 | (slot - cum[symbol]) << 20
  const uint32_t* slots = nullptr;
  uint32_t scale_bits = 0;
  uint32_t mask = 0;  // (1 << scale_bits) - 1
  bool empty() const { return slots == nullptr; }
};

// The decode tables of a section's contexts, in one allocation.
class DecodeTables {
 public:
  // REQUIRES: every non-empty table in `tables` is valid (FreqTable::Read
  // accepted it).
  void Assign(std::span<const FreqTable> tables);
  std::span<const DecodeTable> tables() const { return tables_; }

 private:
  std::vector<uint32_t> slots_;
  std::vector<DecodeTable> tables_;
};

class RansDecoder {
 public:
  RansDecoder() = default;
  // Starts on a stream written by RansEncoder::Finish. A stream shorter than
  // the states fails at once.
  explicit RansDecoder(std::string_view stream);

  // Decodes `n` symbols of table `t` (REQUIRES: not empty) into out[0, n).
  void DecodeMany(const DecodeTable& t, uint8_t* out, size_t n);
  bool ok() const { return ok_; }
  // True when the whole stream was read and both states are back where the
  // encoder started: the symbols decoded are the ones encoded.
  bool Finished() const { return ok_ && p_ == end_ && x_ == kRansLow && other_ == kRansLow; }

 private:
  uint64_t x_ = kRansLow;      // decodes the next symbol
  uint64_t other_ = kRansLow;  // decodes the one after
  const uint8_t* p_ = nullptr;
  const uint8_t* end_ = nullptr;
  bool ok_ = true;
};

}  // namespace weft::engine::detail
