// WebSocketStream: the server side of a WebSocket (RFC 6455) between a
// socket and a Connection's byte stream.
//
// A WebSocket carries weft's byte stream unchanged: the payloads of the
// binary messages, concatenated, are the same length-prefixed frames a TCP
// connection carries (frame.h), cut anywhere. So a browser speaks the same
// frames, handshake and auth as any client, and the Connection above reads
// them with its usual FrameAssembler.
//
//   socket bytes ──OnRead──► wslay (unmask, control frames) ──payload──► Owner::OnPayload
//   Connection writes ──DataFrameHeader + the frame's own buffers──► socket
//
// Incoming: wslay (libwslay) parses frames, checks masking, answers pings
// and close frames. Payload is passed on as it arrives (no message
// buffering), so memory stays bounded whatever a message's size. When the
// owner takes less than offered (its pools are out of slots, or its host
// refused a frame), the rest is kept and parsing stops until Resume().
// Outgoing weft frames are written by the owner behind DataFrameHeader():
// unmasked, as a server's frames are, and without copying the frame.
//
// Loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct wslay_event_context;

namespace weft::transport {

class WebSocketStream {
 public:
  class Owner {
   public:
    virtual ~Owner() = default;
    // Payload bytes, in order. Returns how many it took; fewer than offered
    // means "no more for now": the stream holds the rest until Resume().
    virtual size_t OnPayload(std::span<const std::byte> bytes) = 0;
    // Bytes for the socket as they are (control frames the stream makes).
    virtual void WriteRaw(std::string bytes) = 0;
    // The peer closed the WebSocket or broke the protocol; `reason` is for
    // the log. The owner closes the socket.
    virtual void OnStreamClosed(const std::string& reason) = 0;
  };

  // `owner` must outlive the stream.
  explicit WebSocketStream(Owner* owner);
  ~WebSocketStream();
  WebSocketStream(const WebSocketStream&) = delete;
  WebSocketStream& operator=(const WebSocketStream&) = delete;

  // Where the next socket read goes (empty while the input buffer is full
  // of bytes held back by a blocked owner).
  std::span<std::byte> ReadBuffer();
  // `n` bytes were read into ReadBuffer(): parses them.
  void OnRead(size_t n);
  // Bytes that arrived before the stream existed (read with the HTTP
  // upgrade request): parses them as if read.
  void Feed(std::span<const std::byte> bytes);

  // True while payload waits for the owner.
  bool blocked() const { return blocked_; }
  // Offers the held payload again, then parses the rest of the input.
  // Returns false if the owner blocked again.
  bool Resume();

  // Sends a close frame (`code`, `reason` cut to fit) and stops parsing.
  // Call once, before closing the socket.
  void Close(uint16_t code, std::string_view reason);

  // The header of one final, unmasked binary frame of `len` payload bytes
  // (RFC 6455 section 5.2): 2, 4 or 10 bytes.
  static std::string DataFrameHeader(size_t len);

 private:
  static constexpr size_t kInputBytes = 16 << 10;

  void Parse();
  void Flush();
  void Deliver(std::span<const std::byte> payload);

  // The wslay callbacks (websocket_stream.cc), with this stream as user data.
  friend struct WslayCallbacks;

  Owner* const owner_;
  wslay_event_context* ctx_ = nullptr;
  // Socket bytes not yet parsed: in_[begin_, end_).
  std::vector<std::byte> in_;
  size_t begin_ = 0;
  size_t end_ = 0;
  // Payload the owner did not take yet (set while blocked_).
  std::vector<std::byte> held_;
  bool blocked_ = false;
  bool binary_ = false;  // the message being received is binary
  bool closed_ = false;  // closed by either side: nothing more is parsed
};

// The Sec-WebSocket-Accept value answering a Sec-WebSocket-Key (RFC 6455
// section 4.2.2): base64(SHA-1(key + the protocol's GUID)).
std::string WebSocketAccept(std::string_view key);

}  // namespace weft::transport
