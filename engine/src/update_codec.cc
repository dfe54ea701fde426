// Update: encoding of ops_since and decoding of untrusted Update bytes.
// Grammar and worked example: proto/README.md.
#include "update_codec.h"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>

#include "doc_state.h"
#include "envelope.h"
#include "utf8.h"
#include "weft.pb.h"

namespace weft::engine::detail {
namespace {

// Writes the runs of an Update in the order given. Insert runs are taken
// from the Items that hold their characters now (origins and text come from
// the Items) and glued back together where an Item boundary was only a
// split; the agent table grows as agents are first named.
class UpdateWriter {
 public:
  explicit UpdateWriter(const DocState& doc) : doc_(doc), started_(doc.agent_ids_.size(), false) {}

  // The inserted characters [s, end) of `agent`.
  void AddInsert(uint32_t agent, uint32_t s, uint32_t end) {
    const ItemTree& tree = doc_.tree_;
    while (s < end) {
      ItemTree::Found f = tree.FindId(agent, s);
      const Item& it = tree.at(f.loc);
      uint32_t take = std::min(end, it.seq + it.len) - s;
      Ref left = f.offset > 0 ? Ref{agent, s - 1} : it.left;
      std::string_view bytes = tree.Bytes(it);
      size_t b0 = it.byte_len == it.len ? f.offset : Utf8Offset(bytes, f.offset);
      size_t b1 = it.byte_len == it.len ? f.offset + take : Utf8Offset(bytes, f.offset + take);
      bool glue = open_ && open_agent_ == agent && open_seq_ + open_len_ == s &&
                  open_right_ == it.right && left == Ref{agent, s - 1};
      if (!glue) {
        Flush();
        open_ = true;
        open_agent_ = agent;
        open_seq_ = s;
        open_len_ = 0;
        open_left_ = left;
        open_right_ = it.right;
      }
      open_len_ += take;
      text_.append(bytes.substr(b0, b1 - b0));
      s += take;
    }
  }

  // Seqs [s0, end) of delete run `r`.
  void AddDelete(const LogRun& r, uint32_t s0, uint32_t end) {
    Flush();
    uint32_t skip = s0 - r.seq;
    Ref target = r.target;
    target.seq = r.kind == RunKind::kDeleteBackward ? target.seq - skip : target.seq + skip;
    BeginRun(r.agent, s0);
    uint32_t len = end - s0;
    RunKind kind = len == 1 ? RunKind::kDeleteForward : r.kind;
    u_.add_run_head(uint64_t{len} << 2 | static_cast<uint64_t>(kind));
    AddRef(target, s0);
  }

  std::string Finish(bool compress) {
    Flush();
    u_.set_text(std::move(text_));
    return Seal(PayloadKind::kUpdate, u_.SerializeAsString(), compress);
  }

 private:
  uint32_t TableIndex(uint32_t local) {
    auto [it, added] = table_.try_emplace(local, static_cast<uint32_t>(u_.agents_size()));
    if (added) {
      u_.add_agents(doc_.agent_ids_[local]);
      u_.add_start_seqs(0);
    }
    return it->second;
  }

  void AddRef(Ref ref, uint32_t base) {
    if (ref.none()) {
      u_.add_ref_agent(0);
      u_.add_ref_seq(0);
    } else {
      u_.add_ref_agent(TableIndex(ref.agent) + 1);
      u_.add_ref_seq(SeqDelta(base, ref.seq));
    }
  }

  void BeginRun(uint32_t agent, uint32_t seq) {
    uint32_t idx = TableIndex(agent);
    if (!started_[agent]) {
      started_[agent] = true;
      u_.set_start_seqs(static_cast<int>(idx), seq);
    }
    u_.add_run_agent(idx);
  }

  void Flush() {
    if (!open_) return;
    BeginRun(open_agent_, open_seq_);
    u_.add_run_head(uint64_t{open_len_} << 2 | static_cast<uint64_t>(RunKind::kInsert));
    AddRef(open_left_, open_seq_);
    AddRef(open_right_, open_seq_);
    open_ = false;
  }

