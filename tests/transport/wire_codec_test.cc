#include "weft/transport/wire_codec.h"

#include <google/protobuf/stubs/logging.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>

#include "weft.pb.h"
#include "weft/engine/doc.h"
#include "weft/engine/utf8.h"

namespace weft::transport {
namespace {

std::span<const std::byte> AsBytes(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

engine::VersionVector Vv(std::initializer_list<std::pair<uint64_t, uint64_t>> entries) {
  engine::VersionVector vv;
  for (auto [a, n] : entries) vv.Set(a, n);
  return vv;
}

template <typename T>
T RoundTrip(const T& m) {
  std::string body = EncodeFrame(Message(m));
  Result<Message> back = DecodeFrame(AsBytes(body));
  EXPECT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(std::holds_alternative<T>(*back)) << MessageName(*back);
  return std::get<T>(*back);
}

TEST(WireCodec, HandshakeMessagesRoundTrip) {
  Hello h;
  h.node_id = 0xfeedbeef12345678;
  h.client_nonce.fill(7);
  h.agents = {1, 2, 0xffffffffffffffff};
  h.label = "alice";
  Hello h2 = RoundTrip(h);
  EXPECT_EQ(h2.node_id, h.node_id);
  EXPECT_EQ(h2.client_nonce, h.client_nonce);
  EXPECT_EQ(h2.agents, h.agents);
  EXPECT_EQ(h2.label, "alice");
  EXPECT_EQ(h2.protocol_version, kProtocolVersion);

  AuthChallenge c;
  c.server_nonce.fill(9);
  EXPECT_EQ(RoundTrip(c).server_nonce, c.server_nonce);
  AuthProof p;
  p.proof.fill(3);
  EXPECT_EQ(RoundTrip(p).proof, p.proof);
  Welcome w;
  w.node_id = 5;
  EXPECT_FALSE(RoundTrip(w).server_proof.has_value());
  w.server_proof = p.proof;
  EXPECT_EQ(RoundTrip(w).server_proof, p.proof);
}

TEST(WireCodec, SyncMessagesRoundTrip) {
  Subscribe s{"notes.md", Vv({{1, 10}, {99, 3}})};
  Subscribe s2 = RoundTrip(s);
  EXPECT_EQ(s2.doc, "notes.md");
  EXPECT_EQ(s2.have, s.have);
  EXPECT_EQ(RoundTrip(SyncDone{"d", Vv({{4, 4}})}).version, Vv({{4, 4}}));
  EXPECT_EQ(RoundTrip(Ack{"d", Vv({{4, 8}})}).durable, Vv({{4, 8}}));
  Presence pr{"d", 7, WireAnchor{7, 12, true}, WireAnchor{0, 0, false}, "bob"};
  Presence pr2 = RoundTrip(pr);
  EXPECT_EQ(pr2.cursor.seq, 12u);
  EXPECT_TRUE(pr2.cursor.right);
  EXPECT_EQ(pr2.label, "bob");
  EXPECT_EQ(RoundTrip(Ping{1, 2}).sent_micros, 2u);
  EXPECT_EQ(RoundTrip(Pong{3, 4}).nonce, 3u);
  ErrorFrame e{ErrorCode::kForeignAgent, "agent 9 not announced"};
  EXPECT_EQ(RoundTrip(e).code, ErrorCode::kForeignAgent);
  EXPECT_EQ(RoundTrip(e).reason, e.reason);
}

TEST(WireCodec, OpBatchIsDecodedInPlace) {
  std::string update = "\x01\x02 some update bytes";
  std::string body = EncodeFrame(Message(OpBatch{"doc", AsBytes(update)}));
  Result<Message> m = DecodeFrame(AsBytes(body));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  const OpBatch& b = std::get<OpBatch>(*m);
  EXPECT_EQ(b.doc, "doc");
  ASSERT_EQ(b.update.size(), update.size());
  EXPECT_EQ(std::memcmp(b.update.data(), update.data(), update.size()), 0);
  // The views point into the body: nothing was copied.
  const std::byte* begin = AsBytes(body).data();
  EXPECT_GE(b.update.data(), begin);
  EXPECT_LE(b.update.data() + b.update.size(), begin + body.size());
  EXPECT_GE(reinterpret_cast<const std::byte*>(b.doc.data()), begin);
}

TEST(WireCodec, BadFramesAreCorruption) {
  struct Case {
    const char* name;
    std::string body;
  };
  Hello short_nonce;
  std::string hello = EncodeFrame(Message(short_nonce));
  std::string batch = EncodeFrame(Message(OpBatch{"doc", AsBytes(std::string("xyz"))}));
  std::string update_less = EncodeFrame(Message(OpBatch{"doc", {}}));
  std::string nameless = EncodeFrame(Message(OpBatch{"", AsBytes(std::string("xyz"))}));
  const Case cases[] = {
      {"empty body", ""},
      {"unknown field 200", std::string("\xc2\x0c\x00", 3)},
      {"garbage", "\xff\xff\xff\xff\xff"},
      {"truncated op batch", batch.substr(0, batch.size() - 1)},
      {"op batch without update", update_less},
      {"op batch without doc", nameless},
      {"truncated hello", hello.substr(0, hello.size() / 2)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<Message> m = DecodeFrame(AsBytes(c.body));
    EXPECT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::kCorruption);
  }
}

// ---- Any valid encoding of an OpBatch ------------------------------------------
//
// The in-place OpBatch decoder must accept exactly what protobuf's generated
// parser accepts (weft.proto is the wire spec), and read the same doc and
// update from it. Frames are built from random valid encodings (fields in
// any order, repeated, unknown fields of every wire type, overlong varints,
// other oneof members), then also damaged byte by byte.

// Appends protobuf wire format; `pad` adds redundant continuation bytes to
// a varint (a valid, overlong encoding).
struct WireWriter {
  std::string out;
  void Varint(uint64_t v, int pad = 0) {
    while (v >= 0x80 || pad > 0) {
      out.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
      if (v == 0 && pad > 0) --pad;
    }
    out.push_back(static_cast<char>(v));
  }
  void Tag(uint32_t field, uint32_t wire_type, int pad = 0) {
    Varint(uint64_t{field} << 3 | wire_type, pad);
  }
  void Bytes(uint32_t field, const std::string& value, int pad = 0) {
    Tag(field, 2, pad);
    Varint(value.size(), pad);
    out += value;
  }
};

class RandomFrames {
 public:
  explicit RandomFrames(uint32_t seed) : rng_(seed) {}

  std::string Frame() {
    WireWriter w;
    int n = 1 + static_cast<int>(rng_() % 4);
    for (int i = 0; i < n; ++i) {
      switch (rng_() % 4) {
        case 0:
          Unknown(w, 3);
          break;
        case 1: {  // another oneof member: a Ping, or bytes that may not parse
          weft::proto::Ping ping;
          ping.set_nonce(rng_());
          w.Bytes(100 + static_cast<uint32_t>(rng_() % 12 == 5 ? 9 : rng_() % 12),
                  rng_() % 4 == 0 ? RandomBytes(6) : ping.SerializeAsString(), Pad());
          break;
        }
        default:
          w.Bytes(105, OpBatchBody(), Pad());
          break;
      }
    }
    return w.out;
  }

  std::string Damage(std::string body) {
    if (body.empty()) return body;
    switch (rng_() % 3) {
      case 0:
        body[rng_() % body.size()] = static_cast<char>(rng_());
        break;
      case 1:
        body.resize(rng_() % body.size());
        break;
      default:
        body.insert(rng_() % body.size(), 1, static_cast<char>(rng_()));
        break;
    }
    return body;
  }

 private:
  int Pad() { return rng_() % 5 == 0 ? static_cast<int>(rng_() % 3) : 0; }

  std::string RandomBytes(size_t max) {
    std::string s(rng_() % (max + 1), '\0');
    for (char& c : s) c = static_cast<char>(rng_());
    return s;
  }

  std::string OpBatchBody() {
    WireWriter w;
    int n = static_cast<int>(rng_() % 5);
    for (int i = 0; i < n; ++i) {
      switch (rng_() % 4) {
        case 0: {
          std::string doc(rng_() % 4, 'a');
          for (char& c : doc) c = static_cast<char>('a' + rng_() % 26);
          w.Bytes(1, doc, Pad());
          break;
        }
        case 1:
          w.Bytes(2, RandomBytes(12), Pad());
          break;
        default:
          Unknown(w, 2);
          break;
      }
    }
    return w.out;
  }

  // An unknown field (or a known number under another wire type), groups
  // nested up to `depth`.
  void Unknown(WireWriter& w, int depth) {
    static constexpr uint32_t kNumbers[] = {1, 2, 3, 15, 16, 99, 105, 112, 2047, 536870911};
    uint32_t field = kNumbers[rng_() % std::size(kNumbers)];
    uint32_t wire_type = static_cast<uint32_t>(rng_() % 5);
    if (wire_type == 4) wire_type = 5;
    if (wire_type == 3 && depth == 0) wire_type = 0;
    if (wire_type == 2 && (field == 105 || field == 1 || field == 2)) wire_type = 0;
    w.Tag(field, wire_type, Pad());
    switch (wire_type) {
      case 0:
        w.Varint(rng_() % 2 ? rng_() : (uint64_t{rng_()} << 40), Pad());
        break;
      case 1:
        w.out += RandomBytes(0) + std::string(8, 'x');
        break;
      case 2:
        w.Varint(3, Pad());
        w.out += "abc";
        break;
      case 3:
        for (int i = static_cast<int>(rng_() % 3); i > 0; --i) Unknown(w, depth - 1);
        w.Tag(field, 4);
        break;
      case 5:
        w.out += "wxyz";
        break;
    }
  }

  std::mt19937 rng_;
};

// Set when protobuf refused a doc name for not being UTF-8 (it logs that
// as it fails the parse); weft reads names as bytes.
bool g_protobuf_saw_bad_utf8 = false;

void NoteUtf8Errors(google::protobuf::LogLevel, const char*, int, const std::string& message) {
  if (message.find("UTF-8") != std::string::npos) g_protobuf_saw_bad_utf8 = true;
}

std::string Hex(const std::string& s) {
  std::string out;
  char buf[4];
  for (char c : s) {
    std::snprintf(buf, sizeof buf, "%02x ", static_cast<uint8_t>(c));
    out += buf;
  }
  return out;
}

// What protobuf makes of `body` and what DecodeFrame makes of it agree.
void ExpectAgreesWithProtobuf(const std::string& body) {
  SCOPED_TRACE(Hex(body));
  weft::proto::Frame f;
  g_protobuf_saw_bad_utf8 = false;
  google::protobuf::LogHandler* before = google::protobuf::SetLogHandler(NoteUtf8Errors);
  bool parsed = f.ParseFromArray(body.data(), static_cast<int>(body.size()));
  google::protobuf::SetLogHandler(before);
  Result<Message> m = DecodeFrame(AsBytes(body));
  const OpBatch* ours = m.ok() ? std::get_if<OpBatch>(&*m) : nullptr;
  if (!parsed && g_protobuf_saw_bad_utf8) return;
  if (!parsed || f.body_case() != weft::proto::Frame::kOpBatch) {
    EXPECT_EQ(ours, nullptr) << "an op batch protobuf does not see";
    if (!parsed) {
      EXPECT_FALSE(m.ok());
    }
    return;
  }
  const std::string& doc = f.op_batch().doc();
  const std::string& update = f.op_batch().update();
  bool valid_doc = !doc.empty() && doc.size() <= kMaxDocName &&
                   std::none_of(doc.begin(), doc.end(),
                                [](char c) { return static_cast<unsigned char>(c) < 0x20; }) &&
                   engine::IsValidUtf8(doc);
  if (!valid_doc || update.empty()) {
    EXPECT_FALSE(m.ok()) << "an op batch without a doc or an update";
    return;
  }
  ASSERT_NE(ours, nullptr) << (m.ok() ? std::string(MessageName(*m)) : m.status().ToString());
  EXPECT_EQ(ours->doc, doc);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ours->update.data()), ours->update.size()),
            update);
}

