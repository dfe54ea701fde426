// HostPort: where a node listens or a peer is dialed, as operators write it.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "weft/status.h"

namespace weft::transport {

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
};

// "HOST:PORT", "[V6]:PORT" or ":PORT" (127.0.0.1). InvalidArgument otherwise.
Result<HostPort> ParseHostPort(std::string_view text);

// The first address `hp` resolves to (getaddrinfo: it may block on DNS).
// InvalidArgument when it resolves to nothing.
Result<sockaddr_storage> Resolve(const HostPort& hp);

}  // namespace weft::transport
