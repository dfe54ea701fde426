// Framing: how weft messages travel over a byte stream.
//
//   frame := length:u32 little-endian, body:byte[length]     1 <= length <= 16384
//
// The body is one Protobuf `weft.proto.Frame` message (proto/README.md). A
// frame body fits one XL pool slot, so a receiver can read each body straight
// into the slot it will live in: the FrameAssembler hands out exactly the
// bytes the current frame still needs, so socket reads never cross a frame
// boundary and nothing is copied per frame. Larger payloads (a big paste, a
// long catch-up) are split by the sender into several frames.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "weft/ringbuf/event_allocator.h"
#include "weft/ringbuf/ring_ptr.h"
#include "weft/status.h"

namespace weft::transport {

inline constexpr size_t kFramePrefixBytes = 4;
inline constexpr size_t kMaxFrameBody = ringbuf::kMaxPayloadBytes;  // one XL slot: 16 KiB
// event_type of a pooled slot holding one received frame body.
inline constexpr uint32_t kFrameEventType = 0x454d5246;  // "FRME"

using FrameRef = ringbuf::RingPtr<ringbuf::EventHeader>;

// The prefix for a body of `len` bytes. REQUIRES: 1 <= len <= kMaxFrameBody.
std::array<std::byte, kFramePrefixBytes> EncodeFramePrefix(size_t len);

// Reassembles frames from a byte stream into pooled slots. One per
// connection, used from the thread that reads it (the loop thread, which
// should own the allocator's pools).
//
//   span = ReadBuffer()   -> read at most span.size() bytes into span.data()
//   Commit(n)             -> a complete frame, or an empty FrameRef if not yet
//
// Errors: ReadBuffer fails with ResourceExhausted when no slot is free for
// the next body (stop reading; call again once slots return: nothing was
// consumed). Commit fails with Corruption for a length prefix of 0 or over
// the limit; the connection is then unusable (its stream position is lost).
class FrameAssembler {
 public:
  // `alloc` must outlive the assembler. REQUIRES: max_body <= kMaxFrameBody.
  explicit FrameAssembler(ringbuf::EventAllocator* alloc, size_t max_body = kMaxFrameBody);

  Result<std::span<std::byte>> ReadBuffer();
  Result<FrameRef> Commit(size_t n);

  // Copies `bytes` through ReadBuffer/Commit and calls on_frame(FrameRef&&)
  // for each frame completed. Stops at the first error; `*consumed` (if not
  // null) says how many bytes were taken. For tests, fuzzing and callers
  // that already hold the bytes elsewhere.
  template <typename OnFrame>
  Status Feed(std::span<const std::byte> bytes, OnFrame&& on_frame, size_t* consumed = nullptr);

  // True between the first byte of a frame and its last.
  bool mid_frame() const { return have_ != 0 || body_len_ != 0; }
  // Frames completed and bytes taken, for statistics.
  uint64_t frames() const { return frames_; }
  uint64_t bytes() const { return bytes_; }

 private:
  ringbuf::EventAllocator* const alloc_;
  const size_t max_body_;
  std::array<std::byte, kFramePrefixBytes> prefix_{};
  size_t have_ = 0;  // bytes of the current prefix or body received
  uint32_t body_len_ = 0;
  FrameRef slot_;  // the body's slot once the prefix is known
  uint64_t frames_ = 0;
  uint64_t bytes_ = 0;
};

template <typename OnFrame>
Status FrameAssembler::Feed(std::span<const std::byte> bytes, OnFrame&& on_frame,
                            size_t* consumed) {
  size_t used = 0;
  Status status;
  while (used < bytes.size()) {
    Result<std::span<std::byte>> buf = ReadBuffer();
    if (!buf.ok()) {
      status = buf.status();
      break;
    }
    size_t n = std::min(buf->size(), bytes.size() - used);
    std::memcpy(buf->data(), bytes.data() + used, n);
    used += n;
    Result<FrameRef> frame = Commit(n);
    if (!frame.ok()) {
      status = frame.status();
      break;
    }
    if (*frame) on_frame(std::move(*frame));
  }
  if (consumed != nullptr) *consumed = used;
  return status;
}

}  // namespace weft::transport
