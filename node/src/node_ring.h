// NodeRing<Entry>: a ring of the node's pipeline. Entries travel the way
// ringbuf's RingPtr path carries them (RingPtrWith): the RingPtr of the
// frame's slot plus a small trivially copyable record, so readers borrow
// entries in place and the producer drops slot references through its own
// record of them, never loading an entry back (ring.h, Writer::held_).
//
// Control entries are rare and carry what no record can hold (strings,
// version vectors, snapshots): their ControlData rides beside the ring, in
// a table indexed like the entries. The producer fills a claimed entry's
// row before it publishes (readers see it through the publish's release),
// and empties rows as the ring reclaims their entries, so a catch-up chunk
// or a snapshot lives no longer than its readers need it.
//
// Entry (pipeline.h) is what producers fill; Entry::Slot what the ring
// carries; Entry::View what readers see while they borrow an entry.
// Threads: the producer's methods on one thread; readers as ring.h says.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include "weft/ringbuf/ring.h"
#include "weft/status.h"

namespace weft::node {

// The node's threads outnumber the cores, and at typing rates each stage
// hands on one entry at a time: its waiters sleep after a few yields
// (bench/README.md, "Fewer system calls per patch").
using PipelineWait = ringbuf::LightBackoffWait;

template <typename Entry>
class NodeRing {
 public:
  using Slot = typename Entry::Slot;
  using View = typename Entry::View;
  using Control = decltype(Entry::control);
  using Ring = ringbuf::Ring<Slot, PipelineWait>;
  using Reader = typename Ring::Reader;

  // REQUIRES: Validate(options).ok().
  explicit NodeRing(const ringbuf::RingOptions& options)
      : ring_(options), control_(options.capacity), mask_(options.capacity - 1) {}
  NodeRing(const NodeRing&) = delete;
  NodeRing& operator=(const NodeRing&) = delete;

  static Status Validate(const ringbuf::RingOptions& options) { return Ring::Validate(options); }

  Ring& ring() { return ring_; }
  Result<Reader> AddReader(std::initializer_list<const Reader*> gates = {}) {
    return ring_.AddReader(gates);
  }
  ringbuf::RingStats Stats() const { return ring_.Stats(); }
  bool closed() const { return ring_.closed(); }

  // Producer: publishes `e`; false, with `e` untouched, when the ring is full.
  bool TryPublish(Entry&& e) {
    typename Ring::Writer::Claim claim = ring_.writer().TryClaim(1);
    if (claim.empty()) return false;
    Put(claim, std::move(e));
    return true;
  }
  // Producer: publishes `e`, waiting while the ring is full.
  void Publish(Entry&& e) {
    typename Ring::Writer::Claim claim = ring_.writer().ClaimBlocking(1);
    Put(claim, std::move(e));
  }
  // Producer: drops what every reader has passed (Writer::Reclaim); returns
  // how many entries' slots it let go.
  size_t Reclaim() {
    size_t n = ring_.writer().Reclaim();
    ForgetControl();
    return n;
  }
  void Close() { ring_.writer().Close(); }
  // The sequence of the last published entry (-1 before the first).
  int64_t published() { return ring_.writer().published(); }

  // Readers: entry `slot`, at `seq`, as its view.
  View Read(const Slot& slot, int64_t seq) const {
    return View(slot, control_[static_cast<size_t>(seq) & mask_]);
  }

 private:
  void Put(typename Ring::Writer::Claim& claim, Entry&& e) {
    // The claim reclaimed the entry a lap back, whose row this one takes:
    // empty the rows up to there first, or a later pass would empty this
    // entry's row with them.
    ForgetControl();
    control_[static_cast<size_t>(claim.first_sequence()) & mask_] = std::move(e.control);
    claim.Put(0, Entry::Pack(std::move(e)));
    ring_.writer().Publish(claim);
  }

  void ForgetControl() {
    const int64_t upto = ring_.writer().reclaimed();
    for (int64_t s = forgotten_ + 1; s <= upto; ++s) {
      Control& row = control_[static_cast<size_t>(s) & mask_];
      if (row) row.reset();
    }
    forgotten_ = std::max(forgotten_, upto);
  }

  Ring ring_;
  std::vector<Control> control_;  // by sequence, like the entries
  const size_t mask_;
  int64_t forgotten_ = ringbuf::kInitialSequence;  // rows at or below are empty
};

}  // namespace weft::node
