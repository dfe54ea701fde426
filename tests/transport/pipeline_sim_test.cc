// The node's pipeline (merge worker, persister, op log, recovery) without
// sockets or a loop, through seeded schedules of typing, full disks and
// crashes. The test plays the loop thread: it publishes a client's
// batches, reads what the worker accepted, and counts a batch acknowledged
// once the persister says it is durable, as the node's ack reader does.
// Whatever the schedule, no acknowledged op is ever missing after a
// restart, and the client, resending what was not acknowledged, ends with
// the node holding exactly its text.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "merge_worker.h"
#include "node_test_util.h"
#include "persister.h"
#include "pooled_batch.h"
#include "support/full_disk.h"
#include "weft/persist/recovery.h"

namespace weft::transport {
namespace {

constexpr uint64_t kAuthor = 7;
constexpr uint64_t kConn = 1;

// One run of the pipeline over a data directory: started from what
// recovery finds there, stopped (as a crash stops it: nothing is
// snapshotted on the way out) by Crash().
class Pipeline {
 public:
  Pipeline(const std::string& dir, persist::FileSystem* fs, engine::VersionVector* recovered) {
    persist::RecoveryOptions ro;
    Result<persist::RecoveredState> r = persist::Recover(dir, ro);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    std::map<std::string, std::unique_ptr<engine::Doc>> docs;
    if (r.ok()) {
      for (auto& [name, doc] : r->docs) {
        *recovered = doc->version();
        docs.emplace(name, std::move(doc));
      }
    }
    ringbuf::RingOptions io;
    io.capacity = 16;
    io.max_readers = 1;
    ingress_ = std::make_unique<IngressRing>(io);
    MergeWorkerOptions wo;
    wo.egress_capacity = 16;
    // As the node's: what the worker publishes wakes the persister.
    wo.wake = [this] { persister_->Wake(); };
    Result<std::unique_ptr<MergeWorker>> w =
        MergeWorker::Create(std::move(wo), *ingress_, std::move(docs));
    EXPECT_TRUE(w.ok());
    worker_ = std::move(*w);
    Result<EgressRing::Reader> persist_reader = worker_->egress().AddReader();
    Result<EgressRing::Reader> loop_reader = worker_->egress().AddReader();
    EXPECT_TRUE(persist_reader.ok() && loop_reader.ok());
    loop_reader_ = std::make_unique<EgressRing::Reader>(std::move(*loop_reader));
    persist::OpLogOptions lo;
    lo.fs = fs;
    Result<std::unique_ptr<persist::OpLogWriter>> log =
        persist::OpLogWriter::Open(persist::LogDir(dir), r.ok() ? r->next_segment : 0, lo);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    PersisterOptions po;
    po.data_dir = dir;
    po.fs = fs;
    std::vector<EgressRing::Reader> readers;
    readers.push_back(std::move(*persist_reader));
    persister_ = std::make_unique<Persister>(std::vector<EgressRing*>{&worker_->egress()},
                                             std::move(readers), std::move(po), std::move(*log),
                                             r.ok() ? &*r : nullptr, nullptr);
    worker_thread_ = std::thread([this] { worker_->Run(); });
    persister_thread_ = std::thread([this] { persister_->Run(); });
    IngressEntry opened;
    opened.kind = IngressEntry::Kind::kConnOpened;
    opened.conn = kConn;
    auto control = std::make_shared<ControlData>();
    control->agents = {kAuthor};
    opened.control = std::move(control);
    EXPECT_TRUE(Publish(std::move(opened)));
  }

  ~Pipeline() { Crash(); }

  // A client batch of document "d". False if it could not be handed over.
  bool Send(const std::string& update) {
    PooledBatch pb = PoolBatch(alloc_, "d", update);
    if (!pb.frame) return false;
    return Publish(BatchEntry<IngressEntry>(IngressEntry::Kind::kApply, kConn, std::move(pb)));
  }

  // Reads what the worker published; returns the highest `ack_next_seq`
  // among accepted batches now durable. Batches accepted but not durable
  // yet wait in `waiting_`.
  uint64_t Acked() {
    loop_reader_->Poll([&](const EgressEntry& e, int64_t seq) {
      EXPECT_NE(e.kind, EgressEntry::Kind::kRejected) << e.control->reason;
      if (e.kind == EgressEntry::Kind::kAccepted && e.ack_agent == kAuthor) {
        waiting_.push_back({seq, e.ack_next_seq});
      }
    });
    const int64_t durable = persister_->durable(0);
    while (!waiting_.empty() && waiting_.front().seq <= durable) {
      acked_ = std::max(acked_, waiting_.front().next_seq);
      waiting_.erase(waiting_.begin());
    }
    return acked_;
  }

