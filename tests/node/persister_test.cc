// Persister driven directly through an egress ring, without a node: what
// it makes durable, what it holds back while the disk fails, and how it
// stops.
#include "persister.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "node_test_util.h"
#include "pooled_batch.h"
#include "support/full_disk.h"
#include "weft/engine/doc.h"
#include "weft/persist/recovery.h"

namespace weft::node {
namespace {

// An egress ring as a worker fills it, with the persister as its reader,
// and the persister's thread.
class Rig {
 public:
  Rig(const std::string& data_dir, persist::FileSystem* fs, size_t capacity = 8)
      : ring_(Options(capacity)), author_(1) {
    Result<EgressRing::Reader> reader = ring_.AddReader();
    EXPECT_TRUE(reader.ok());
    persist::OpLogOptions lo;
    lo.fs = fs;
    Result<std::unique_ptr<persist::OpLogWriter>> log =
        persist::OpLogWriter::Open(persist::LogDir(data_dir), 0, lo);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    PersisterOptions po;
    po.data_dir = data_dir;
    po.fs = fs;
    po.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(mu_);
      log_ += line + "\n";
    };
    std::vector<EgressRing::Reader> readers;
    readers.push_back(std::move(*reader));
    persister_ = std::make_unique<Persister>(std::vector<EgressRing*>{&ring_}, std::move(readers),
                                             std::move(po), std::move(*log), nullptr, nullptr);
    thread_ = std::thread([this] {
      persister_->Run();
      done_ = true;
    });
  }
  ~Rig() {
    if (!ring_.closed()) ring_.Close();
    persister_->Wake();
    thread_.join();
  }

  // Types `text` as one batch of document "d" and publishes it as the
  // worker does an accepted batch. Returns its sequence.
  int64_t Accept(const std::string& text) {
    engine::VersionVector before = author_.version();
    EXPECT_TRUE(author_.Insert(author_.size(), text).ok());
    std::string update = author_.EncodeOpsSince(before);
    PooledBatch pb = PoolBatch(alloc_, "d", update);
    EXPECT_TRUE(pb.frame);
    EgressEntry e = BatchEntry<EgressEntry>(EgressEntry::Kind::kAccepted, 1, std::move(pb));
    // Waits for room, with a way out: a persister that stopped releasing
    // the ring fails the test instead of hanging it.
    EXPECT_TRUE(WaitFor([&] { return ring_.TryPublish(std::move(e)); }));
    persister_->Wake();
    return ring_.published();
  }

  void Close() {
    ring_.Close();
    persister_->Wake();
  }
  // Waits (up to the deadline) for `done`.
  template <typename F>
  bool WaitFor(F done) {
    auto until = std::chrono::steady_clock::now() + kDeadline;
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) return false;
      std::this_thread::yield();
    }
    return true;
  }
  bool Finished() const { return done_; }
  std::string Log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  Persister& persister() { return *persister_; }
  const engine::Doc& author() const { return author_; }

 private:
  static ringbuf::RingOptions Options(size_t capacity) {
    ringbuf::RingOptions o;
    o.capacity = capacity;
    o.max_readers = 1;
    return o;
  }

  ringbuf::EventAllocator alloc_;
  EgressRing ring_;
  engine::Doc author_;
  std::unique_ptr<Persister> persister_;
  std::thread thread_;
  std::atomic<bool> done_{false};
  std::mutex mu_;
  std::string log_;
};

std::string Recovered(const std::string& data_dir) {
  Result<persist::RecoveredState> r = persist::Recover(data_dir);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return "<unrecoverable>";
  auto it = r->docs.find("d");
  return it == r->docs.end() ? "" : it->second->Text();
}

TEST(Persister, WhatItCallsDurableIsInTheLog) {
  TempDir dir;
  std::string expected;
  {
    Rig rig(dir.str(), persist::DefaultFileSystem());
    int64_t last = -1;
    for (int i = 0; i < 50; ++i) {
      std::string piece = "batch " + std::to_string(i) + "; ";
      last = rig.Accept(piece);
      expected += piece;
    }
    ASSERT_TRUE(rig.WaitFor([&] { return rig.persister().durable(0) >= last; }));
    // Recovered while the persister still runs: durable means on disk now.
    EXPECT_EQ(Recovered(dir.str()), expected);
    EXPECT_FALSE(rig.persister().failing());
  }
}

// A full disk: nothing more is called durable, the ring keeps flowing (five
// rings' worth goes through a ring of 8), and once the disk has room the
// persister writes what it held, in order, by itself.
TEST(Persister, AFullDiskHoldsDurabilityBackButNotTheRing) {
  TempDir dir;
  support::FullDisk disk;
  Rig rig(dir.str(), &disk);
  int64_t first = rig.Accept("before. ");
  ASSERT_TRUE(rig.WaitFor([&] { return rig.persister().durable(0) >= first; }));
  disk.full = true;
  int64_t last = first;
  for (int i = 0; i < 40; ++i) last = rig.Accept("held " + std::to_string(i) + ". ");
  EXPECT_TRUE(rig.WaitFor([&] { return rig.persister().failing(); }));
  EXPECT_LT(rig.persister().durable(0), last);
  // Logged just after failing() is set.
  EXPECT_TRUE(rig.WaitFor([&] {
    return rig.Log().find("persistence failing") != std::string::npos;
  })) << rig.Log();
  disk.full = false;
  ASSERT_TRUE(rig.WaitFor([&] { return rig.persister().durable(0) >= last; }));
  EXPECT_FALSE(rig.persister().failing());
  EXPECT_TRUE(rig.WaitFor([&] {
    return rig.Log().find("persistence recovered") != std::string::npos;
  })) << rig.Log();
  EXPECT_EQ(Recovered(dir.str()), rig.author().Text());
}

// Stopping while the disk stays full: the persister gives up after the
// grace it was given (a bounded shutdown), having called none of what it
// held durable, and the log still recovers to what was.
TEST(Persister, ItStopsAfterTheGraceWhenTheDiskStaysFull) {
  TempDir dir;
  support::FullDisk disk;
  Rig rig(dir.str(), &disk);
  int64_t first = rig.Accept("kept. ");
  ASSERT_TRUE(rig.WaitFor([&] { return rig.persister().durable(0) >= first; }));
  disk.full = true;
  for (int i = 0; i < 5; ++i) rig.Accept("lost " + std::to_string(i) + ". ");
  EXPECT_TRUE(rig.WaitFor([&] { return rig.persister().failing(); }));
  rig.Close();
  // Closed but holding: it keeps retrying until told when to give up.
  rig.persister().AbandonAfter(std::chrono::milliseconds(20));
  EXPECT_TRUE(rig.WaitFor([&] { return rig.Finished(); }));
  EXPECT_EQ(rig.persister().durable(0), first);
  EXPECT_NE(rig.Log().find("not stored (never acknowledged)"), std::string::npos) << rig.Log();
  disk.full = false;
  EXPECT_EQ(Recovered(dir.str()), "kept. ");
}

}  // namespace
}  // namespace weft::node
