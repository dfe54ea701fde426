// Generated traces: a sequential history in the shape of refactoring, for
// the benchmarks and the tests of large edits. The expected text is kept in
// a gap buffer of code points beside the patches, so the trace carries an
// endContent no Doc computed.
#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "weft/engine/trace.h"

namespace weft::engine {
namespace {

// Code points in a gap buffer: the generator's edits are clustered (a rename
// walks forwards, a cut and a paste are one edit each), so the gap moves
// little.
class CodePointBuffer {
 public:
  size_t size() const { return buf_.size() - (gap_end_ - gap_begin_); }
  void Insert(size_t pos, const std::u32string& text) {
    MoveGap(pos);
    if (gap_end_ - gap_begin_ < text.size()) Grow(text.size());
    std::copy(text.begin(), text.end(), buf_.begin() + gap_begin_);
    gap_begin_ += text.size();
  }
  void Remove(size_t pos, size_t len) {
    MoveGap(pos);
    gap_end_ += len;
  }
  std::u32string Slice(size_t pos, size_t len) const {
    std::u32string out;
    out.reserve(len);
    for (size_t i = pos; i < pos + len; ++i) out.push_back(At(i));
    return out;
  }
  std::u32string All() const { return Slice(0, size()); }

 private:
  char32_t At(size_t i) const { return i < gap_begin_ ? buf_[i] : buf_[i + gap_end_ - gap_begin_]; }
  void MoveGap(size_t pos) {
    if (pos < gap_begin_) {
      std::copy_backward(buf_.begin() + pos, buf_.begin() + gap_begin_, buf_.begin() + gap_end_);
      gap_end_ -= gap_begin_ - pos;
      gap_begin_ = pos;
    } else if (pos > gap_begin_) {
      size_t n = pos - gap_begin_;
      std::copy(buf_.begin() + gap_end_, buf_.begin() + gap_end_ + n, buf_.begin() + gap_begin_);
      gap_begin_ += n;
      gap_end_ += n;
    }
  }
  void Grow(size_t need) {
    size_t extra = std::max(need, buf_.size() / 2 + 1024);
    size_t tail = buf_.size() - gap_end_;
    buf_.resize(buf_.size() + extra);
    std::copy_backward(buf_.end() - extra - tail, buf_.end() - extra, buf_.end());
    gap_end_ += extra;
  }

