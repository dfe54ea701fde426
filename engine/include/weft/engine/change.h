// Change: what a remote op did to the visible text, as a position delta an
// editor applies to its own buffer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace weft::engine {

// One step of a delta, in Unicode code points: keep `count` characters, insert
// `text`, or delete `count` characters. A delta walks the text from its start;
// what it does not mention stays as is.
struct DeltaStep {
  enum class Kind : uint8_t { kRetain, kInsert, kDelete };
  Kind kind = Kind::kRetain;
  uint64_t count = 0;  // kRetain, kDelete: code points; kInsert: code points of text
  std::string text;    // kInsert only, UTF-8
  friend bool operator==(const DeltaStep&, const DeltaStep&) = default;
};

// The visible effect of applying one remote op (or part of one): at most a
// retain followed by one insert or one delete. Applied in the order they are
// delivered, the deltas turn the editor's old text into the Doc's new text.
using Delta = std::vector<DeltaStep>;

}  // namespace weft::engine
