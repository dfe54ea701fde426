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

namespace weft::node {
namespace {

constexpr uint64_t kAuthor = 7;
constexpr uint64_t kConn = 1;    // the client
constexpr uint64_t kRelay = 2;   // a peer node
constexpr uint64_t kReader = 3;  // a subscriber catching up

// One run of the pipeline over a data directory: started from what
// recovery finds there, stopped (as a crash stops it: nothing is
// snapshotted on the way out) by Crash().
class Pipeline {
 public:
  Pipeline(const std::string& dir, persist::FileSystem* fs, engine::VersionVector* recovered,
           uint64_t author = kAuthor)
      : author_(author) {
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
    // The client, a relaying peer node, and a reader for catch-ups.
    for (uint64_t conn : {kConn, kRelay, kReader}) {
      IngressEntry opened;
      opened.kind = IngressEntry::Kind::kConnOpened;
      opened.conn = conn;
      auto control = std::make_shared<ControlData>();
      if (conn == kConn) control->agents = {author_};
      control->any_agent = conn == kRelay;
      opened.control = std::move(control);
      EXPECT_TRUE(Publish(std::move(opened)));
    }
  }

  ~Pipeline() { Crash(); }

  // A batch of document "d" from `conn` (the client, or kRelay for what
  // a peer node relays). False if it could not be handed over.
  bool Send(const std::string& update, uint64_t conn = kConn) {
    PooledBatch pb = PoolBatch(alloc_, "d", update);
    if (!pb.frame) return false;
    return Publish(BatchEntry<IngressEntry>(IngressEntry::Kind::kApply, conn, std::move(pb)));
  }

  // The client's batches the worker accepted since the last call, for
  // relaying to peers (as the loop relays what it broadcasts).
  std::vector<std::string> TakeAccepted() {
    Acked();
    return std::exchange(accepted_, {});
  }

  // What a subscriber catching up with an empty replica gets.
  std::string CatchUp() {
    auto c = std::make_shared<ControlData>();
    c->doc = "d";
    IngressEntry e;
    e.kind = IngressEntry::Kind::kSubscribe;
    e.conn = kReader;
    e.control = std::move(c);
    caught_up_ = std::make_unique<engine::Doc>(99);
    synced_ = false;
    EXPECT_TRUE(Publish(std::move(e)));
    auto until = std::chrono::steady_clock::now() + kDeadline;
    while (!synced_ && std::chrono::steady_clock::now() < until) {
      Acked();
      std::this_thread::yield();
    }
    EXPECT_TRUE(synced_);
    return caught_up_->EncodeOpsSince({});
  }

