// What the client commands (cat, type, edit) share: the flags that say
// where to connect, and a fresh agent id.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "flags.h"
#include "weft/status.h"
#include "weft/transport/auth.h"
#include "weft/transport/client.h"

namespace weft::demo {

// Connection flags shared by the client commands.
struct ConnectFlags {
  std::string connect, doc, secret_file;

  void Register(FlagParser& f) {
    f.String("connect", &connect, true);
    f.String("doc", &doc, true);
    f.String("secret-file", &secret_file);
  }

  // Fills `o`; a non-OK status is a bad argument.
  Status Fill(transport::ClientOptions* o) const {
    Result<transport::HostPort> hp = transport::ParseHostPort(connect);
    if (!hp.ok()) return hp.status();
    o->server = *hp;
    if (!secret_file.empty()) {
      Result<std::string> s = transport::LoadSecretFile(secret_file);
      if (!s.ok()) return s.status();
      o->secret = *s;
    }
    if (doc.empty() || doc.size() > 256)
      return Status::InvalidArgument("--doc must be 1..256 bytes");
    return Status::Ok();
  }
};

// A random nonzero agent id for a user who did not choose one.
inline uint64_t RandomAgent() {
  std::random_device rd;
  uint64_t a = 0;
  while (a == 0) a = (uint64_t{rd()} << 32) | rd();
  return a;
}

}  // namespace weft::demo
