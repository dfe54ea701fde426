#include "weft/engine/utf8.h"

#include "utf8.h"

namespace weft::engine {

bool IsValidUtf8(std::string_view s) { return detail::CountUtf8(s).has_value(); }

}  // namespace weft::engine
