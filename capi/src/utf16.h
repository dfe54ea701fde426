// Code point <-> UTF-16 code unit offsets over UTF-8 text, for editors whose
// strings are UTF-16 (JavaScript, Java, Windows).
#pragma once

#include <cstdint>
#include <string_view>

#include "weft/status.h"

namespace weft::capi {

// The UTF-16 offset of code point `pos` of `utf8`. kInvalidArgument for
// invalid UTF-8, kOutOfRange if `utf8` has fewer than `pos` code points.
Result<uint64_t> Utf16FromPos(std::string_view utf8, uint64_t pos);

// The code point position of UTF-16 offset `utf16` of `utf8`.
// kInvalidArgument for invalid UTF-8 or an offset inside a surrogate pair,
// kOutOfRange past the end.
Result<uint64_t> PosFromUtf16(std::string_view utf8, uint64_t utf16);

// Whether `utf8` is valid UTF-8 (no overlong forms, surrogates or code
// points above U+10FFFF), and its code point count.
bool CountCodePoints(std::string_view utf8, uint64_t* count);

}  // namespace weft::capi
