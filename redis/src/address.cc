#include "weft/redis/address.h"

#include <charconv>

namespace weft::redis {
namespace {

template <typename T>
bool ParseNumber(std::string_view text, T& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string RedisAddress::ToString() const {
  bool v6 = host.find(':') != std::string::npos;
  return "redis://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" +
         std::to_string(db);
}

Result<RedisAddress> ParseRedisUrl(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return Status::InvalidArgument("expected redis://HOST[:PORT][/DB], got '" + std::string(url) +
                                   "'");
  }
  std::string_view rest = url.substr(kScheme.size());
  RedisAddress a;
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view cred = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = cred.find(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument("credentials in a redis URL are [USER]:PASSWORD");
    }
    a.user = std::string(cred.substr(0, colon));
    a.password = std::string(cred.substr(colon + 1));
  }
  std::string_view hostport = rest;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && !ParseNumber(db, a.db)) {
      return Status::InvalidArgument("bad database number in '" + std::string(url) + "'");
    }
  }
  std::string_view host = hostport;
  std::string_view port;
  if (!hostport.empty() && hostport.front() == '[') {
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("unclosed '[' in URL");
    host = hostport.substr(1, close - 1);
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Status::InvalidArgument("junk after ']' in URL");
      port = after.substr(1);
    }
  } else if (size_t colon = hostport.rfind(':'); colon != std::string_view::npos) {
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  if (host.empty()) return Status::InvalidArgument("no host in '" + std::string(url) + "'");
  a.host = std::string(host);
  if (!port.empty() && (!ParseNumber(port, a.port) || a.port == 0)) {
    return Status::InvalidArgument("bad port in '" + std::string(url) + "'");
  }
  return a;
}

}  // namespace weft::redis
