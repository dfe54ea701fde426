// StreamId: the id Redis gives a stream entry, "<ms>-<seq>": the server's
// clock in milliseconds when it was added and a sequence number within that
// millisecond. Ids in one stream only ever grow, so they order a document's
// entries and name how far a snapshot or a reader has got.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "weft/status.h"

namespace weft::redis {

struct StreamId {
  uint64_t ms = 0;
  uint64_t seq = 0;

  // "0-0": before every entry Redis can add (XADD refuses 0-0 itself).
  bool is_zero() const { return ms == 0 && seq == 0; }

  // The smallest id after this one (what XTRIM MINID keeps from).
  // REQUIRES: not the largest id (2^64-1 - 2^64-1).
  StreamId Next() const { return seq == UINT64_MAX ? StreamId{ms + 1, 0} : StreamId{ms, seq + 1}; }

  // "<ms>-<seq>" in decimal, as Redis writes it.
  std::string ToString() const;

  // Parses "<ms>-<seq>" (both decimal, no sign, no leading '+'). A bare
  // "<ms>" is refused: every id this module reads comes from Redis whole.
  static Result<StreamId> Parse(std::string_view text);

  friend auto operator<=>(const StreamId&, const StreamId&) = default;
};

}  // namespace weft::redis