// Regression: the hand-written decoder refused valid encodings that put
// the batch's fields in another order, repeated them or added fields.
TEST(WireCodec, AnyValidEncodingOfAnOpBatchIsAccepted) {
  std::string update = "\x01\x02update";
  struct Case {
    const char* name;
    std::string body;
  };
  auto batch = [](const std::vector<std::pair<uint32_t, std::string>>& fields) {
    WireWriter inner;
    for (const auto& [field, value] : fields) inner.Bytes(field, value);
    return inner.out;
  };
  auto frame = [](const std::vector<std::string>& members, const std::string& after = "") {
    WireWriter w;
    for (const std::string& m : members) w.Bytes(105, m);
    return w.out + after;
  };
  WireWriter ping;
  ping.Bytes(109, "\x08\x07");
  const Case cases[] = {
      {"update before doc", frame({batch({{2, update}, {1, "doc"}})})},
      {"unknown field after the batch", frame({batch({{1, "doc"}, {2, update}})}, "\x08\x01")},
      {"unknown field inside", frame({batch({{1, "doc"}, {7, "zz"}, {2, update}})})},
      {"batch in two pieces", frame({batch({{1, "doc"}}), batch({{2, update}})})},
      {"doc repeated, last wins", frame({batch({{1, "old"}, {2, update}, {1, "doc"}})})},
      {"a ping replaced by the batch", ping.out + frame({batch({{1, "doc"}, {2, update}})})},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<Message> m = DecodeFrame(AsBytes(c.body));
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    ASSERT_TRUE(std::holds_alternative<OpBatch>(*m)) << MessageName(*m);
    EXPECT_EQ(std::get<OpBatch>(*m).doc, "doc");
    EXPECT_EQ(std::get<OpBatch>(*m).update.size(), update.size());
    ExpectAgreesWithProtobuf(c.body);
  }
  // A batch replaced by a later member is that member.
  std::string replaced = frame({batch({{1, "doc"}, {2, update}})}) + ping.out;
  Result<Message> m = DecodeFrame(AsBytes(replaced));
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(std::holds_alternative<Ping>(*m));
}

