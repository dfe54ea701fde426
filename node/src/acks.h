// Acks: tells authors which of their ops are durable. The loop's ack
// reader passes each accepted batch to Passed(); its Ack goes out once the
// batch is stored everywhere it must be (the op log, and Redis with
// --redis), at once if it already is, else held, in order per egress ring,
// until Flush() finds it durable. While the disk fails, authors of held
// batches are told so (Error{STORAGE}) instead of waiting.
//
// Loop thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "metrics.h"
#include "persister.h"
#include "pipeline.h"
#include "redis_writer.h"

namespace weft::node {

class Acks {
 public:
  // `redis` may be null (no --redis). `find`: the open connection `id`, or
  // null once it is closing or gone. `edit_to_ack` records each ack's
  // latency from the frame's arrival.
  Acks(size_t rings, const Persister* persister, const RedisWriter* redis,
       std::function<Connection*(uint64_t)> find, LatencyHistogram* edit_to_ack);

  // The ack reader of egress ring `ring` passed entry `e` at `seq`.
  void Passed(const EgressView& e, size_t ring, int64_t seq);
  // Sends the held acks that became durable; while the disk fails, fails
  // the connections whose acks wait.
  void Flush();

 private:
  struct Held {
    int64_t seq = 0;
    uint64_t conn = 0;
    std::string doc;
    uint64_t agent = 0;
    uint64_t next_seq = 0;
  };

  // Up to which entry of egress ring `ring` every batch is stored
  // everywhere it must be.
  int64_t Durable(size_t ring) const;

  const Persister* const persister_;
  const RedisWriter* const redis_;
  const std::function<Connection*(uint64_t)> find_;
  LatencyHistogram* const edit_to_ack_;
  std::vector<std::deque<Held>> held_;  // per egress ring, oldest first
};

}  // namespace weft::node
