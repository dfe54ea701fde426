#include "weft/ringbuf/wait_strategy.h"

#include <gtest/gtest.h>

#include <thread>

#include "weft/ringbuf/ring.h"

namespace weft::ringbuf {
namespace {

template <typename Wait>
class WaitStrategyTest : public ::testing::Test {};

using Strategies = ::testing::Types<BusySpinWait, YieldingWait, BackoffWait, LightBackoffWait>;
TYPED_TEST_SUITE(WaitStrategyTest, Strategies);

// A producer that outruns its reader must wait for room (Publish) and the
// reader must wait for entries (WaitPoll); both through the strategy.
TYPED_TEST(WaitStrategyTest, ProducerAndReaderWaitForEachOther) {
  RingOptions o;
  o.capacity = 16;
  Ring<int64_t, TypeParam> ring(o);
  auto reader = ring.AddReader();
  ASSERT_TRUE(reader.ok());
  constexpr int64_t kCount = 100000;
  int64_t expected = 0;
  bool in_order = true;
  std::thread consumer([&] {
    while (reader->WaitPoll([&](const int64_t& v, int64_t) {
      in_order = in_order && v == expected;
      ++expected;
    })) {
    }
  });
  for (int64_t i = 0; i < kCount; ++i) ring.writer().Publish(i);
  ring.writer().Close();
  consumer.join();
  EXPECT_TRUE(in_order);
  EXPECT_EQ(expected, kCount);
}

TEST(BackoffWait, SleepingReaderWakesOnPublish) {
  Ring<int64_t, BackoffWait> ring;
  auto reader = ring.AddReader();
  ASSERT_TRUE(reader.ok());
  int64_t got = -1;
  std::thread consumer([&] { reader->WaitPoll([&](const int64_t& v, int64_t) { got = v; }); });
  // Wait until the reader has given up spinning and yielding and sleeps on
  // the futex, so that the publish below must wake it.
  while (ring.wait_strategy().sleepers() == 0) std::this_thread::yield();
  ring.writer().Publish(int64_t{42});
  consumer.join();
  EXPECT_EQ(got, 42);
}

TEST(BackoffWait, SleepingProducerWakesWhenAReaderFreesRoom) {
  RingOptions o;
  o.capacity = 2;
  Ring<int64_t, BackoffWait> ring(o);
  auto reader = ring.AddReader();
  // One producer thread for all publishes (debug builds assert a single
  // producer): it fills the ring, then waits for room for a third entry.
  std::thread producer([&] {
    for (int64_t i = 0; i < 3; ++i) ring.writer().Publish(i);
  });
  while (ring.wait_strategy().sleepers() == 0) std::this_thread::yield();
  EXPECT_EQ(reader->Poll([](const int64_t&, int64_t) {}, 1), 1u);
  producer.join();
  std::vector<int64_t> rest;
  reader->Poll([&](const int64_t& v, int64_t) { rest.push_back(v); });
  EXPECT_EQ(rest, (std::vector<int64_t>{1, 2}));
}

TEST(BackoffWait, CloseWakesASleepingReader) {
  Ring<int64_t, BackoffWait> ring;
  auto reader = ring.AddReader();
  size_t result = 1;
  std::thread consumer([&] { result = reader->WaitPoll([](const int64_t&, int64_t) {}); });
  while (ring.wait_strategy().sleepers() == 0) std::this_thread::yield();
  ring.writer().Close();
  consumer.join();
  EXPECT_EQ(result, 0u);
}

}  // namespace
}  // namespace weft::ringbuf
