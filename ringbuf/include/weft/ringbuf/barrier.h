// Barrier: how far one reader may read. An ungated reader may read whatever
// the producer has published; a gated reader may also not pass any reader it
// is gated behind (a Disruptor dependency barrier: B sees an entry only after
// A has finished with it).
#pragma once

#include <algorithm>
#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>

#include "weft/ringbuf/sequence.h"

namespace weft::ringbuf {

class Barrier {
 public:
  static constexpr size_t kMaxGates = 4;

  Barrier() = default;
  explicit Barrier(const Sequence* published) : published_(published) {}

  // REQUIRES: fewer than kMaxGates gates so far. `gate` must outlive this.
  void AddGate(const Sequence* gate) {
    assert(gate_count_ < kMaxGates);
    gates_[gate_count_++] = gate;
  }

  // The highest sequence this reader may read now.
  int64_t Available() const {
    // Sequence::Load is acquire, pairing with the producer's release in
    // Publish (entries up to it are written) and with each gate's release in
    // its commit (the gate finished with entries up to it).
    int64_t available = published_->Load();
    for (size_t i = 0; i < gate_count_; ++i) available = std::min(available, gates_[i]->Load());
    return available;
  }

  size_t gate_count() const { return gate_count_; }

 private:
  const Sequence* published_ = nullptr;
  std::array<const Sequence*, kMaxGates> gates_{};
  size_t gate_count_ = 0;
};

}  // namespace weft::ringbuf
