// ByteWriter / ByteReader: the byte-level vocabulary of the engine's formats
// (engine/FORMAT.md). Integers are little-endian or LEB128 varints, written
// and read a byte at a time, so the bytes never depend on the platform's
// byte order or word size.
//
// ByteReader reads untrusted bytes: every read checks what remains, and a
// read past the end (or a malformed varint) yields 0 and makes the reader
// fail for good. Callers check ok() before acting on what they read, and
// cap declared counts by remaining() before allocating.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace weft::engine::detail {

class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}

  void PutU8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void PutLe32(uint32_t v) {
    for (int i = 0; i < 4; ++i) PutU8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void PutLe64(uint64_t v) {
    for (int i = 0; i < 8; ++i) PutU8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void PutVarint(uint64_t v) {
    while (v >= 0x80) {
      PutU8(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    PutU8(static_cast<uint8_t>(v));
  }
  void PutBytes(std::string_view bytes) { out_->append(bytes); }
  size_t size() const { return out_->size(); }

 private:
  std::string* out_;
};

// Zigzag: small signed values as small unsigned ones (0, -1, 1, -2 ...).
inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

class ByteReader {
 public:
  explicit ByteReader(std::string_view in)
      : p_(reinterpret_cast<const uint8_t*>(in.data())), end_(p_ + in.size()) {}

  bool ok() const { return ok_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  // Makes the reader fail (a caller found what it read invalid).
  void Fail() {
    ok_ = false;
    p_ = end_;
  }

  uint8_t U8() {
    if (p_ == end_) {
      Fail();
      return 0;
    }
    return *p_++;
  }
  uint32_t Le32() {
    if (remaining() < 4) {
      Fail();
      return 0;
    }
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t{p_[i]} << (8 * i);
    p_ += 4;
    return v;
  }
  uint64_t Le64() {
    if (remaining() < 8) {
      Fail();
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{p_[i]} << (8 * i);
    p_ += 8;
    return v;
  }
  // A varint of at most 10 bytes whose value fits 64 bits.
  uint64_t Varint() {
    if (p_ != end_ && *p_ < 0x80) return *p_++;  // most varints are one byte
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) break;
      uint8_t b = *p_++;
      if (shift == 63 && b > 1) break;
      v |= uint64_t{b & 0x7fu} << shift;
      if (b < 0x80) return v;
    }
    Fail();
    return 0;
  }
  // A varint that must be at most `max`.
  uint64_t VarintAtMost(uint64_t max) {
    uint64_t v = Varint();
    if (v > max) {
      Fail();
      return 0;
    }
    return v;
  }
  // The next `n` bytes (empty and failed if fewer remain).
  std::string_view Bytes(size_t n) {
    if (n > remaining()) {
      Fail();
      return {};
    }
    std::string_view s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }
  std::string_view Rest() { return Bytes(remaining()); }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  bool ok_ = true;
};

}  // namespace weft::engine::detail
