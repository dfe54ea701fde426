#include "persister.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "weft/persist/snapshot_file.h"

namespace weft::transport {

Persister::Persister(std::vector<EgressRing*> rings, std::vector<EgressRing::Reader> readers,
                     PersisterOptions options, std::unique_ptr<persist::OpLogWriter> log,
                     const persist::RecoveredState* recovered, std::function<void()> on_progress)
    : rings_(std::move(rings)),
      readers_(std::move(readers)),
      options_(std::move(options)),
      on_progress_(std::move(on_progress)),
      log_(std::move(log)) {
  if (options_.fs == nullptr) options_.fs = persist::DefaultFileSystem();
  if (recovered != nullptr) {
    segment_docs_ = recovered->segment_docs;
    covers_ = recovered->snapshot_covers;
  }
}

void Persister::Run() {
  while (true) {
    // Acquire pairs with the release increment in Wake(): a worker that
    // published before bumping the epoch is seen by the peeks below.
    uint32_t epoch = epoch_.load(std::memory_order_acquire);
    batch_.clear();
    done_ = 0;
    bool finished = true;
    for (size_t i = 0; i < readers_.size(); ++i) {
      readers_[i].Peek([&](const EgressEntry& e, int64_t) { batch_.push_back(&e); });
      if (!rings_[i]->closed() || readers_[i].cursor() < rings_[i]->Stats().published) {
        finished = false;
      }
    }
    if (!batch_.empty()) {
      std::chrono::milliseconds backoff(50);
      bool reported = false;
      for (Status s = WriteBatch(); !s.ok(); s = WriteBatch()) {
        if (!reported && options_.log) {
          options_.log("persistence failing, holding acks until it recovers: " + s.ToString());
          reported = true;
        }
        // Relaxed: a health figure; nothing is published with it.
        disk_failing_.store(true, std::memory_order_relaxed);
        // Relaxed: a stop request; nothing else is published with it.
        if (abandon_.load(std::memory_order_relaxed)) return;
        // A failing disk is retried on a timer: there is no event to wait for.
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
      }
      if (reported && options_.log) options_.log("persistence recovered");
      disk_failing_.store(false, std::memory_order_relaxed);
      for (EgressRing::Reader& r : readers_) r.Release();
      if (on_progress_) on_progress_();
      continue;
    }
    if (finished) return;
    epoch_.wait(epoch, std::memory_order_acquire);
  }
}

Status Persister::WriteBatch() {
  if (!log_) {
    done_ = batch_.size();
    return Status::Ok();
  }
  for (; done_ < batch_.size(); ++done_) {
    const EgressEntry& e = *batch_[done_];
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
    } else if (e.kind == EgressEntry::Kind::kSnapshot) {
      // Everything of this document appended so far is in the snapshot (the
      // worker published it after them): it covers the log up to here.
      persist::SnapshotFile snap{e.control->doc, log_->position(), e.control->snapshot};
      Status s =
          persist::WriteSnapshotFile(options_.fs, persist::SnapshotDir(options_.data_dir), snap);
      if (s.code() == StatusCode::kFailedPrecondition) {
        if (options_.log) options_.log("not snapshotting: " + s.ToString());
      } else if (!s.ok()) {
        return s;
      } else {
        covers_[snap.doc] = snap.covers;
      }
    }
  }
  WEFT_RETURN_IF_ERROR(log_->Sync());
  Compact();
  return Status::Ok();
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

void Persister::Wake() {
  // Release pairs with the acquire load in Run().
  epoch_.fetch_add(1, std::memory_order_release);
  epoch_.notify_all();
}

void Persister::Abandon() {
  // Relaxed: polled by Run's retry loop, which the Wake below unblocks.
  abandon_.store(true, std::memory_order_relaxed);
  Wake();
}

}  // namespace weft::transport