TEST(WireCodec, OpBatchDecodingAgreesWithProtobuf) {
  for (uint32_t seed = 1; seed <= 3; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    RandomFrames gen(seed);
    for (int i = 0; i < 5000; ++i) {
      std::string body = gen.Frame();
      ExpectAgreesWithProtobuf(body);
      ExpectAgreesWithProtobuf(gen.Damage(body));
      if (HasFailure()) return;
    }
  }
}

TEST(WireCodec, NonceAndVersionVectorsAreValidated) {
  // A Hello whose nonce is 31 bytes: hand-built, since the encoder cannot.
  Hello h;
  std::string ok = EncodeFrame(Message(h));
  ASSERT_TRUE(DecodeFrame(AsBytes(ok)).ok());
  std::string body = ok;
  size_t at = body.find(std::string(32, '\0'));
  ASSERT_NE(at, std::string::npos);
  body.erase(at, 1);
  body[at - 1] = 31;  // the nonce's length byte
  // Bytes 0-1 are the Frame's tag for field 100, byte 2 the Hello's length.
  ASSERT_EQ(static_cast<uint8_t>(body[0]), 0xa2);
  body[2] = static_cast<char>(body[2] - 1);
  Status s = DecodeFrame(AsBytes(body)).status();
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("nonce"), std::string_view::npos) << s.ToString();
}

