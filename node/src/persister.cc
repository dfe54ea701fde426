#include "persister.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <ctime>

#include "weft/persist/snapshot_file.h"

namespace weft::node {
namespace {

bool NeedsDisk(const EgressView& e) {
  return e.kind == EgressEntry::Kind::kAccepted || e.kind == EgressEntry::Kind::kSnapshot;
}

// The epoch as the kernel's futex takes it: a plain aligned 32-bit word.
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
uint32_t* FutexWord(std::atomic<uint32_t>& word) { return reinterpret_cast<uint32_t*>(&word); }
constexpr std::chrono::milliseconds kFirstBackoff(50);
constexpr std::chrono::milliseconds kMaxBackoff(1000);

}  // namespace

Persister::Persister(std::vector<EgressRing*> rings, std::vector<EgressRing::Reader> readers,
                     PersisterOptions options, std::unique_ptr<persist::OpLogWriter> log,
                     const persist::RecoveredState* recovered, std::function<void()> on_progress)
    : rings_(std::move(rings)),
      readers_(std::move(readers)),
      options_(std::move(options)),
      on_progress_(std::move(on_progress)),
      log_(std::move(log)),
      durable_(std::make_unique<Durable[]>(rings_.size())) {
  if (options_.fs == nullptr) options_.fs = persist::DefaultFileSystem();
  if (recovered != nullptr) {
    segment_docs_ = recovered->segment_docs;
    covers_ = recovered->snapshot_covers;
  }
  if (!log_ && options_.open_log) {
    // Failing from the start: new op batches are refused until it opens.
    log_pending_ = true;
    failing_.store(true, std::memory_order_relaxed);
    backoff_ = kFirstBackoff;
    retry_at_ = Clock::now() + backoff_;
  }
}

void Persister::Run() {
  while (true) {
    // Acquire pairs with the release increment in Wake(): a worker that
    // published before bumping the epoch is seen by the peeks below.
    uint32_t epoch = epoch_.load(std::memory_order_acquire);
    batch_.clear();
    done_ = 0;
    for (size_t i = 0; i < readers_.size(); ++i) {
      const EgressRing& ring = *rings_[i];
      readers_[i].Peek([&](const EgressEntry::Slot& slot, int64_t seq) {
        batch_.push_back(ring.Read(slot, seq));
      });
    }
    bool holding = !held_.empty() || unsynced_;
    if (!holding && !log_pending_ && !batch_.empty()) {
      Status s = Write(batch_);
      if (s.ok()) {
        MarkDurable();
      } else {
        Hold(s);
      }
    } else if (holding || log_pending_) {
      // Behind what it holds, in order; everything else passes now. (With
      // no log yet and nothing held, the retry only opens the log.)
      for (const EgressView& e : batch_) {
        if (NeedsDisk(e)) held_.push_back(EgressEntry::Own(e));
      }
      Retry();
    }
    if (!batch_.empty()) {
      for (EgressRing::Reader& r : readers_) r.Release();
      if (on_progress_) on_progress_();
      continue;
    }
    holding = !held_.empty() || unsynced_;
    if (Finished()) {
      if (!holding) return;
      if (Clock::now().time_since_epoch().count() >= abandon_at_.load(std::memory_order_relaxed)) {
        if (options_.log) {
          options_.log("stopping with " + std::to_string(held_.size()) +
                       " batch(es) and snapshot(s) not stored (never acknowledged)");
        }
        return;
      }
    }
    if (holding || log_pending_) {
      // Nothing says when a failing disk is back: sleep until the next
      // retry is due (or, once stopping, the abandon deadline), unless
      // Wake() brings entries to pass on before that.
      Clock::time_point until = retry_at_;
      if (Finished()) {
        // Relaxed: AbandonAfter() stores it before the Wake() that ends
        // this sleep, which orders it.
        const int64_t abandon = abandon_at_.load(std::memory_order_relaxed);
        until = std::min(until, Clock::time_point(Clock::duration(abandon)));
      }
      Sleep(epoch, until);
    } else {
      Sleep(epoch, Clock::time_point::max());
    }
  }
}

Status Persister::Write(const std::vector<EgressView>& entries) {
  if (log_pending_) {
    Result<std::unique_ptr<persist::OpLogWriter>> log = options_.open_log();
    if (!log.ok()) return log.status();
    log_ = std::move(*log);
    log_pending_ = false;
  }
  if (!log_) {
    done_ = entries.size();
    return Status::Ok();
  }
  bool wrote = false;
  for (; done_ < entries.size(); ++done_) {
    if (!NeedsDisk(entries[done_])) continue;
    WEFT_RETURN_IF_ERROR(Store(entries[done_]));
    wrote = true;
  }
  if (!wrote && !unsynced_) return Status::Ok();
  WEFT_RETURN_IF_ERROR(log_->Sync());
  Compact();
  return Status::Ok();
}

Status Persister::Store(const EgressView& e) {
  if (e.kind == EgressEntry::Kind::kAccepted) {
    Result<persist::LogPosition> end = log_->AppendOps(e.doc, e.update);
    if (!end.ok()) return end.status();
    // Relaxed, not an RMW: this thread alone writes it; readers want a figure.
    persisted_bytes_.store(persisted_bytes_.load(std::memory_order_relaxed) + e.update.size(),
                           std::memory_order_relaxed);
    auto& docs = segment_docs_[end->segment];
    auto last = docs.find(e.doc);
    if (last == docs.end()) last = docs.emplace(std::string(e.doc), 0).first;
    last->second = end->offset;
    return Status::Ok();
  }
  // Everything of this document appended so far is in the snapshot (the
  // worker published it after them): it covers the log up to here.
  persist::SnapshotFile snap{e.control->doc, log_->position(), e.control->snapshot};
  Status s = persist::WriteSnapshotFile(options_.fs, persist::SnapshotDir(options_.data_dir), snap);
  if (s.code() == StatusCode::kFailedPrecondition) {
    if (options_.log) options_.log("not snapshotting: " + s.ToString());
    return Status::Ok();
  }
  WEFT_RETURN_IF_ERROR(s);
  covers_[snap.doc] = snap.covers;
  return Status::Ok();
}

void Persister::MarkDurable() {
  for (size_t i = 0; i < readers_.size(); ++i) {
    // Release pairs with the acquire load in durable(): the records are
    // fsynced before an ack can be sent for them.
    durable_[i].value.store(readers_[i].cursor(), std::memory_order_release);
  }
}

void Persister::Hold(const Status& why) {
  for (size_t k = done_; k < batch_.size(); ++k) {
    if (NeedsDisk(batch_[k])) held_.push_back(EgressEntry::Own(batch_[k]));
  }
  // Whatever was appended before the failure still needs an fsync.
  unsynced_ = true;
  failing_.store(true, std::memory_order_relaxed);
  backoff_ = kFirstBackoff;
  retry_at_ = Clock::now() + backoff_;
  if (options_.log) {
    options_.log("persistence failing, refusing new op batches and holding " +
                 std::to_string(held_.size()) + " entries until it recovers: " + why.ToString());
  }
}

void Persister::Retry() {
  if (Clock::now() < retry_at_) return;
  std::vector<EgressView> entries;
  entries.reserve(held_.size());
  for (const EgressEntry& e : held_) entries.emplace_back(e);
  done_ = 0;
  Status s = Write(entries);
  // What was stored needs no second try (at worst an fsync).
  held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(done_));
  if (!s.ok()) {
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    retry_at_ = Clock::now() + backoff_;
    return;
  }
  held_.clear();
  unsynced_ = false;
  MarkDurable();
  failing_.store(false, std::memory_order_relaxed);
  if (options_.log) options_.log("persistence recovered");
  if (on_progress_) on_progress_();
}

