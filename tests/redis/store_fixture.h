// StoreFixture: a real redis-server, a libuv loop run by the test thread,
// and DocStores on it, with blocking helpers (AppendNow, ReadNow, ...) that
// run the loop until the callback came. Waits are for conditions, each
// with a deadline, never for a time.
#pragma once

#include <gtest/gtest.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "redis/redis_server.h"
#include "weft/redis/doc_store.h"

namespace weft::testing {

inline std::span<const std::byte> AsBytes(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}
inline std::string AsString(std::span<const std::byte> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

class StoreFixture : public ::testing::Test {
 protected:
  using Seconds = std::chrono::seconds;

  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    Result<std::unique_ptr<RedisServer>> s = RedisServer::Start(ServerOptions());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
  }

  void TearDown() override {
    size_t open = stores_.size();
    for (auto& s : stores_) s->Close([&open] { --open; });
    EXPECT_TRUE(RunUntil([&] { return open == 0; }));
    stores_.clear();
    // Let the closed handles' callbacks run, then the loop must be empty.
    uv_run(&loop_, UV_RUN_NOWAIT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  virtual RedisServerOptions ServerOptions() { return {}; }

  // Options pointing at the fixture's server, with short deadlines.
  redis::StoreOptions Options() {
    redis::StoreOptions o;
    o.address = *redis::ParseRedisUrl(server_->url());
    o.node_id = ++next_node_;
    // Generous: the suite must pass under ASan on a busy machine. Tests of
    // deadlines set their own.
    o.connect_timeout = std::chrono::milliseconds(10000);
    o.command_timeout = std::chrono::milliseconds(10000);
    o.reconnect_min = std::chrono::milliseconds(20);
    o.reconnect_max = std::chrono::milliseconds(200);
    o.trim_min_age = std::chrono::milliseconds(0);
    o.log = [this](const std::string& line) { log_.push_back(line); };
    return o;
  }

  redis::DocStore* NewStore(redis::StoreOptions o) {
    Result<std::unique_ptr<redis::DocStore>> s = redis::DocStore::Create(&loop_, std::move(o));
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return nullptr;
    stores_.push_back(std::move(*s));
    return stores_.back().get();
  }
  redis::DocStore* NewStore() { return NewStore(Options()); }

  redis::DocStore* ConnectedStore(redis::StoreOptions o) {
    redis::DocStore* s = NewStore(std::move(o));
    EXPECT_TRUE(s != nullptr && RunUntil([s] { return s->health().ok(); }));
    return s;
  }
  redis::DocStore* ConnectedStore() { return ConnectedStore(Options()); }

  // Runs the loop until `done()` or the deadline; false on the deadline.
  bool RunUntil(const std::function<bool()>& done, Seconds deadline = Seconds(30)) {
    bool expired = false;
    uv_timer_t timer;
    uv_timer_init(&loop_, &timer);
    timer.data = &expired;
    uv_update_time(&loop_);  // the deadline counts from now, not from the last run
    uv_timer_start(
        &timer, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; },
        static_cast<uint64_t>(std::chrono::milliseconds(deadline).count()), 0);
    while (!done() && !expired) uv_run(&loop_, UV_RUN_ONCE);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
    return done();
  }

  Result<redis::StreamId> AppendNow(redis::DocStore* s, std::string_view doc,
                                    std::string_view bytes) {
    std::optional<Result<redis::StreamId>> out;
    Status st = s->Append(doc, AsBytes(bytes), [&](Result<redis::StreamId> r) { out = r; });
    if (!st.ok()) return st;
    if (!RunUntil([&] { return out.has_value(); })) return Status::Internal("no callback");
    return *out;
  }

  Result<redis::DocImage> ReadNow(redis::DocStore* s, std::string_view doc) {
    std::optional<Result<redis::DocImage>> out;
    Status st = s->Read(doc, [&](Result<redis::DocImage> r) { out = std::move(r); });
    if (!st.ok()) return st;
    if (!RunUntil([&] { return out.has_value(); })) return Status::Internal("no callback");
    return std::move(*out);
  }

  Result<bool> LeaseNow(redis::DocStore* s, std::string_view doc, bool acquire = true) {
    std::optional<Result<bool>> out;
    auto done = [&](Result<bool> r) { out = r; };
    Status st = acquire ? s->AcquireLease(doc, done) : s->ReleaseLease(doc, done);
    if (!st.ok()) return st;
    if (!RunUntil([&] { return out.has_value(); })) return Status::Internal("no callback");
    return *out;
  }

  Result<redis::CompactResult> CompactNow(redis::DocStore* s, std::string_view doc,
                                          redis::StreamId covers, std::string_view snapshot) {
    std::optional<Result<redis::CompactResult>> out;
    Status st = s->Compact(doc, covers, AsBytes(snapshot),
                           [&](Result<redis::CompactResult> r) { out = r; });
    if (!st.ok()) return st;
    if (!RunUntil([&] { return out.has_value(); })) return Status::Internal("no callback");
    return *out;
  }

  // The updates of an image's tail, in order.
  static std::vector<std::string> Updates(const redis::DocImage& image) {
    std::vector<std::string> out;
    for (const auto& e : image.tail) out.push_back(e.update);
    return out;
  }

  uv_loop_t loop_{};
  std::unique_ptr<RedisServer> server_;
  std::vector<std::unique_ptr<redis::DocStore>> stores_;
  std::vector<std::string> log_;
  uint64_t next_node_ = 0;
};

}  // namespace weft::testing
