#include "ingress.h"

#include <utility>

namespace weft::node {
namespace {

// Entries every worker must see; the rest name their worker.
bool ForEveryWorker(IngressEntry::Kind kind) {
  return kind == IngressEntry::Kind::kConnOpened || kind == IngressEntry::Kind::kConnClosed;
}

}  // namespace

IngressRings::IngressRings(size_t workers, const ringbuf::RingOptions& options)
    : pending_(workers) {
  rings_.reserve(workers);
  for (size_t i = 0; i < workers; ++i) rings_.push_back(std::make_unique<IngressRing>(options));
}

bool IngressRings::TryPublish(IngressEntry&& e) {
  const size_t w = e.worker;
  return pending_[w].empty() && rings_[w]->TryPublish(std::move(e));
}

void IngressRings::PublishControl(IngressEntry&& e) {
  if (!ForEveryWorker(e.kind)) {
    const size_t w = e.worker;
    PublishTo(w, std::move(e));
    return;
  }
  // A copy per worker (control entries hold no frame, only a shared
  // ControlData), the last one moved.
  for (size_t w = 0; w + 1 < rings_.size(); ++w) PublishTo(w, IngressEntry(e));
  PublishTo(rings_.size() - 1, std::move(e));
}

void IngressRings::PublishTo(size_t worker, IngressEntry&& e) {
  std::deque<IngressEntry>& queue = pending_[worker];
  if (queue.empty() && rings_[worker]->TryPublish(std::move(e))) return;
  queue.push_back(std::move(e));
}

void IngressRings::Flush() {
  for (size_t w = 0; w < rings_.size(); ++w) {
    std::deque<IngressEntry>& queue = pending_[w];
    while (!queue.empty() && rings_[w]->TryPublish(std::move(queue.front()))) {
      queue.pop_front();
    }
  }
}

bool IngressRings::waiting() const {
  for (const auto& queue : pending_) {
    if (!queue.empty()) return true;
  }
  return false;
}

void IngressRings::Reclaim() {
  for (auto& ring : rings_) ring->Reclaim();
}

void IngressRings::Close() {
  for (auto& ring : rings_) ring->Close();
}

}  // namespace weft::node
