// Persister: the reader of every merge worker's egress ring that makes
// accepted ops durable. Acks wait behind it (the loop's ack readers are
// gated on its cursors), so an author hears "durable" only once it passed.
//
// This one keeps ops in memory only: it counts what it saw. The op log with
// group commit replaces its handler without changing its place in the
// pipeline.
#pragma once

#include <atomic>
#include <functional>
#include <vector>

#include "pipeline.h"

namespace weft::transport {

class Persister {
 public:
  // `on_progress` runs on the persister's thread after each batch (it wakes
  // the loop thread so acks go out).
  Persister(std::vector<EgressRing*> rings, std::vector<EgressRing::Reader> readers,
            std::function<void()> on_progress)
      : rings_(std::move(rings)),
        readers_(std::move(readers)),
        on_progress_(std::move(on_progress)) {}

  // The thread body: returns once every ring is closed and drained.
  void Run() {
    while (true) {
      // Acquire pairs with the release increment in Wake(): a worker that
      // published before bumping the epoch is seen by the polls below.
      uint32_t epoch = epoch_.load(std::memory_order_acquire);
      size_t handled = 0;
      bool finished = true;
      for (size_t i = 0; i < readers_.size(); ++i) {
        handled += readers_[i].Poll([&](const EgressEntry& e, int64_t) { Persist(e); });
        if (!rings_[i]->closed() || readers_[i].cursor() < rings_[i]->Stats().published) {
          finished = false;
        }
      }
      if (handled != 0) {
        if (on_progress_) on_progress_();
        continue;
      }
      if (finished) return;
      epoch_.wait(epoch, std::memory_order_acquire);
    }
  }

  // Any thread: something was published (or a ring closed).
  void Wake() {
    // Release pairs with the acquire load in Run().
    epoch_.fetch_add(1, std::memory_order_release);
    epoch_.notify_all();
  }

  // Accepted batches and their bytes; read after Run returns.
  uint64_t batches() const { return batches_; }
  uint64_t bytes() const { return bytes_; }

 private:
  void Persist(const EgressEntry& e) {
    if (e.kind != EgressEntry::Kind::kAccepted) return;
    ++batches_;
    bytes_ += e.update.size();
  }

  std::vector<EgressRing*> rings_;
  std::vector<EgressRing::Reader> readers_;
  std::function<void()> on_progress_;
  std::atomic<uint32_t> epoch_{0};
  uint64_t batches_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace weft::transport
