// Utf16Index: converts between the engine's positions (Unicode code points)
// and JavaScript's (UTF-16 code units) for one document, without reading
// its text.
//
// It keeps the code point positions of the document's visible characters
// outside the Basic Multilingual Plane (each is two UTF-16 units, one code
// point), in order, and follows every change: local inserts and deletes and
// the remote changes' deltas. A document without such characters (most
// text) converts in O(1); otherwise a conversion is a binary search, and an
// edit shifts the positions after it: O(number of such characters after the
// edit), which is small next to the text itself.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "weft/status.h"

namespace weft::web {

class Utf16Index {
 public:
  // Rebuilds the index from the whole text (UTF-8), e.g. after a load.
  // REQUIRES: valid UTF-8.
  void Reset(std::string_view utf8);

  // `utf8` (valid UTF-8) was inserted at code point `pos`.
  void Insert(uint64_t pos, std::string_view utf8);
  // `count` code points starting at `pos` were deleted.
  void Delete(uint64_t pos, uint64_t count);

  // The UTF-16 offset of code point position `pos` (0..length).
  uint64_t Utf16FromPos(uint64_t pos) const;
  // The code point position of UTF-16 offset `utf16`. kInvalidArgument when
  // it falls between the two halves of a surrogate pair. The caller checks
  // the upper bound (Utf16Length).
  Result<uint64_t> PosFromUtf16(uint64_t utf16) const;
  // The text's length in UTF-16 units, given its length in code points.
  uint64_t Utf16Length(uint64_t code_points) const { return code_points + astral_.size(); }

  // The number of characters outside the BMP (for tests).
  size_t astral_count() const { return astral_.size(); }

 private:
  // Code point positions of the characters outside the BMP, increasing.
  std::vector<uint64_t> astral_;
};

// The number of code points and UTF-16 units of valid UTF-8 `utf8`.
struct TextLength {
  uint64_t code_points = 0;
  uint64_t utf16 = 0;
};
TextLength MeasureUtf8(std::string_view utf8);

}  // namespace weft::web
