// DocStore: a node's documents kept in Redis, one stream per document.
//
//   Append   XADD <prefix>:{doc}:ops * u <update> n <node> c <crc>   (pipelined)
//   Read     the snapshot hash, then the stream after the entry it covers
//   Follow   XREAD BLOCK over the streams of every followed document
//   Compact  under the document's lease: store a snapshot, XTRIM MINID up
//            to the entry it covers, never further
//
// Keys and values are in redis/FORMAT.md; how a node uses this, in
// redis/README.md.
//
// Two connections, each reconnecting by itself with backoff: the writer
// (appends, reads, leases, compaction: commands that answer at once) and
// the follower (one XREAD BLOCK at a time, so it never holds up an append).
//
// Threading: everything, callbacks included, runs on the thread running the
// libuv loop given to Create(). An async call that returns an error never
// runs its callback; one that returns OK runs it exactly once, later (with
// Unavailable if the connection dropped first).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weft/redis/address.h"
#include "weft/redis/key_layout.h"
#include "weft/redis/stream_id.h"
#include "weft/status.h"

struct uv_loop_s;

namespace weft::redis {

using Millis = std::chrono::milliseconds;

// One stream entry as this store reads it back. `update` views the reply
// (or the DocImage) it came in.
struct Entry {
  StreamId id;
  uint64_t node = 0;  // the node that appended it (the `n` field)
  std::span<const std::byte> update;
};

// An entry that is not one this store could have written (a missing or
// oversized field, a checksum that does not match, a malformed id). It is
// reported once and skipped: the readers move past it.
struct BadEntry {
  std::string doc;
  StreamId id;  // 0-0 if the id itself was unreadable
  std::string reason;
};

// What a reader of a document is told besides entries.
struct FollowHandler {
  // Entries appended to `doc` after the last ones delivered, in stream order.
  // The spans live only during the call.
  std::function<void(std::string_view doc, std::span<const Entry> entries)> entries;
  // A snapshot now covers entries after the follower's position and the
  // stream was trimmed: the follower cannot bridge the gap. `doc` is no
  // longer followed; Read() it again and Follow() from the image's `last`.
  std::function<void(std::string_view doc, StreamId covers)> gap;
  // `doc`'s keys hold something this store refuses (a key of the wrong
  // type, a damaged snapshot id). `doc` is no longer followed.
  std::function<void(std::string_view doc, const Status& why)> refused;
};

// A document as stored: the snapshot (if any) and every entry after it.
struct DocImage {
  struct Stored {
    StreamId id;
    uint64_t node = 0;
    std::string update;
  };
  std::optional<StreamId> snapshot_covers;  // absent: no snapshot stored
  std::string snapshot;                     // the engine's snapshot bytes
  std::vector<Stored> tail;                 // entries after snapshot_covers, in order
  // Follow from here: the last entry read, else what the snapshot covers,
  // else 0-0.
  StreamId last;
  uint64_t skipped = 0;  // bad entries passed over (each reported)
};

enum class LinkHealth : uint8_t {
  kConnecting,  // not yet connected since the store started
  kConnected,
  kFailing,  // lost, or never reached: retrying with backoff
};

struct Health {
  LinkHealth writer = LinkHealth::kConnecting;
  LinkHealth follower = LinkHealth::kConnecting;
  Status last_error;  // the latest failure of either connection
  // Both connections up: appends are confirmed and followers fed.
  bool ok() const { return writer == LinkHealth::kConnected && follower == LinkHealth::kConnected; }
};

struct StoreStats {
  uint64_t appends_confirmed = 0;
  uint64_t appends_failed = 0;
  uint64_t entries_followed = 0;
  uint64_t bad_entries = 0;
  uint64_t reconnects = 0;  // connections re-established after a loss
  uint64_t gaps = 0;
  uint64_t compactions = 0;
  uint64_t trimmed = 0;  // entries removed by compaction
};

struct StoreOptions {
  RedisAddress address;
  std::string prefix{kDefaultPrefix};
  uint64_t node_id = 0;  // written in each entry's `n` field

  // Deadlines: connect (TCP plus AUTH/SELECT/PING), each command, and how
  // often an idle connection is pinged. XREAD BLOCKs for `block`, and its
  // deadline is block + command_timeout.
  Millis connect_timeout{2000};
  Millis command_timeout{5000};
  Millis heartbeat{1000};
  Millis block{2000};
  Millis reconnect_min{100};
  Millis reconnect_max{5000};

