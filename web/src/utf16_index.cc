#include "utf16_index.h"

#include <algorithm>

namespace weft::web {
namespace {

// UTF-8 lead bytes tell a sequence's length: 0xF0..0xF4 start the four-byte
// sequences, which are exactly the code points outside the BMP.
bool IsAstralLead(unsigned char c) { return c >= 0xF0; }
bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

}  // namespace

TextLength MeasureUtf8(std::string_view utf8) {
  TextLength n;
  for (char ch : utf8) {
    auto c = static_cast<unsigned char>(ch);
    if (IsContinuation(c)) continue;
    ++n.code_points;
    n.utf16 += IsAstralLead(c) ? 2 : 1;
  }
  return n;
}

void Utf16Index::Reset(std::string_view utf8) {
  astral_.clear();
  Insert(0, utf8);
}

void Utf16Index::Insert(uint64_t pos, std::string_view utf8) {
  // Where the new characters go among the old ones, and how far the old
  // ones after them move.
  auto at = std::lower_bound(astral_.begin(), astral_.end(), pos);
  std::vector<uint64_t> added;
  uint64_t cp = 0;
  for (char ch : utf8) {
    auto c = static_cast<unsigned char>(ch);
    if (IsContinuation(c)) continue;
    if (IsAstralLead(c)) added.push_back(pos + cp);
    ++cp;
  }
  if (cp == 0) return;
  for (auto it = at; it != astral_.end(); ++it) *it += cp;
  astral_.insert(at, added.begin(), added.end());
}

void Utf16Index::Delete(uint64_t pos, uint64_t count) {
  if (count == 0) return;
  auto first = std::lower_bound(astral_.begin(), astral_.end(), pos);
  auto last = std::lower_bound(first, astral_.end(), pos + count);
  for (auto it = last; it != astral_.end(); ++it) *it -= count;
  astral_.erase(first, last);
}

uint64_t Utf16Index::Utf16FromPos(uint64_t pos) const {
  if (astral_.empty()) return pos;
  // Each astral character before `pos` adds one unit.
  return pos + static_cast<uint64_t>(std::lower_bound(astral_.begin(), astral_.end(), pos) -
                                     astral_.begin());
}

Result<uint64_t> Utf16Index::PosFromUtf16(uint64_t utf16) const {
  if (astral_.empty()) return utf16;
  // The k-th astral character (from 0) starts at UTF-16 offset astral_[k] + k,
  // which increases with k: count those that end at or before `utf16`.
  size_t lo = 0, hi = astral_.size();
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (astral_[mid] + mid + 2 <= utf16) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo < astral_.size() && astral_[lo] + lo < utf16) {
    return Status::InvalidArgument("UTF-16 offset inside a surrogate pair");
  }
  return utf16 - lo;
}

}  // namespace weft::web
