// Redis crashing, restarting, stopping and unreachable; replicas and WAIT.
#include <signal.h>

#include <set>
#include <thread>

#include "redis/store_fixture.h"

namespace weft::testing {
namespace {

using redis::DocImage;
using redis::Entry;
using redis::LinkHealth;
using redis::StreamId;

class FaultTest : public StoreFixture {};

// A writer that keeps `window` appends in flight and appends again what
// failed (as a node does: a batch stays unacked until one append of it is
// confirmed; a duplicate is harmless). Payloads are "p<i>".
struct Writer {
  redis::DocStore* store = nullptr;
  std::string doc;
  int total = 0;
  int window = 64;
  int next = 0;
  int in_flight = 0;
  std::vector<int> retry;
  std::map<int, StreamId> confirmed;
  int failures = 0;

  void Pump() {
    while (in_flight < window && (!retry.empty() || next < total)) {
      int i;
      if (!retry.empty()) {
        i = retry.back();
        retry.pop_back();
      } else {
        i = next++;
      }
      Status s =
          store->Append(doc, AsBytes("p" + std::to_string(i)), [this, i](Result<StreamId> r) {
            --in_flight;
            if (r.ok()) {
              confirmed.emplace(i, *r);
            } else {
              ++failures;
              retry.push_back(i);
            }
          });
      if (!s.ok()) {
        // Disconnected: hold it until the store is back.
        retry.push_back(i);
        return;
      }
      ++in_flight;
    }
  }
  bool done() const { return static_cast<int>(confirmed.size()) == total; }
};

TEST_F(FaultTest, RedisKilledAndRestartedFromItsAofLosesNoConfirmedAppend) {
  std::vector<Status> downs;
  std::set<std::string> followed;
  std::vector<redis::Health> health_seen;
  redis::StoreOptions fo = Options();
  fo.follow.entries = [&](std::string_view, std::span<const Entry> entries) {
    for (const Entry& e : entries) followed.insert(AsString(e.update));
  };
  redis::DocStore* follower = ConnectedStore(fo);
  ASSERT_TRUE(follower->Follow("d", StreamId{}).ok());
  redis::StoreOptions wo = Options();
  wo.health_changed = [&](const redis::Health& h) { health_seen.push_back(h); };
  redis::DocStore* store = ConnectedStore(wo);
  Writer w;
  w.store = store;
  w.doc = "d";
  w.total = 3000;

  // Phase 1: a third of the appends confirmed, more in flight.
  ASSERT_TRUE(RunUntil([&] {
    w.Pump();
    return w.confirmed.size() >= 1000;
  }));
  // Appends sent while Redis is stopped are surely unanswered when it dies
  // (a fast Redis could otherwise have answered all in flight first).
  server_->Pause();
  const int sent_before_pause = w.next;
  w.window += 64;
  w.Pump();
  ASSERT_GT(w.next, sent_before_pause);
  server_->Kill(SIGKILL);
  // Everything in flight fails (never hangs), and both links say so.
  ASSERT_TRUE(RunUntil([&] {
    return w.in_flight == 0 && store->health().writer == LinkHealth::kFailing &&
           follower->health().follower == LinkHealth::kFailing;
  }));
  EXPECT_EQ(store->Append("d", AsBytes("x"), nullptr).code(), StatusCode::kUnavailable);
  std::map<int, StreamId> before_crash = w.confirmed;

  ASSERT_TRUE(server_->Restart().ok());
  // Phase 2: the stores reconnect by themselves and the writer finishes.
  ASSERT_TRUE(RunUntil([&] {
    w.Pump();
    return w.done() && store->health().ok();
  }));
  EXPECT_GT(w.failures, 0);
  EXPECT_GE(store->stats().reconnects, 1u);

  Result<DocImage> image = ReadNow(store, "d");
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  std::set<StreamId> stored_ids;
  std::set<std::string> stored;
  for (const auto& e : image->tail) {
    stored_ids.insert(e.id);
    stored.insert(e.update);
  }
  // Every append confirmed before the crash is there under its id, and
  // every payload made it.
  for (const auto& [i, id] : before_crash) {
    EXPECT_TRUE(stored_ids.count(id)) << "p" << i << " at " << id.ToString();
  }
  for (int i = 0; i < w.total; ++i) EXPECT_TRUE(stored.count("p" + std::to_string(i))) << i;
  // The follower caught up with everything, including what was appended
  // while it was reconnecting.
  ASSERT_TRUE(RunUntil([&] { return followed.size() == static_cast<size_t>(w.total); }));
  bool saw_failing = false;
  for (const redis::Health& h : health_seen) saw_failing |= h.writer == LinkHealth::kFailing;
  EXPECT_TRUE(saw_failing);
  EXPECT_TRUE(health_seen.back().ok());
}

TEST_F(FaultTest, UnreachableRedisFailsFastAndNeverHangs) {
  redis::StoreOptions o = Options();
  o.address.port = FreePort();  // nothing listens there
  // Far beyond the wait below: the refused connect must be noticed as
  // such, not by its deadline (Debian's hiredis libuv adapter drops the
  // poll error; the connection watches for that).
  o.connect_timeout = std::chrono::milliseconds(600000);
  redis::DocStore* s = NewStore(o);
  ASSERT_TRUE(RunUntil(
      [&] {
        redis::Health h = s->health();
        return h.writer == LinkHealth::kFailing && h.follower == LinkHealth::kFailing;
      },
      Seconds(20)));
  EXPECT_FALSE(s->health().last_error.ok());
  bool called = false;
  EXPECT_EQ(s->Append("d", AsBytes("x"), [&](Result<StreamId>) { called = true; }).code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(s->Read("d", [&](Result<DocImage>) { called = true; }).code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(s->AcquireLease("d", [&](Result<bool>) { called = true; }).code(),
            StatusCode::kUnavailable);
  // Follow is remembered, and served once Redis is there.
  EXPECT_TRUE(s->Follow("d", StreamId{}).ok());
  EXPECT_FALSE(called);
}

TEST_F(FaultTest, ASilentRedisTimesOutCommandsThenRecovers) {
  redis::StoreOptions o = Options();
  o.command_timeout = std::chrono::milliseconds(300);
  o.block = std::chrono::milliseconds(200);
  redis::DocStore* s = ConnectedStore(o);
  ASSERT_TRUE(AppendNow(s, "d", "before").ok());
  server_->Pause();  // keeps its sockets, answers nothing
  std::optional<Result<StreamId>> r;
  ASSERT_TRUE(s->Append("d", AsBytes("during"), [&](Result<StreamId> x) { r = x; }).ok());
  ASSERT_TRUE(RunUntil([&] { return r.has_value(); }));
  EXPECT_EQ(r->status().code(), StatusCode::kUnavailable);
  ASSERT_TRUE(RunUntil([&] { return s->health().writer == LinkHealth::kFailing; }));
  server_->Resume();
  // Back by itself; an append that meets a slow moment is tried again, as
  // a node would.
  ASSERT_TRUE(RunUntil([&] { return s->health().ok(); }));
  Result<StreamId> after = Status::Unavailable("not yet");
  for (int tries = 0; tries < 50 && !after.ok(); ++tries) {
    ASSERT_TRUE(RunUntil([&] { return s->health().ok(); }));
    after = AppendNow(s, "d", "after");
  }
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  // The timed-out append may or may not have landed; the others did.
  Result<DocImage> image = ReadNow(s, "d");
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(image->tail.front().update, "before");
  EXPECT_EQ(image->tail.back().update, "after");
}

TEST_F(FaultTest, AnIdleStoreNoticesASilentRedis) {
  // Nothing in flight: the writer's heartbeat PING and the follower's
  // XREAD deadline are what notice, well before the connect timeout.
  // (Regression: a connection's deadline timer stayed armed for the
  // connect timeout after the handshake, so commands' deadlines were
  // checked only once that passed.)
  redis::StoreOptions o = Options();
  o.heartbeat = std::chrono::milliseconds(100);
  o.command_timeout = std::chrono::milliseconds(300);
  o.block = std::chrono::milliseconds(200);
  o.connect_timeout = std::chrono::milliseconds(120000);
  redis::DocStore* s = ConnectedStore(o);
  ASSERT_TRUE(s->Follow("d", StreamId{}).ok());
  server_->Pause();
  ASSERT_TRUE(RunUntil(
      [&] {
        redis::Health h = s->health();
        return h.writer == LinkHealth::kFailing && h.follower == LinkHealth::kFailing;
      },
      Seconds(20)));
  server_->Resume();
  ASSERT_TRUE(RunUntil([&] { return s->health().ok(); }));
}

TEST_F(FaultTest, InFlightBoundRefusesRatherThanQueues) {
  redis::StoreOptions o = Options();
  o.max_in_flight = 4;
  redis::DocStore* s = ConnectedStore(o);
  int done = 0;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(s->Append("d", AsBytes("x"), [&](Result<StreamId>) { ++done; }).ok());
  }
  EXPECT_EQ(s->Append("d", AsBytes("x"), nullptr).code(), StatusCode::kResourceExhausted);
  ASSERT_TRUE(RunUntil([&] { return done == 4; }));
  EXPECT_TRUE(s->Append("d", AsBytes("x"), nullptr).ok());
}

// With a replica: appends confirmed only once WAIT says the replica has
// them; with the replica gone, they fail instead of being confirmed.
class ReplicaTest : public StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    if (HasFatalFailure()) return;
    // Replicas sync at once (Redis waits 5 s by default for more to join).
    ASSERT_TRUE(server_->Command({"CONFIG", "SET", "repl-diskless-sync-delay", "0"}));
    RedisServerOptions ro;
    ro.extra = {"--replicaof", "127.0.0.1", std::to_string(server_->port())};
    Result<std::unique_ptr<RedisServer>> r = RedisServer::Start(ro);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    replica_ = std::move(*r);
    // The replica is usable once the primary counts it as online.
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < until) {
      RedisServer::Reply info = server_->Command({"INFO", "replication"});
      if (info &&
          std::string(info->str, info->len).find("connected_slaves:1") != std::string::npos &&
          std::string(info->str, info->len).find("state=online") != std::string::npos) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "replica never came online";
  }
  std::unique_ptr<RedisServer> replica_;
};

TEST_F(ReplicaTest, WaitHoldsConfirmationsForReplicas) {
  redis::StoreOptions o = Options();
  o.wait_replicas = 1;
  // Generous: a loaded machine may take a while to replicate.
  o.wait_timeout = std::chrono::milliseconds(10000);
  redis::DocStore* s = ConnectedStore(o);
  // Short: with the replica gone, confirmation can never come.
  o.wait_timeout = std::chrono::milliseconds(200);
  o.node_id = 99;
  redis::DocStore* impatient = ConnectedStore(o);
  std::vector<Result<StreamId>> results;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(s->Append("d", AsBytes("r" + std::to_string(i)), [&](Result<StreamId> r) {
                   results.push_back(r);
                 }).ok());
  }
  ASSERT_TRUE(RunUntil([&] { return results.size() == 20; }));
  for (const auto& r : results) EXPECT_TRUE(r.ok()) << r.status().ToString();
  RedisServer::Reply len = replica_->Command({"XLEN", "weft:{d}:ops"});
  ASSERT_TRUE(len);
  EXPECT_EQ(len->integer, 20);

  replica_->Kill(SIGKILL);
  std::optional<Result<StreamId>> lone;
  ASSERT_TRUE(
      impatient->Append("d", AsBytes("unreplicated"), [&](Result<StreamId> r) { lone = r; }).ok());
  ASSERT_TRUE(RunUntil([&] { return lone.has_value(); }));
  EXPECT_EQ(lone->status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace weft::testing
