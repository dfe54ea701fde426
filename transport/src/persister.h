// Persister: the reader of every merge worker's egress ring that makes
// accepted ops durable. Acks wait behind it (the loop's ack readers are
// gated on its cursors), so an author hears "durable" only once the batch
// holding its ops is in the op log and fsynced.
//
// Group commit: it takes whatever is ready on all rings (Peek), appends one
// record per accepted op batch (the update bytes as they arrived, written
// from the slot), writes the snapshots workers sent, fsyncs once, and only
// then releases the batch. When the disk fails (full, I/O error) it keeps
// the batch, says so once, and retries with backoff: acks stop, the rings
// fill, the loop stops reading, and everything resumes when the disk does.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pipeline.h"
#include "weft/persist/op_log.h"
#include "weft/persist/recovery.h"

namespace weft::transport {

struct PersisterOptions {
  std::string data_dir;  // empty: keep nothing (acks mean "accepted")
  persist::FileSystem* fs = nullptr;
  std::function<void(const std::string&)> log;
};

class Persister {
 public:
  // `log` appends to the op log (null without a data directory);
  // `recovered` (null likewise) says which segments snapshots cover.
  Persister(std::vector<EgressRing*> rings, std::vector<EgressRing::Reader> readers,
            PersisterOptions options, std::unique_ptr<persist::OpLogWriter> log,
            const persist::RecoveredState* recovered, std::function<void()> on_progress);
  // The thread body: returns once every ring is closed and drained (or, if
  // the disk is failing, once Abandon() was called).
  void Run();
  // Any thread: something was published (or a ring closed).
  void Wake();
  // Any thread: stop retrying a failing disk and return from Run.
  void Abandon();

  // Update bytes made durable so far. Any thread.
  uint64_t persisted_bytes() const { return persisted_bytes_.load(std::memory_order_relaxed); }
  // False while writes to the op log fail (and are being retried). Any
  // thread; a health figure, so it orders nothing.
  bool disk_ok() const { return !disk_failing_.load(std::memory_order_relaxed); }

 private:
  // Writes batch_[done_..] and fsyncs. On error returns it; done_ says how
  // far it got.
  Status WriteBatch();
  // Removes the oldest segments whose every record a snapshot covers. Only
  // a prefix goes, so the log stays a contiguous run of segments.
  void Compact();

  std::vector<EgressRing*> rings_;
  std::vector<EgressRing::Reader> readers_;
  PersisterOptions options_;
  std::function<void()> on_progress_;
  std::unique_ptr<persist::OpLogWriter> log_;
  // Every segment on disk (oldest first) with, per document, where its last
  // record there ends: a segment can go once snapshots cover all of them.
  std::map<uint64_t, std::map<std::string, uint64_t, std::less<>>> segment_docs_;
  std::map<std::string, persist::LogPosition, std::less<>> covers_;
  std::vector<const EgressEntry*> batch_;
  size_t done_ = 0;
  std::atomic<uint32_t> epoch_{0};
  std::atomic<bool> abandon_{false};
  // Written by the persister thread only, read for statistics.
  std::atomic<uint64_t> persisted_bytes_{0};
  // Written by the persister thread only, read for health checks.
  std::atomic<bool> disk_failing_{false};
};

}  // namespace weft::transport
