#include "symbol_coder.h"

#include <algorithm>

namespace weft::engine::detail {
namespace {

// A coded context costs at least its two coder states and a table: below
// this many symbols raw is always smaller.
constexpr size_t kMinCodedSymbols = 24;

}  // namespace

SymbolWriter::SymbolWriter(std::span<const uint16_t> alphabets) {
  symbols_.resize(alphabets.size());
  counts_.resize(alphabets.size());
  for (size_t c = 0; c < alphabets.size(); ++c) counts_[c].assign(alphabets[c], 0);
}

// section := context[for each context] varint(bits bytes) bits
// context := varint(n << 1 | 0) symbol bytes[n]                       (raw)
//          | varint(n << 1 | 1) table varint(stream bytes) stream     (coded, n > 0)
uint64_t SymbolWriter::Write(ByteWriter& out, bool allow_coded) {
  if (!finished_) {
    finished_bits_ = bits_.Finish();
    finished_ = true;
  }
  uint64_t coded_symbols = 0;
  for (size_t c = 0; c < symbols_.size(); ++c) {
    const std::vector<uint8_t>& syms = symbols_[c];
    std::string coded;
    if (allow_coded && syms.size() >= kMinCodedSymbols) {
      FreqTable table = FreqTable::FromCounts(counts_[c]);
      ByteWriter w(&coded);
      table.Write(w);
      RansEncoder enc;
      for (uint8_t s : syms) enc.Add(0, s);
      std::string stream = enc.Finish(std::span(&table, 1));
      w.PutVarint(stream.size());
      w.PutBytes(stream);
    }
    if (!coded.empty() && coded.size() < syms.size()) {
      out.PutVarint(uint64_t{syms.size()} << 1 | 1);
      out.PutBytes(coded);
      coded_symbols += syms.size();
    } else {
      out.PutVarint(uint64_t{syms.size()} << 1);
      out.PutBytes(std::string_view(reinterpret_cast<const char*>(syms.data()), syms.size()));
    }
  }
  out.PutVarint(finished_bits_.size());
  out.PutBytes(finished_bits_);
  return coded_symbols;
}

bool SymbolReader::Read(ByteReader& in, std::span<const uint16_t> alphabets) {
  const size_t start = in.remaining();
  contexts_.assign(alphabets.size(), Context{});
  coded_symbols_ = 0;
  for (size_t c = 0; c < alphabets.size() && in.ok(); ++c) {
    Context& ctx = contexts_[c];
    const uint64_t head = in.Varint();
    ctx.count = head >> 1;
    if (head & 1) {
      if (ctx.count == 0 || !ctx.table.Read(in, alphabets[c]) || ctx.table.empty()) {
        in.Fail();
        break;
      }
      ctx.stream = in.Bytes(in.VarintAtMost(in.remaining()));
      coded_symbols_ += ctx.count;
    } else {
      std::string_view raw = in.Bytes(ctx.count <= in.remaining() ? ctx.count : in.remaining() + 1);
      ctx.next = reinterpret_cast<const uint8_t*>(raw.data());
      ctx.end = ctx.next + raw.size();
      // Raw symbols are checked here; coded ones are in range by their table.
      if (std::any_of(ctx.next, ctx.end, [&](uint8_t s) { return s >= alphabets[c]; })) in.Fail();
    }
  }
  bits_ = BitReader(in.Bytes(in.VarintAtMost(in.remaining())));
  bytes_ = start - in.remaining();
  ok_ = in.ok();
  return ok_;
}

bool SymbolReader::Decode(uint64_t max_coded_symbols) {
  if (!ok_ || coded_symbols_ > max_coded_symbols) return ok_ = false;
  for (Context& ctx : contexts_) {
    if (ctx.stream.data() == nullptr) continue;
    DecodeTables tables;
    tables.Assign(std::span(&ctx.table, 1));
    RansDecoder rans(ctx.stream);
    // Grows with what is produced: at most twice what was decoded so far.
    for (uint64_t left = ctx.count; left > 0;) {
      size_t chunk = static_cast<size_t>(std::min<uint64_t>(left, ctx.decoded.size() + 4096));
      ctx.decoded.resize(ctx.decoded.size() + chunk);
      rans.DecodeMany(tables.tables()[0],
                      reinterpret_cast<uint8_t*>(ctx.decoded.data() + ctx.decoded.size() - chunk),
                      chunk);
      left -= chunk;
      if (!rans.ok()) return ok_ = false;
    }
    if (!rans.Finished()) return ok_ = false;
    ctx.next = reinterpret_cast<const uint8_t*>(ctx.decoded.data());
    ctx.end = ctx.next + ctx.decoded.size();
  }
  return true;
}

bool SymbolReader::Finished() const {
  if (!ok_ || !bits_.Finished()) return false;
  return std::all_of(contexts_.begin(), contexts_.end(),
                     [](const Context& c) { return c.next == c.end; });
}

}  // namespace weft::engine::detail
