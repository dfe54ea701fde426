// Framing: how weft messages travel over a byte stream.
//
//   frame := length:u32 little-endian, body:byte[length]     1 <= length <= 16384
//
// The body is one Protobuf `weft.proto.Frame` message (proto/README.md). A
// frame body fits one XL pool slot, so a receiver keeps each body in the slot
// it will live in. Socket reads go first into a small read-ahead buffer of
// the connection (kReadAheadBytes), so the frames that arrived together (a
// relay and an ack, a burst of keystrokes) take one system call, not two per
// frame; each body is copied from there into its slot. A body longer than
// what the read-ahead holds is read straight into its slot once its first
// bytes are in, so a large frame is copied at most kReadAheadBytes.
// Larger payloads (a big paste, a long catch-up) are split by the sender into
// several frames.
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

// Bytes a connection reads ahead of the frame it is assembling: a few small
// frames' worth. Part of every connection's fixed cost (weft/node/budget.h).
inline constexpr size_t kReadAheadBytes = 512;

// Reassembles frames from a byte stream into pooled slots. One per
// connection, used from the thread that reads it (the loop thread, which
// should own the allocator's pools).
//
//   span = ReadBuffer()   -> read at most span.size() bytes into span.data()
//   Commit(n)             -> n bytes of it arrived
//   Next()                -> the next complete frame, until it gives an empty
//                            FrameRef (call after every Commit: whole frames
//                            wait in the read-ahead until taken)
//
// Errors: Next fails with ResourceExhausted when no slot is free for the
// next body (stop reading; call Next again once slots return: nothing is
// lost), and with Corruption for a length prefix of 0 or over the limit;
// the connection is then unusable (its stream position is lost).
// ReadBuffer fails with ResourceExhausted only while the read-ahead is full
// of a frame that waits for a slot.
class FrameAssembler {
 public:
  // `alloc` must outlive the assembler. REQUIRES: max_body <= kMaxFrameBody.
  explicit FrameAssembler(ringbuf::EventAllocator* alloc, size_t max_body = kMaxFrameBody);

  Result<std::span<std::byte>> ReadBuffer();
  void Commit(size_t n);
  Result<FrameRef> Next();

  // Copies `bytes` through ReadBuffer/Commit and calls on_frame(FrameRef&&)
  // for each frame completed, including frames that were already whole
  // before the call. Stops at the first error; `*consumed` (if not null)
  // says how many bytes were taken. For tests, fuzzing and callers that
  // already hold the bytes elsewhere.
  template <typename OnFrame>
  Status Feed(std::span<const std::byte> bytes, OnFrame&& on_frame, size_t* consumed = nullptr);

  // True between the first byte of a frame and its last (and while whole
  // frames wait in the read-ahead).
  bool mid_frame() const { return ahead_end_ != ahead_begin_ || body_len_ != 0; }
  // Frames completed and bytes taken, for statistics.
  uint64_t frames() const { return frames_; }
  uint64_t bytes() const { return bytes_; }

 private:
  ringbuf::EventAllocator* const alloc_;
  const size_t max_body_;
  std::array<std::byte, kReadAheadBytes> ahead_{};
  size_t ahead_begin_ = 0;  // unconsumed read-ahead bytes: [begin, end)
  size_t ahead_end_ = 0;
  uint32_t body_len_ = 0;   // the current body's length once its prefix is in
  size_t have_ = 0;         // bytes of the current body in slot_
  FrameRef slot_;           // the body's slot once one was free
  bool into_slot_ = false;  // the last ReadBuffer span was in slot_
  uint64_t frames_ = 0;
  uint64_t bytes_ = 0;
};

template <typename OnFrame>
Status FrameAssembler::Feed(std::span<const std::byte> bytes, OnFrame&& on_frame,
                            size_t* consumed) {
  size_t used = 0;
  Status status;
  while (true) {
    Result<FrameRef> frame = Next();
    if (!frame.ok()) {
      status = frame.status();
      break;
    }
    if (*frame) {
      on_frame(std::move(*frame));
      continue;
    }
    if (used == bytes.size()) break;
    Result<std::span<std::byte>> buf = ReadBuffer();
    if (!buf.ok()) {
      status = buf.status();
      break;
    }
    size_t n = std::min(buf->size(), bytes.size() - used);
    std::memcpy(buf->data(), bytes.data() + used, n);
    used += n;
    Commit(n);
  }
  if (consumed != nullptr) *consumed = used;
  return status;
}

}  // namespace weft::transport
