// MergeWorker driven directly through its rings, without sockets or a loop.
#include "merge_worker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <thread>

#include "pooled_batch.h"

namespace weft::node {
namespace {

ringbuf::RingOptions Ingress() {
  ringbuf::RingOptions o;
  o.capacity = 64;
  o.max_readers = 1;
  return o;
}

// A worker holding document `name` with `text`.
std::unique_ptr<MergeWorker> MakeWorker(IngressRing& ingress, const std::string& name,
                                        const std::string& text) {
  std::map<std::string, std::unique_ptr<engine::Doc>> docs;
  auto doc = std::make_unique<engine::Doc>(9);
  EXPECT_TRUE(doc->Insert(0, text).ok());
  docs.emplace(name, std::move(doc));
  Result<std::unique_ptr<MergeWorker>> w =
      MergeWorker::Create(MergeWorkerOptions{}, ingress, std::move(docs));
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  return w.ok() ? std::move(*w) : nullptr;
}

// Feeds `entries` to the worker, closes its ingress and runs it to the end
// on this thread.
void RunToEnd(IngressRing& ingress, MergeWorker& worker, std::vector<IngressEntry> entries) {
  for (IngressEntry& e : entries) EXPECT_TRUE(ingress.TryPublish(std::move(e)));
  ingress.Close();
  worker.Run();
}

IngressEntry Opened(uint64_t conn) {
  IngressEntry e;
  e.kind = IngressEntry::Kind::kConnOpened;
  e.conn = conn;
  e.control = std::make_shared<ControlData>();
  return e;
}

IngressEntry SubscribeTo(uint64_t conn, const std::string& doc) {
  auto c = std::make_shared<ControlData>();
  c->doc = doc;
  IngressEntry e;
  e.kind = IngressEntry::Kind::kSubscribe;
  e.conn = conn;
  e.control = std::move(c);
  return e;
}

// Regression: the egress ring was declared before the worker's pools, so
// the pools were destroyed first and the ring's entries (catch-up batches
// in those pools, never read here) then dropped references into freed
// memory. ASan reports it; release builds corrupted the heap silently.
TEST(MergeWorker, CatchUpLeftOnItsRingOutlivesNothing) {
  IngressRing ingress(Ingress());
  std::unique_ptr<MergeWorker> worker = MakeWorker(ingress, "d", "catch me up");
  {
    // A reader that never reads keeps every entry on the ring.
    Result<EgressRing::Reader> idle = worker->egress().AddReader();
    ASSERT_TRUE(idle.ok());
    RunToEnd(ingress, *worker, {Opened(1), SubscribeTo(1, "d")});
    EXPECT_TRUE(worker->egress().closed());
    EXPECT_GE(worker->egress().Stats().published, 2);  // subscribed, ops, sync done
  }
  worker.reset();
}

// Regression: a worker whose ingress reader could not be registered
// dereferenced the error (an assert, compiled out in release builds).
TEST(MergeWorker, NoRoomOnTheIngressRingIsAnError) {
  IngressRing ingress(Ingress());  // room for one reader
  Result<IngressRing::Reader> taken = ingress.AddReader();
  ASSERT_TRUE(taken.ok());
  Result<std::unique_ptr<MergeWorker>> w = MergeWorker::Create(MergeWorkerOptions{}, ingress);
  EXPECT_FALSE(w.ok());
  MergeWorkerOptions bad;
  bad.egress_capacity = 1000;  // not a power of two
  IngressRing other(Ingress());
  EXPECT_EQ(MergeWorker::Create(std::move(bad), other).status().code(),
            StatusCode::kInvalidArgument);
}

// Schedules of a relaying peer's batches, seeded: three authors edit
// concurrently (each merging some of the others' batches as it goes), and
// the worker gets every batch in a shuffled order, some twice. Whatever
// the order, each batch is answered (accepted, or dropped only if the
// Pending set overflowed, which these sizes do not reach), none is refused,
// and a subscriber catching up afterwards gets the text every author
// converges to.
TEST(MergeWorker, SeededSchedulesOfOneRelayConverge) {
  size_t released_from_pending = 0;  // over all seeds: the schedules reorder
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    std::vector<std::unique_ptr<engine::Doc>> authors;
    for (uint64_t a = 1; a <= 3; ++a) authors.push_back(std::make_unique<engine::Doc>(a));
    struct Batch {
      size_t author;
      std::string update;
    };
    std::vector<Batch> batches;
    // by_author[j]: j's batches in the order j made them; merged[i][j]: how
    // many of them author i has applied.
    std::vector<std::vector<size_t>> by_author(3);
    size_t merged[3][3] = {};
    auto merge_some = [&](size_t i) {
      for (size_t j = 0; j < 3; ++j) {
        if (j == i) continue;
        for (size_t take = rng() % 3; take > 0 && merged[i][j] < by_author[j].size(); --take) {
          const std::string& u = batches[by_author[j][merged[i][j]++]].update;
          // Ops whose causes i lacks wait in its Pending set.
          ASSERT_TRUE(authors[i]->ApplyUpdate(std::as_bytes(std::span(u))).ok());
        }
      }
    };
    for (int step = 0; step < 120; ++step) {
      size_t i = rng() % 3;
      if (rng() % 4 == 0) merge_some(i);
      engine::Doc& d = *authors[i];
      engine::VersionVector before = d.version();
      if (d.size() > 0 && rng() % 3 == 0) {
        uint64_t pos = rng() % d.size();
        ASSERT_TRUE(d.Remove(pos, std::min<uint64_t>(1 + rng() % 3, d.size() - pos)).ok());
      } else {
        std::string text(1 + rng() % 4, static_cast<char>('a' + rng() % 26));
        ASSERT_TRUE(d.Insert(rng() % (d.size() + 1), text).ok());
      }
      by_author[i].push_back(batches.size());
      batches.push_back({i, d.EncodeOpsSince(before)});
    }
    // The order the relay delivers them in: shuffled, a quarter twice.
    std::vector<size_t> order(batches.size());
    for (size_t b = 0; b < order.size(); ++b) order[b] = b;
    for (size_t b = 0; b < batches.size(); ++b) {
      if (rng() % 4 == 0) order.push_back(b);
    }
    std::shuffle(order.begin(), order.end(), rng);

    ringbuf::EventAllocator alloc;
    ringbuf::RingOptions io;
    io.capacity = 1024;
    io.max_readers = 1;
    IngressRing ingress(io);
    Result<std::unique_ptr<MergeWorker>> w = MergeWorker::Create(MergeWorkerOptions{}, ingress);
    ASSERT_TRUE(w.ok());
    Result<EgressRing::Reader> out = (*w)->egress().AddReader();
    ASSERT_TRUE(out.ok());
    std::vector<IngressEntry> entries;
    IngressEntry relay = Opened(1);
    auto control = std::make_shared<ControlData>();
    control->any_agent = true;
    relay.control = control;
    entries.push_back(std::move(relay));
    for (size_t b : order) {
      PooledBatch pb = PoolBatch(alloc, "doc", batches[b].update);
      ASSERT_TRUE(pb.frame);
      entries.push_back(BatchEntry<IngressEntry>(IngressEntry::Kind::kApply, 1, std::move(pb)));
    }
    entries.push_back(Opened(2));
    entries.push_back(SubscribeTo(2, "doc"));
    RunToEnd(ingress, **w, std::move(entries));

    size_t answered = 0, refused = 0;
    engine::Doc subscriber(50);
    out->Poll([&](const EgressEntry::Slot& slot, int64_t seq) {
      const EgressView e = (*w)->egress().Read(slot, seq);
      switch (e.kind) {
        case EgressEntry::Kind::kAccepted:
        case EgressEntry::Kind::kDropped:
          ++answered;
          break;
        case EgressEntry::Kind::kRejected:
          ++refused;
          break;
        case EgressEntry::Kind::kRelayOps:
          ++released_from_pending;
          break;
        case EgressEntry::Kind::kSendOps:
          if (e.conn == 2) {
            EXPECT_TRUE(subscriber.ApplyUpdate(std::as_bytes(std::span(e.control->update))).ok());
          }
          break;
        default:
          break;
      }
    });
    EXPECT_EQ(answered, order.size());
    EXPECT_EQ(refused, 0u);
    // Every author, given every batch, converges to the same text.
    for (auto& a : authors) {
      for (const Batch& b : batches) {
        ASSERT_TRUE(a->ApplyUpdate(std::as_bytes(std::span(b.update))).ok());
      }
    }
    EXPECT_EQ(authors[0]->Text(), authors[1]->Text());
    EXPECT_EQ(authors[0]->Text(), authors[2]->Text());
    EXPECT_EQ(subscriber.Text(), authors[0]->Text());
    EXPECT_EQ(subscriber.version(), authors[0]->version());
  }
  EXPECT_GT(released_from_pending, 0u);
}

}  // namespace
}  // namespace weft::node
