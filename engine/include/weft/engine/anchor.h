// Anchor: a cursor position that follows its character across edits.
#pragma once

#include <cstdint>

#include "weft/engine/op.h"

namespace weft::engine {

// Which character the anchor is tied to, which decides where it goes when
// text is inserted exactly at its position.
// kLeft: tied to the character before the position; text inserted there
//   lands after the anchor (the anchor stays put, like an end-of-selection).
// kRight: tied to the character after the position; text inserted there
//   lands before the anchor (the anchor moves right, like a typing caret).
enum class Bias : uint8_t { kLeft, kRight };

// Made by Doc::AnchorAt, resolved by Doc::Resolve. Survives any local or
// remote edit; if its character is deleted it resolves to where that
// character was.
struct Anchor {
  // The character the anchor is tied to; no value = document start (kLeft)
  // or end (kRight).
  bool has_id = false;
  OpId id;
  Bias bias = Bias::kLeft;
};

}  // namespace weft::engine
