// ReplyLimits: caps on what one Redis reply may cost, enforced inside
// hiredis's reply parser. hiredis builds a reply through a table of object
// functions; these wrap its defaults and refuse (return null, which hiredis
// treats as out of memory and drops the connection) once a reply holds more
// elements or string bytes than allowed. An array's element count is
// checked before hiredis allocates room for it, so a reply claiming a
// billion elements costs nothing.
//
// Bytes not yet parsed sit in the reader's buffer; Connection caps that
// separately (a bulk string is only handed over once whole).
#pragma once

#include <hiredis/read.h>

#include <cstddef>

namespace weft::redis::detail {

struct ReplyLimits {
  size_t max_bytes = 0;
  size_t max_elements = 0;
  // Counted from the start of the reply being parsed.
  size_t bytes = 0;
  size_t elements = 0;
  bool exceeded = false;  // set when a reply was refused; the owner resets it
  const redisReplyObjectFunctions* base = nullptr;
  redisReplyObjectFunctions fns{};
};

// Makes `reader` build replies through `limits` (which must outlive it).
void InstallReplyLimits(redisReader* reader, ReplyLimits* limits);

}  // namespace weft::redis::detail
