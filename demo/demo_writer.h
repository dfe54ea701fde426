// The simulated users of `weft demo`: each Writer holds a replica of the
// demo's document, connects to one node, and types into it (or, replaying
// a concurrent trace, sends the batches of the trace's ops it is handed).
//
// A Writer owns what it sends. Its own edits stay in its replica; handed
// batches stay in its outbox until the node acknowledges them (Ack: they
// are durable there). After every (re)connect it sends what the node
// lacks, judged by the version the node reports at the end of the
// catch-up (SyncDone): a node that was killed may have lost anything it
// had not acknowledged, and a writer never assumes it has what it was sent.
//
// Each Writer runs on a thread of its own that keeps its connection served
// (pings answered, relayed ops applied, acks taken in) every few
// milliseconds, whatever the other writers are doing: a node drops a
// connection that stays silent past its peer timeout.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "weft/engine/doc.h"
#include "weft/transport/client.h"

namespace weft::demo {

// When each writer's seqs were typed and when the other writers saw them:
// edit-to-remote latency. Any thread.
class Latency {
 public:
  using Clock = std::chrono::steady_clock;
  // `agent` has typed every seq below `next_seq`.
  void Typed(uint64_t agent, uint64_t next_seq);
  // The replica of `observer` now has `version`: records the newly seen
  // seqs of every other agent.
  void Seen(const engine::VersionVector& version, uint64_t observer);
  // Median and 99th percentile in ms (0, 0 without samples).
  std::pair<double, double> P50P99();

 private:
  std::mutex mu_;
  std::map<uint64_t, std::vector<Clock::time_point>> typed_;
  std::map<uint64_t, std::map<uint64_t, uint64_t>> seen_;
  std::vector<double> samples_;
};

// What a replica holds, for comparing replicas.
struct Replica {
  bool ok = false;  // false: it could not be read (`text` says why)
  std::string text;
  engine::VersionVector version;
  size_t pending = 0;  // ops waiting in Pending
  // The same ops and the same text.
  bool AgreesWith(const Replica& o) const { return version == o.version && text == o.text; }
};

// Ops of one agent of a concurrent trace, for a writer to send on its
// behalf. One agent per batch, so the node acknowledges it.
struct TraceBatch {
  std::string update;  // an encoded Update
  uint64_t agent = 0;
  uint64_t end = 0;  // the agent's next seq after the batch
};

class Writer {
 public:
  using Clock = std::chrono::steady_clock;

  // `agent`: the writer's own agent id. `also`: more agents it may send ops
  // of (a concurrent trace's authors). `addr` gives its node's current
  // address. `latency` must outlive the Writer.
  Writer(uint64_t agent, std::string doc, std::function<std::string()> addr, Latency* latency,
         std::vector<uint64_t> also = {});
  ~Writer();  // Stop()
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Connects once, on the calling thread: false if the node cannot be
  // reached. Then Start() runs the writer.
  bool Connect();
  // Starts the writer's thread: it runs `work` (which types through Edit
  // and Wait and returns when its typing is over or stopping() holds), then
  // serves the connection (reconnecting, resending) until Stop().
  void Start(std::function<void(Writer&)> work);
  // Ends the thread. Idempotent.
  void Stop();

  // ---- On the writer's thread (inside `work`) ----------------------------
  // Applies one local edit to the replica and sends its ops (or, offline,
  // keeps them for the next connect).
  void Edit(const std::function<void(engine::Doc&)>& edit);
  // Serves the connection until `until` (or until Stop()).
  void WaitUntil(Clock::time_point until);
  bool stopping() const { return stop_.load(std::memory_order_relaxed); }
  // The replica. Only `work` may read it, and only between Edit calls.
  const engine::Doc& doc() const { return doc_; }

  // ---- Any thread --------------------------------------------------------
  // Hands over a batch: the writer applies it to its replica, sends it, and
  // keeps it until the node acknowledges it.
  void Send(TraceBatch batch);
  // `work` has returned and every handed batch has been sent at least once.
  bool idle() const;
  // The replica's text, version and Pending.
  Replica State() const;
  uint64_t agent() const { return agent_; }
  int reconnects() const { return reconnects_.load(std::memory_order_relaxed); }

 private:
  // All below: on the thread that runs the writer, with mu_ held.
  bool ConnectLocked();
  void Serve();
  void TakeHandedBatches();  // (takes handed_mu_ too)
  void DropAcknowledged();
  // What the node lacks, after a (re)connect that reported `node_has`.
  void SendWhatTheNodeLacks(const engine::VersionVector& node_has);

  const uint64_t agent_;
  const std::vector<uint64_t> also_;
  const std::string doc_name_;
  const std::function<std::string()> addr_;
  Latency* const latency_;

  // Guards the replica, the client and the outbox: the writer's thread
  // holds it while it edits or serves the connection (a reconnect
  // included), State() from other threads.
  mutable std::mutex mu_;
  engine::Doc doc_;
  std::unique_ptr<transport::Client> client_;
  std::deque<TraceBatch> outbox_;   // sent (or to send), not yet acknowledged
  Clock::time_point next_attempt_;  // of a reconnect

  // Batches handed over and not yet taken, apart from mu_ so handing one
  // over never waits for a reconnect.
  mutable std::mutex handed_mu_;
  std::vector<TraceBatch> handed_;
  std::atomic<bool> work_done_{false};

  std::atomic<int> reconnects_{0};
  // Relaxed: they only say when to stop or report; Stop() joins the
  // thread, which orders everything else.
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace weft::demo
