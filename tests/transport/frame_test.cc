#include "weft/transport/frame.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace weft::transport {
namespace {

std::vector<std::byte> Framed(const std::string& body) {
  std::vector<std::byte> out;
  auto prefix = EncodeFramePrefix(body.size());
  out.insert(out.end(), prefix.begin(), prefix.end());
  for (char c : body) out.push_back(static_cast<std::byte>(c));
  return out;
}

std::string BodyOf(const FrameRef& f) {
  std::span<const std::byte> p = ringbuf::PayloadOf(*f);
  return std::string(reinterpret_cast<const char*>(p.data()), p.size());
}

class FrameTest : public ::testing::Test {
 protected:
  // Feeds `bytes` in pieces of `chunk` bytes; returns the bodies completed.
  Status Feed(const std::vector<std::byte>& bytes, size_t chunk = SIZE_MAX) {
    for (size_t at = 0; at < bytes.size();) {
      size_t n = std::min(chunk, bytes.size() - at);
      size_t used = 0;
      Status s = asm_.Feed(
          std::span(bytes).subspan(at, n), [&](FrameRef&& f) { frames_.push_back(std::move(f)); },
          &used);
      if (!s.ok()) return s;
      at += n;
    }
    return Status::Ok();
  }
  std::vector<std::string> Bodies() const {
    std::vector<std::string> out;
    for (const FrameRef& f : frames_) out.push_back(BodyOf(f));
    return out;
  }

  ringbuf::EventAllocator alloc_{ringbuf::PoolCapacities{8, 8, 8, 8, 8}};
  FrameAssembler asm_{&alloc_};
  std::vector<FrameRef> frames_;
};

TEST_F(FrameTest, WholeFramesInOneBuffer) {
  std::vector<std::byte> bytes = Framed("hello");
  std::vector<std::byte> second = Framed(std::string(300, 'x'));
  bytes.insert(bytes.end(), second.begin(), second.end());
  ASSERT_TRUE(Feed(bytes).ok());
  ASSERT_EQ(frames_.size(), 2u);
  EXPECT_EQ(Bodies()[0], "hello");
  EXPECT_EQ(Bodies()[1], std::string(300, 'x'));
  EXPECT_EQ(frames_[0]->event_type, kFrameEventType);
  // Each body lands in the smallest slot that holds it.
  EXPECT_EQ(frames_[0].slot_bytes(), sizeof(ringbuf::XsEvent));
  EXPECT_EQ(frames_[1].slot_bytes(), sizeof(ringbuf::MEvent));
  EXPECT_FALSE(asm_.mid_frame());
  EXPECT_EQ(asm_.frames(), 2u);
}

TEST_F(FrameTest, FrameDeliveredOneByteAtATime) {
  std::vector<std::byte> bytes = Framed("one byte at a time");
  std::vector<std::byte> more = Framed("and another");
  bytes.insert(bytes.end(), more.begin(), more.end());
  ASSERT_TRUE(Feed(bytes, 1).ok());
  EXPECT_EQ(Bodies(), (std::vector<std::string>{"one byte at a time", "and another"}));
}

TEST_F(FrameTest, RandomSplitsGiveTheSameFrames) {
  for (uint32_t seed = 1; seed <= 50; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 rng(seed);
    std::vector<std::byte> bytes;
    std::vector<std::string> want;
    for (int i = 0; i < 6; ++i) {
      std::string body(1 + rng() % 5000, static_cast<char>('a' + i));
      want.push_back(body);
      std::vector<std::byte> f = Framed(body);
      bytes.insert(bytes.end(), f.begin(), f.end());
    }
    frames_.clear();
    ASSERT_TRUE(Feed(bytes, 1 + rng() % 700).ok());
    EXPECT_EQ(Bodies(), want);
    frames_.clear();
  }
}

TEST_F(FrameTest, ReadBufferNeverCrossesAFrameBoundary) {
  auto prefix = asm_.ReadBuffer();
  ASSERT_TRUE(prefix.ok());
  EXPECT_EQ(prefix->size(), kFramePrefixBytes);
  auto p = EncodeFramePrefix(10);
  std::memcpy(prefix->data(), p.data(), p.size());
  ASSERT_TRUE(asm_.Commit(p.size()).ok());
  auto body = asm_.ReadBuffer();
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(body->size(), 10u);  // exactly the body: the next prefix is not read here
}

TEST_F(FrameTest, OversizedLengthPrefixIsRejected) {
  std::vector<std::byte> bytes = {std::byte{0x01}, std::byte{0x40}, std::byte{0}, std::byte{0}};
  Status s = Feed(bytes);  // 16385
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("16385"), std::string_view::npos);
  std::vector<std::byte> huge(4, std::byte{0xff});
  FrameAssembler fresh(&alloc_);
  EXPECT_EQ(fresh.Feed(huge, [](FrameRef&&) {}).code(), StatusCode::kCorruption);
  for (const auto& p : alloc_.Stats().pools) EXPECT_EQ(p.in_use, 0u);
}

TEST_F(FrameTest, ZeroLengthFrameIsRejected) {
  std::vector<std::byte> bytes(4, std::byte{0});
  EXPECT_EQ(Feed(bytes).code(), StatusCode::kCorruption);
}

TEST_F(FrameTest, LargestFrameFitsOneXlSlot) {
  std::string body(kMaxFrameBody, 'z');
  ASSERT_TRUE(Feed(Framed(body), 1000).ok());
  ASSERT_EQ(frames_.size(), 1u);
  EXPECT_EQ(BodyOf(frames_[0]), body);
  EXPECT_EQ(frames_[0].slot_bytes(), sizeof(ringbuf::XlEvent));
}

TEST_F(FrameTest, ExhaustedPoolPausesWithoutLosingBytes) {
  // The XS pool has 8 slots: hold 8 frames, and the 9th must wait.
  std::vector<std::byte> bytes;
  for (int i = 0; i < 9; ++i) {
    std::vector<std::byte> f = Framed("frame " + std::to_string(i));
    bytes.insert(bytes.end(), f.begin(), f.end());
  }
  size_t used = 0;
  Status s = asm_.Feed(
      bytes, [&](FrameRef&& f) { frames_.push_back(std::move(f)); }, &used);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(frames_.size(), 8u);
  EXPECT_TRUE(asm_.mid_frame());
  frames_.erase(frames_.begin());  // a reader finished one: its slot returns
  ASSERT_TRUE(asm_.Feed(std::span(bytes).subspan(used),
                        [&](FrameRef&& f) { frames_.push_back(std::move(f)); })
                  .ok());
  ASSERT_EQ(frames_.size(), 8u);
  EXPECT_EQ(BodyOf(frames_.back()), "frame 8");
}

}  // namespace
}  // namespace weft::transport
