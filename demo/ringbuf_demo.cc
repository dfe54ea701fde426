// `weft ringbuf-demo`: the ringbuf pipeline on its own. A producer thread
// fills pooled slots and publishes them as RingPtrs on a broadcast ring; two
// readers consume every event:
//
//   producer ──► Ring<RingPtr<EventHeader>> ──► checker  (verifies order and sums payloads)
//                                          └──► holder   (gated behind checker; keeps a
//                                                         window of clones, as a broadcaster
//                                                         keeps events until their writes finish)
//
// It prints throughput and pool and ring statistics while it runs, and at the
// end checks that both readers saw every event and every slot went back.
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <string_view>
#include <thread>

#include "commands.h"
#include "weft/ringbuf/ringbuf.h"

namespace weft::demo {
namespace {

using ringbuf::EventAllocator;
using ringbuf::EventHeader;
using ringbuf::RingPtr;
using Clock = std::chrono::steady_clock;
using EventRing = ringbuf::Ring<RingPtr<EventHeader>>;

struct Options {
  uint64_t events = 5'000'000;
  size_t ring_capacity = 1024;
  size_t holder_window = 64;
};

bool ParseOptions(int argc, char** argv, Options* out) {
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (arg != name) return nullptr;
      if (i + 1 >= argc) {
        std::fprintf(stderr, "weft ringbuf-demo: %s needs a value\n", name);
        return nullptr;
      }
      return argv[++i];
    };
    char* end = nullptr;
    if (arg == "--help" || arg == "-h") {
      std::printf(
          "usage: weft ringbuf-demo [--events N] [--ring-capacity POW2] [--holder-window N]\n"
          "A producer publishes N pooled events to two readers; prints throughput and\n"
          "pool/ring statistics, and checks that every slot returns to its pool.\n");
      std::exit(0);
    } else if (const char* v = value("--events")) {
      out->events = std::strtoull(v, &end, 10);
    } else if (const char* v = value("--ring-capacity")) {
      out->ring_capacity = std::strtoull(v, &end, 10);
    } else if (const char* v = value("--holder-window")) {
      out->holder_window = std::strtoull(v, &end, 10);
    } else {
      std::fprintf(stderr, "weft ringbuf-demo: unknown or incomplete argument '%s'\n", argv[i]);
      return false;
    }
    if (end == nullptr || *end != '\0') {
      std::fprintf(stderr, "weft ringbuf-demo: '%s' needs a number\n", argv[i - 1]);
      return false;
    }
  }
  ringbuf::RingOptions ro;
  ro.capacity = out->ring_capacity;
  if (Status s = EventRing::Validate(ro); !s.ok()) {
    std::fprintf(stderr, "weft ringbuf-demo: %s\n", s.ToString().c_str());
    return false;
  }
  return true;
}

// Event i carries a payload of 8 + (i % 200) bytes: its index, then filler,
// so events spread over the XS and S pools.
size_t PayloadLen(uint64_t i) { return 8 + i % 200; }

struct ReaderResult {
  uint64_t seen = 0;
  uint64_t sum = 0;
  bool in_order = true;
};

void PrintStats(const EventAllocator& alloc, const EventRing& ring, uint64_t published,
                double seconds, const ReaderResult& checker, const ReaderResult& holder) {
  ringbuf::EventPoolsStats ps = alloc.Stats();
  ringbuf::RingStats rs = ring.Stats();
  std::printf("  %6.2fs  published %10" PRIu64
              "  %6.2f M ev/s | pools in use XS %4u S %4u"
              " | ring full-waits %" PRIu64 " | checker %" PRIu64 " holder %" PRIu64 "\n",
              seconds, published, seconds > 0 ? published / seconds / 1e6 : 0.0, ps.pools[0].in_use,
              ps.pools[1].in_use, rs.full, checker.seen, holder.seen);
}

}  // namespace

