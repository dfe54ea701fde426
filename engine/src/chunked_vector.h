// ChunkedVector<T, N>: an append-only array in fixed chunks of N elements.
// Growing never copies or over-allocates by more than one chunk, unlike a
// vector's doubling: the item tree's leaves are large and long-lived.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace weft::engine::detail {

template <typename T, size_t N>
class ChunkedVector {
  static_assert((N & (N - 1)) == 0, "chunk size must be a power of two for cheap indexing");

 public:
  T& operator[](size_t i) { return chunks_[i / N][i % N]; }
  const T& operator[](size_t i) const { return chunks_[i / N][i % N]; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& back() { return (*this)[size_ - 1]; }
  void push_back(const T& value) {
    emplace_back();
    back() = value;
  }
  void emplace_back() {
    if (size_ % N == 0) chunks_.push_back(std::make_unique<T[]>(N));
    ++size_;
  }
  // Appends `n` values chunk by chunk (a bulk load's copy, not n pushes).
  void Append(const T* values, size_t n) {
    while (n > 0) {
      if (size_ % N == 0) chunks_.push_back(std::unique_ptr<T[]>(new T[N]));
      const size_t room = N - size_ % N;
      const size_t take = n < room ? n : room;
      std::copy(values, values + take, chunks_.back().get() + size_ % N);
      size_ += take;
      values += take;
      n -= take;
    }
  }
  void resize(size_t n) {
    while (size_ < n) emplace_back();
  }
  void clear() {
    chunks_.clear();
    size_ = 0;
  }
  size_t HeapBytes() const {
    return chunks_.size() * N * sizeof(T) + chunks_.capacity() * sizeof(chunks_[0]);
  }

 private:
  std::vector<std::unique_ptr<T[]>> chunks_;
  size_t size_ = 0;
};

}  // namespace weft::engine::detail