  // Bounds. Appends beyond `max_in_flight` unconfirmed ones are refused
  // (ResourceExhausted): the caller holds them, as it does while Redis is
  // down. Entries and snapshots read back over their caps are skipped
  // (entries) or refused (snapshots); no reply may pass max_reply_bytes or
  // max_reply_elements; a Read assembles at most max_read_bytes.
  size_t max_in_flight = 16384;
  // (A node's op batch is at most one 16 KiB frame; a page of entries and
  // the snapshot must fit one reply, which Create() checks.)
  size_t max_entry_bytes = 64 << 10;
  size_t max_snapshot_bytes = 64 << 20;
  size_t max_reply_bytes = 192 << 20;
  size_t max_reply_elements = 1 << 21;
  size_t max_read_bytes = 512 << 20;
  uint32_t page_entries = 1000;  // COUNT of each XRANGE page and XREAD

  // Compaction: the lease's time to live, and the youngest entry a trim may
  // remove (so a follower a little behind never loses entries under it).
  Millis lease_ttl{10000};
  Millis trim_min_age{60000};
  // XREAD cannot see a trim, so a document it moved on is checked for one
  // (a gap) after the read, at most this often: each check is one more
  // reply to wake the loop for, and trim_min_age leaves time to spare.
  Millis gap_check{100};

  // With replicas: an append is confirmed only once WAIT says this many
  // replicas have it (0: once the primary has it). See redis/FORMAT.md.
  uint32_t wait_replicas = 0;
  Millis wait_timeout{1000};

  FollowHandler follow;
  std::function<void(const BadEntry&)> bad_entry;
  // Called when Health changes (a connection drops or comes back).
  std::function<void(const Health&)> health_changed;
  std::function<void(const std::string&)> log;  // default: stderr
};

struct CompactResult {
  bool stored = false;  // false: a snapshot covering as much or more was there
  uint64_t trimmed = 0;
};

class DocStore {
 public:
  // Validates `options` and starts connecting. `loop` must outlive the
  // store; Close() must finish before the store is destroyed.
  static Result<std::unique_ptr<DocStore>> Create(uv_loop_s* loop, StoreOptions options);
  ~DocStore();

  // Appends one op batch's update bytes (copied before this returns) to
  // `doc`'s stream. `done` gets the entry id once Redis confirmed it (and,
  // with wait_replicas, once replicas have it); Unavailable if the
  // connection dropped first (the append may or may not have landed:
  // appending it again is harmless, since ops are idempotent).
  // Unavailable at once while disconnected; ResourceExhausted at once past
  // max_in_flight; InvalidArgument for a bad name or an update over
  // max_entry_bytes.
  using AppendDone = std::function<void(Result<StreamId>)>;
  Status Append(std::string_view doc, std::span<const std::byte> update, AppendDone done);

  // Reads `doc`: its snapshot and every entry after it. A document never
  // written is an empty image. If compaction trims past the reader while it
  // pages, the read starts over from the new snapshot. Corruption for a
  // damaged snapshot, ResourceExhausted past max_snapshot_bytes or
  // max_read_bytes, FailedPrecondition for keys of the wrong type.
  using ReadDone = std::function<void(Result<DocImage>)>;
  Status Read(std::string_view doc, ReadDone done);

  // Delivers `doc`'s entries after `after` to options.follow.entries as
  // they are appended, until Unfollow. Following again moves the position.
  Status Follow(std::string_view doc, StreamId after);
  void Unfollow(std::string_view doc);
  bool following(std::string_view doc) const;
  // Back-pressure for the follow handler: while paused the follower sends
  // no new read. A read already in flight still delivers, at most
  // page_entries entries per followed document; positions only move for
  // delivered entries, so nothing is lost. Resume picks up from there.
  void PauseFollowing();
  void ResumeFollowing();

  // The compaction lease of `doc`: SET NX PX with this store's token.
  // true if this store holds it now (acquired, or held already and its
  // time to live renewed); false if another store holds it.
  using LeaseDone = std::function<void(Result<bool>)>;
  Status AcquireLease(std::string_view doc, LeaseDone done);
  // Deletes the lease only if this store still holds it (compare and
  // delete in one script). `done` gets whether it was held.
  Status ReleaseLease(std::string_view doc, LeaseDone done);

  // Stores `snapshot` as `doc`'s snapshot covering every entry up to
  // `covers`, then trims the stream to the entries after `covers` (and
  // younger than trim_min_age). One script, so it happens only while this
  // store holds the lease (FailedPrecondition otherwise), never regresses
  // (a stored snapshot covering as much or more stays: stored = false), and
  // never covers entries the stream does not have (FailedPrecondition).
  // REQUIRES of the caller: `snapshot` holds every entry up to `covers`.
  using CompactDone = std::function<void(Result<CompactResult>)>;
  Status Compact(std::string_view doc, StreamId covers, std::span<const std::byte> snapshot,
                 CompactDone done);

  Health health() const;
  StoreStats stats() const;
  const StoreOptions& options() const;
  // This store's lease token (node id and a random part, hex).
  const std::string& token() const;

  // Closes both connections (callbacks in flight get Unavailable), then
  // runs `done` from the loop.
  void Close(std::function<void()> done);

  class Impl;

 private:
  explicit DocStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft::redis
