// NodeRing: entries as RingPtr plus record, control data beside the ring.
#include "node_ring.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "pipeline.h"
#include "pooled_batch.h"
#include "weft/ringbuf/event_allocator.h"

namespace weft::node {
namespace {

ringbuf::RingOptions Small(size_t capacity) {
  ringbuf::RingOptions o;
  o.capacity = capacity;
  o.max_readers = 1;
  return o;
}

EgressEntry Notice(std::string text, std::weak_ptr<const ControlData>* watch = nullptr) {
  auto c = std::make_shared<ControlData>();
  c->reason = std::move(text);
  if (watch != nullptr) *watch = c;
  EgressEntry e;
  e.kind = EgressEntry::Kind::kNotice;
  e.control = std::move(c);
  return e;
}

TEST(NodeRing, ABatchReadsBackAsItWasPublished) {
  ringbuf::EventAllocator alloc;
  EgressRing ring(Small(4));
  Result<EgressRing::Reader> reader = ring.AddReader();
  ASSERT_TRUE(reader.ok());
  EgressEntry e = BatchEntry<EgressEntry>(EgressEntry::Kind::kAccepted, 7,
                                          PoolBatch(alloc, "notes/α", "some update bytes"));
  ASSERT_TRUE(e.frame);
  e.relay = true;
  e.ack_agent = 42;
  e.ack_next_seq = 9;
  e.batch_bytes = e.frame->len;
  e.received_micros = 123456789;
  const ringbuf::EventHeader* slot = e.frame.get();
  ASSERT_TRUE(ring.TryPublish(std::move(e)));

  size_t seen = reader->Poll([&](const EgressEntry::Slot& s, int64_t seq) {
    EgressView v = ring.Read(s, seq);
    EXPECT_EQ(v.kind, EgressEntry::Kind::kAccepted);
    EXPECT_TRUE(v.relay);
    EXPECT_EQ(v.conn, 7u);
    EXPECT_EQ(v.frame.get(), slot);  // the same slot, not a copy
    EXPECT_EQ(v.doc, "notes/α");
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(v.update.data()), v.update.size()),
              "some update bytes");
    EXPECT_EQ(v.ack_agent, 42u);
    EXPECT_EQ(v.ack_next_seq, 9u);
    EXPECT_EQ(v.batch_bytes, slot->len);
    EXPECT_EQ(v.received_micros, 123456789u);
    EXPECT_EQ(v.control, nullptr);
  });
  EXPECT_EQ(seen, 1u);
}

// Every entry's control data reaches the reader, lap after lap: a row is
// emptied only for the entry it belonged to, never under a newer one.
TEST(NodeRing, ControlDataOfEveryLapReachesTheReader) {
  EgressRing ring(Small(4));
  Result<EgressRing::Reader> reader = ring.AddReader();
  ASSERT_TRUE(reader.ok());
  int next = 0;
  int read = 0;
  for (int round = 0; round < 100; ++round) {
    // Fill the ring, read a part of it, so claims land at every offset.
    while (ring.TryPublish(Notice(std::to_string(next)))) ++next;
    reader->Poll(
        [&](const EgressEntry::Slot& s, int64_t seq) {
          EgressView v = ring.Read(s, seq);
          ASSERT_NE(v.control, nullptr) << "entry " << seq;
          EXPECT_EQ(v.control->reason, std::to_string(read));
          ++read;
        },
        1 + round % 4);
  }
  EXPECT_GT(read, 200);
}

// Control data lives as long as its readers need it, not a lap longer: a
// catch-up chunk or a snapshot is let go once the ring reclaims its entry.
TEST(NodeRing, ControlDataIsDroppedOnceItsEntryIsReclaimed) {
  EgressRing ring(Small(8));
  Result<EgressRing::Reader> reader = ring.AddReader();
  ASSERT_TRUE(reader.ok());
  std::vector<std::weak_ptr<const ControlData>> watches(3);
  for (auto& w : watches) ASSERT_TRUE(ring.TryPublish(Notice("held", &w)));
  for (auto& w : watches) EXPECT_FALSE(w.expired()) << "dropped before it was read";
  reader->Poll([](const EgressEntry::Slot&, int64_t) {});
  ring.Reclaim();
  for (auto& w : watches) EXPECT_TRUE(w.expired()) << "kept after every reader passed";
}

}  // namespace
}  // namespace weft::node
