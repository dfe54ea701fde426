#include "weft/engine/utf8.h"

#include "utf8.h"

namespace weft::engine {

bool IsValidUtf8(std::string_view s) { return detail::CountUtf8(s).has_value(); }

size_t Utf8CharWidth(std::string_view s, size_t i) {
  return detail::CodePointWidth(reinterpret_cast<const unsigned char*>(s.data()), s.size(), i);
}

}  // namespace weft::engine
