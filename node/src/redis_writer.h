// RedisWriter: appends every accepted op batch to its document's Redis
// stream (weft::redis::DocStore, pipelined XADD of the batch's update
// bytes as received) and says, per egress ring, up to which entry Redis
// has confirmed. The node acks an author only once this and the file
// persister both have the batch (`--redis`).
//
// Runs on the node's loop thread, where the DocStore lives: Poll() is
// called from the loop's drain. It reads each egress ring with a reader of
// its own; the update bytes are copied (hiredis copies them into its
// output buffer, and the writer keeps a copy for appending again), so no
// slot stays pinned while Redis is away.
//
// While Redis is down or refuses (Unavailable, ResourceExhausted), the
// batches stay queued, unconfirmed, and are appended again in order once
// the store reports the writer connection back; appending one twice is
// harmless (ops are idempotent). Confirmations come back in order on the
// one writer connection, so what is confirmed per ring is a prefix.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pipeline.h"
#include "weft/redis/doc_store.h"
#include "weft/status.h"

struct uv_loop_s;

namespace weft::node {

struct RedisWriterOptions {
  std::string url;  // redis://HOST:PORT[/DB]
  std::string prefix{redis::kDefaultPrefix};
  uint64_t node_id = 0;
  std::function<void(const std::string&)> log;
  // Called on the loop thread when confirmed() moved or health changed.
  std::function<void()> on_progress;
  // Entries other nodes appended to followed documents (Follow()).
  redis::FollowHandler follow;
  // Accepted batches from this connection id came from Redis: not appended.
  uint64_t skip_conn = 0;
  // The youngest entry a compaction may trim (redis::StoreOptions).
  std::chrono::milliseconds trim_min_age{60000};
};

class RedisWriter {
 public:
  static Result<std::unique_ptr<RedisWriter>> Create(uv_loop_s* loop,
                                                     const std::vector<EgressRing*>& rings,
                                                     RedisWriterOptions options);
  ~RedisWriter();

  // Loop thread: takes what the rings hold and appends it.
  void Poll();
  // Every entry of ring `i` at or below this sequence that needed storing
  // is confirmed by Redis.
  int64_t confirmed(size_t i) const { return confirmed_[i]; }
  // The writer connection is up and nothing failed since.
  bool healthy() const;
  // True once every entry taken is confirmed (or the store is closed).
  bool idle() const { return queue_.empty(); }
  // Whether every ring has been read up to what it published.
  bool caught_up() const;
  redis::StoreStats stats() const;
  // Delivers `doc`'s entries after `after` to options.follow.
  void Follow(const std::string& doc, redis::StreamId after);
  // For reads, leases and compaction (the node's catch-up and compaction).
  redis::DocStore& store() { return *store_; }
  bool closed() const { return closed_; }
  // Closes the store; `done` runs on the loop once it is closed. What is
  // not confirmed by then is never confirmed; Poll() then only discards.
  void Close(std::function<void()> done);

 private:
  // Batches taken and not yet confirmed, at most.
  static constexpr size_t kMaxQueued = 65536;

  struct Batch {
    size_t ring;
    int64_t seq;
    std::string doc;
    std::string update;
  };

  RedisWriter(std::vector<EgressRing*> rings, RedisWriterOptions options);
  // Appends queued batches not yet sent, in order, while the store takes them.
  void SendQueued();
  void OnAppended(uint64_t epoch, Result<redis::StreamId> r);

  std::vector<EgressRing*> rings_;
  std::vector<EgressRing::Reader> readers_;
  RedisWriterOptions options_;
  std::unique_ptr<redis::DocStore> store_;
  std::deque<Batch> queue_;  // taken, not yet confirmed, in order
  size_t sent_ = 0;          // queue_[0, sent_) are in flight
  // Bumped whenever the in-flight appends are given up (a failure): their
  // late callbacks are ignored and they are sent again.
  uint64_t epoch_ = 0;
  std::vector<int64_t> confirmed_;
  std::vector<int64_t> taken_;  // per ring: the last sequence read
  // Per ring: the sequences of its queued batches, oldest first.
  std::vector<std::deque<int64_t>> queued_seqs_;
  bool closed_ = false;
};

}  // namespace weft::node