int RunRingbufDemo(int argc, char** argv) {
  Options opt;
  if (!ParseOptions(argc, argv, &opt)) return 2;

  EventAllocator alloc;  // default capacities: 2000/1000/300/60/15
  ringbuf::RingOptions ro;
  ro.capacity = opt.ring_capacity;
  EventRing ring(ro);
  Result<EventRing::Reader> checker_reader = ring.AddReader();
  if (!checker_reader.ok()) return 1;
  Result<EventRing::Reader> holder_reader = ring.AddReader({&*checker_reader});
  if (!holder_reader.ok()) return 1;

  std::printf("weft ringbuf demo: 1 producer -> ring of %zu -> checker -> holder (gated)\n",
              ring.capacity());
  std::printf("pools: XS %u, S %u, M %u, L %u, XL %u slots; %zu bytes in all\n",
              alloc.pools().xs.capacity(), alloc.pools().s.capacity(), alloc.pools().m.capacity(),
              alloc.pools().l.capacity(), alloc.pools().xl.capacity(), alloc.footprint_bytes());

  ReaderResult checker, holder;
  std::atomic<uint64_t> published{0};
  uint64_t exhausted_waits = 0;
  uint64_t expected_sum = 0;
  for (uint64_t i = 0; i < opt.events; ++i) expected_sum += i * PayloadLen(i);

  Clock::time_point start = Clock::now();
  std::thread producer([&] {
    // The producer allocates and reclaims, so it owns the pools: its
    // allocations and the ring's releases cost no atomic read-modify-write.
    alloc.AdoptCurrentThread();
    EventRing::Writer& w = ring.writer();
    unsigned char filler[256];
    std::memset(filler, 0xab, sizeof filler);
    for (uint64_t i = 0; i < opt.events; ++i) {
      size_t len = PayloadLen(i);
      Result<RingPtr<EventHeader>> slot = alloc.AllocateForSize(len);
      while (!slot.ok()) {
        // Back-pressure: every slot is with a reader or a holder's clone.
        // Drop the ring's references to what readers have passed, then wait.
        ++exhausted_waits;
        if (w.Reclaim() == 0) std::this_thread::yield();
        slot = alloc.AllocateForSize(len);
      }
      EventHeader& h = **slot;
      h.len = static_cast<uint32_t>(len);
      h.event_type = 1;
      std::span<std::byte> payload = ringbuf::PayloadOf(h, len);
      std::memcpy(payload.data(), &i, sizeof i);
      std::memcpy(payload.data() + 8, filler, len - 8);
      w.Publish(std::move(*slot));
      // Relaxed: a progress counter for the status line.
      published.store(i + 1, std::memory_order_relaxed);
    }
    w.Close();
  });

  std::atomic<bool> checker_done{false}, holder_done{false};
  std::thread checker_thread([&] {
    while (checker_reader->WaitPoll([&](const RingPtr<EventHeader>& e, int64_t seq) {
      uint64_t index;
      std::memcpy(&index, ringbuf::PayloadOf(*e).data(), sizeof index);
      if (index != static_cast<uint64_t>(seq)) checker.in_order = false;
      checker.sum += index * e->len;
      ++checker.seen;
    })) {
    }
    checker_done.store(true, std::memory_order_release);  // pairs with the main loop's acquire
  });
  std::thread holder_thread([&] {
    std::deque<RingPtr<EventHeader>> window;  // clones kept past their turn
    while (holder_reader->WaitPoll([&](const RingPtr<EventHeader>& e, int64_t) {
      uint64_t index;
      std::memcpy(&index, ringbuf::PayloadOf(*e).data(), sizeof index);
      holder.sum += index * e->len;
      ++holder.seen;
      window.push_back(e);
      if (window.size() > opt.holder_window) window.pop_front();
    })) {
    }
    window.clear();
    holder_done.store(true, std::memory_order_release);  // pairs with the main loop's acquire
  });

  // Status lines while the pipeline runs. The counters read here are
  // approximate snapshots; the exact checks come after the joins.
  while (!(checker_done.load(std::memory_order_acquire) &&
           holder_done.load(std::memory_order_acquire))) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    double s = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("  %6.2fs  published %10" PRIu64 "  %6.2f M ev/s\n", s,
                published.load(std::memory_order_relaxed),
                published.load(std::memory_order_relaxed) / s / 1e6);
  }
  producer.join();
  checker_thread.join();
  holder_thread.join();
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ring.writer().Reclaim();

  std::printf("final:\n");
  PrintStats(alloc, ring, opt.events, seconds, checker, holder);
  ringbuf::EventPoolsStats ps = alloc.Stats();
  uint32_t in_use = 0;
  for (const ringbuf::SlotPoolStats& p : ps.pools) in_use += p.in_use;
  std::printf("producer waited for a free slot %" PRIu64 " times\n", exhausted_waits);
  bool ok = checker.seen == opt.events && holder.seen == opt.events && checker.in_order &&
            checker.sum == expected_sum && holder.sum == expected_sum && in_use == 0;
  std::printf("%s: %" PRIu64
              " events to 2 readers in %.2f s (%.2f M events/s), "
              "checksums %s, slots in use at the end: %u\n",
              ok ? "ok" : "FAILED", opt.events, seconds, opt.events / seconds / 1e6,
              checker.sum == expected_sum && holder.sum == expected_sum ? "match" : "DIFFER",
              in_use);
  return ok ? 0 : 1;
}

}  // namespace weft::demo