  // Reads what the worker published; returns the highest `ack_next_seq`
  // among accepted batches now durable. Batches accepted but not durable
  // yet wait in `waiting_`.
  uint64_t Acked() {
    loop_reader_->Poll([&](const EgressEntry::Slot& slot, int64_t seq) {
      const EgressView e = worker_->egress().Read(slot, seq);
      EXPECT_NE(e.kind, EgressEntry::Kind::kRejected) << e.control->reason;
      if (e.kind == EgressEntry::Kind::kAccepted && e.conn == kConn) {
        EXPECT_EQ(e.ack_agent, author_);
        waiting_.push_back({seq, e.ack_next_seq});
        accepted_.emplace_back(reinterpret_cast<const char*>(e.update.data()), e.update.size());
      }
      if (e.kind == EgressEntry::Kind::kSendOps && e.conn == kReader && caught_up_) {
        EXPECT_TRUE(caught_up_->ApplyUpdate(std::as_bytes(std::span(e.control->update))).ok());
      }
      if (e.kind == EgressEntry::Kind::kSendSyncDone && e.conn == kReader) synced_ = true;
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
    ingress_->Close();
    // The worker may wait for egress room: keep reading while it drains.
    auto until = std::chrono::steady_clock::now() + kDeadline;
    while (!worker_->egress().closed()) {
      loop_reader_->Poll([](const EgressEntry::Slot&, int64_t) {});
      // A worker that never finishes fails the test rather than hanging it
      // (the join below would still wait: the thread cannot be abandoned).
      if (std::chrono::steady_clock::now() > until) {
        ADD_FAILURE() << "the worker did not stop";
        break;
      }
      std::this_thread::yield();
    }
    worker_thread_.join();
    loop_reader_->Poll([](const EgressEntry::Slot&, int64_t) {});
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
    while (!ingress_->TryPublish(std::move(e))) {
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
  const uint64_t author_;
  std::vector<Waiting> waiting_;
  uint64_t acked_ = 0;
  std::vector<std::string> accepted_;
  std::unique_ptr<engine::Doc> caught_up_;
  bool synced_ = false;
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

// Three such pipelines, each with its own client, disk and crashes, and a
// seeded network between them: each node relays what its client's batches
// became to the others, late (0-4 steps), sometimes never (one in eight
// dropped), and not at all across a partition that comes and goes. In the
// end the network heals and each node catches the others up (anti-entropy,
// as a peer's Subscribe does); every node then holds the same text, and
// every acknowledged op of every client.
TEST(PipelineSim, SeededNetworksOfThreeConvergeAndLoseNothingAcknowledged) {
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    constexpr size_t kNodes = 3;
    TempDir root;
    struct Node {
      std::string dir;
      support::FullDisk disk;
      std::unique_ptr<engine::Doc> client;
      uint64_t acked = 0;
      engine::VersionVector recovered;
      std::unique_ptr<Pipeline> pipeline;
    };
    std::vector<std::unique_ptr<Node>> nodes;
    for (size_t i = 0; i < kNodes; ++i) {
      auto n = std::make_unique<Node>();
      n->dir = root.str() + "/node" + std::to_string(i);
      n->client = std::make_unique<engine::Doc>(10 + i);
      n->pipeline = std::make_unique<Pipeline>(n->dir, &n->disk, &n->recovered, 10 + i);
      nodes.push_back(std::move(n));
    }
    struct Message {
      size_t to;
      int at;
      std::string update;
    };
    std::vector<Message> network;
    bool partitioned = false;  // node 2 cut off from 0 and 1
    auto cut = [&](size_t a, size_t b) { return partitioned && (a == 2) != (b == 2); };
    for (int step = 0; step < 80; ++step) {
      Node& n = *nodes[rng() % kNodes];
      switch (rng() % 10) {
        case 0:
          n.disk.full = !n.disk.full;
          break;
        case 1: {
          n.acked = std::max(n.acked, n.pipeline->Acked());
          n.pipeline.reset();
          n.disk.full = false;
          n.pipeline = std::make_unique<Pipeline>(n.dir, &n.disk, &n.recovered, n.client->agent());
          ASSERT_GE(n.recovered.Get(n.client->agent()), n.acked)
              << "acked ops lost: step " << step << " agent " << n.client->agent() << " recovered "
              << n.recovered.Get(n.client->agent()) << " acked " << n.acked << " client has "
              << n.client->known_seqs(n.client->agent());
          if (n.recovered.Get(n.client->agent()) < n.client->known_seqs(n.client->agent())) {
            ASSERT_TRUE(n.pipeline->Send(n.client->EncodeOpsSince(n.recovered)));
          }
          break;
        }
        case 2:
          partitioned = !partitioned;
          break;
        default: {
          engine::VersionVector before = n.client->version();
          std::string s(1 + rng() % 3, static_cast<char>('a' + rng() % 26));
          ASSERT_TRUE(n.client->Insert(rng() % (n.client->size() + 1), s).ok());
          ASSERT_TRUE(n.pipeline->Send(n.client->EncodeOpsSince(before)));
          break;
        }
      }
      // Relays go out, and those due arrive.
      for (size_t i = 0; i < kNodes; ++i) {
        for (std::string& u : nodes[i]->pipeline->TakeAccepted()) {
          for (size_t j = 0; j < kNodes; ++j) {
            if (j == i || cut(i, j) || rng() % 8 == 0) continue;
            network.push_back({j, step + static_cast<int>(rng() % 5), u});
          }
        }
        nodes[i]->acked = std::max(nodes[i]->acked, nodes[i]->pipeline->Acked());
      }
      std::shuffle(network.begin(), network.end(), rng);
      std::vector<Message> later;
      for (Message& m : network) {
        if (m.at > step) {
          later.push_back(std::move(m));
        } else {
          ASSERT_TRUE(nodes[m.to]->pipeline->Send(m.update, kRelay));
        }
      }
      network = std::move(later);
    }
    // Heal: disks have room, what is in flight arrives, each client's
    // batches are all acknowledged, then anti-entropy between all pairs.
    for (auto& n : nodes) n->disk.full = false;
    for (Message& m : network) ASSERT_TRUE(nodes[m.to]->pipeline->Send(m.update, kRelay));
    for (auto& n : nodes) {
      const uint64_t agent = n->client->agent(), all = n->client->known_seqs(agent);
      auto until = std::chrono::steady_clock::now() + kDeadline;
      while (std::max(n->recovered.Get(agent), n->pipeline->Acked()) < all &&
             std::chrono::steady_clock::now() < until) {
        std::this_thread::yield();
      }
      EXPECT_EQ(std::max(n->recovered.Get(agent), n->pipeline->Acked()), all);
    }
    std::vector<std::string> states;
    for (auto& n : nodes) states.push_back(n->pipeline->CatchUp());
    for (size_t i = 0; i < kNodes; ++i) {
      for (size_t j = 0; j < kNodes; ++j) {
        if (i != j) {
          ASSERT_TRUE(nodes[j]->pipeline->Send(states[i], kRelay));
        }
      }
    }
    engine::Doc expected(98);
    for (auto& n : nodes) {
      const std::string all = n->client->EncodeOpsSince({});
      ASSERT_TRUE(expected.ApplyUpdate(std::as_bytes(std::span(all))).ok());
    }
    for (size_t i = 0; i < kNodes; ++i) {
      engine::Doc got(97);
      std::string state = nodes[i]->pipeline->CatchUp();
      ASSERT_TRUE(got.ApplyUpdate(std::as_bytes(std::span(state))).ok());
      EXPECT_EQ(got.Text(), expected.Text()) << "node " << i;
      EXPECT_EQ(got.version(), expected.version()) << "node " << i;
    }
  }
}

}  // namespace
}  // namespace weft::node
