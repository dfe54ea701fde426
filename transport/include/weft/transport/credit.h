// ConnectionCredit: what one connection may hold of the slot pools.
#pragma once

#include <cstddef>
#include <cstdint>

#include "weft/ringbuf/event_allocator.h"

namespace weft::transport {

// Slots per size class (XS first) and payload bytes. A node derives it from
// its budget (weft/node/budget.h); a client takes the default.
struct ConnectionCredit {
  uint32_t slots[ringbuf::kPoolCount] = {};
  size_t bytes = 0;
};

}  // namespace weft::transport
