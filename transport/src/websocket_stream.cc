#include "weft/transport/websocket_stream.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <wslay/wslay.h>

#include <algorithm>
#include <cstring>

namespace weft::transport {
namespace {

constexpr uint8_t kFin = 0x80;
constexpr uint8_t kOpBinary = 0x2;
constexpr uint8_t kOpClose = 0x8;
// A close frame's payload is at most 125 bytes: the code, then the reason.
constexpr size_t kMaxCloseReason = 123;

// A frame header: FIN, `opcode`, no mask, and the payload length in the
// shortest of the three forms (7 bits, 16 bits, 64 bits; big-endian).
std::string FrameHeader(uint8_t opcode, size_t len) {
  std::string h(1, static_cast<char>(kFin | opcode));
  if (len < 126) {
    h.push_back(static_cast<char>(len));
  } else if (len <= 0xffff) {
    h.push_back(static_cast<char>(126));
    h.push_back(static_cast<char>(len >> 8));
    h.push_back(static_cast<char>(len));
  } else {
    h.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8) {
      h.push_back(static_cast<char>(static_cast<uint64_t>(len) >> shift));
    }
  }
  return h;
}

// `reason` cut to at most `max` bytes without splitting a UTF-8 sequence
// (a close reason must be valid UTF-8).
std::string_view CutUtf8(std::string_view reason, size_t max) {
  if (reason.size() <= max) return reason;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(reason[n]) & 0xC0) == 0x80) --n;
  return reason.substr(0, n);
}

}  // namespace

// wslay calls these with the stream as user data; they are friends so the
// stream's buffers stay private.
struct WslayCallbacks {
  static ssize_t Recv(wslay_event_context_ptr ctx, uint8_t* buf, size_t len, int, void* user) {
    auto* s = static_cast<WebSocketStream*>(user);
    size_t available = s->end_ - s->begin_;
    // Stop parsing while payload waits for the owner, so at most one
    // chunk is ever held back.
    if (available == 0 || s->blocked_ || s->closed_) {
      wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
      return -1;
    }
    size_t n = std::min(available, len);
    std::memcpy(buf, s->in_.data() + s->begin_, n);
    s->begin_ += n;
    return static_cast<ssize_t>(n);
  }

  static ssize_t Send(wslay_event_context_ptr, const uint8_t* data, size_t len, int, void* user) {
    auto* s = static_cast<WebSocketStream*>(user);
    s->owner_->WriteRaw(std::string(reinterpret_cast<const char*>(data), len));
    return static_cast<ssize_t>(len);
  }

  static void FrameStart(wslay_event_context_ptr ctx,
                         const wslay_event_on_frame_recv_start_arg* arg, void* user) {
    auto* s = static_cast<WebSocketStream*>(user);
    if (wslay_is_ctrl_frame(arg->opcode)) return;
    // A continuation frame keeps the message's kind; a new message sets it.
    if (arg->opcode != WSLAY_CONTINUATION_FRAME) s->binary_ = arg->opcode == WSLAY_BINARY_FRAME;
    if (!s->binary_ && !s->closed_) {
      // weft speaks only binary messages: refuse text as RFC 6455 says
      // (1003, unacceptable data).
      wslay_event_queue_close(ctx, WSLAY_CODE_UNSUPPORTED_DATA, nullptr, 0);
      wslay_event_shutdown_read(ctx);
    }
  }

  static void FrameChunk(wslay_event_context_ptr, const wslay_event_on_frame_recv_chunk_arg* arg,
                         void* user) {
    auto* s = static_cast<WebSocketStream*>(user);
    if (!s->binary_ || s->closed_) return;
    s->Deliver(std::as_bytes(std::span(arg->data, arg->data_length)));
  }
};

WebSocketStream::WebSocketStream(Owner* owner) : owner_(owner), in_(kInputBytes) {
  wslay_event_callbacks callbacks{};
  callbacks.recv_callback = WslayCallbacks::Recv;
  callbacks.send_callback = WslayCallbacks::Send;
  callbacks.on_frame_recv_start_callback = WslayCallbacks::FrameStart;
  callbacks.on_frame_recv_chunk_callback = WslayCallbacks::FrameChunk;
  if (wslay_event_context_server_init(&ctx_, &callbacks, this) != 0) {
    ctx_ = nullptr;
    closed_ = true;
    return;
  }
  // Payload goes to the owner chunk by chunk: a message is never buffered
  // whole, so a client cannot make the node hold a large one.
  wslay_event_config_set_no_buffering(ctx_, 1);
}

