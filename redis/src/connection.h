// Connection: one hiredis asynchronous connection to Redis, driven by a
// libuv loop through hiredis's libuv adapter, that keeps itself up.
//
//   kConnecting ──(TCP up, AUTH/SELECT answered)──► kReady
//        ▲                                            │ error, timeout, EOF,
//        │ backoff timer (exponential, jittered)      │ reply over its caps
//        └─────────────── kWaiting ◄──────────────────┘
//
// Every wait has a deadline: the TCP connect and handshake
// (connect_timeout), each command (command_timeout plus whatever the
// command itself may block for), and an idle connection is pinged every
// `heartbeat` so a silent peer is noticed. A missed deadline drops the
// connection: every command in flight fails with Unavailable (its outcome
// unknown) and the connection comes back after the backoff.
//
// Replies are bounded: a reply whose bytes or elements pass the caps is
// refused while it is still being read (ResourceExhausted), so a foreign or
// damaged value in Redis costs at most the cap, never what it claims.
//
// Loop thread only. The loop must outlive the Connection, and Close() must
// have finished (its callback run) before the Connection is destroyed.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <string_view>

#include "weft/redis/address.h"
#include "weft/status.h"

struct redisAsyncContext;
struct redisReply;
struct redisReplyObjectFunctions;

namespace weft::redis::detail {

using Millis = std::chrono::milliseconds;

struct ConnectionOptions {
  RedisAddress address;
  std::string name = "redis";  // in log lines: "writer", "follower"
  Millis connect_timeout{2000};
  Millis command_timeout{5000};
  Millis reconnect_min{100};
  Millis reconnect_max{5000};
  Millis heartbeat{1000};  // 0: never ping an idle connection
  size_t max_reply_bytes = 192 << 20;
  size_t max_reply_elements = 1 << 20;
  std::function<void(const std::string&)> log;
};

enum class LinkState : uint8_t { kConnecting, kReady, kWaiting, kClosed };

// The reply to one command, or why there is none. `reply` is non-null only
// when `status` is OK, and lives only during the call. An error reply from
// Redis (-ERR ..., -WRONGTYPE ...) arrives as FailedPrecondition with
// Redis's text.
using ReplyCallback = std::function<void(const redisReply* reply, const Status& status)>;

class Connection {
 public:
  // `on_ready` runs each time the connection (re)opens and is ready for
  // commands; `on_down` each time it drops or fails to open.
  Connection(uv_loop_t* loop, ConnectionOptions options, std::function<void()> on_ready,
             std::function<void(const Status&)> on_down);
  // Starts connecting. Once.
  void Start() { Connect(); }
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends one command (each argument is sent as is: binary safe). Returns
  // Unavailable without running `done` if the connection is not ready;
  // otherwise `done` runs exactly once, later. `block` extends this
  // command's deadline (XREAD BLOCK's own timeout).
  Status Command(std::span<const std::string_view> argv, ReplyCallback done,
                 Millis block = Millis{0});

  // Drops the connection now: commands in flight fail with `why`; it
  // reconnects after the backoff.
  void Fail(const Status& why);

  // Stops for good: commands in flight fail with Unavailable, handles are
  // closed, then `done` runs (from the loop).
  void Close(std::function<void()> done);

  LinkState state() const { return state_; }
  bool ready() const { return state_ == LinkState::kReady; }
  size_t in_flight() const { return pending_.size(); }
  // Why the connection last failed (OK if it never did).
  const Status& last_error() const { return last_error_; }
  uint64_t connects() const { return connects_; }

 private:
  struct Pending {
    ReplyCallback done;
    uint64_t deadline_ms;  // uv_now() scale
  };

  void Connect();
  void Handshake();
  void BecomeReady();
  void Gone();
  void ScheduleReconnect();
  void ArmTimer(uint64_t at_ms);
  Status SendInternal(std::span<const std::string_view> argv, ReplyCallback done, Millis block);
  void OnReply(redisReply* reply);
  void OnTimer();
  void OnCheck();
  void Log(const std::string& line) const;

  static void ReplyTrampoline(redisAsyncContext* ac, void* reply, void* privdata);
  static void ConnectTrampoline(const redisAsyncContext* ac, int status);
  static void DisconnectTrampoline(const redisAsyncContext* ac, int status);

  uv_loop_t* loop_;
  ConnectionOptions options_;
  std::function<void()> on_ready_;
  std::function<void(const Status&)> on_down_;
  std::function<void()> on_closed_;

  redisAsyncContext* ac_ = nullptr;
  LinkState state_ = LinkState::kConnecting;
  // The reply functions that enforce the caps (see reply_limits.h).
  struct Limits;
  std::unique_ptr<Limits> limits_;

  std::deque<Pending> pending_;
  Status fail_status_;  // what commands in flight fail with while tearing down
  Status last_error_;
  int callback_depth_ = 0;  // inside a hiredis callback: frees are deferred
  uint64_t connect_deadline_ms_ = 0;
  uint64_t last_heard_ms_ = 0;
  Millis backoff_;
  uint64_t connects_ = 0;
  uv_timer_t timer_{};
  uv_check_t check_{};
  int open_handles_ = 0;
  std::mt19937_64 rng_{std::random_device{}()};
};

// The text of a string/status/error reply ("" for other types).
std::string_view ReplyText(const redisReply* r);

}  // namespace weft::redis::detail
