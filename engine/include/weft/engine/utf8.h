// UTF-8 validation, as the engine applies it to every text it takes in, for
// the other modules' untrusted text (names and labels off the wire).
#pragma once

#include <cstddef>
#include <string_view>

namespace weft::engine {

// True if `s` is well-formed UTF-8: no overlong forms, no surrogates, no
// code points above U+10FFFF, no truncated sequences. The empty string is.
bool IsValidUtf8(std::string_view s);

// Width in bytes of the well-formed UTF-8 code point that starts at s[i]
// (REQUIRES: i < s.size()), or 0 if none does, by the rules above.
size_t Utf8CharWidth(std::string_view s, size_t i);

}  // namespace weft::engine
