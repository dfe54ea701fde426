// AgentMap: 64-bit agent ids -> small dense indexes, in one flat
// open-addressed table. Ops name their agent by id; with hundreds of
// agents every op looks up two or three of them, and a node-based hash map
// spent a cache miss on each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace weft::engine::detail {

class AgentMap {
 public:
  std::optional<uint32_t> Find(uint64_t id) const {
    if (slots_.empty()) return std::nullopt;
    for (size_t i = Home(id);; i = (i + 1) & (slots_.size() - 1)) {
      const Slot& s = slots_[i];
      if (s.index == kEmpty) return std::nullopt;
      if (s.id == id) return s.index;
    }
  }
  // Adds `id` -> `index`. REQUIRES: `id` is not in the map.
  void Add(uint64_t id, uint32_t index) {
    if ((size_ + 1) * 4 > slots_.size() * 3) Grow();
    Place(id, index);
    ++size_;
  }
  size_t size() const { return size_; }
  size_t HeapBytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  struct Slot {
    uint64_t id = 0;
    uint32_t index = kEmpty;
  };
  size_t Home(uint64_t id) const {
    // Fibonacci hashing: agent ids are often small consecutive numbers.
    return static_cast<size_t>((id * 0x9E3779B97F4A7C15ull) >> 32) & (slots_.size() - 1);
  }
  void Place(uint64_t id, uint32_t index) {
    size_t i = Home(id);
    while (slots_[i].index != kEmpty) i = (i + 1) & (slots_.size() - 1);
    slots_[i] = Slot{id, index};
  }
  void Grow() {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(old.empty() ? 8 : old.size() * 2, Slot{});
    for (const Slot& s : old) {
      if (s.index != kEmpty) Place(s.id, s.index);
    }
  }

  std::vector<Slot> slots_;  // size a power of two, at most 3/4 full
  size_t size_ = 0;
};

}  // namespace weft::engine::detail