WebSocketStream::~WebSocketStream() {
  if (ctx_ != nullptr) wslay_event_context_free(ctx_);
}

std::span<std::byte> WebSocketStream::ReadBuffer() {
  if (begin_ == end_) begin_ = end_ = 0;
  if (end_ == in_.size() && begin_ > 0) {
    std::memmove(in_.data(), in_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  return std::span<std::byte>(in_.data() + end_, in_.size() - end_);
}

void WebSocketStream::OnRead(size_t n) {
  end_ += n;
  Parse();
}

void WebSocketStream::Feed(std::span<const std::byte> bytes) {
  while (!bytes.empty() && !closed_) {
    std::span<std::byte> buf = ReadBuffer();
    if (buf.empty()) {
      // Only early bytes a blocked owner has not taken can fill the buffer;
      // the owner is not blocked before it starts.
      owner_->OnStreamClosed("websocket: too many bytes before the stream started");
      return;
    }
    size_t n = std::min(buf.size(), bytes.size());
    std::memcpy(buf.data(), bytes.data(), n);
    bytes = bytes.subspan(n);
    OnRead(n);
  }
}

void WebSocketStream::Deliver(std::span<const std::byte> payload) {
  if (blocked_) {
    held_.insert(held_.end(), payload.begin(), payload.end());
    return;
  }
  size_t took = owner_->OnPayload(payload);
  if (took < payload.size()) {
    held_.assign(payload.begin() + static_cast<ptrdiff_t>(took), payload.end());
    blocked_ = true;
  }
}

bool WebSocketStream::Resume() {
  if (closed_) return true;
  if (blocked_) {
    size_t took = owner_->OnPayload(held_);
    held_.erase(held_.begin(), held_.begin() + static_cast<ptrdiff_t>(took));
    if (!held_.empty()) return false;
    blocked_ = false;
  }
  Parse();
  return !blocked_;
}

void WebSocketStream::Parse() {
  if (closed_ || blocked_) return;
  int rc = wslay_event_recv(ctx_);
  if (closed_) return;  // the owner closed the stream from a callback
  Flush();
  if (rc != 0) {
    closed_ = true;
    owner_->OnStreamClosed("websocket: cannot parse the stream");
  } else if (wslay_event_get_close_received(ctx_)) {
    closed_ = true;
    owner_->OnStreamClosed("peer closed the websocket");
  } else if (!wslay_event_get_read_enabled(ctx_)) {
    // wslay found a protocol error (an unmasked frame, a bad opcode) or we
    // refused a text message; the close frame saying so is sent.
    closed_ = true;
    owner_->OnStreamClosed("websocket protocol error");
  }
}

void WebSocketStream::Flush() {
  if (ctx_ != nullptr && wslay_event_want_write(ctx_)) wslay_event_send(ctx_);
}

void WebSocketStream::Close(uint16_t code, std::string_view reason) {
  if (closed_) return;
  closed_ = true;
  // Written directly rather than queued in wslay: this may run inside one of
  // wslay's own callbacks, where its send must not be reentered.
  std::string_view cut = CutUtf8(reason, kMaxCloseReason);
  std::string frame = FrameHeader(kOpClose, 2 + cut.size());
  frame.push_back(static_cast<char>(code >> 8));
  frame.push_back(static_cast<char>(code));
  frame.append(cut);
  if (ctx_ != nullptr) wslay_event_shutdown_write(ctx_);
  owner_->WriteRaw(std::move(frame));
}

std::string WebSocketStream::DataFrameHeader(size_t len) { return FrameHeader(kOpBinary, len); }

std::string WebSocketAccept(std::string_view key) {
  static constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string input(key);
  input.append(kGuid);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  // 20 bytes encode as 28 base64 characters, plus the NUL EVP writes.
  unsigned char out[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(out), static_cast<size_t>(n));
}

}  // namespace weft::transport
