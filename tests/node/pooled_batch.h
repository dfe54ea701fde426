// An op batch as the node holds one: its frame body in a pool slot, with
// views of the document name and the update inside it, the way the loop
// thread publishes what came off a socket. For tests that drive the
// pipeline's stages without sockets.
#pragma once

#include <span>
#include <string_view>

#include "pipeline.h"
#include "weft/ringbuf/event_allocator.h"
#include "weft/transport/wire_codec.h"

namespace weft::node {

struct PooledBatch {
  SlotRef frame;  // empty when the pools are dry or the batch is too large
  std::string_view doc;
  std::span<const std::byte> update;
};

inline PooledBatch PoolBatch(ringbuf::EventAllocator& alloc, std::string_view doc,
                             std::string_view update) {
  PooledBatch out;
  std::string body = EncodeFrame(OpBatch{doc, std::as_bytes(std::span(update))});
  Result<SlotRef> slot = alloc.AllocateEvent(0, std::as_bytes(std::span(body)));
  if (!slot.ok()) return out;
  Result<Message> m = DecodeFrame(ringbuf::PayloadOf(**slot));
  const OpBatch* b = m.ok() ? std::get_if<OpBatch>(&*m) : nullptr;
  if (b == nullptr) return out;
  out.doc = b->doc;
  out.update = b->update;
  out.frame = std::move(*slot);
  return out;
}

// An IngressEntry or EgressEntry of `kind` from `conn` carrying `batch`.
template <typename Entry>
Entry BatchEntry(typename Entry::Kind kind, uint64_t conn, PooledBatch batch) {
  Entry e;
  e.kind = kind;
  e.conn = conn;
  e.doc = batch.doc;
  e.update = batch.update;
  e.frame = std::move(batch.frame);
  return e;
}

}  // namespace weft::node
