#include "weft/transport/wire_codec.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "op_batch_scan.h"
#include "weft.pb.h"
#include "weft/engine/utf8.h"

namespace weft::transport {
namespace {

namespace pb = ::weft::proto;

// ---- Encoding ---------------------------------------------------------------

void ToProto(const engine::VersionVector& vv, pb::VersionVector* out) {
  for (const auto& [agent, next] : vv.entries()) {
    out->add_agents(agent);
    out->add_next_seqs(next);
  }
}

void ToProto(const WireAnchor& a, pb::Anchor* out) {
  out->set_agent(a.agent);
  out->set_seq(a.seq);
  out->set_right(a.right);
}

template <size_t N>
std::string Bytes(const std::array<uint8_t, N>& a) {
  return std::string(reinterpret_cast<const char*>(a.data()), a.size());
}

struct Encoder {
  pb::Frame* f;
  void operator()(const Hello& m) {
    pb::Hello* h = f->mutable_hello();
    h->set_protocol_version(m.protocol_version);
    h->set_node_id(m.node_id);
    h->set_client_nonce(Bytes(m.client_nonce));
    for (uint64_t a : m.agents) h->add_agents(a);
    h->set_label(m.label);
    h->set_is_node(m.is_node);
  }
  void operator()(const AuthChallenge& m) {
    f->mutable_auth_challenge()->set_server_nonce(Bytes(m.server_nonce));
  }
  void operator()(const AuthProof& m) { f->mutable_auth_proof()->set_proof(Bytes(m.proof)); }
  void operator()(const Welcome& m) {
    pb::Welcome* w = f->mutable_welcome();
    w->set_protocol_version(m.protocol_version);
    w->set_node_id(m.node_id);
    if (m.server_proof) w->set_server_proof(Bytes(*m.server_proof));
    w->set_is_node(m.is_node);
  }
  void operator()(const Subscribe& m) {
    f->mutable_subscribe()->set_doc(m.doc);
    ToProto(m.have, f->mutable_subscribe()->mutable_have());
  }
  void operator()(const OpBatch& m) {
    f->mutable_op_batch()->set_doc(std::string(m.doc));
    f->mutable_op_batch()->set_update(reinterpret_cast<const char*>(m.update.data()),
                                      m.update.size());
  }
  void operator()(const SyncDone& m) {
    f->mutable_sync_done()->set_doc(m.doc);
    ToProto(m.version, f->mutable_sync_done()->mutable_version());
  }
  void operator()(const Ack& m) {
    f->mutable_ack()->set_doc(m.doc);
    ToProto(m.durable, f->mutable_ack()->mutable_durable());
  }
  void operator()(const Presence& m) {
    pb::Presence* p = f->mutable_presence();
    p->set_doc(m.doc);
    p->set_agent(m.agent);
    ToProto(m.cursor, p->mutable_cursor());
    ToProto(m.selection_anchor, p->mutable_selection_anchor());
    p->set_label(m.label);
  }
  void operator()(const Ping& m) {
    f->mutable_ping()->set_nonce(m.nonce);
    f->mutable_ping()->set_sent_micros(m.sent_micros);
  }
  void operator()(const Pong& m) {
    f->mutable_pong()->set_nonce(m.nonce);
    f->mutable_pong()->set_sent_micros(m.sent_micros);
  }
  void operator()(const ErrorFrame& m) {
    f->mutable_error()->set_code(static_cast<pb::Error::Code>(m.code));
    f->mutable_error()->set_reason(m.reason);
  }
};

constexpr uint32_t kOpBatchField = 105;
constexpr uint64_t kLenWireType = 2;

// ---- Validation of parsed messages --------------------------------------------

// Text fields are `bytes` in weft.proto (libprotobuf would log every invalid
// `string` it parses): their UTF-8 is checked here, before anything logs or
// stores them.
Status CheckUtf8(std::string_view text, std::string_view what) {
  if (engine::IsValidUtf8(text)) return Status::Ok();
  return Status::Corruption(std::string(what) + " is not valid UTF-8");
}

Status CheckDoc(std::string_view doc) {
  if (doc.empty()) return Status::Corruption("empty document name");
  if (doc.size() > kMaxDocName) return Status::Corruption("document name over 256 bytes");
  for (char c : doc) {
    if (static_cast<unsigned char>(c) < 0x20) return Status::Corruption("control byte in name");
  }
  return CheckUtf8(doc, "document name");
}

// The first `max` bytes of valid UTF-8 `text`, not cutting a character.
std::string TruncateUtf8(std::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

Result<engine::VersionVector> FromProto(const pb::VersionVector& p) {
  if (p.agents_size() != p.next_seqs_size()) {
    return Status::Corruption("version vector columns differ in length");
  }
  if (static_cast<size_t>(p.agents_size()) > kMaxVersionEntries) {
    return Status::Corruption("version vector too large");
  }
  engine::VersionVector vv;
  std::set<uint64_t> seen;
  for (int i = 0; i < p.agents_size(); ++i) {
    if (!seen.insert(p.agents(i)).second) return Status::Corruption("agent repeated in version");
    vv.Set(p.agents(i), p.next_seqs(i));
  }
  return vv;
}

template <size_t N>
bool CopyExact(const std::string& in, std::array<uint8_t, N>* out) {
  if (in.size() != N) return false;
  std::memcpy(out->data(), in.data(), N);
  return true;
}

WireAnchor FromProto(const pb::Anchor& a) { return WireAnchor{a.agent(), a.seq(), a.right()}; }

Result<Message> FromProto(const pb::Frame& f) {
  switch (f.body_case()) {
    case pb::Frame::kHello: {
      const pb::Hello& p = f.hello();
      Hello m;
      m.protocol_version = p.protocol_version();
      m.node_id = p.node_id();
      if (!CopyExact(p.client_nonce(), &m.client_nonce)) {
        return Status::Corruption("hello: nonce is not 32 bytes");
      }
      if (static_cast<size_t>(p.agents_size()) > kMaxAgentsPerHello) {
        return Status::Corruption("hello: too many agents");
      }
      m.agents.assign(p.agents().begin(), p.agents().end());
      if (p.label().size() > kMaxLabel) return Status::Corruption("hello: label too long");
      WEFT_RETURN_IF_ERROR(CheckUtf8(p.label(), "hello: label"));
      m.label = p.label();
      m.is_node = p.is_node();
      return Message(std::move(m));
    }
    case pb::Frame::kAuthChallenge: {
      AuthChallenge m;
      if (!CopyExact(f.auth_challenge().server_nonce(), &m.server_nonce)) {
        return Status::Corruption("challenge: nonce is not 32 bytes");
      }
      return Message(m);
    }
    case pb::Frame::kAuthProof: {
      AuthProof m;
      if (!CopyExact(f.auth_proof().proof(), &m.proof)) {
        return Status::Corruption("proof is not 32 bytes");
      }
      return Message(m);
    }
    case pb::Frame::kWelcome: {
      Welcome m;
      m.protocol_version = f.welcome().protocol_version();
      m.node_id = f.welcome().node_id();
      m.is_node = f.welcome().is_node();
      if (!f.welcome().server_proof().empty()) {
        Proof proof;
        if (!CopyExact(f.welcome().server_proof(), &proof)) {
          return Status::Corruption("welcome: proof is not 32 bytes");
        }
        m.server_proof = proof;
      }
      return Message(m);
    }
    case pb::Frame::kSubscribe: {
      WEFT_RETURN_IF_ERROR(CheckDoc(f.subscribe().doc()));
      Result<engine::VersionVector> have = FromProto(f.subscribe().have());
      if (!have.ok()) return have.status();
      return Message(Subscribe{f.subscribe().doc(), std::move(*have)});
    }
    case pb::Frame::kSyncDone: {
      WEFT_RETURN_IF_ERROR(CheckDoc(f.sync_done().doc()));
      Result<engine::VersionVector> v = FromProto(f.sync_done().version());
      if (!v.ok()) return v.status();
      return Message(SyncDone{f.sync_done().doc(), std::move(*v)});
    }
    case pb::Frame::kAck: {
      WEFT_RETURN_IF_ERROR(CheckDoc(f.ack().doc()));
      Result<engine::VersionVector> v = FromProto(f.ack().durable());
      if (!v.ok()) return v.status();
      return Message(Ack{f.ack().doc(), std::move(*v)});
    }
    case pb::Frame::kPresence: {
      const pb::Presence& p = f.presence();
      WEFT_RETURN_IF_ERROR(CheckDoc(p.doc()));
      if (p.label().size() > kMaxLabel) return Status::Corruption("presence: label too long");
      WEFT_RETURN_IF_ERROR(CheckUtf8(p.label(), "presence: label"));
      return Message(Presence{p.doc(), p.agent(), FromProto(p.cursor()),
                              FromProto(p.selection_anchor()), p.label()});
    }
    case pb::Frame::kPing:
      return Message(Ping{f.ping().nonce(), f.ping().sent_micros()});
    case pb::Frame::kPong:
      return Message(Pong{f.pong().nonce(), f.pong().sent_micros()});
    case pb::Frame::kError: {
      int code = f.error().code();
      if (code < 0 || code > static_cast<int>(ErrorCode::kStorage)) {
        code = static_cast<int>(ErrorCode::kUnspecified);
      }
      WEFT_RETURN_IF_ERROR(CheckUtf8(f.error().reason(), "error: reason"));
      return Message(
          ErrorFrame{static_cast<ErrorCode>(code), TruncateUtf8(f.error().reason(), kMaxReason)});
    }
    case pb::Frame::kOpBatch:
      // ScanOpBatch recognises every OpBatch protobuf parses.
      return Status::Internal("op batch missed by the in-place scan");
    case pb::Frame::BODY_NOT_SET:
      break;
  }
  return Status::Corruption("frame of unknown type");
}

}  // namespace

std::string_view MessageName(const Message& m) {
  constexpr std::string_view kNames[] = {"hello",     "auth challenge", "auth proof", "welcome",
                                         "subscribe", "op batch",       "sync done",  "ack",
                                         "presence",  "ping",           "pong",       "error"};
  static_assert(std::size(kNames) == std::variant_size_v<Message>);
  return kNames[m.index()];
}

std::string EncodeFrame(const Message& m) {
  pb::Frame f;
  std::visit(Encoder{&f}, m);
  return f.SerializeAsString();
}

namespace {
void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}
}  // namespace

std::string EncodeOpBatchHeader(std::string_view doc, size_t update_len) {
  constexpr uint64_t kDocTag = 1 << 3 | kLenWireType;
  constexpr uint64_t kUpdateTag = 2 << 3 | kLenWireType;
  size_t inner = VarintSize(kDocTag) + VarintSize(doc.size()) + doc.size() +
                 VarintSize(kUpdateTag) + VarintSize(update_len) + update_len;
  std::string out;
  PutVarint(out, uint64_t{kOpBatchField} << 3 | kLenWireType);
  PutVarint(out, inner);
  PutVarint(out, kDocTag);
  PutVarint(out, doc.size());
  out.append(doc);
  PutVarint(out, kUpdateTag);
  PutVarint(out, update_len);
  return out;
}

Result<Message> DecodeFrame(std::span<const std::byte> body) {
  Result<OpBatchScan> scan = ScanOpBatch(body);
  if (!scan.ok()) return scan.status();
  if (scan->is_op_batch) {
    if (scan->replaced_other_bodies) {
      // Rare (no weft encoder writes it): the members the batch replaced
      // must be valid too for the frame to be.
      pb::Frame f;
      if (!f.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
        return Status::Corruption("undecodable frame");
      }
    }
    WEFT_RETURN_IF_ERROR(CheckDoc(scan->batch.doc));
    if (scan->batch.update.empty()) return Status::Corruption("op batch: empty update");
    return Message(scan->batch);
  }
  pb::Frame f;
  if (!f.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return Status::Corruption("undecodable frame");
  }
  return FromProto(f);
}

}  // namespace weft::transport
