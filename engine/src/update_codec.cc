// Update: encoding of ops_since and decoding of untrusted Update bytes.
// Grammar and worked example: engine/FORMAT.md.
#include "update_codec.h"

#include <algorithm>
#include <string>
#include <vector>

#include "byte_io.h"
#include "doc_state.h"
#include "envelope.h"
#include "op_model.h"
#include "symbol_coder.h"
#include "text_lz.h"
#include "utf8.h"

namespace weft::engine::detail {
namespace {

// What a run counts for when an Update's decoded size is weighed against
// the limits: about its size written raw, and a fair share of the memory
// decoding it takes.
constexpr size_t kRunBytes = 16;
// Fewer runs than this are written raw: frequency tables would cost more
// than they save, and decoding skips building them.
constexpr size_t kMinCodedRuns = 32;
// Less text than this is stored as it is.
constexpr size_t kMinCompressedText = 256;

enum TextMode : uint8_t { kTextStored = 0, kTextCompressed = 1 };

// Collects the runs of an Update in the order given. Insert runs are taken
// from the Items that hold their characters now (origins and text come from
// the Items) and glued back together where an Item boundary was only a
// split; the agent table grows as agents are first named.
class UpdateWriter {
 public:
  explicit UpdateWriter(const DocState& doc) : doc_(doc) {}

