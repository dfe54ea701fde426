// A section of symbols and raw bits: how the Update's ops and its
// compressed text are written (engine/FORMAT.md, "Sections").
//
// A model (the op model, the text compressor) speaks in symbols, each in a
// context with a fixed alphabet of at most 256, plus raw bit fields. A
// section keeps each context's symbols apart: stored raw (a byte each, for
// contexts where a table would cost more than it saves) or coded with a
// frequency table and rANS. The decoder decodes each context's symbols in
// one tight loop up front, and the model then takes them from arrays in
// the order it needs them.
//
// Numbers (PutNum/GetNum) are a token symbol plus extra bits: 0..15 are
// their own token; a larger v with top bit e is token 16 + 2 (e - 4) + the
// bit below the top, followed by the e - 1 bits below that.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bit_io.h"
#include "byte_io.h"
#include "rans.h"

namespace weft::engine::detail {

// Tokens of 32-bit numbers.
inline constexpr uint32_t kNumAlphabet = 72;

struct NumToken {
  uint32_t token;
  uint32_t nbits;
  uint32_t extra;
};

inline NumToken TokenOf(uint32_t v) {
  if (v < 16) return NumToken{v, 0, 0};
  uint32_t e = 31 - static_cast<uint32_t>(__builtin_clz(v));
  return NumToken{16 + 2 * (e - 4) + ((v >> (e - 1)) & 1), e - 1, v & ((1u << (e - 1)) - 1)};
}

// The value of `token` with its extra bits from `bits`.
inline uint32_t NumFromToken(uint32_t token, BitReader& bits) {
  if (token < 16) return token;
  if (token >= kNumAlphabet) return 0;  // only from a context misused by its model
  uint32_t e = 4 + (token - 16) / 2;
  return (1u << e) | (token & 1) << (e - 1) | bits.Get(e - 1);
}

class SymbolWriter {
 public:
  // `alphabets[ctx]`: how many symbols context ctx has (<= kMaxAlphabet).
  explicit SymbolWriter(std::span<const uint16_t> alphabets);

  void Put(uint32_t ctx, uint32_t sym) {
    symbols_[ctx].push_back(static_cast<uint8_t>(sym));
    ++counts_[ctx][sym];
  }
  void PutBits(uint32_t nbits, uint32_t v) { bits_.Put(nbits, v); }
  void PutNum(uint32_t ctx, uint32_t v) {
    NumToken t = TokenOf(v);
    Put(ctx, t.token);
    if (t.nbits > 0) bits_.Put(t.nbits, t.extra);
  }
  size_t symbols(uint32_t ctx) const { return symbols_[ctx].size(); }

  // Writes the section, each context coded when `allow_coded` and that is
  // smaller, raw otherwise. Returns how many symbols went into coded
  // contexts (what a decoder weighs against the section's size). May be
  // called again (with another `allow_coded`); no Put after the first.
  uint64_t Write(ByteWriter& out, bool allow_coded);

 private:
  std::vector<std::vector<uint8_t>> symbols_;  // per context, in order
  std::vector<std::vector<uint32_t>> counts_;  // per context, per symbol
  BitWriter bits_;
  std::string finished_bits_;
  bool finished_ = false;
};

// A section read and decoded: the model takes each context's symbols in
// order. Reading past a context's end, or a number's bits past the end of
// the bits, fails the reader for good; Finished() then says whether it
// took exactly what the section holds.
class SymbolReader {
 public:
  // Reads a section (without decoding it yet). False (with `in` failed) on
  // malformed bytes.
  bool Read(ByteReader& in, std::span<const uint16_t> alphabets);
  // Symbols in coded contexts: what decoding produces beyond the bytes
  // read, for the caller to weigh against the section's size.
  uint64_t coded_symbols() const { return coded_symbols_; }
  // Decodes the coded contexts, unless they hold more than
  // `max_coded_symbols`. False if they do, or are malformed.
  bool Decode(uint64_t max_coded_symbols);
  // Bytes the section occupies.
  size_t bytes() const { return bytes_; }

  uint32_t Get(uint32_t ctx) {
    Context& c = contexts_[ctx];
    if (c.next == c.end) {
      ok_ = false;
      return 0;
    }
    return *c.next++;
  }
  uint32_t GetNum(uint32_t ctx) { return NumFromToken(Get(ctx), bits_); }
  uint32_t GetBits(uint32_t nbits) { return bits_.Get(nbits); }
  // The next `n` symbols of `ctx` as bytes (nullptr, failed, if fewer).
  const uint8_t* GetSpan(uint32_t ctx, size_t n) {
    Context& c = contexts_[ctx];
    if (static_cast<size_t>(c.end - c.next) < n) {
      ok_ = false;
      return nullptr;
    }
    const uint8_t* p = c.next;
    c.next += n;
    return p;
  }
  // For a decoder's own tight loop: the symbols of `ctx` not yet taken,
  // and then how many it took (at most that many).
  std::span<const uint8_t> Rest(uint32_t ctx) const {
    return std::span(contexts_[ctx].next, contexts_[ctx].end);
  }
  void Skip(uint32_t ctx, size_t n) { contexts_[ctx].next += n; }
  BitReader& bits() { return bits_; }
  bool ok() const { return ok_; }
  bool Finished() const;

 private:
  struct Context {
    const uint8_t* next = nullptr;
    const uint8_t* end = nullptr;
    uint64_t count = 0;
    FreqTable table;          // coded contexts only
    std::string_view stream;  // their rANS stream
    std::string decoded;      // and what it decodes to
  };
  std::vector<Context> contexts_;
  BitReader bits_;
  size_t bytes_ = 0;
  uint64_t coded_symbols_ = 0;
  bool ok_ = true;
};

}  // namespace weft::engine::detail