  std::u32string buf_;
  size_t gap_begin_ = 0, gap_end_ = 0;
};

std::string ToUtf8(const std::u32string& s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

class Generator {
 public:
  explicit Generator(const PasteDeleteOptions& o) : o_(o), rng_(o.seed) {}

  Trace Run() {
    trace_.txns.reserve(static_cast<size_t>(o_.cycles) * 8);
    Paste(0, Code(o_.max_chars / 4));
    for (int c = 0; c < o_.cycles; ++c) {
      Rename();
      MoveBlock();
      Type();
      if (buf_.size() + o_.max_chars / 8 < o_.max_chars) {
        Paste(Below(buf_.size() + 1), Code(Between(o_.max_chars / 64, o_.max_chars / 8)));
      } else {
        DeleteBlock();
      }
    }
    trace_.end_content = ToUtf8(buf_.All());
    return std::move(trace_);
  }

 private:
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  uint64_t Between(uint64_t lo, uint64_t hi) { return lo + Below(hi - lo + 1); }

  // Lines of code-like text, with a non-ASCII character now and then.
  std::u32string Code(size_t n) {
    static const char32_t* kWords[] = {U"int",  U"value", U"return", U"if",   U"for",  U"count",
                                       U"node", U"é",     U"→",      U"next", U"size", U"buffer"};
    std::u32string s;
    while (s.size() < n) {
      s += U"  ";
      for (int w = 0; w < 5; ++w) {
        s += kWords[Below(12)];
        s += w == 4 ? U";\n" : U" ";
      }
    }
    s.resize(n);
    return s;
  }

  void Add(uint64_t pos, uint64_t del, const std::u32string& text) {
    if (trace_.txns.empty() || trace_.txns.back().patches.size() >= kPatchesPerTxn) {
      trace_.txns.emplace_back();
    }
    trace_.txns.back().patches.push_back(TracePatch{pos, del, ToUtf8(text)});
    ++trace_.patches;
    if (del > 0) buf_.Remove(pos, del);
    if (!text.empty()) buf_.Insert(pos, text);
  }
  void Paste(uint64_t pos, const std::u32string& text) {
    trace_.txns.emplace_back();
    Add(pos, 0, text);
  }

  // A rename across a region: every few dozen characters a short
  // identifier is replaced by a longer one, walking forwards (or up, see
  // PasteDeleteOptions). Each leaves a tombstone and a new Item, so the
  // region ends up as many small Items.
  void Rename() {
    uint64_t span = std::min<uint64_t>(buf_.size(), Between(o_.max_chars / 16, o_.max_chars / 4));
    uint64_t pos = Below(buf_.size() - span + 1);
    uint64_t end = pos + span;
    trace_.txns.emplace_back();
    if (o_.bottom_up) {
      // From the region's end up: each edit leaves the positions above it
      // as they were, and cuts the Item it lands in near that Item's end.
      uint64_t at = end;
      for (;;) {
        const uint64_t step = 8 + Between(16, 64);
        if (at < pos + step) break;  // tested before subtracting: `at` is unsigned
        at -= step;
        Add(at, 4, U"renamed_");
      }
      return;
    }
    while (pos + 8 < end && pos + 8 < buf_.size()) {
      Add(pos, 4, U"renamed_");
      pos += 8 + Between(16, 64);
      end += 4;
    }
  }

  // Cut a block (a delete spanning whatever Items the renames left) and
  // paste it elsewhere (one insert of up to 10^5 characters).
  void MoveBlock() {
    if (buf_.size() < 2) return;
    uint64_t len = std::min<uint64_t>(buf_.size() / 2, Between(1000, o_.max_chars / 4));
    uint64_t from = Below(buf_.size() - len + 1);
    std::u32string block = buf_.Slice(from, len);
    trace_.txns.emplace_back();
    Add(from, len, U"");
    Add(Below(buf_.size() + 1), 0, block);
  }

  // Typing at a few places, with the odd backspace.
  void Type() {
    for (int spot = 0; spot < 4; ++spot) {
      uint64_t pos = Below(buf_.size() + 1);
      trace_.txns.emplace_back();
      for (int k = 0; k < 40; ++k) {
        if (k % 7 == 6 && pos > 0) {
          Add(--pos, 1, U"");
        } else {
          Add(pos++, 0, std::u32string(1, static_cast<char32_t>('a' + Below(26))));
        }
      }
    }
  }

  void DeleteBlock() {
    uint64_t len = std::min<uint64_t>(buf_.size(), Between(o_.max_chars / 16, o_.max_chars / 4));
    trace_.txns.emplace_back();
    Add(Below(buf_.size() - len + 1), len, U"");
  }

  static constexpr size_t kPatchesPerTxn = 64;
  const PasteDeleteOptions o_;
  std::mt19937_64 rng_;
  CodePointBuffer buf_;
  Trace trace_;
};

}  // namespace

Trace GeneratePasteDeleteTrace(const PasteDeleteOptions& options) {
  return Generator(options).Run();
}

Trace GenerateManyAuthorsTrace(const ManyAuthorsOptions& options) {
  std::mt19937_64 rng(options.seed);
  auto below = [&](uint64_t n) { return n == 0 ? 0 : rng() % n; };
  Trace trace;
  trace.concurrent = true;
  trace.num_agents = std::max<uint32_t>(options.authors, 1);
  trace.txns.reserve(static_cast<size_t>(std::max(options.txns, 0)));
  CodePointBuffer buf;
  for (int i = 0; i < options.txns; ++i) {
    TraceTxn txn;
    if (i > 0) txn.parents = {static_cast<uint64_t>(i - 1)};
    txn.agent = static_cast<uint32_t>(below(trace.num_agents));
    uint64_t pos = below(buf.size() + 1);
    for (int k = 0; k < 8; ++k) {
      if (k == 5 && pos > 0) {
        --pos;
        buf.Remove(pos, 1);
        txn.patches.push_back(TracePatch{pos, 1, ""});
      } else {
        std::u32string c(1, k == 7 ? U' ' : static_cast<char32_t>('a' + below(26)));
        buf.Insert(pos, c);
        txn.patches.push_back(TracePatch{pos, 0, ToUtf8(c)});
        ++pos;
      }
    }
    trace.patches += txn.patches.size();
    trace.txns.push_back(std::move(txn));
  }
  trace.end_content = ToUtf8(buf.All());
  return trace;
}

}  // namespace weft::engine
