// The wire protocol's messages as plain C++ values. wire_codec.cc converts
// them to and from the Protobuf frames of proto/weft.proto; nothing else in
// weft sees the generated types.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "weft/engine/version_vector.h"
#include "weft/transport/auth.h"

namespace weft::transport {

inline constexpr uint32_t kProtocolVersion = 1;
// Limits on decoded fields, checked before anything is allocated for them.
inline constexpr size_t kMaxDocName = 256;
inline constexpr size_t kMaxLabel = 256;
inline constexpr size_t kMaxReason = 1024;
inline constexpr size_t kMaxAgentsPerHello = 1024;
inline constexpr size_t kMaxVersionEntries = 1 << 16;

struct Hello {
  uint32_t protocol_version = kProtocolVersion;
  uint64_t node_id = 0;
  Nonce client_nonce{};
  std::vector<uint64_t> agents;
  std::string label;
  bool is_node = false;  // nodes relay ops of any agent; authors only their own
};
struct AuthChallenge {
  Nonce server_nonce{};
};
struct AuthProof {
  Proof proof{};
};
struct Welcome {
  uint32_t protocol_version = kProtocolVersion;
  uint64_t node_id = 0;
  std::optional<Proof> server_proof;  // absent when the server has no secret
  bool is_node = false;
};
struct Subscribe {
  std::string doc;
  engine::VersionVector have;
};
// The update bytes stay where they arrived: `update` views the frame body.
struct OpBatch {
  std::string_view doc;
  std::span<const std::byte> update;
};
struct SyncDone {
  std::string doc;
  engine::VersionVector version;
};
struct Ack {
  std::string doc;
  engine::VersionVector durable;
};
struct WireAnchor {
  uint64_t agent = 0;
  uint64_t seq = 0;
  bool right = false;
};
struct Presence {
  std::string doc;
  uint64_t agent = 0;
  WireAnchor cursor;
  WireAnchor selection_anchor;
  std::string label;
};
struct Ping {
  uint64_t nonce = 0;
  uint64_t sent_micros = 0;
};
struct Pong {
  uint64_t nonce = 0;
  uint64_t sent_micros = 0;
};
enum class ErrorCode : uint8_t {
  kUnspecified = 0,
  kProtocol = 1,
  kUnsupportedVersion = 2,
  kAuthFailed = 3,
  kMalformed = 4,
  kFrameTooLarge = 5,
  kForeignAgent = 6,
  kOverloaded = 7,
  kTimeout = 8,
  kShuttingDown = 9,
  kStorage = 10,  // the node cannot make ops durable now: retry later
};
struct ErrorFrame {
  ErrorCode code = ErrorCode::kUnspecified;
  std::string reason;
};

using Message = std::variant<Hello, AuthChallenge, AuthProof, Welcome, Subscribe, OpBatch, SyncDone,
                             Ack, Presence, Ping, Pong, ErrorFrame>;

// A short name for logs: "hello", "op batch", ...
std::string_view MessageName(const Message& m);

}  // namespace weft::transport
