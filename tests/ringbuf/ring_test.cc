#include "weft/ringbuf/ring.h"

#include <gtest/gtest.h>

#include <vector>

#include "weft/ringbuf/ring_ptr.h"
#include "weft/ringbuf/slot_pool.h"

namespace weft::ringbuf {
namespace {

using IntRing = Ring<int64_t>;

RingOptions Small(size_t capacity = 8) {
  RingOptions o;
  o.capacity = capacity;
  o.max_readers = 4;
  o.reclaim_interval = 1024;  // tests call Reclaim() themselves
  return o;
}

// Drains whatever `reader` can see now into a vector.
template <typename R>
std::vector<int64_t> Drain(R& reader, size_t max_batch = SIZE_MAX) {
  std::vector<int64_t> out;
  reader.Poll([&](const int64_t& v, int64_t) { out.push_back(v); }, max_batch);
  return out;
}

TEST(Ring, ValidateRejectsBadOptions) {
  RingOptions o;
  o.capacity = 12;
  EXPECT_EQ(IntRing::Validate(o).code(), StatusCode::kInvalidArgument);
  o.capacity = 0;
  EXPECT_FALSE(IntRing::Validate(o).ok());
  o.capacity = 16;
  EXPECT_TRUE(IntRing::Validate(o).ok());
  o.max_readers = 0;
  EXPECT_FALSE(IntRing::Validate(o).ok());
}

TEST(Ring, EveryReaderSeesEveryEntryInOrder) {
  IntRing ring(Small());
  Result<IntRing::Reader> a = ring.AddReader();
  Result<IntRing::Reader> b = ring.AddReader();
  ASSERT_TRUE(a.ok() && b.ok());
  for (int64_t i = 0; i < 5; ++i) ASSERT_TRUE(ring.writer().TryPublish(i * 10));
  EXPECT_EQ(Drain(*a), (std::vector<int64_t>{0, 10, 20, 30, 40}));
  EXPECT_EQ(Drain(*b), (std::vector<int64_t>{0, 10, 20, 30, 40}));
  EXPECT_TRUE(Drain(*a).empty());
}

TEST(Ring, SlowReaderMakesTryPublishReportFullInsteadOfOverwriting) {
  IntRing ring(Small(8));
  Result<IntRing::Reader> fast = ring.AddReader();
  Result<IntRing::Reader> slow = ring.AddReader();
  for (int64_t i = 0; i < 8; ++i) ASSERT_TRUE(ring.writer().TryPublish(i));
  Drain(*fast);
  EXPECT_FALSE(ring.writer().TryPublish(int64_t{8}));
  EXPECT_EQ(ring.Stats().full, 1u);
  // The slow reader still finds every entry intact.
  EXPECT_EQ(Drain(*slow, 1), std::vector<int64_t>{0});
  EXPECT_TRUE(ring.writer().TryPublish(int64_t{8}));
  EXPECT_FALSE(ring.writer().TryPublish(int64_t{9}));
  EXPECT_EQ(Drain(*slow), (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(Ring, WithoutReadersTheProducerIsNeverHeldBack) {
  IntRing ring(Small(4));
  for (int64_t i = 0; i < 100; ++i) ASSERT_TRUE(ring.writer().TryPublish(i));
  EXPECT_EQ(ring.writer().published(), 99);
}

TEST(Ring, GatedReaderNeverSeesAnEntryBeforeItsGate) {
  IntRing ring(Small());
  Result<IntRing::Reader> a = ring.AddReader();
  Result<IntRing::Reader> b = ring.AddReader({&*a});
  ASSERT_TRUE(a.ok() && b.ok());
  for (int64_t i = 0; i < 5; ++i) ASSERT_TRUE(ring.writer().TryPublish(i));
  EXPECT_TRUE(Drain(*b).empty());
  EXPECT_EQ(Drain(*a, 3).size(), 3u);
  EXPECT_EQ(Drain(*b), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(Drain(*a).size(), 2u);
  EXPECT_EQ(Drain(*b), (std::vector<int64_t>{3, 4}));
}

TEST(Ring, ReaderJoiningLateSeesOnlyLaterEntries) {
  IntRing ring(Small());
  Result<IntRing::Reader> early = ring.AddReader();
  ASSERT_TRUE(ring.writer().TryPublish(int64_t{1}));
  Result<IntRing::Reader> late = ring.AddReader();
  ASSERT_TRUE(ring.writer().TryPublish(int64_t{2}));
  EXPECT_EQ(Drain(*early), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Drain(*late), std::vector<int64_t>{2});
  EXPECT_EQ(late->cursor(), 1);
}

TEST(Ring, DestroyedReaderStopsHoldingTheProducerBack) {
  IntRing ring(Small(4));
  Result<IntRing::Reader> keep = ring.AddReader();
  {
    Result<IntRing::Reader> gone = ring.AddReader();
    for (int64_t i = 0; i < 4; ++i) ASSERT_TRUE(ring.writer().TryPublish(i));
    Drain(*keep);
    EXPECT_FALSE(ring.writer().TryPublish(int64_t{4}));
  }
  EXPECT_TRUE(ring.writer().TryPublish(int64_t{4}));
}

TEST(Ring, ReaderSlotsAndGatesAreBounded) {
  IntRing ring(Small());  // max_readers = 4
  std::vector<IntRing::Reader> readers;
  for (int i = 0; i < 4; ++i) readers.push_back(std::move(*ring.AddReader()));
  Result<IntRing::Reader> fifth = ring.AddReader();
  EXPECT_EQ(fifth.status().code(), StatusCode::kResourceExhausted);
  IntRing other(Small());
  Result<IntRing::Reader> foreign = other.AddReader({&readers[0]});
  EXPECT_EQ(foreign.status().code(), StatusCode::kInvalidArgument);
}

TEST(Ring, PollHonoursTheBatchLimit) {
  IntRing ring(Small());
  Result<IntRing::Reader> r = ring.AddReader();
  for (int64_t i = 0; i < 7; ++i) ASSERT_TRUE(ring.writer().TryPublish(i));
  EXPECT_EQ(Drain(*r, 3).size(), 3u);
  EXPECT_EQ(Drain(*r, 3).size(), 3u);
  EXPECT_EQ(Drain(*r, 3).size(), 1u);
}

TEST(Ring, ClaimsArePartialWhenTheRingIsNearlyFull) {
  IntRing ring(Small(8));
  Result<IntRing::Reader> r = ring.AddReader();
  IntRing::Writer& w = ring.writer();
  IntRing::Writer::Claim c = w.TryClaim(5);
  ASSERT_EQ(c.size(), 5u);
  for (size_t i = 0; i < c.size(); ++i) c[i] = static_cast<int64_t>(100 + i);
  w.Publish(c);
  IntRing::Writer::Claim rest = w.TryClaim(5);
  EXPECT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest.first_sequence(), 5);
  for (size_t i = 0; i < rest.size(); ++i) rest[i] = static_cast<int64_t>(i);
  w.Publish(rest);
  EXPECT_TRUE(w.TryClaim(1).empty());
  EXPECT_EQ(Drain(*r), (std::vector<int64_t>{100, 101, 102, 103, 104, 0, 1, 2}));
}

TEST(Ring, AClaimNeverPublishedIsGivenBack) {
  IntRing ring(Small(8));
  Result<IntRing::Reader> r = ring.AddReader();
  IntRing::Writer& w = ring.writer();
  EXPECT_EQ(w.TryClaim(3).first_sequence(), 0);
  IntRing::Writer::Claim c = w.TryClaim(2);
  EXPECT_EQ(c.first_sequence(), 0);
  c[0] = 7;
  c[1] = 8;
  w.Publish(c);
  EXPECT_EQ(Drain(*r), (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(w.TryClaim(8).size(), 8u);  // the unpublished claim holds nothing back
}

TEST(Ring, TryPublishBatchMovesWhatFits) {
  IntRing ring(Small(4));
  Result<IntRing::Reader> r = ring.AddReader();
  std::vector<int64_t> values = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(ring.writer().TryPublishBatch(values), 4u);
  EXPECT_EQ(Drain(*r), (std::vector<int64_t>{1, 2, 3, 4}));
}

TEST(Ring, BackpressureFollowsTheReadersLag) {
  IntRing ring(Small(8));
  Result<IntRing::Reader> r = ring.AddReader();
  for (int64_t i = 0; i < 6; ++i) ASSERT_TRUE(ring.writer().TryPublish(i));
  EXPECT_DOUBLE_EQ(r->backpressure_ratio(), 0.75);
  EXPECT_FALSE(r->is_under_pressure());
  ASSERT_TRUE(ring.writer().TryPublish(int64_t{6}));
  EXPECT_TRUE(r->is_under_pressure());  // 0.875 > 0.8
  EXPECT_FALSE(r->should_throttle());
  ASSERT_TRUE(ring.writer().TryPublish(int64_t{7}));
  EXPECT_TRUE(r->should_throttle());  // 1.0 >= 0.9
  EXPECT_EQ(r->Stats().lag, 8);
  Drain(*r);
  EXPECT_DOUBLE_EQ(r->backpressure_ratio(), 0.0);
}

TEST(Ring, ClosedRingEndsWaitPollOnceDrained) {
  IntRing ring(Small());
  Result<IntRing::Reader> r = ring.AddReader();
  ASSERT_TRUE(ring.writer().TryPublish(int64_t{1}));
  ring.writer().Close();
  int64_t seen = 0;
  EXPECT_EQ(r->WaitPoll([&](const int64_t& v, int64_t) { seen = v; }), 1u);
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(r->WaitPoll([&](const int64_t&, int64_t) {}), 0u);
  EXPECT_TRUE(ring.closed());
}

TEST(InlineRing, WorksInStaticStorage) {
  static InlineRing<int64_t, 16, YieldingWait> ring;
  Result<Ring<int64_t, YieldingWait>::Reader> r = ring.AddReader();
  ASSERT_TRUE(r.ok());
  for (int64_t i = 0; i < 16; ++i) ASSERT_TRUE(ring.writer().TryPublish(i));
  EXPECT_FALSE(ring.writer().TryPublish(int64_t{16}));
  size_t n = r->Poll([](const int64_t&, int64_t) {});
  EXPECT_EQ(n, 16u);
}

// Entries that own pool slots.
class RingOfRingPtrs : public ::testing::Test {
 protected:
  using PtrRing = Ring<RingPtr<XsEvent>>;

  RingPtr<XsEvent> Make(uint32_t type) {
    Result<RingPtr<XsEvent>> p = pool_.Allocate();
    EXPECT_TRUE(p.ok());
    (*p)->event_type = type;
    (*p)->len = 0;
    return std::move(*p);
  }
  uint32_t InUse() const { return pool_.Stats().in_use; }
  // Options for a ring that reclaims every `interval` publishes.
  static RingOptions Reclaiming(size_t capacity, size_t interval) {
    RingOptions o = Small(capacity);
    o.reclaim_interval = interval;
    return o;
  }

  SlotPool<64> pool_{32};
};

TEST_F(RingOfRingPtrs, RingReferenceIsDroppedOnceTheSlowestReaderPassed) {
  PtrRing ring(Small(8));
  Result<PtrRing::Reader> a = ring.AddReader();
  Result<PtrRing::Reader> b = ring.AddReader();
  for (uint32_t i = 0; i < 4; ++i) ASSERT_TRUE(ring.writer().TryPublish(Make(i)));
  EXPECT_EQ(InUse(), 4u);
  EXPECT_EQ(ring.writer().Reclaim(), 0u);  // nobody has read anything yet
  a->Poll([](const RingPtr<XsEvent>&, int64_t) {});
  EXPECT_EQ(ring.writer().Reclaim(), 0u);  // b has not passed them
  EXPECT_EQ(InUse(), 4u);
  b->Poll([](const RingPtr<XsEvent>&, int64_t) {}, 3);
  EXPECT_EQ(ring.writer().Reclaim(), 3u);
  EXPECT_EQ(InUse(), 1u);
  b->Poll([](const RingPtr<XsEvent>&, int64_t) {});
  EXPECT_EQ(ring.writer().Reclaim(), 1u);
  EXPECT_EQ(InUse(), 0u);
}

TEST_F(RingOfRingPtrs, BorrowedEntriesCostNoRefcountAndClonesOutliveTheRing) {
  PtrRing ring(Small(8));
  Result<PtrRing::Reader> r = ring.AddReader();
  ASSERT_TRUE(ring.writer().TryPublish(Make(1)));
  ASSERT_TRUE(ring.writer().TryPublish(Make(2)));
  RingPtr<XsEvent> kept;
  r->Poll([&](const RingPtr<XsEvent>& e, int64_t) {
    EXPECT_EQ(e.use_count(), 1);  // borrowed in place: only the ring's reference
    if (e->event_type == 2) kept = e;
  });
  ring.writer().Reclaim();
  EXPECT_EQ(InUse(), 1u);
  EXPECT_EQ(kept.use_count(), 1);
  EXPECT_EQ(kept->event_type, 2u);
  kept.reset();
  EXPECT_EQ(InUse(), 0u);
}

TEST_F(RingOfRingPtrs, PublishingReclaimsAsItGoes) {
  PtrRing ring(Reclaiming(16, 4));
  Result<PtrRing::Reader> r = ring.AddReader();
  for (uint32_t i = 0; i < 200; ++i) {
    ASSERT_TRUE(ring.writer().TryPublish(Make(i))) << i;
    r->Poll([](const RingPtr<XsEvent>&, int64_t) {});
    // Never more than one interval's worth (plus the entry just published)
    // is held by the ring after every reader has passed it.
    ASSERT_LE(InUse(), 5u) << i;
  }
}

TEST_F(RingOfRingPtrs, DestroyingTheRingReturnsEverySlot) {
  {
    PtrRing ring(Small(8));
    Result<PtrRing::Reader> r = ring.AddReader();
    for (uint32_t i = 0; i < 8; ++i) ASSERT_TRUE(ring.writer().TryPublish(Make(i)));
    EXPECT_EQ(InUse(), 8u);
  }
  EXPECT_EQ(InUse(), 0u);
  EXPECT_EQ(pool_.CountFreeQuiescent(), 32u);
}

// Takes every slot of the pool: each must come back exactly once (a slot
// returned twice would be handed out twice).
void ExpectEverySlotFreeOnce(SlotPool<64>& pool) {
  std::vector<RingPtr<XsEvent>> all;
  std::vector<bool> seen(pool.capacity());
  for (uint32_t i = 0; i < pool.capacity(); ++i) {
    Result<RingPtr<XsEvent>> p = pool.Allocate();
    ASSERT_TRUE(p.ok()) << i;
    ASSERT_FALSE(seen[p->slot_index()]) << "slot " << p->slot_index() << " handed out twice";
    seen[p->slot_index()] = true;
    all.push_back(std::move(*p));
  }
  EXPECT_FALSE(pool.Allocate().ok());
}

TEST_F(RingOfRingPtrs, ReclaimedEntriesAreNeverDroppedTwice) {
  {
    PtrRing ring(Reclaiming(8, 3));
    Result<PtrRing::Reader> r = ring.AddReader();
    // Laps of the ring through every way of filling entries: TryPublish,
    // Publish, batches, claims written by assignment and by Put, and empty
    // handles. The ring ends holding some live entries and some reclaimed.
    for (uint32_t i = 0; i < 62; ++i) {
      switch (i % 6) {
        case 0:
          ASSERT_TRUE(ring.writer().TryPublish(Make(i)));
          break;
        case 1:
          ring.writer().Publish(Make(i));
          break;
        case 2: {
          PtrRing::Writer::Claim c = ring.writer().TryClaim(1);
          ASSERT_EQ(c.size(), 1u);
          EXPECT_EQ(c[0], nullptr);  // a claim hands out empty handles
          c[0] = Make(i);
          ring.writer().Publish(c);
          break;
        }
        case 3: {
          PtrRing::Writer::Claim c = ring.writer().TryClaim(1);
          ASSERT_EQ(c.size(), 1u);
          c.Put(0, Make(i));
          ring.writer().Publish(c);
          break;
        }
        case 4: {
          RingPtr<XsEvent> one[] = {Make(i)};
          ASSERT_EQ(ring.writer().TryPublishBatch(one), 1u);
          break;
        }
        default:
          ASSERT_TRUE(ring.writer().TryPublish(RingPtr<XsEvent>()));
      }
      if (i % 2 == 0) r->Poll([](const RingPtr<XsEvent>&, int64_t) {});
    }
    ring.writer().Reclaim();
    EXPECT_GT(InUse(), 0u);
  }
  EXPECT_EQ(InUse(), 0u);
  ExpectEverySlotFreeOnce(pool_);
}

TEST_F(RingOfRingPtrs, ReadersSeeWhatWasPublishedOnEveryLap) {
  PtrRing ring(Reclaiming(4, 2));
  Result<PtrRing::Reader> r = ring.AddReader();
  std::vector<uint32_t> seen;
  for (uint32_t i = 0; i < 40; ++i) {
    ring.writer().Publish(i % 3 == 0 ? RingPtr<XsEvent>() : Make(i));
    r->Poll([&](const RingPtr<XsEvent>& e, int64_t) { seen.push_back(e ? e->event_type : ~0u); });
  }
  ASSERT_EQ(seen.size(), 40u);
  for (uint32_t i = 0; i < 40; ++i) EXPECT_EQ(seen[i], i % 3 == 0 ? ~0u : i) << i;
}

// A RingPtr with a record (what the node's rings carry): readers see each
// record with its slot, an entry may be all record (no slot), and the ring
// drops each slot's reference exactly once, by every way of filling entries.
TEST_F(RingOfRingPtrs, RecordsTravelWithTheirSlotsAndEachSlotComesBackOnce) {
  struct Record {
    uint64_t conn;
    uint32_t kind;
  };
  using Entry = RingPtrWith<XsEvent, Record>;
  static_assert(sizeof(Entry) <= 64);
  std::vector<std::pair<uint64_t, uint32_t>> seen;  // (conn, slot's event_type or ~0)
  {
    Ring<Entry> ring(Reclaiming(8, 3));
    Result<Ring<Entry>::Reader> r = ring.AddReader();
    auto read = [&](const Entry& got, int64_t) {
      EXPECT_EQ(got.ptr.use_count(), got.ptr ? 1 : 0);  // borrowed, not copied
      seen.emplace_back(got.record.conn, got.ptr ? got.ptr->event_type : ~0u);
    };
    for (uint32_t i = 0; i < 62; ++i) {
      Entry e{i % 5 == 4 ? RingPtr<XsEvent>() : Make(i), Record{1000 + i, i % 3}};
      switch (i % 4) {
        case 0:
          ASSERT_TRUE(ring.writer().TryPublish(std::move(e)));
          break;
        case 1:
          ring.writer().Publish(std::move(e));
          break;
        case 2: {
          Ring<Entry>::Writer::Claim c = ring.writer().TryClaim(1);
          ASSERT_EQ(c.size(), 1u);
          c.Put(0, std::move(e));
          ring.writer().Publish(c);
          break;
        }
        default: {
          Entry one[] = {std::move(e)};
          ASSERT_EQ(ring.writer().TryPublishBatch(one), 1u);
        }
      }
      if (i % 2 == 1 && i < 60) r->Poll(read);
    }
    ring.writer().Reclaim();
    EXPECT_GT(InUse(), 0u);  // the last entries: not passed by the reader yet
    r->Poll(read);
  }
  ASSERT_EQ(seen.size(), 62u);
  for (uint32_t i = 0; i < 62; ++i) {
    EXPECT_EQ(seen[i].first, 1000 + i);
    EXPECT_EQ(seen[i].second, i % 5 == 4 ? ~0u : i);
  }
  EXPECT_EQ(InUse(), 0u);
  ExpectEverySlotFreeOnce(pool_);
}

}  // namespace
}  // namespace weft::ringbuf

namespace weft::ringbuf {
namespace {

TEST(Ring, PeekedEntriesStayBorrowedUntilReleased) {
  RingOptions o;
  o.capacity = 4;
  o.max_readers = 2;
  Ring<int64_t> ring(o);
  auto first = ring.AddReader();
  auto gated = ring.AddReader({&*first});
  for (int64_t i = 0; i < 4; ++i) ASSERT_TRUE(ring.writer().TryPublish(i));
  std::vector<int64_t> seen;
  EXPECT_EQ(first->Peek([&](const int64_t& v, int64_t) { seen.push_back(v); }, 3), 3u);
  EXPECT_EQ(first->Peek([&](const int64_t& v, int64_t) { seen.push_back(v); }), 1u);
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3}));
  // Not released: the producer may not reuse them, the gated reader sees none.
  EXPECT_FALSE(ring.writer().TryPublish(int64_t{4}));
  EXPECT_EQ(gated->Poll([](const int64_t&, int64_t) {}), 0u);
  first->Release();
  EXPECT_EQ(gated->Poll([](const int64_t&, int64_t) {}), 4u);
  EXPECT_TRUE(ring.writer().TryPublish(int64_t{4}));
}

}  // namespace
}  // namespace weft::ringbuf
