// What a node reports about itself: the figures of its "stats" log line
// and, for GET /metrics, the same figures plus the edit-to-ack latency
// histogram in the Prometheus text format (version 0.0.4).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "weft/redis/doc_store.h"

namespace weft::node {

// Time from an op batch's arrival at the node to the Ack that tells its
// author it is durable, in fixed buckets (cumulative when reported, as
// Prometheus histograms are). Loop thread only.
class LatencyHistogram {
 public:
  // Upper bounds in microseconds; the last bucket (+Inf) is implicit.
  static constexpr std::array<uint64_t, 14> kBoundsMicros = {
      100,    250,    500,     1'000,   2'500,   5'000,     10'000,
      25'000, 50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000};

  void Record(uint64_t micros);
  uint64_t count() const { return count_; }
  uint64_t sum_micros() const { return sum_micros_; }
  // Observations at or below kBoundsMicros[i] (i < size), or all of them.
  uint64_t CumulativeCount(size_t i) const;

 private:
  std::array<uint64_t, kBoundsMicros.size() + 1> buckets_{};
  uint64_t count_ = 0;
  uint64_t sum_micros_ = 0;
};

struct NodeFigures {
  size_t conns = 0;          // open connections, TCP and WebSocket
  size_t peers = 0;          // of them, ready connections to other nodes
  size_t docs = 0;           // documents this node knows
  uint64_t accepted = 0;     // op batches accepted since start
  double ops_per_s = 0;      // accepted per second over the last interval
  uint64_t dropped = 0;      // batches dropped for a full Pending set
  uint64_t forged = 0;       // batches refused for ops under another's agent
  uint32_t pool_in_use = 0;  // frame slots in use, of pool_capacity
  uint32_t pool_capacity = 0;
  uint64_t persisted_bytes = 0;  // update bytes made durable since start
  bool disk_ok = true;           // the op log is being written
  uint64_t resident_docs = 0;    // documents in memory
  uint64_t resident_bytes = 0;   // their replicas' heap bytes
  uint64_t evicted = 0;          // documents evicted since start
  uint64_t loaded = 0;           // evicted documents loaded back since start
  // With --redis: the store's own figures, and the documents read and
  // followed now.
  std::optional<redis::StoreStats> redis;
  uint64_t redis_docs = 0;
};

// The "stats ..." log line.
std::string FormatStatsLine(const NodeFigures& f);

// The body of GET /metrics.
std::string FormatMetrics(const NodeFigures& f, const LatencyHistogram& edit_to_ack);

}  // namespace weft::node
