// Persister: the reader of every merge worker's egress ring that makes
// accepted ops durable. An author hears "durable" (an Ack) only for ops at
// or below durable(ring): the batch holding them is in the op log and
// fsynced.
//
// Group commit: it takes whatever is ready on all rings (Peek), appends one
// record per accepted op batch (the update bytes as they arrived, written
// from the slot), writes the snapshots workers sent, fsyncs once, and then
// moves durable() up to what it took and releases the entries.
//
// Disk trouble (full, I/O error): the rings must keep flowing, or catch-ups
// and every other entry behind the failed batch would stall with it. So the
// persister keeps (copies of) the entries it still has to write, releases
// the rings, and goes on taking entries, keeping those that need the disk
// behind the ones it holds, in order. durable() stays where it was;
// failing() is set, so the node refuses new op batches. It retries with
// backoff (50 ms up to 1 s) and, once everything it holds is written and
// fsynced, moves durable() up to all it took, clears failing() and says so.
// What it holds is bounded by what was in flight when the disk failed.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pipeline.h"
#include "weft/persist/op_log.h"
#include "weft/persist/recovery.h"

namespace weft::node {

struct PersisterOptions {
  std::string data_dir;  // empty: keep nothing (acks mean "accepted")
  persist::FileSystem* fs = nullptr;
  std::function<void(const std::string&)> log;
  // With a data directory but no op log yet (the disk was full at start):
  // opens it. Until it works the persister is failing() and retries with
  // its backoff, as for any write.
  std::function<Result<std::unique_ptr<persist::OpLogWriter>>()> open_log;
};

class Persister {
 public:
  // `log` appends to the op log (null without a data directory, or until
  // options.open_log opens it);
  // `recovered` (null likewise) says which segments snapshots cover.
  // `on_progress` is called (from the persister's thread) whenever
  // durable() or failing() changed.
  Persister(std::vector<EgressRing*> rings, std::vector<EgressRing::Reader> readers,
            PersisterOptions options, std::unique_ptr<persist::OpLogWriter> log,
            const persist::RecoveredState* recovered, std::function<void()> on_progress);
  // The thread body: returns once every ring is closed and drained and all
  // it took is durable, or, while the disk fails, once the deadline given
  // to AbandonAfter has passed.
  void Run();
  // Any thread: something was published (or a ring closed).
  void Wake();
  // Any thread: once every ring is closed and drained, stop retrying a
  // failing disk `grace` from now, dropping what could not be stored
  // (never acknowledged). A shutdown is then bounded.
  void AbandonAfter(std::chrono::milliseconds grace);

  // Any thread. Every entry of ring `i` at or below this sequence that
  // needed storing is durable.
  int64_t durable(size_t i) const {
    // Acquire pairs with the release store in MarkDurable(): what was
    // written before it is durable.
    return durable_[i].value.load(std::memory_order_acquire);
  }
  // Any thread: writes are failing now (what it took is not durable).
  bool failing() const {
    // Relaxed: advisory (new batches are refused while it holds); the
    // durability of any entry is told by durable().
    return failing_.load(std::memory_order_relaxed);
  }
  // Update bytes made durable so far. Any thread.
  uint64_t persisted_bytes() const { return persisted_bytes_.load(std::memory_order_relaxed); }
  // False while writes to the op log fail (and are being retried). Any
  // thread; a health figure.
  bool disk_ok() const { return !failing(); }

 private:
  using Clock = std::chrono::steady_clock;

  // Appends `entries[done_..]` (accepted batches and snapshots) and
  // fsyncs. On error returns it; done_ says how far it got.
  Status Write(const std::vector<EgressView>& entries);
  Status Store(const EgressView& e);
  // Moves durable() up to everything taken so far.
  void MarkDurable();
  // A write failed: keep the unwritten entries of batch_, from done_.
  void Hold(const Status& why);
  // Writes what it holds, when the retry is due.
  void Retry();
  // Removes the oldest segments whose every record a snapshot covers. Only
  // a prefix goes, so the log stays a contiguous run of segments.
  void Compact();
  bool Finished() const;
  // Until Wake() moves the epoch past `seen`, or `until` (max: no limit).
  void Sleep(uint32_t seen, Clock::time_point until);

  struct alignas(64) Durable {
    std::atomic<int64_t> value{-1};
  };

  std::vector<EgressRing*> rings_;
  std::vector<EgressRing::Reader> readers_;
  PersisterOptions options_;
  std::function<void()> on_progress_;
  std::unique_ptr<persist::OpLogWriter> log_;
  // Every segment on disk (oldest first) with, per document, where its last
  // record there ends: a segment can go once snapshots cover all of them.
  std::map<uint64_t, std::map<std::string, uint64_t, std::less<>>> segment_docs_;
  std::map<std::string, persist::LogPosition, std::less<>> covers_;
  std::vector<EgressView> batch_;  // borrowed from the rings
  size_t done_ = 0;
  // While the disk fails: entries still to store, owned (their slots stay
  // alive), in ring order; `unsynced_`: records appended, not yet fsynced.
  std::vector<EgressEntry> held_;
  bool unsynced_ = false;
  bool log_pending_ = false;  // options_.open_log has not opened the log yet
  Clock::time_point retry_at_{};
  std::chrono::milliseconds backoff_{50};
  std::unique_ptr<Durable[]> durable_;
  std::atomic<uint32_t> epoch_{0};
  // The persister thread is in Sleep() (or about to be): Wake() then asks
  // the kernel to wake it, and skips that call otherwise.
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> failing_{false};
  // Clock::time_point::rep of the abandon deadline; max: none.
  std::atomic<int64_t> abandon_at_{INT64_MAX};
  // Written by the persister thread only, read for statistics.
  std::atomic<uint64_t> persisted_bytes_{0};
};

}  // namespace weft::node
