#include "weft/transport/frame.h"

#include <gtest/gtest.h>

#include <cstring>
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

TEST_F(FrameTest, FramesThatArriveTogetherTakeOneRead) {
  std::vector<std::byte> bytes;
  for (const char* body : {"relay", "ack", "a keystroke"}) {
    std::vector<std::byte> f = Framed(body);
    bytes.insert(bytes.end(), f.begin(), f.end());
  }
  auto buf = asm_.ReadBuffer();
  ASSERT_TRUE(buf.ok());
  ASSERT_EQ(buf->size(), kReadAheadBytes);
  std::memcpy(buf->data(), bytes.data(), bytes.size());
  asm_.Commit(bytes.size());
  for (const char* body : {"relay", "ack", "a keystroke"}) {
    Result<FrameRef> f = asm_.Next();
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE(*f);
    EXPECT_EQ(BodyOf(*f), body);
  }
  Result<FrameRef> none = asm_.Next();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  EXPECT_FALSE(asm_.mid_frame());
}

TEST_F(FrameTest, ALongBodyIsReadStraightIntoItsSlot) {
  std::string body(5000, 'b');
  body[4999] = 'e';
  std::vector<std::byte> bytes = Framed(body);
  std::vector<std::byte> next = Framed("next");
  bytes.insert(bytes.end(), next.begin(), next.end());
  auto head = asm_.ReadBuffer();
  ASSERT_TRUE(head.ok());
  std::memcpy(head->data(), bytes.data(), head->size());
  asm_.Commit(head->size());
  size_t at = head->size();
  Result<FrameRef> partial = asm_.Next();
  ASSERT_TRUE(partial.ok());
  EXPECT_FALSE(*partial);
  // What the read-ahead held went to the slot; the rest of the body is read
  // there directly, and no further: the next frame's bytes wait.
  auto rest = asm_.ReadBuffer();
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), kFramePrefixBytes + body.size() - at);
  std::memcpy(rest->data(), bytes.data() + at, rest->size());
  asm_.Commit(rest->size());
  at += rest->size();
  Result<FrameRef> whole = asm_.Next();
  ASSERT_TRUE(whole.ok());
  ASSERT_TRUE(*whole);
  EXPECT_EQ(BodyOf(*whole), body);
  frames_.push_back(std::move(*whole));
  ASSERT_TRUE(
      Feed(std::vector<std::byte>(bytes.begin() + static_cast<ptrdiff_t>(at), bytes.end())).ok());
  ASSERT_EQ(frames_.size(), 2u);
  EXPECT_EQ(BodyOf(frames_[1]), "next");
}

TEST_F(FrameTest, AStarvedStreamBuffersNoMoreThanTheReadAhead) {
  // Every XS slot taken: the frames read next wait, and the assembler takes
  // no more than its read-ahead of them.
  std::vector<FrameRef> taken;
  for (int i = 0; i < 8; ++i) {
    Result<FrameRef> s = alloc_.AllocateForSize(1);
    ASSERT_TRUE(s.ok());
    taken.push_back(std::move(*s));
  }
  std::vector<std::byte> bytes;
  std::vector<std::string> want;
  for (int i = 0; i < 200; ++i) {
    want.push_back("f" + std::to_string(i));
    std::vector<std::byte> f = Framed(want.back());
    bytes.insert(bytes.end(), f.begin(), f.end());
  }
  size_t used = 0;
  Status s = asm_.Feed(
      bytes, [&](FrameRef&& f) { frames_.push_back(std::move(f)); }, &used);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(frames_.empty());
  EXPECT_LE(used, kReadAheadBytes);
  // Slots come back; a reader takes each frame as it arrives.
  taken.clear();
  size_t at = used;
  std::vector<std::string> got;
  for (int round = 0; round < 1000 && got.size() < want.size(); ++round) {
    s = asm_.Feed(
        std::span(bytes).subspan(at),
        [&](FrameRef&& f) {
          got.push_back(BodyOf(f));  // the slot returns as `f` goes
        },
        &used);
    ASSERT_TRUE(s.ok()) << s.ToString();
    at += used;
  }
  EXPECT_EQ(got, want);
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
