// EventProcessor: the loop a consumer thread runs over one reader of a
// Ring, in the manner of the Disruptor's BatchEventProcessor, with two ways
// for other threads to reach it that put nothing on the ring:
//
//   producer ──Ring──► EventProcessor::Run (consumer thread)
//      ▲                  │ on_entry(entry, seq) for each entry of a batch
//      │                  │ on_batch_end(woken) after each batch, or when
//      │                  │   Wake() called it with no entry to hand
//      └── on_room() ─────┘ once after a commit, if WatchRoom() asked
//
// - Wake() (any thread) makes the consumer run its between-batches work
//   now: housekeeping, giving back what it holds. It takes the place of an
//   empty "tickle" entry, which would need ring space and could not reach a
//   consumer whose ring is full.
// - WatchRoom() is for a producer that cannot block (an event loop): its
//   TryPublish found the ring full, and it wants to be told, through
//   on_room (which may wake that loop: uv_async_send is safe from any
//   thread), once the consumer has made room. Without it such a producer
//   has to poll.
//
// Waiting is the ring's WaitStrategy (spin, yield, then sleep for
// BackoffWait), so an idle consumer costs nothing and wakes on a publish,
// on Wake(), or on close.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>

#include "weft/ringbuf/ring.h"
#include "weft/status.h"

namespace weft::ringbuf {

template <typename E, typename Wait = BackoffWait>
class EventProcessor {
 public:
  using RingType = Ring<E, Wait>;
  using ReaderType = Reader<E, Wait>;

  // Registers the processor's reader on `ring` (which must outlive it).
  // `on_room`: see WatchRoom; may be empty when no producer watches.
  static Result<std::unique_ptr<EventProcessor>> Create(RingType& ring,
                                                        std::function<void()> on_room = {}) {
    Result<ReaderType> reader = ring.AddReader();
    if (!reader.ok()) return reader.status();
    return std::unique_ptr<EventProcessor>(
        new EventProcessor(ring, std::move(*reader), std::move(on_room)));
  }

  EventProcessor(const EventProcessor&) = delete;
  EventProcessor& operator=(const EventProcessor&) = delete;

  // Runs on the calling thread until the ring is closed and drained:
  // on_entry(const E&, int64_t seq) for each entry (at most `max_batch` per
  // batch), then on_batch_end(bool woken) after each batch, and after each
  // Wake() that found nothing to hand out (`woken`: Wake() was called since
  // the last call).
  template <typename OnEntry, typename OnBatchEnd>
  void Run(OnEntry&& on_entry, OnBatchEnd&& on_batch_end, size_t max_batch = 256) {
    // Acquire: pairs with the release in Wake(); what the waker wrote before
    // calling it is visible to the batch-end work.
    auto woken = [this] { return wake_.load(std::memory_order_acquire); };
    while (true) {
      bool finished = false;
      size_t n = reader_.WaitPollOr(on_entry, max_batch, woken, &finished);
      if (finished) return;
      // Acquire, as in `woken`: a Wake() during the batch was not seen by
      // the wait, and its writes are taken here.
      bool was_woken = wake_.exchange(false, std::memory_order_acquire);
      if (n != 0) NotifyRoom();
      on_batch_end(was_woken);
    }
  }

  // Any thread: the consumer runs on_batch_end soon, entry or not.
  void Wake() {
    // Release pairs with the acquire loads in Run.
    wake_.store(true, std::memory_order_release);
    ring_.NotifyReaders();
  }

  // The producer's thread, after a TryPublish found the ring full: on_room
  // runs (on the consumer's thread) after the consumer next frees entries.
  // Returns true when no watch was pending: the producer must then try
  // once more itself, since the consumer may have freed them just before
  // the watch began. False: a watch is pending and nothing was freed since
  // the retry that followed it.
  bool WatchRoom() {
    // Relaxed: the fence orders it.
    bool was = room_watched_.exchange(true, std::memory_order_relaxed);
    // The producer's half of a Dekker pair with NotifyRoom: orders the
    // watch before the retry reads the reader's cursor. Either the retry
    // sees the room, or the consumer's load after its fence sees the watch.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return !was;
  }

  const ReaderType& reader() const { return reader_; }

 private:
  EventProcessor(RingType& ring, ReaderType reader, std::function<void()> on_room)
      : ring_(ring), reader_(std::move(reader)), on_room_(std::move(on_room)) {}

  // After a commit (in WaitPollOr): tells a watching producer there is room.
  void NotifyRoom() {
    // The consumer's half of the Dekker pair in WatchRoom: orders the cursor
    // store of the commit before the watch is read. One fence per batch.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    // Relaxed: ordered by the fences; the exchange runs on_room once.
    if (room_watched_.load(std::memory_order_relaxed) &&
        room_watched_.exchange(false, std::memory_order_relaxed) && on_room_) {
      on_room_();
    }
  }

  RingType& ring_;
  ReaderType reader_;
  std::function<void()> on_room_;
  // Each on its own line: the waker and the producer write them while the
  // consumer polls its ring.
  alignas(kCacheLine) std::atomic<bool> wake_{false};
  alignas(kCacheLine) std::atomic<bool> room_watched_{false};
};

}  // namespace weft::ringbuf
