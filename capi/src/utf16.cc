#include "utf16.h"

namespace weft::capi {
namespace {

// Length in bytes of the valid UTF-8 sequence at s[i], or 0 if it is not
// one.
size_t SequenceLength(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (s.size() - i < n) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if (n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
  if (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
  return n;
}

}  // namespace

bool CountCodePoints(std::string_view utf8, uint64_t* count) {
  uint64_t n = 0;
  for (size_t i = 0; i < utf8.size(); ++n) {
    size_t len = SequenceLength(utf8, i);
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
    size_t len = SequenceLength(utf8, i);
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
    size_t len = SequenceLength(utf8, i);
    if (len == 0) return Status::InvalidArgument("invalid UTF-8");
    units += len == 4 ? 2 : 1;
    i += len;
    ++pos;
  }
  if (units != utf16) return Status::InvalidArgument("UTF-16 offset inside a surrogate pair");
  return pos;
}

}  // namespace weft::capi
