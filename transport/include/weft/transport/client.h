// Client: one connection to a node from a program that holds its own
// replicas (weft cat, weft type, an editor). Single-threaded: everything
// happens inside the calls below, on the caller's thread. A client may be
// handed to another thread between calls, never used by two at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weft/engine/anchor.h"
#include "weft/engine/doc.h"
#include "weft/engine/version_vector.h"
#include "weft/status.h"
#include "weft/transport/address.h"

namespace weft::transport {

struct ClientOptions {
  HostPort server;
  std::optional<std::string> secret;
  uint64_t node_id = 0;          // 0: random
  std::vector<uint64_t> agents;  // the agents this client authors ops under
  std::string label;
  std::chrono::milliseconds timeout{10000};  // for Connect and Subscribe
};

// Where another user of a document is, as their Presence frames say.
struct PeerPresence {
  engine::Anchor cursor;
  std::string label;
};

// When the connection closes, calls that need it return a Status typed by
// the Error frame either side sent before closing: PermissionDenied for a
// failed authentication or ops under an agent not announced,
// FailedPrecondition for a protocol version or protocol error,
// InvalidArgument for a malformed frame or update, ResourceExhausted for a
// client too slow to read what it subscribed to, Unavailable otherwise
// (unreachable, stream ended, timeout, shutdown, a node that cannot store
// ops now). close_reason() says more.
class Client {
 public:
  // Connects and completes the handshake. Unavailable when the node cannot
  // be reached, PermissionDenied when authentication fails.
  static Result<std::unique_ptr<Client>> Connect(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Subscribes to `doc` with `replica`'s version and applies what the node
  // sends into it, waiting for the catch-up to complete. Afterwards ops of
  // `doc` from other peers keep arriving into `replica` whenever the client
  // runs (Poll/RunUntil). `replica` must outlive the client.
  Status Subscribe(const std::string& doc, engine::Doc* replica);

  // Sends the ops of this client's agents that `replica` has beyond `since`
  // (its local edits, also ones made while offline) as op batches of `doc`,
  // split to fit frames. Other agents' ops in `replica` are never sent: a
  // client authors only its own.
  Status SendOpsSince(const std::string& doc, const engine::Doc& replica,
                      const engine::VersionVector& since);

  // Sends `update` (an encoded Update of at most kMaxUpdateBytes, see
  // chunking) as one op batch of `doc`, as it is.
  Status SendUpdate(const std::string& doc, std::string_view update);

  // Tells the node's other subscribers of `doc` where this user's cursor
  // is (an anchor, so it stays on its character as the text changes).
  Status SendPresence(const std::string& doc, uint64_t agent, const engine::Anchor& cursor,
                      const std::string& label);
  // The latest presence of each other agent in `doc`.
  std::map<uint64_t, PeerPresence> presence(const std::string& doc) const;

  // Runs until pred() holds; DeadlineExceeded-style Unavailable on timeout,
  // Unavailable when the connection drops (see close_reason()).
  Status RunUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout);
  // Handles whatever has arrived, without waiting.
  Status Poll();
  // A descriptor that becomes readable when the client has something to
  // handle, for programs that wait on many clients (or on a client and
  // their own input) in one poll/epoll set; call Poll() when it is. Timers
  // (reconnects, closing) still need a Poll() now and then: every 100 ms
  // keeps heartbeats answered well within any peer timeout.
  int poll_fd() const;

  // The version the node said it had when it finished `doc`'s catch-up
  // (SyncDone): what to send it after a reconnect is what lies beyond.
  engine::VersionVector synced_version(const std::string& doc) const;
  // Per agent, the seqs the node said are durable for `doc`.
  engine::VersionVector acked(const std::string& doc) const;
  bool connected() const;
  const std::string& close_reason() const;
  // Bytes received, frames included.
  uint64_t bytes_received() const;

  class Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft::transport
