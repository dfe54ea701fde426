// MergeWorker driven directly through its rings, without sockets or a loop.
#include "merge_worker.h"

#include <gtest/gtest.h>

#include <memory>

namespace weft::transport {
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
  for (IngressEntry& e : entries) EXPECT_TRUE(ingress.writer().TryPublish(std::move(e)));
  ingress.writer().Close();
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

}  // namespace
}  // namespace weft::transport