  const DocState& doc_;
  proto::Update u_;
  std::unordered_map<uint32_t, uint32_t> table_;  // local agent -> table index
  std::vector<bool> started_;                     // per local agent: first run written
  std::string text_;
  // The insert run being glued together, not yet written.
  bool open_ = false;
  uint32_t open_agent_ = 0, open_seq_ = 0, open_len_ = 0;
  Ref open_left_, open_right_;
};

}  // namespace

std::string DocState::EncodeOpsSince(const VersionVector& since, const VersionVector* until) const {
  // Dense, by local agent index: the loop below looks these up per run.
  std::vector<uint64_t> limit(next_seq_.begin(), next_seq_.end());
  std::vector<uint64_t> from_of(agent_ids_.size(), 0);
  for (const auto& [agent, next] : since.entries()) {
    if (std::optional<uint32_t> a = FindAgent(agent)) from_of[*a] = next;
  }
  if (until) {
    for (uint32_t a = 0; a < agent_ids_.size(); ++a) {
      limit[a] = std::min(limit[a], until->Get(agent_ids_[a]));
    }
  }
  // The log runs the other replica lacks, found per agent and put back in
  // log (causal) order: a replica far behind on one agent does not make
  // this scan every run logged since.
  std::vector<uint32_t> needed;
  for (uint32_t a = 0; a < agent_ids_.size(); ++a) {
    if (from_of[a] >= limit[a]) continue;
    const std::vector<uint32_t>& runs = runs_of_[a];
    for (size_t k = FirstRunFrom(a, static_cast<uint32_t>(from_of[a]));
         k < runs.size() && log_[runs[k]].seq < limit[a]; ++k) {
      needed.push_back(runs[k]);
    }
  }
  std::sort(needed.begin(), needed.end());
  UpdateWriter writer(*this);
  for (uint32_t i : needed) {
    const LogRun& r = log_[i];
    uint64_t from = from_of[r.agent];
    uint32_t end = static_cast<uint32_t>(std::min<uint64_t>(r.seq + r.len, limit[r.agent]));
    if (end <= from || end <= r.seq) continue;
    uint32_t s0 = static_cast<uint32_t>(std::max<uint64_t>(r.seq, from));
    if (r.kind == RunKind::kInsert) {
      writer.AddInsert(r.agent, s0, end);
    } else {
      writer.AddDelete(r, s0, end);
    }
  }
  return writer.Finish(options_.compress);
}

namespace {

// Decoded ops viewing the text of `update` (which must outlive them).
Result<std::vector<RawOp>> ToRawOps(const proto::Update& u) {
  const int nagents = u.agents_size();
  if (u.start_seqs_size() != nagents) return Status::Corruption("agent columns differ in length");
  {
    std::vector<uint64_t> ids(u.agents().begin(), u.agents().end());
    std::sort(ids.begin(), ids.end());
    if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) {
      return Status::Corruption("agent listed twice");
    }
  }
  const int nruns = u.run_agent_size();
  if (u.run_head_size() != nruns) return Status::Corruption("run columns differ in length");
  if (u.ref_agent_size() != u.ref_seq_size()) return Status::Corruption("ref columns differ");
  std::vector<uint64_t> cur(u.start_seqs().begin(), u.start_seqs().end());
  std::string_view text = u.text();
  std::optional<uint64_t> text_len = CountUtf8(text);
  if (!text_len) return Status::Corruption("update text is not valid UTF-8");
  const bool ascii = *text_len == text.size();
  std::vector<RawOp> ops;
  ops.reserve(nruns);
  int ref = 0;
  uint64_t text_used = 0;
  size_t byte_pos = 0;
  auto read_ref = [&](uint64_t base, std::optional<OpId>* out) -> Status {
    if (ref >= u.ref_agent_size()) return Status::Corruption("ref columns too short");
    uint32_t a = u.ref_agent(ref);
    int64_t delta = u.ref_seq(ref);
    ++ref;
    if (a == 0) {
      if (delta != 0) return Status::Corruption("empty ref with a seq");
      out->reset();
      return Status::Ok();
    }
    if (a > static_cast<uint32_t>(nagents)) return Status::Corruption("ref agent out of range");
    uint64_t seq;
    if (!SeqFromDelta(base, delta, kMaxSeq + 1, &seq))
      return Status::Corruption("ref seq out of range");
    *out = OpId{u.agents(static_cast<int>(a - 1)), seq};
    return Status::Ok();
  };
  for (int i = 0; i < nruns; ++i) {
    uint32_t a = u.run_agent(i);
    if (a >= static_cast<uint32_t>(nagents)) return Status::Corruption("run agent out of range");
    uint64_t head = u.run_head(i);
    uint64_t len = head >> 2;
    uint64_t kind = head & 3;
    if (len == 0 || kind == 3) return Status::Corruption("bad run head");
    uint64_t seq = cur[a];
    if (seq > kMaxSeq || len > kMaxSeq - seq) return Status::Corruption("run seq out of range");
    cur[a] = seq + len;
    RawOp op;
    op.agent = u.agents(static_cast<int>(a));
    op.seq = seq;
    op.len = len;
    if (kind == 0) {
      op.kind = Op::Kind::kInsert;
      WEFT_RETURN_IF_ERROR(read_ref(seq, &op.left));
      WEFT_RETURN_IF_ERROR(read_ref(seq, &op.right));
      if (len > *text_len - text_used) return Status::Corruption("update text too short");
      size_t bytes = ascii ? len : Utf8Offset(text.substr(byte_pos), len);
      op.text = text.substr(byte_pos, bytes);
      byte_pos += bytes;
      text_used += len;
    } else {
      op.kind = Op::Kind::kDelete;
      op.backward = kind == 2;
      std::optional<OpId> target;
      WEFT_RETURN_IF_ERROR(read_ref(seq, &target));
      if (!target) return Status::Corruption("delete without a target");
      op.target = *target;
    }
    ops.push_back(op);
  }
  if (ref != u.ref_agent_size()) return Status::Corruption("ref columns too long");
  if (text_used != *text_len) return Status::Corruption("update text too long");
  return ops;
}

Result<proto::Update> ParseUpdate(std::string_view bytes, size_t max_bytes) {
  Result<std::string> raw = Unseal(bytes, PayloadKind::kUpdate, max_bytes);
  if (!raw.ok()) return raw.status();
  proto::Update u;
  if (!u.ParseFromString(*raw)) return Status::Corruption("update does not parse");
  return u;
}

}  // namespace

Status ApplyUpdateBytes(DocState& doc, std::string_view bytes) {
  Result<proto::Update> u = ParseUpdate(bytes, doc.options_.max_decoded_bytes);
  if (!u.ok()) return u.status();
  Result<std::vector<RawOp>> ops = ToRawOps(*u);
  if (!ops.ok()) return ops.status();
  return doc.ApplyBatch(*ops);
}

Result<Ops> DecodeUpdateBytes(std::string_view bytes, size_t max_bytes) {
  Result<proto::Update> u = ParseUpdate(bytes, max_bytes);
  if (!u.ok()) return u.status();
  Result<std::vector<RawOp>> raw = ToRawOps(*u);
  if (!raw.ok()) return raw.status();
  Ops ops;
  ops.reserve(raw->size());
  for (const RawOp& r : *raw) ops.push_back(OwnedOp(r));
  return ops;
}

}  // namespace weft::engine::detail