bool Persister::Finished() const {
  for (size_t i = 0; i < readers_.size(); ++i) {
    if (!rings_[i]->closed() || readers_[i].cursor() < rings_[i]->Stats().published) {
      return false;
    }
  }
  return true;
}

// Removes the oldest segments whose every record a snapshot covers. Only a
// prefix goes, so the log stays a contiguous run of segments.
void Persister::Compact() {
  uint64_t current = log_->position().segment;
  while (!segment_docs_.empty()) {
    auto oldest = segment_docs_.begin();
    if (oldest->first >= current) return;
    for (const auto& [doc, end] : oldest->second) {
      auto c = covers_.find(doc);
      if (c == covers_.end() || c->second < persist::LogPosition{oldest->first, end}) return;
    }
    std::string path =
        persist::LogDir(options_.data_dir) + "/" + persist::SegmentName(oldest->first);
    if (Status s = options_.fs->Remove(path); !s.ok()) {
      if (options_.log) options_.log("cannot remove " + path + ": " + s.ToString());
      return;
    }
    segment_docs_.erase(oldest);
  }
}

void Persister::Sleep(uint32_t seen, Clock::time_point until) {
  // Seq_cst, the store and the load: they pair with Wake()'s seq_cst
  // increment and load of sleeping_. Either Wake() sees this thread asleep
  // and wakes it, or this thread sees the new epoch and does not sleep;
  // the kernel compares the word with `seen` once more as it queues us.
  sleeping_.store(true, std::memory_order_seq_cst);
  if (epoch_.load(std::memory_order_seq_cst) == seen) {
    timespec left{};
    timespec* timeout = nullptr;
    if (until != Clock::time_point::max()) {
      const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::max(until - Clock::now(), Clock::duration::zero()))
                             .count();
      left.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
      left.tv_nsec = static_cast<long>(ns % 1'000'000'000);
      timeout = &left;
    }
    // Woken, timed out, interrupted or the word already moved: Run() looks
    // again in every case.
    syscall(SYS_futex, FutexWord(epoch_), FUTEX_WAIT_PRIVATE, seen, timeout, nullptr, 0);
  }
  // Relaxed: a Wake() that still sees it set only makes one call too many.
  sleeping_.store(false, std::memory_order_relaxed);
}

void Persister::Wake() {
  // Seq_cst: the increment pairs with the acquire load at the top of Run()
  // (what a worker published before it is seen by the peeks there) and,
  // with the load of sleeping_, with the pair in Sleep().
  epoch_.fetch_add(1, std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_seq_cst)) {
    syscall(SYS_futex, FutexWord(epoch_), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
  }
}

void Persister::AbandonAfter(std::chrono::milliseconds grace) {
  // Relaxed: the Wake() below orders it before Run() reads it; nothing
  // else is published with it.
  abandon_at_.store((Clock::now() + grace).time_since_epoch().count(), std::memory_order_relaxed);
  Wake();
}

}  // namespace weft::node
