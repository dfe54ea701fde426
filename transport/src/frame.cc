#include "weft/transport/frame.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <string>

namespace weft::transport {

std::array<std::byte, kFramePrefixBytes> EncodeFramePrefix(size_t len) {
  assert(len >= 1 && len <= kMaxFrameBody);
  std::array<std::byte, kFramePrefixBytes> out;
  for (size_t i = 0; i < kFramePrefixBytes; ++i) out[i] = std::byte((len >> (8 * i)) & 0xff);
  return out;
}

FrameAssembler::FrameAssembler(ringbuf::EventAllocator* alloc, size_t max_body)
    : alloc_(alloc), max_body_(max_body) {
  assert(max_body <= kMaxFrameBody);
}

Result<std::span<std::byte>> FrameAssembler::ReadBuffer() {
  // The rest of a long body goes straight into its slot, once the
  // read-ahead has handed over what it held of it.
  if (slot_ && have_ < body_len_ && ahead_begin_ == ahead_end_) {
    into_slot_ = true;
    return ringbuf::PayloadOf(*slot_, body_len_).subspan(have_);
  }
  into_slot_ = false;
  if (ahead_begin_ != 0) {
    std::memmove(ahead_.data(), ahead_.data() + ahead_begin_, ahead_end_ - ahead_begin_);
    ahead_end_ -= ahead_begin_;
    ahead_begin_ = 0;
  }
  if (ahead_end_ == ahead_.size()) {
    return Status::ResourceExhausted("the read-ahead holds a frame that waits for a slot");
  }
  return std::span<std::byte>(ahead_.data() + ahead_end_, ahead_.size() - ahead_end_);
}

void FrameAssembler::Commit(size_t n) {
  bytes_ += n;
  if (into_slot_) {
    assert(have_ + n <= body_len_);
    have_ += n;
  } else {
    assert(ahead_end_ + n <= ahead_.size());
    ahead_end_ += n;
  }
}

Result<FrameRef> FrameAssembler::Next() {
  if (body_len_ == 0) {
    if (ahead_end_ - ahead_begin_ < kFramePrefixBytes) return FrameRef();
    uint32_t len = 0;
    for (size_t i = 0; i < kFramePrefixBytes; ++i) {
      len |= static_cast<uint32_t>(ahead_[ahead_begin_ + i]) << (8 * i);
    }
    if (len == 0) return Status::Corruption("frame length 0");
    if (len > max_body_) {
      return Status::Corruption("frame length " + std::to_string(len) + " over the limit of " +
                                std::to_string(max_body_));
    }
    body_len_ = len;
    ahead_begin_ += kFramePrefixBytes;
  }
  if (!slot_) {
    // Exhaustion is back-pressure, not an error in the stream: the bytes
    // stay where they are until a slot is free.
    Result<FrameRef> slot = alloc_->AllocateForSize(body_len_);
    if (!slot.ok()) return slot.status();
    slot_ = std::move(*slot);
    slot_->len = body_len_;
    slot_->event_type = kFrameEventType;
  }
  if (have_ < body_len_ && ahead_begin_ != ahead_end_) {
    size_t n = std::min(body_len_ - have_, ahead_end_ - ahead_begin_);
    std::memcpy(ringbuf::PayloadOf(*slot_, body_len_).data() + have_, ahead_.data() + ahead_begin_,
                n);
    have_ += n;
    ahead_begin_ += n;
  }
  if (have_ < body_len_) return FrameRef();
  have_ = 0;
  body_len_ = 0;
  if (ahead_begin_ == ahead_end_) ahead_begin_ = ahead_end_ = 0;
  ++frames_;
  return std::move(slot_);
}

}  // namespace weft::transport
