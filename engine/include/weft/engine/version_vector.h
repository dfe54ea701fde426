// VersionVector: which ops a replica has, as the next seq per agent.
#pragma once

#include <cstdint>
#include <map>

namespace weft::engine {

// Maps agent -> number of that agent's seqs known (every seq below it is
// known). Agents not listed are at 0. Cheap to copy for a few hundred agents.
class VersionVector {
 public:
  // Number of seqs of `agent` known; 0 for an unknown agent.
  uint64_t Get(uint64_t agent) const {
    auto it = next_.find(agent);
    return it == next_.end() ? 0 : it->second;
  }
  // Sets the entry; a 0 entry is dropped so equal vectors compare equal.
  void Set(uint64_t agent, uint64_t next_seq) {
    if (next_seq == 0) {
      next_.erase(agent);
    } else {
      next_[agent] = next_seq;
    }
  }
  // Raises every entry to at least `other`'s.
  void Merge(const VersionVector& other) {
    for (const auto& [agent, next] : other.next_) {
      if (Get(agent) < next) Set(agent, next);
    }
  }
  // True when this vector knows everything `other` knows.
  bool Includes(const VersionVector& other) const {
    for (const auto& [agent, next] : other.next_) {
      if (Get(agent) < next) return false;
    }
    return true;
  }
  const std::map<uint64_t, uint64_t>& entries() const { return next_; }
  friend bool operator==(const VersionVector&, const VersionVector&) = default;

 private:
  std::map<uint64_t, uint64_t> next_;
};

}  // namespace weft::engine
