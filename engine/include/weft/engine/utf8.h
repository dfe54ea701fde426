// UTF-8 validation, as the engine applies it to every text it takes in, for
// the other modules' untrusted text (names and labels off the wire).
#pragma once

#include <string_view>

namespace weft::engine {

// True if `s` is well-formed UTF-8: no overlong forms, no surrogates, no
// code points above U+10FFFF, no truncated sequences. The empty string is.
bool IsValidUtf8(std::string_view s);

}  // namespace weft::engine
