#include "weft/redis/stream_id.h"

#include <charconv>

namespace weft::redis {
namespace {

bool ParseDecimal(std::string_view text, uint64_t& out) {
  if (text.empty() || text[0] < '0' || text[0] > '9') return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string StreamId::ToString() const { return std::to_string(ms) + "-" + std::to_string(seq); }

Result<StreamId> StreamId::Parse(std::string_view text) {
  size_t dash = text.find('-');
  StreamId id;
  if (dash == std::string_view::npos || !ParseDecimal(text.substr(0, dash), id.ms) ||
      !ParseDecimal(text.substr(dash + 1), id.seq)) {
    // Bounded: an id from a damaged reply may be any length.
    return Status::Corruption("not a stream id: '" + std::string(text.substr(0, 48)) + "'");
  }
  return id;
}

}  // namespace weft::redis
