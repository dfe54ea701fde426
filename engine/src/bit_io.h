// BitWriter / BitReader: a stream of raw bit fields, least significant bit
// first, packed into bytes in order (engine/FORMAT.md, "Sections": `bits`).
// The extra bits of large numbers go here, beside the entropy-coded symbols.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace weft::engine::detail {

class BitWriter {
 public:
  // Appends the low `nbits` (<= 32) bits of `v`.
  void Put(uint32_t nbits, uint32_t v) {
    acc_ |= uint64_t{v} << used_;
    used_ += nbits;
    while (used_ >= 8) {
      bytes_.push_back(static_cast<char>(acc_ & 0xff));
      acc_ >>= 8;
      used_ -= 8;
    }
  }
  // The bytes, the last one padded with zero bits.
  std::string Finish() {
    if (used_ > 0) bytes_.push_back(static_cast<char>(acc_ & 0xff));
    acc_ = 0;
    used_ = 0;
    return std::move(bytes_);
  }

 private:
  std::string bytes_;
  uint64_t acc_ = 0;
  uint32_t used_ = 0;
};

class BitReader {
 public:
  BitReader() = default;
  explicit BitReader(std::string_view in)
      : p_(reinterpret_cast<const uint8_t*>(in.data())), end_(p_ + in.size()) {}

  // The next `nbits` (<= 32) bits. Past the end they read as zero and the
  // stream is no longer Finished().
  uint32_t Get(uint32_t nbits) {
    if (have_ < nbits) Refill(nbits);
    uint32_t v = static_cast<uint32_t>(acc_ & ((uint64_t{1} << nbits) - 1));
    acc_ >>= nbits;
    have_ -= nbits;
    return v;
  }
  // True when every byte was read, no read went past the end, and the
  // padding bits of the last byte are zero.
  bool Finished() const { return !overrun_ && p_ == end_ && have_ < 8 && acc_ == 0; }

 private:
  void Refill(uint32_t need) {
    if (end_ - p_ >= 8) {
      // Whole bytes that fit above what is held, in one go.
      uint64_t word = 0;
      for (int i = 0; i < 8; ++i) word |= uint64_t{p_[i]} << (8 * i);
      const uint32_t take = (63 - have_) / 8;
      const uint32_t held = have_ + 8 * take;  // < 64
      acc_ |= (word << have_) & ((uint64_t{1} << held) - 1);
      p_ += take;
      have_ = held;
      return;
    }
    while (have_ <= 56 && p_ != end_) {
      acc_ |= uint64_t{*p_++} << have_;
      have_ += 8;
    }
    if (have_ < need) {  // the bits above have_ are zero: read them as such
      overrun_ = true;
      have_ = need;
    }
  }

  const uint8_t* p_ = nullptr;
  const uint8_t* end_ = nullptr;
  uint64_t acc_ = 0;
  uint32_t have_ = 0;
  bool overrun_ = false;
};

}  // namespace weft::engine::detail
