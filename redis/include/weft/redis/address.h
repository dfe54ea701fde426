// Where a Redis server is: parsed from a URL of the form
//
//   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]
//
// HOST is a name or an IPv4 address ([IPv6] in brackets); PORT defaults to
// 6379 and DB to 0. A name is resolved at each connection attempt by
// hiredis, synchronously on the loop thread: give an address where a slow
// resolver would stall the loop. With a password the store sends AUTH (with USER, the
// ACL form) before anything else; with DB != 0 it sends SELECT.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "weft/status.h"

namespace weft::redis {

struct RedisAddress {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  uint32_t db = 0;
  std::string user;      // empty: the default user
  std::string password;  // empty: no AUTH

  // "redis://HOST:PORT/DB", without the credentials (for logs).
  std::string ToString() const;
};

// InvalidArgument for anything that is not a redis:// URL as above.
Result<RedisAddress> ParseRedisUrl(std::string_view url);

}  // namespace weft::redis
