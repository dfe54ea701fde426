// IngressRings: the loop thread's side of the path into the merge workers,
// one single-producer ring per worker.
//
// A worker that falls behind (a long catch-up, a document loading from a
// slow disk) fills only its own ring, and only connections writing to its
// documents wait; with one ring for all workers, its reader held back every
// other worker's entries and the loop stalled every connection.
//
// Entries for every worker (a connection opened or closed) go into each
// ring, in the order they are published; entries for one worker into its
// ring only.
// Control entries are never dropped: while a ring is full they wait here in
// order, and op batches for that worker wait behind them (TryPublish says
// no), so a worker always learns of a connection before its batches.
// Loop thread only.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <vector>

#include "pipeline.h"

namespace weft::node {

class IngressRings {
 public:
  // `options` for each ring (one reader: its worker).
  IngressRings(size_t workers, const ringbuf::RingOptions& options);

  IngressRing& ring(size_t worker) { return *rings_[worker]; }

  // An op batch for e.worker: false, and nothing published, when its ring
  // is full or control entries wait for it.
  bool TryPublish(IngressEntry&& e);
  // A control entry: published now, or queued until its ring has room.
  void PublishControl(IngressEntry&& e);
  // Moves queued control entries into rings with room.
  void Flush();
  // Control entries wait for some worker.
  bool waiting() const;
  bool waiting(size_t worker) const { return !pending_[worker].empty(); }
  // Drops the rings' references to what their workers have passed.
  void Reclaim();
  // No more entries: each worker drains its ring and stops.
  void Close();

 private:
  // Published or queued on `worker`'s ring, behind what waits there.
  void PublishTo(size_t worker, IngressEntry&& e);

  std::vector<std::unique_ptr<IngressRing>> rings_;
  std::vector<std::deque<IngressEntry>> pending_;  // by worker
};

}  // namespace weft::node
