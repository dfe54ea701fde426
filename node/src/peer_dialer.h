// PeerDialer: the node's outgoing links to the peers it was told to dial
// (`--peer`), each redialled after it closes, with exponential backoff and
// jitter so that restarted nodes do not reconnect in lockstep.
//
// Loop thread only. The connections themselves belong to the node: the
// dialer asks for one (`connect`) and hears when it is ready or closed.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "transport_names.h"

namespace weft::node {

struct PeerDialerOptions {
  std::chrono::milliseconds reconnect_min{100};  // the first wait, and after a success
  std::chrono::milliseconds reconnect_max{5000};
  // A new client connection, owned by the node; the dialer connects its
  // tcp() and Start()s it once connected.
  std::function<Connection&()> connect;
  // The node's open connection `id`, or null once it is closing or gone.
  std::function<Connection*(uint64_t id)> find;
};

class PeerDialer {
 public:
  PeerDialer(uv_loop_t* loop, PeerDialerOptions options);
  PeerDialer(const PeerDialer&) = delete;
  PeerDialer& operator=(const PeerDialer&) = delete;

  // A peer to dial (resolved now). InvalidArgument if it does not resolve.
  Status Add(const HostPort& peer);
  // Dials every peer; call once the loop runs.
  void Start();
  // Connection `conn` completed its handshake: if it is a link, its next
  // redial waits reconnect_min again.
  void Ready(uint64_t conn);
  // Connection `conn` closed: if it was a link, redial after the backoff.
  void Closed(uint64_t conn);
  // No more dials: stops the timers (Close() them once the loop winds down).
  void Stop();
  // Closes the timers' handles (the loop must still run to finish).
  void Close();

 private:
  struct Link {
    PeerDialer* dialer = nullptr;
    HostPort addr;
    sockaddr_storage sockaddr{};
    uint64_t conn = 0;
    std::chrono::milliseconds delay{100};
    uv_timer_t timer{};
    uv_connect_t connect{};
  };

  Link* LinkOf(uint64_t conn);
  void Dial(Link& link);
  void Schedule(Link& link);

  uv_loop_t* const loop_;
  const PeerDialerOptions options_;
  std::vector<std::unique_ptr<Link>> links_;  // stable addresses: libuv holds them
  std::mt19937_64 rng_{std::random_device{}()};
  bool stopping_ = false;
};

}  // namespace weft::node