  // The inserted characters [s, end) of `agent`.
  void AddInsert(uint32_t agent, uint32_t s, uint32_t end) {
    const ItemTree& tree = doc_.tree_;
    while (s < end) {
      ItemTree::Found f = tree.FindId(agent, s);
      const Item& it = tree.at(f.loc);
      uint32_t take = std::min(end, it.seq + it.len) - s;
      Ref left = f.offset > 0 ? Ref{agent, s - 1} : it.left;
      std::string_view bytes = tree.Bytes(it);
      size_t b0 = it.byte_len == it.len ? f.offset : Utf8OffsetNear(bytes, it.len, f.offset);
      size_t b1 =
          it.byte_len == it.len ? f.offset + take : Utf8OffsetNear(bytes, it.len, f.offset + take);
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
    uint32_t len = end - s0;
    ModelRun run;
    run.agent = TableIndex(r.agent);
    run.seq = s0;
    run.len = len;
    run.kind = len > 1 && r.kind == RunKind::kDeleteBackward ? ModelKind::kDeleteBackward
                                                             : ModelKind::kDeleteForward;
    run.left = ToModel(target);
    Begin(run.agent, s0);
    runs_.push_back(run);
  }

  std::string Finish(bool compress) {
    Flush();
    std::string out;
    BeginEnvelope(PayloadKind::kUpdate, &out);
    ByteWriter w(&out);
    w.PutVarint(agents_.size());
    for (uint32_t local : agents_) w.PutLe64(doc_.agent_ids_[local]);
    for (uint32_t seq : start_) w.PutVarint(seq == kNone ? 0 : seq);
    w.PutVarint(runs_.size());
    w.PutVarint(text_.size());
    WriteText(w, compress);
    WriteOps(w, compress);
    EndEnvelope(&out);
    return out;
  }

 private:
  // An update names few agents (a keystroke one or two), however many the
  // document knows: they are searched in the table itself until there are
  // more than kSearched, and only then is a map sized by the document's
  // agents made.
  static constexpr size_t kSearched = 8;
  uint32_t TableIndex(uint32_t local) {
    if (table_.empty()) {
      for (size_t t = 0; t < agents_.size(); ++t) {
        if (agents_[t] == local) return static_cast<uint32_t>(t);
      }
      if (agents_.size() < kSearched) return Add(local);
      table_.assign(doc_.agent_ids_.size(), kNone);
      for (size_t t = 0; t < agents_.size(); ++t) table_[agents_[t]] = static_cast<uint32_t>(t);
    }
    if (table_[local] == kNone) table_[local] = Add(local);
    return table_[local];
  }
  uint32_t Add(uint32_t local) {
    agents_.push_back(local);
    start_.push_back(kNone);
    return static_cast<uint32_t>(agents_.size() - 1);
  }

  ModelRef ToModel(Ref ref) {
    if (ref.none()) return ModelRef{};
    return ModelRef{TableIndex(ref.agent), ref.seq};
  }

  // Notes the first seq of each agent's runs (later runs follow on).
  void Begin(uint32_t index, uint32_t seq) {
    if (start_[index] == kNone) start_[index] = seq;
  }

  void Flush() {
    if (!open_) return;
    ModelRun run;
    run.agent = TableIndex(open_agent_);
    run.seq = open_seq_;
    run.len = open_len_;
    run.kind = ModelKind::kInsert;
    run.left = ToModel(open_left_);
    run.right = ToModel(open_right_);
    Begin(run.agent, open_seq_);
    runs_.push_back(run);
    open_ = false;
  }

  // text := kTextStored bytes[text size] | kTextCompressed section
  void WriteText(ByteWriter& w, bool compress) {
    if (compress && text_.size() >= kMinCompressedText && text_.size() <= kMaxCompressedText) {
      std::string lz;
      ByteWriter lw(&lz);
      uint64_t coded = CompressText(text_, lw);
      // Stored unless that is smaller; never past what a decoder accepts.
      const size_t budget = ExpansionBudget(lz.size());
      if (lz.size() < text_.size() && text_.size() <= budget && coded <= budget) {
        w.PutU8(kTextCompressed);
        w.PutBytes(lz);
        return;
      }
    }
    w.PutU8(kTextStored);
    w.PutBytes(text_);
  }

  void WriteOps(ByteWriter& w, bool compress) {
    SymbolWriter sw(OpAlphabets());
    RefPredictor predictor(static_cast<uint32_t>(agents_.size()));
    ModelKind previous = ModelKind::kInsert;
    uint32_t agent = 0;
    for (const ModelRun& run : runs_) {
      const bool changed = run.agent != agent;
      sw.Put(kHeadAfterInsert + static_cast<uint32_t>(previous),
             static_cast<uint32_t>(run.kind) * 2 + (changed ? 1 : 0));
      if (changed) sw.PutNum(kRunAgent, run.agent);
      predictor.PutRun(sw, run);
      previous = run.kind;
      agent = run.agent;
    }
    std::string ops;
    ByteWriter ow(&ops);
    uint64_t coded = sw.Write(ow, compress && runs_.size() >= kMinCodedRuns);
    const size_t budget = ExpansionBudget(ops.size());
    if (coded > budget || runs_.size() > budget / kRunBytes) {
      // Symbols this predictable would decode past the expansion budget:
      // write them raw (a byte each), which any decoder takes.
      ops.clear();
      sw.Write(ow, false);
    }
    w.PutBytes(ops);
  }

  const DocState& doc_;
  std::vector<uint32_t> table_;   // local agent -> table index (kNone: not yet); empty
                                  // while agents_ is searched instead
  std::vector<uint32_t> agents_;  // table index -> local agent
  std::vector<uint32_t> start_;   // table index -> its first seq here (kNone: no run yet)
  std::vector<ModelRun> runs_;
  std::string text_;
  // The insert run being glued together, not yet written.
  bool open_ = false;
  uint32_t open_agent_ = 0, open_seq_ = 0, open_len_ = 0;
  Ref open_left_, open_right_;
};

}  // namespace

std::string DocState::EncodeOpsSince(const VersionVector& since, const VersionVector* until,
                                     bool compress) const {
  // Per agent with ops to send: the seqs [from, limit) it sends.
  struct Span {
    uint32_t agent;
    uint32_t from, limit;
  };
  std::vector<Span> spans;
  if (until) {
    // Only the agents `until` names can send anything: a writer sending its
    // own edits to a document of many authors looks at its own agents.
    for (const auto& [agent, cap] : until->entries()) {
      std::optional<uint32_t> a = FindAgent(agent);
      if (!a) continue;
      const uint64_t limit = std::min<uint64_t>(cap, next_seq_[*a]);
      const uint64_t from = since.Get(agent);
      if (from < limit) {
        spans.push_back(Span{*a, static_cast<uint32_t>(from), static_cast<uint32_t>(limit)});
      }
    }
  } else {
    std::vector<uint64_t> from_of(agent_ids_.size(), 0);
    for (const auto& [agent, next] : since.entries()) {
      if (std::optional<uint32_t> a = FindAgent(agent)) from_of[*a] = next;
    }
    for (uint32_t a = 0; a < agent_ids_.size(); ++a) {
      if (from_of[a] < next_seq_[a]) {
        spans.push_back(Span{a, static_cast<uint32_t>(from_of[a]), next_seq_[a]});
      }
    }
  }
  // The log runs the other replica lacks, found per agent and put back in
  // log (causal) order: a replica far behind on one agent does not make
  // this scan every run logged since.
  struct Needed {
    uint32_t run;   // index into log_
    uint32_t span;  // index into spans
  };
  std::vector<Needed> needed;
  for (uint32_t i = 0; i < spans.size(); ++i) {
    const Span& sp = spans[i];
    const std::vector<uint32_t>& runs = runs_of_[sp.agent];
    for (size_t k = FirstRunFrom(sp.agent, sp.from);
         k < runs.size() && log_[runs[k]].seq < sp.limit; ++k) {
      needed.push_back(Needed{runs[k], i});
    }
  }
  std::sort(needed.begin(), needed.end(),
            [](const Needed& a, const Needed& b) { return a.run < b.run; });
  UpdateWriter writer(*this);
  for (const Needed& n : needed) {
    const LogRun& r = log_[n.run];
    const Span& sp = spans[n.span];
    uint32_t end = std::min(r.seq + r.len, sp.limit);
    uint32_t s0 = std::max(r.seq, sp.from);
    if (r.kind == RunKind::kInsert) {
      writer.AddInsert(r.agent, s0, end);
    } else {
      writer.AddDelete(r, s0, end);
    }
  }
  return writer.Finish(options_.compress && compress);
}

namespace {

// Decoded Update: ops whose text views `text` (or the input bytes, when the
// text was stored), so it must outlive them.
struct DecodedUpdate {
  std::string text;
  std::vector<RawOp> ops;
};

// The runs of an ops section, as RawOps viewing `text`.
Status ReadRuns(SymbolReader& src, const std::vector<uint64_t>& agents, std::vector<uint64_t> cur,
                std::string_view text, uint64_t nruns, std::vector<RawOp>* ops) {
  const uint64_t section_bytes = src.bytes();
  const auto nagents = static_cast<uint32_t>(agents.size());
  RefPredictor predictor(nagents);
  ModelKind previous = ModelKind::kInsert;
  uint32_t agent = 0;
  size_t byte_pos = 0;
  auto id = [&](const ModelRef& r) -> std::optional<OpId> {
    if (r.none()) return std::nullopt;
    return OpId{agents[r.agent], r.seq};
  };
  // Room for the ops once, not grown as they come (which moved every op
  // about once more: a tenth of a large merge). Every run takes one head
  // symbol, already decoded, and real runs cost a bit or more of the
  // section; past either bound, whatever the count claims, the ops grow
  // only as runs actually decode.
  uint64_t heads = 0;
  for (uint32_t ctx = kHeadAfterInsert; ctx <= kHeadAfterDeleteBackward; ++ctx) {
    heads += src.Rest(ctx).size();
  }
  ops->reserve(std::min({nruns, heads, uint64_t{8} * section_bytes + 64}));
  for (uint64_t i = 0; i < nruns; ++i) {
    uint32_t head = src.Get(kHeadAfterInsert + static_cast<uint32_t>(previous));
    if (head & 1) {
      uint32_t a = src.GetNum(kRunAgent);
      if (a >= nagents || a == agent) return Status::Corruption("run agent out of range");
      agent = a;
    }
    if (nagents == 0 || cur[agent] > kMaxSeq) return Status::Corruption("run seq out of range");
    ModelRun run;
    run.agent = agent;
    run.seq = static_cast<uint32_t>(cur[agent]);
    run.kind = static_cast<ModelKind>(head >> 1);
    if (!predictor.GetRun(src, &run) || !src.ok()) return Status::Corruption("bad run");
    if (run.len > kMaxSeq - run.seq || (!run.left.none() && run.left.seq > kMaxSeq) ||
        (!run.right.none() && run.right.seq > kMaxSeq)) {
      return Status::Corruption("run seq out of range");
    }
    cur[agent] += run.len;
    // Filled in place: building an op aside and copying it in costs more
    // than decoding it.
    RawOp& op = ops->emplace_back();
    op.agent = agents[agent];
    op.seq = run.seq;
    op.len = run.len;
    if (run.kind == ModelKind::kInsert) {
      op.kind = Op::Kind::kInsert;
      op.SetOrigins(id(run.left), id(run.right));
      // Checked as it is cut: each byte of the text is read once.
      std::optional<size_t> bytes = Utf8Prefix(text.substr(byte_pos), run.len);
      if (!bytes) return Status::Corruption("update text too short or not valid UTF-8");
      op.text = text.substr(byte_pos, *bytes);
      byte_pos += *bytes;
    } else {
      op.kind = Op::Kind::kDelete;
      op.backward = run.kind == ModelKind::kDeleteBackward;
      op.target = *id(run.left);
    }
    previous = run.kind;
  }
  if (!src.Finished()) return Status::Corruption("ops section has bytes left over");
  if (byte_pos != text.size()) return Status::Corruption("update text too long");
  return Status::Ok();
}

Status ParseUpdate(std::string_view bytes, size_t max_bytes, DecodedUpdate* out) {
  Result<std::string_view> body = Unseal(bytes, PayloadKind::kUpdate);
  if (!body.ok()) return body.status();
  ByteReader r(*body);
  const uint64_t nagents = r.VarintAtMost(r.remaining() / 8);
  std::vector<uint64_t> agents(nagents);
  for (uint64_t& a : agents) a = r.Le64();
  std::vector<uint64_t> start(nagents);
  for (uint64_t& s : start) s = r.VarintAtMost(kMaxSeq);
  const uint64_t nruns = r.Varint();
  const uint64_t text_bytes = r.Varint();
  const uint8_t text_mode = r.U8();
  if (!r.ok()) return Status::Corruption("update header truncated");
  {
    std::vector<uint64_t> ids = agents;
    std::sort(ids.begin(), ids.end());
    if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) {
      return Status::Corruption("agent listed twice");
    }
  }
  if (text_bytes > max_bytes || nruns > (max_bytes - text_bytes) / kRunBytes) {
    return Status::Corruption("update larger than the limit");
  }
  std::string_view text;
  if (text_mode == kTextStored) {
    text = r.Bytes(text_bytes);
    if (!r.ok()) return Status::Corruption("update text truncated");
  } else if (text_mode == kTextCompressed) {
    Result<std::string> t = DecompressText(r, text_bytes);
    if (!t.ok()) return t.status();
    out->text = std::move(*t);
    text = out->text;
  } else {
    return Status::Corruption("unknown text mode");
  }
  SymbolReader ops;
  if (!ops.Read(r, OpAlphabets()) || r.remaining() != 0) {
    return Status::Corruption("update ops malformed");
  }
  const size_t budget = ExpansionBudget(ops.bytes());
  if (nruns > budget / kRunBytes || !ops.Decode(budget)) {
    return Status::Corruption("update ops claim more than they may expand to");
  }
  return ReadRuns(ops, agents, std::move(start), text, nruns, &out->ops);
}

}  // namespace

Status ApplyUpdateBytes(DocState& doc, std::string_view bytes) {
  DecodedUpdate u;
  WEFT_RETURN_IF_ERROR(ParseUpdate(bytes, doc.options_.max_decoded_bytes, &u));
  // ReadRuns validated the text once and cut each insert's text at its
  // length in code points.
  return doc.ApplyBatch(u.ops, BatchText::kChecked);
}

Result<Ops> DecodeUpdateBytes(std::string_view bytes, size_t max_bytes) {
  DecodedUpdate u;
  WEFT_RETURN_IF_ERROR(ParseUpdate(bytes, max_bytes, &u));
  Ops ops;
  ops.reserve(u.ops.size());
  for (const RawOp& r : u.ops) ops.push_back(OwnedOp(r));
  return ops;
}

}  // namespace weft::engine::detail
