// RedisDocs: with --redis, the loop thread's side of the documents this
// node uses: reading each from Redis before it is served, following its
// stream, and compacting it under a lease.
//
// A document is read (snapshot plus stream tail) at its first use;
// subscriptions that arrive meanwhile are held, in order. Its image goes to
// the worker as one kLoadImage entry, and the node follows the stream from
// where the image ends. Followed entries go to the worker as if a relaying
// peer sent them; this node's own were applied before they were appended
// and are skipped. While Redis is away, held subscriptions are served what
// the node holds, and failed reads are retried (RetryReads).
//
// Loop thread only. The RedisWriter (appends, confirmations, the store)
// belongs to the node; this class uses its store.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "log_limiter.h"
#include "pipeline.h"
#include "redis_writer.h"
#include "weft/redis/stream_id.h"
#include "weft/status.h"

namespace weft::node {

struct RedisDocsOptions {
  uint64_t node_id = 0;  // entries this node appended are skipped when followed
  uint32_t workers = 1;
  // After this many batches of a document (own and followed), compact it
  // if this node wins its lease; 0: never.
  uint64_t compact_every = 5000;
};

class RedisDocs {
 public:
  // What the node does for it.
  class Host {
   public:
    virtual ~Host() = default;
    // Publishes a control entry to its worker, queued in order while the
    // worker's ring is full.
    virtual void PublishControl(IngressEntry&& e) = 0;
    // Publishes a followed op batch of `doc` to its worker. False, with
    // nothing done, while there is no slot or ring space: the node calls
    // DrainBacklog() once there may be. True once published, or skipped
    // for good (and logged).
    virtual bool PublishFollowed(std::string_view doc, redis::StreamId id,
                                 std::span<const std::byte> update) = 0;
    // Someone here subscribes to `doc`, or a worker held it.
    virtual bool InUse(std::string_view doc) const = 0;
    // `doc` has answered subscribers, who get what its image adds.
    virtual bool Relays(std::string_view doc) const = 0;
    virtual void Log(const std::string& line) = 0;
  };

  RedisDocs(RedisWriter* writer, RedisDocsOptions options, Host* host);
  RedisDocs(const RedisDocs&) = delete;
  RedisDocs& operator=(const RedisDocs&) = delete;

  // The follower's callbacks (RedisWriterOptions::follow).
  void OnEntries(std::string_view doc, std::span<const redis::Entry> entries);
  // A compaction trimmed past the follower: read the document again.
  void OnGap(std::string_view doc);
  void OnRefused(std::string_view doc, const Status& why);

  // Followed entries that waited for slots or ring space, in order; the
  // follower resumes once none waits.
  void DrainBacklog();
  bool backlog_empty() const { return backlog_.empty(); }

  // A subscription (kSubscribe) to a document whose image is not read
  // yet: held until it is (true), or to be published now (false).
  bool Hold(IngressEntry& e);
  // A connection closed: its held subscriptions to `doc` go.
  void DropHeld(const std::string& doc, uint64_t conn);
  // Stops following `doc` and forgets it here, unless a read, a
  // compaction or held subscriptions are under way (false then).
  bool Forget(const std::string& doc);
  // A batch of `doc` this node accepted from a connection: the document is
  // read and followed as a reader's is, and counts towards compaction.
  void CountOwn(std::string_view doc);
  // Its worker found `doc` idle (kEvictable): drop it unless Redis still
  // has appends to confirm or a read or compaction is under way.
  void MaybeEvict(const std::string& doc);
  // The worker's snapshot for a compaction (kRedisSnapshot): store it,
  // trim, give the lease back.
  void CompactWith(const EgressView& e);
  // At each heartbeat and when Redis comes back: reads that failed go out
  // again.
  void RetryReads();
  // The node is stopping: no new reads or compactions.
  void Stop() { stopping_ = true; }

  bool follows(std::string_view doc) const { return docs_.find(doc) != docs_.end(); }
  size_t size() const { return docs_.size(); }

 private:
  struct Doc {
    bool reading = false;            // a Read is in flight
    bool read_failed = false;        // Redis was away: read again at the next heartbeat
    bool loaded = false;             // its image reached the worker (or was refused)
    bool refused = false;            // Redis holds something refused: not followed
    bool compacting = false;         // lease asked for or held, snapshot on its way
    std::vector<IngressEntry> held;  // subscriptions waiting for the image
    redis::StreamId position;        // every entry up to here reached the worker
    uint64_t since_compaction = 0;   // batches, own and followed, since then
  };
  struct BacklogEntry {
    std::string doc;
    redis::StreamId id;
    uint64_t node = 0;
    std::string update;
  };
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };

  bool Publish(std::string_view doc, redis::StreamId id, uint64_t node,
               std::span<const std::byte> update);
  Doc& Use(std::string_view doc);
  void Read(const std::string& doc, Doc& d);
  void OnImage(const std::string& doc, Result<redis::DocImage> image);
  void Away(Doc& d);
  void Refuse(const std::string& doc, Doc& d, const Status& why);
  void ReleaseHeld(Doc& d);
  void PublishHeld(Doc& d);
  void MaybeCompact(const std::string& doc, Doc& d);
  bool Starting() const;
  void Log(const std::string& line) { host_->Log(line); }

  RedisWriter* const writer_;
  const RedisDocsOptions options_;
  Host* const host_;
  std::unordered_map<std::string, Doc, NameHash, std::equal_to<>> docs_;
  std::deque<BacklogEntry> backlog_;  // followed, waiting for slots
  bool paused_ = false;               // the follower, while backlog_ is not empty
  uint64_t reads_failed_ = 0;         // reads to retry once Redis is back
  bool stopping_ = false;
  LogLimiter refused_log_{5, std::chrono::seconds(10)};
};

}  // namespace weft::node
