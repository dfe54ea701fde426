// WebSocketStream without sockets: bytes in as a socket would give them,
// payload out to a fake owner that can refuse part of it.
#include "weft/transport/websocket_stream.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace weft::transport {
namespace {

// Records what the stream does; takes at most `budget` payload bytes.
class FakeOwner : public WebSocketStream::Owner {
 public:
  size_t OnPayload(std::span<const std::byte> bytes) override {
    size_t n = std::min(bytes.size(), budget);
    payload.append(reinterpret_cast<const char*>(bytes.data()), n);
    budget -= n;
    return n;
  }
  void WriteRaw(std::string bytes) override { written += bytes; }
  void OnStreamClosed(const std::string& why) override { closed = why; }

  size_t budget = SIZE_MAX;
  std::string payload;
  std::string written;
  std::string closed;
};

// A masked client frame.
std::string Frame(uint8_t opcode, const std::string& payload, bool fin = true) {
  std::string f(1, static_cast<char>((fin ? 0x80 : 0) | opcode));
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(0x80 | payload.size()));
  } else {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(payload.size() >> 8));
    f.push_back(static_cast<char>(payload.size()));
  }
  const char key[4] = {0x0a, 0x1b, 0x2c, 0x3d};
  f.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i) f.push_back(payload[i] ^ key[i % 4]);
  return f;
}

class Stream : public ::testing::Test {
 protected:
  // Hands `bytes` to the stream through ReadBuffer/OnRead, `chunk` at a time.
  void Read(const std::string& bytes, size_t chunk = SIZE_MAX) {
    for (size_t at = 0; at < bytes.size();) {
      std::span<std::byte> buf = ws.ReadBuffer();
      ASSERT_FALSE(buf.empty());
      size_t n = std::min({chunk, buf.size(), bytes.size() - at});
      std::memcpy(buf.data(), bytes.data() + at, n);
      at += n;
      ws.OnRead(n);
    }
  }

  FakeOwner owner;
  WebSocketStream ws{&owner};
};

TEST_F(Stream, BinaryPayloadArrivesInOrderWhateverTheCuts) {
  std::string big(1000, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  std::string in =
      Frame(0x2, "hello ") + Frame(0x2, "wor", false) + Frame(0x0, "ld ") + Frame(0x2, big);
  Read(in, 1);
  EXPECT_EQ(owner.payload, "hello world " + big);
  EXPECT_TRUE(owner.closed.empty());
}

TEST_F(Stream, RefusedPayloadWaitsForResume) {
  owner.budget = 4;
  Read(Frame(0x2, "0123456789") + Frame(0x2, "abc"));
  EXPECT_TRUE(ws.blocked());
  EXPECT_EQ(owner.payload, "0123");
  owner.budget = 3;
  EXPECT_FALSE(ws.Resume());
  EXPECT_EQ(owner.payload, "0123456");
  owner.budget = SIZE_MAX;
  EXPECT_TRUE(ws.Resume());
  EXPECT_EQ(owner.payload, "0123456789abc");
  Read(Frame(0x2, "!"));
  EXPECT_EQ(owner.payload, "0123456789abc!");
}

TEST_F(Stream, PingIsAnsweredWithPong) {
  Read(Frame(0x9, "hi"));
  EXPECT_EQ(owner.written, std::string("\x8a\x02hi", 4));
}

TEST_F(Stream, PeerCloseIsAnsweredAndReported) {
  Read(Frame(0x8, std::string("\x03\xe8", 2)));
  EXPECT_EQ(owner.closed, "peer closed the websocket");
  ASSERT_GE(owner.written.size(), 2u);
  EXPECT_EQ(static_cast<uint8_t>(owner.written[0]), 0x88);
}

TEST_F(Stream, TextMessagesAreRefusedWith1003) {
  Read(Frame(0x1, "text"));
  EXPECT_EQ(owner.payload, "");
  EXPECT_FALSE(owner.closed.empty());
  EXPECT_EQ(owner.written.substr(0, 4), std::string("\x88\x02\x03\xeb", 4));
}

TEST_F(Stream, CloseSendsCodeAndAReasonCutAtACharacter) {
  std::string reason(121, 'r');
  reason += "\xc3\xa9\xc3\xa9";  // "éé": the cut must not split one
  ws.Close(1000, reason);
  ASSERT_GE(owner.written.size(), 4u);
  EXPECT_EQ(static_cast<uint8_t>(owner.written[0]), 0x88);
  size_t len = static_cast<uint8_t>(owner.written[1]);
  EXPECT_LE(len, 125u);
  EXPECT_EQ(owner.written.size(), 2 + len);
  EXPECT_EQ(owner.written.substr(2, 2), std::string("\x03\xe8", 2));
  EXPECT_EQ(owner.written.substr(4), std::string(121, 'r') + "\xc3\xa9");
  Read(Frame(0x2, "late"));
  EXPECT_EQ(owner.payload, "") << "nothing is parsed after a close";
}

TEST(WebSocketFrames, DataHeaderUsesTheShortestLength) {
  EXPECT_EQ(WebSocketStream::DataFrameHeader(125), std::string("\x82\x7d", 2));
  EXPECT_EQ(WebSocketStream::DataFrameHeader(126), std::string("\x82\x7e\x00\x7e", 4));
  EXPECT_EQ(WebSocketStream::DataFrameHeader(65536),
            std::string("\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10));
}

TEST(WebSocketFrames, AcceptKeyMatchesRfc6455Example) {
  EXPECT_EQ(WebSocketAccept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

}  // namespace
}  // namespace weft::transport