TEST(WireCodec, HostileVersionVectorsAreRejected) {
  struct Case {
    const char* name;
    std::vector<uint64_t> agents, seqs;
  };
  const Case cases[] = {
      {"columns differ", {1, 2}, {5}},
      {"agent repeated", {3, 3}, {1, 2}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    weft::proto::Frame f;
    f.mutable_subscribe()->set_doc("d");
    for (uint64_t a : c.agents) f.mutable_subscribe()->mutable_have()->add_agents(a);
    for (uint64_t n : c.seqs) f.mutable_subscribe()->mutable_have()->add_next_seqs(n);
    EXPECT_EQ(DecodeFrame(AsBytes(f.SerializeAsString())).status().code(), StatusCode::kCorruption);
  }
  weft::proto::Frame big;
  big.mutable_ack()->set_doc("d");
  for (uint64_t i = 0; i <= kMaxVersionEntries; ++i) {
    big.mutable_ack()->mutable_durable()->add_agents(i);
    big.mutable_ack()->mutable_durable()->add_next_seqs(1);
  }
  EXPECT_EQ(DecodeFrame(AsBytes(big.SerializeAsString())).status().code(), StatusCode::kCorruption);
}

// Regression: the text fields were proto3 `string`s, and libprotobuf logged
// an ERROR line for every frame holding invalid UTF-8 in one: a hostile
// peer could fill the log (the frame fuzzer printed a million lines in four
// minutes). Each must be refused by the codec, quietly.
TEST(WireCodec, InvalidUtf8TextIsRefusedWithoutALogLine) {
  // Each frame is encoded with a 6-byte marker in one text field, then the
  // marker is replaced by 6 bytes that are not UTF-8.
  const std::string marker = "MARKER";
  const std::string bad = "\xff\xfe\xc0\xaf\xed\xa0";
  Hello hello;
  hello.label = marker;
  std::string update = "u";
  struct Case {
    const char* name;
    Message m;
  };
  const Case cases[] = {
      {"hello label", hello},
      {"subscribe doc", Subscribe{marker, {}}},
      {"op batch doc", OpBatch{marker, AsBytes(update)}},
      {"sync done doc", SyncDone{marker, {}}},
      {"ack doc", Ack{marker, {}}},
      {"presence doc", Presence{marker, 1, {}, {}, "x"}},
      {"presence label", Presence{"d", 1, {}, {}, marker}},
      {"error reason", ErrorFrame{ErrorCode::kProtocol, "why: " + marker}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::string body = EncodeFrame(c.m);
    size_t at = body.find(marker);
    ASSERT_NE(at, std::string::npos);
    body.replace(at, marker.size(), bad);
    ::testing::internal::CaptureStderr();
    Result<Message> m = DecodeFrame(AsBytes(body));
    std::string logged = ::testing::internal::GetCapturedStderr();
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::kCorruption);
    EXPECT_NE(m.status().message().find("UTF-8"), std::string_view::npos) << m.status().ToString();
    EXPECT_EQ(logged, "");
  }
}

TEST(WireCodec, LongReasonsAreCutBetweenCharacters) {
  std::string reason(kMaxReason - 1, 'r');
  reason += "\xe2\x82\xac";  // a 3-byte character across the limit
  Result<Message> m = DecodeFrame(AsBytes(EncodeFrame(ErrorFrame{ErrorCode::kProtocol, reason})));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(std::get<ErrorFrame>(*m).reason, std::string(kMaxReason - 1, 'r'));
}

// The document and label fields of a decoded message, which the codec
// promises are checked.
std::vector<std::string_view> TextFields(const Message& m) {
  if (const Hello* h = std::get_if<Hello>(&m)) return {h->label};
  if (const Subscribe* x = std::get_if<Subscribe>(&m)) return {x->doc};
  if (const OpBatch* x = std::get_if<OpBatch>(&m)) return {x->doc};
  if (const SyncDone* x = std::get_if<SyncDone>(&m)) return {x->doc};
  if (const Ack* x = std::get_if<Ack>(&m)) return {x->doc};
  if (const Presence* x = std::get_if<Presence>(&m)) return {x->doc, x->label};
  if (const ErrorFrame* x = std::get_if<ErrorFrame>(&m)) return {x->reason};
  return {};
}

// Random bodies, and valid ones with bytes flipped, cut or inserted. Each
// decodes to Corruption, or to a message that meets the codec's contract:
// its text is valid UTF-8 within bounds, and it encodes to a body that
// decodes to the same message. A decoded op batch applied to a document is
// taken, or refused with the document unchanged. Nothing is logged.
TEST(WireCodec, RandomBytesAreRefusedOrDecodeToValidMessages) {
  engine::Doc author(5);
  ASSERT_TRUE(author.Insert(0, "seed text", nullptr).ok());
  std::string update = author.EncodeOpsSince({});
  Hello hello;
  hello.client_nonce.fill(4);
  hello.agents = {5};
  hello.label = "label";
  const Message seeds[] = {
      hello,
      Welcome{kProtocolVersion, 9, std::nullopt, true},
      Subscribe{"doc", Vv({{5, 3}})},
      OpBatch{"doc", AsBytes(update)},
      SyncDone{"doc", Vv({{5, 9}})},
      Ack{"doc", Vv({{5, 9}})},
      Presence{"doc", 5, WireAnchor{5, 2, true}, WireAnchor{}, "label"},
      Ping{1, 2},
      ErrorFrame{ErrorCode::kMalformed, "reason"},
  };
  int refused = 0, decoded = 0, batches_applied = 0, batches_refused = 0;
  auto check = [&](const std::string& body) {
    Result<Message> m = DecodeFrame(AsBytes(body));
    if (!m.ok()) {
      ++refused;
      ASSERT_EQ(m.status().code(), StatusCode::kCorruption) << m.status().ToString();
      return;
    }
    ++decoded;
    for (std::string_view text : TextFields(*m)) {
      ASSERT_TRUE(engine::IsValidUtf8(text)) << MessageName(*m);
      ASSERT_LE(text.size(), kMaxReason) << MessageName(*m);
    }
    std::string again = EncodeFrame(*m);
    Result<Message> back = DecodeFrame(AsBytes(again));
    ASSERT_TRUE(back.ok()) << MessageName(*m) << ": " << back.status().ToString();
    ASSERT_EQ(back->index(), m->index());
    ASSERT_EQ(EncodeFrame(*back), again) << MessageName(*m);
    if (const OpBatch* b = std::get_if<OpBatch>(&*m)) {
      engine::Doc doc(7);
      ASSERT_TRUE(doc.Insert(0, "held", nullptr).ok());
      engine::VersionVector version = doc.version();
      if (doc.ApplyUpdate(b->update).ok()) {
        ++batches_applied;
        return;
      }
      ++batches_refused;
      ASSERT_EQ(doc.Text(), "held");
      ASSERT_EQ(doc.version(), version);
      ASSERT_EQ(doc.pending_ops(), 0u);
    }
  };
  std::mt19937 rng(42);
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 40000 && !HasFatalFailure(); ++i) {
    SCOPED_TRACE("input " + std::to_string(i));
    std::string body;
    if (i % 2 == 0) {
      body.resize(rng() % 64);
      for (char& c : body) c = static_cast<char>(rng());
      // Half start with the tag of a Frame body field (100..111), so the
      // parse gets past it.
      if (rng() % 2 && body.size() >= 2) {
        body[0] = static_cast<char>(0xa2 + 8 * (rng() % 12));
        body[1] = 0x06;
      }
    } else {
      body = EncodeFrame(seeds[rng() % std::size(seeds)]);
      for (int k = 1 + static_cast<int>(rng() % 3); k > 0 && !body.empty(); --k) {
        size_t at = rng() % body.size();
        switch (rng() % 3) {
          case 0:
            body[at] = static_cast<char>(body[at] ^ (1 << (rng() % 8)));
            break;
          case 1:
            body.resize(at);
            break;
          default:
            body.insert(at, 1, static_cast<char>(rng()));
        }
      }
    }
    check(body);
  }
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  RecordProperty("refused", refused);
  RecordProperty("decoded", decoded);
  RecordProperty("batches_applied", batches_applied);
  RecordProperty("batches_refused", batches_refused);
  // Both ways out were taken, op batches included.
  EXPECT_GT(refused, 1000);
  EXPECT_GT(decoded, 1000);
  EXPECT_GT(batches_applied, 0);
  EXPECT_GT(batches_refused, 0);
}

}  // namespace
}  // namespace weft::transport

namespace weft::transport {
namespace {

TEST(WireCodec, OpBatchHeaderPlusUpdateIsTheEncodedFrame) {
  for (size_t len : {1u, 127u, 128u, 300u, 16000u}) {
    SCOPED_TRACE(len);
    std::string update(len, 'u');
    std::string doc(len % 200 + 1, 'd');
    std::string whole = EncodeOpBatchHeader(doc, update.size()) + update;
    EXPECT_EQ(whole, EncodeFrame(Message(OpBatch{doc, AsBytes(update)})));
  }
}

}  // namespace
}  // namespace weft::transport
