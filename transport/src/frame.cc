#include "weft/transport/frame.h"

#include <cassert>
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
  if (!slot_ && body_len_ == 0) {
    return std::span<std::byte>(prefix_.data() + have_, kFramePrefixBytes - have_);
  }
  if (!slot_) {
    // The prefix is in; the body needs a slot sized for it. Exhaustion is
    // back-pressure, not an error in the stream: nothing is consumed.
    Result<FrameRef> slot = alloc_->AllocateForSize(body_len_);
    if (!slot.ok()) return slot.status();
    slot_ = std::move(*slot);
    slot_->len = body_len_;
    slot_->event_type = kFrameEventType;
  }
  return ringbuf::PayloadOf(*slot_, body_len_).subspan(have_);
}

Result<FrameRef> FrameAssembler::Commit(size_t n) {
  bytes_ += n;
  have_ += n;
  if (!slot_) {
    assert(have_ <= kFramePrefixBytes);
    if (have_ < kFramePrefixBytes) return FrameRef();
    uint32_t len = 0;
    for (size_t i = 0; i < kFramePrefixBytes; ++i) {
      len |= static_cast<uint32_t>(prefix_[i]) << (8 * i);
    }
    if (len == 0) return Status::Corruption("frame length 0");
    if (len > max_body_) {
      return Status::Corruption("frame length " + std::to_string(len) + " over the limit of " +
                                std::to_string(max_body_));
    }
    body_len_ = len;
    have_ = 0;
    return FrameRef();
  }
  assert(have_ <= body_len_);
  if (have_ < body_len_) return FrameRef();
  have_ = 0;
  body_len_ = 0;
  ++frames_;
  return std::move(slot_);
}

}  // namespace weft::transport
