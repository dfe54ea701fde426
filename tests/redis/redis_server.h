// RedisServer: a real redis-server for tests, on a free loopback port with
// a directory of its own (removed afterwards). Started with the append-only
// file on and fsynced on every write, so a server killed with SIGKILL and
// restarted from its directory has every write it confirmed.
//
// `redis-server` is found on PATH (Debian's redis-server package), or at
// WEFT_REDIS_SERVER.
#pragma once

#include <hiredis/hiredis.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "weft/status.h"

namespace weft::testing {

struct RedisServerOptions {
  std::string appendfsync = "always";
  // Extra "--name value" arguments (e.g. {"--replicaof", "127.0.0.1 6379"}).
  std::vector<std::string> extra;
};

class RedisServer {
 public:
  // Starts a server and waits (up to `deadline`) until it answers PING.
  static Result<std::unique_ptr<RedisServer>> Start(
      RedisServerOptions options = {}, std::chrono::seconds deadline = std::chrono::seconds(30));
  ~RedisServer();

  uint16_t port() const { return port_; }
  const std::string& dir() const { return dir_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

  // Sends `sig` and reaps the process (SIGKILL: a crash; SIGTERM: a stop).
  void Kill(int sig = 9);
  // SIGSTOP / SIGCONT: a server that keeps its connections but answers
  // nothing, as behind a partition.
  void Pause();
  void Resume();
  // Starts it again on the same port and directory (after Kill).
  Status Restart(std::chrono::seconds deadline = std::chrono::seconds(30));
  bool running() const { return pid_ > 0; }

  // A blocking command through a fresh connection, for test setup and
  // checks. Null if the server did not answer.
  struct ReplyDeleter {
    void operator()(redisReply* r) const { freeReplyObject(r); }
  };
  using Reply = std::unique_ptr<redisReply, ReplyDeleter>;
  Reply Command(const std::vector<std::string>& argv) const;

 private:
  RedisServer() = default;
  Status Spawn(std::chrono::seconds deadline);

  RedisServerOptions options_;
  uint16_t port_ = 0;
  std::string dir_;
  pid_t pid_ = -1;
};

// A loopback port nothing listens on (at the time of the call).
uint16_t FreePort();

}  // namespace weft::testing
