// Follower: the store's reader of many documents' streams, on a connection
// of its own that spends most of its time inside XREAD BLOCK.
//
// Each followed document has a position (the last entry delivered). A
// document that is new to the follower, and every document after the
// connection comes back, is first *probed*: a page script (kPageScript)
// returns the entries after its position, with oversized values cut out,
// together with what the document's snapshot covers. A snapshot past the
// position means the stream was trimmed under it: a gap, reported, and the
// document is dropped. Once no document waits for a probe, one XREAD BLOCK
// covers them all. Following a new document while XREAD blocks sends
// CLIENT UNBLOCK (through the writer connection) so it joins at once.
//
// XREAD cannot tell a follower that a trim took entries it had not read
// yet: it returns what is left after them. So a document that XREAD moved
// on is *checked* (kTrimmedScript), pipelined ahead of the next read so it
// costs no round trip of its own: a snapshot past the position the read
// started from, with nothing at or before that position left in the
// stream, may mean lost entries, and is reported as a gap. Checks go out
// at most every gap_check, each covering every read since the last. A
// check errs only towards a gap (a read of the whole document), and only
// for a follower that a trim passed, which trim_min_age keeps to one long
// behind.
//
// A reply too large for the caps drops the connection; the probes after
// the reconnect then step over the entry that was too large, one bounded
// page at a time. Loop thread only.
#pragma once

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "connection.h"
#include "weft/redis/doc_store.h"

namespace weft::redis::detail {

struct FollowerHooks {
  // Sends CLIENT UNBLOCK for the follower's connection id (through another
  // connection: this one is blocked).
  std::function<void(const std::string& client_id)> unblock;
  std::function<void(const BadEntry&)> bad_entry;
  std::function<void()> link_changed;
};

class Follower {
 public:
  // `options` must outlive the follower.
  Follower(uv_loop_t* loop, const StoreOptions& options, ConnectionOptions connection,
           FollowerHooks hooks, StoreStats* stats);

  Status Follow(std::string_view doc, StreamId after);
  void Unfollow(std::string_view doc);
  bool following(std::string_view doc) const;
  // While paused no new read is sent; one already in flight still
  // delivers (at most page_entries per document).
  void Pause() { paused_ = true; }
  void Resume() {
    paused_ = false;
    Pump();
  }

  void Start() { conn_.Start(); }
  const Connection& connection() const { return conn_; }
  void Close(std::function<void()> done) { conn_.Close(std::move(done)); }

 private:
  struct Followed {
    std::string doc;
    std::string snap_key;
    StreamId pos;
    // Where the earliest read that has not been checked yet started.
    std::optional<StreamId> unchecked;
    bool checking = false;  // a check is in flight
    uint64_t epoch = 0;     // changes with each Follow: older replies are stale
  };

  void OnReady();
  void Pump();
  void Probe(const std::string& ops_key);
  void OnProbe(const std::string& ops_key, const redisReply* reply, const Status& s);
  void SendChecks();
  void OnCheck(const std::string& ops_key, uint64_t epoch, StreamId sent_pos,
               const redisReply* reply, const Status& s);
  void Read();
  void OnRead(const redisReply* reply, const Status& s);
  // Delivers one stream's entries (an XRANGE-shaped array). Returns how many
  // entries the array held, good or bad.
  size_t Deliver(const std::string& ops_key, const redisReply* entries);
  void Drop(const std::string& ops_key);
  void Refuse(const std::string& ops_key, const Status& why);
  void Gap(const std::string& ops_key, StreamId covers);

  uv_loop_t* loop_;
  const StoreOptions& options_;
  FollowerHooks hooks_;
  StoreStats* stats_;
  Connection conn_;
  // By ops key, which XREAD replies name.
  std::map<std::string, Followed, std::less<>> followed_;
  std::set<std::string, std::less<>> to_probe_;
  bool paused_ = false;
  bool busy_ = false;          // a command in flight on conn_
  bool blocking_ = false;      // that command is the XREAD BLOCK
  bool unblock_sent_ = false;  // for the current XREAD
  int read_errors_in_a_row_ = 0;
  uint64_t next_epoch_ = 0;
  uint64_t next_check_ms_ = 0;  // uv_now() scale
  std::string client_id_;
  std::vector<Entry> batch_;  // reused: entries of one delivery
};

}  // namespace weft::redis::detail
