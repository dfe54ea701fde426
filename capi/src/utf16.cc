#include "utf16.h"

#include "weft/engine/utf8.h"

namespace weft::capi {

bool CountCodePoints(std::string_view utf8, uint64_t* count) {
  uint64_t n = 0;
  for (size_t i = 0; i < utf8.size(); ++n) {
    size_t len = engine::Utf8CharWidth(utf8, i);
    if (len == 0) return false;
    i += len;
  }
  *count = n;
  return true;
}

Result<uint64_t> Utf16FromPos(std::string_view utf8, uint64_t pos) {
  uint64_t units = 0;
  size_t i = 0;
  for (uint64_t k = 0; k < pos; ++k) {
    if (i == utf8.size()) return Status::OutOfRange("position past the end of the text");
    size_t len = engine::Utf8CharWidth(utf8, i);
    if (len == 0) return Status::InvalidArgument("invalid UTF-8");
    // Only code points above U+FFFF (four UTF-8 bytes) need a surrogate pair.
    units += len == 4 ? 2 : 1;
    i += len;
  }
  return units;
}

Result<uint64_t> PosFromUtf16(std::string_view utf8, uint64_t utf16) {
  uint64_t units = 0;
  uint64_t pos = 0;
  size_t i = 0;
  while (units < utf16) {
    if (i == utf8.size()) return Status::OutOfRange("UTF-16 offset past the end of the text");
    size_t len = engine::Utf8CharWidth(utf8, i);
    if (len == 0) return Status::InvalidArgument("invalid UTF-8");
    units += len == 4 ? 2 : 1;
    i += len;
    ++pos;
  }
  if (units != utf16) return Status::InvalidArgument("UTF-16 offset inside a surrogate pair");
  return pos;
}

}  // namespace weft::capi