  // Stops the worker and the persister. The persister gives up at once on
  // what a failing disk has not taken: it was never acknowledged.
  void Crash() {
    if (!worker_thread_.joinable()) return;
    ingress_->writer().Close();
    // The worker may wait for egress room: keep reading while it drains.
    while (!worker_->egress().closed()) {
      loop_reader_->Poll([](const EgressEntry&, int64_t) {});
      std::this_thread::yield();
    }
    worker_thread_.join();
    loop_reader_->Poll([](const EgressEntry&, int64_t) {});
    persister_->AbandonAfter(std::chrono::milliseconds(0));
    persister_thread_.join();
  }

 private:
  struct Waiting {
    int64_t seq;
    uint64_t next_seq;
  };

  bool Publish(IngressEntry&& e) {
    auto until = std::chrono::steady_clock::now() + kDeadline;
    while (!ingress_->writer().TryPublish(std::move(e))) {
      // The egress ring must flow for the worker to take more.
      Acked();
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::yield();
    }
    persister_->Wake();
    return true;
  }

  ringbuf::EventAllocator alloc_;
  std::unique_ptr<IngressRing> ingress_;
  std::unique_ptr<MergeWorker> worker_;
  std::unique_ptr<EgressRing::Reader> loop_reader_;
  std::unique_ptr<Persister> persister_;
  std::thread worker_thread_, persister_thread_;
  std::vector<Waiting> waiting_;
  uint64_t acked_ = 0;
};

TEST(PipelineSim, SeededCrashesAndFullDisksLoseNothingAcknowledged) {
  for (uint32_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    TempDir dir;
    support::FullDisk disk;
    engine::Doc author(kAuthor);
    uint64_t acked = 0;  // the author's seqs below this are acknowledged
    engine::VersionVector recovered;
    auto pipeline = std::make_unique<Pipeline>(dir.str(), &disk, &recovered);
    int crashes = 0, full_spells = 0;
    for (int step = 0; step < 60; ++step) {
      switch (rng() % 8) {
        case 0:  // the disk fills up, or gets room again
          disk.full = !disk.full;
          full_spells += disk.full ? 1 : 0;
          break;
        case 1: {  // a crash, and a restart from what is on disk
          acked = std::max(acked, pipeline->Acked());
          pipeline->Crash();
          pipeline.reset();
          ++crashes;
          // A node does not start on a full disk (its new log segment
          // cannot be created): room is made first.
          disk.full = false;
          pipeline = std::make_unique<Pipeline>(dir.str(), &disk, &recovered);
          ASSERT_GE(recovered.Get(kAuthor), acked) << "acknowledged ops lost in a crash";
          // The client resends what the node does not hold.
          if (recovered.Get(kAuthor) < author.known_seqs(kAuthor)) {
            ASSERT_TRUE(pipeline->Send(author.EncodeOpsSince(recovered)));
          }
          break;
        }
        default: {  // typing: a few edits, one batch
          engine::VersionVector before = author.version();
          for (int k = 1 + static_cast<int>(rng() % 5); k > 0; --k) {
            if (author.size() > 0 && rng() % 4 == 0) {
              ASSERT_TRUE(author.Remove(rng() % author.size(), 1).ok());
            } else {
              std::string s(1 + rng() % 3, static_cast<char>('a' + rng() % 26));
              ASSERT_TRUE(author.Insert(rng() % (author.size() + 1), s).ok());
            }
          }
          ASSERT_TRUE(pipeline->Send(author.EncodeOpsSince(before)));
          break;
        }
      }
      acked = std::max(acked, pipeline->Acked());
      EXPECT_LE(acked, author.known_seqs(kAuthor));
    }
    // The disk recovers: everything typed is acknowledged in the end, and
    // a restart finds exactly the author's text.
    disk.full = false;
    const uint64_t all = author.known_seqs(kAuthor);
    // Held since the last restart, or acknowledged by this run.
    auto held = [&] { return std::max(recovered.Get(kAuthor), pipeline->Acked()); };
    auto until = std::chrono::steady_clock::now() + kDeadline;
    while (held() < all && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    EXPECT_EQ(held(), all);
    pipeline.reset();
    pipeline = std::make_unique<Pipeline>(dir.str(), &disk, &recovered);
    pipeline.reset();
    Result<persist::RecoveredState> r = persist::Recover(dir.str());
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->docs.count("d"), 1u);
    EXPECT_EQ(r->docs["d"]->Text(), author.Text());
    RecordProperty("crashes_" + std::to_string(seed), crashes);
    RecordProperty("full_spells_" + std::to_string(seed), full_spells);
  }
}

}  // namespace
}  // namespace weft::transport
