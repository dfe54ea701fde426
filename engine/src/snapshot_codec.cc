// Snapshot: the whole replica in document order. Loading builds the item
// tree bottom-up in one pass instead of integrating every op again.
// Grammar and worked example: proto/README.md.
#include <algorithm>
#include <string>
#include <vector>

#include "doc_state.h"
#include "envelope.h"
#include "utf8.h"
#include "weft.pb.h"

namespace weft::engine::detail {

std::string DocState::EncodeSnapshot() const {
  proto::Snapshot s;
  for (uint32_t a = 0; a < agent_ids_.size(); ++a) {
    s.add_agents(agent_ids_[a]);
    s.add_next_seqs(next_seq_[a]);
  }
  std::vector<uint32_t> last_end(agent_ids_.size(), 0);
  std::string text;
  text.reserve(tree_.arena_size());
  auto add_ref = [&](Ref ref, uint32_t base) {
    if (ref.none()) {
      s.add_ref_agent(0);
      s.add_ref_seq(0);
    } else {
      s.add_ref_agent(ref.agent + 1);
      s.add_ref_seq(SeqDelta(base, ref.seq));
    }
  };
  for (Loc loc = tree_.Begin(); loc.leaf != kNone; loc = tree_.Next(loc)) {
    const Item& it = tree_.at(loc);
    s.add_item_agent(it.agent);
    s.add_item_seq(SeqDelta(it.seq, last_end[it.agent]));
    last_end[it.agent] = it.seq + it.len;
    s.add_item_head(uint64_t{it.len} << 1 | (it.deleted ? 1 : 0));
    add_ref(it.left, it.seq);
    add_ref(it.right, it.seq);
    text.append(tree_.Bytes(it));
  }
  s.set_text(std::move(text));
  for (size_t li = 0; li < log_.size(); ++li) {
    const LogRun& r = log_[li];
    s.add_log_agent(r.agent);
    s.add_log_head(uint64_t{r.len} << 2 | static_cast<uint64_t>(r.kind));
    if (r.kind != RunKind::kInsert) {
      s.add_log_target_agent(r.target.agent + 1);
      s.add_log_target_seq(SeqDelta(r.seq, r.target.seq));
    }
  }
  return Seal(PayloadKind::kSnapshot, s.SerializeAsString(), options_.compress);
}

namespace {

// Reads a parsed Snapshot into an empty DocState, validating everything a
// later edit or merge relies on: the agent table, that the log covers each
// agent's seqs exactly, that the Items cover exactly the inserted seqs, that
// every origin and delete target is an inserted character, and the text.
// Not checked: that the order of the Items is the one Integrate would
// produce (a hostile snapshot can make this replica diverge from others,
// but not crash it).
class SnapshotReader {
 public:
  SnapshotReader(const proto::Snapshot& s, DocState& doc) : s_(s), doc_(doc) {}

  Status Read() {
    WEFT_RETURN_IF_ERROR(ReadAgents());
    WEFT_RETURN_IF_ERROR(ReadLog());
    WEFT_RETURN_IF_ERROR(MarkSeqs());
    WEFT_RETURN_IF_ERROR(ReadItems());
    doc_.tree_.Build(items_, s_.text(), what_);
    return Status::Ok();
  }

 private:
  // What each seq is: kDel (a delete), kIns (an inserted character no Item
  // holds yet), or the leaf Build() will put the Item holding it in. This
  // array becomes the id index.
  static constexpr uint32_t kDel = ItemTree::kNoLeafBelow;
  static constexpr uint32_t kIns = ItemTree::kNoLeafBelow + 1;

  // Agent by 1-based table index (0 and out of range are errors).
  bool AgentAt(uint64_t idx1, uint32_t* out) const {
    if (idx1 == 0 || idx1 > local_.size()) return false;
    *out = local_[idx1 - 1];
    return true;
  }

  Status ReadAgents() {
    const int nagents = s_.agents_size();
    if (s_.next_seqs_size() != nagents) return Status::Corruption("agent columns differ in length");
    if (doc_.agent_ids_.size() != 1 || !doc_.log_.empty()) {
      return Status::Internal("load into a used Doc");
    }
    std::vector<uint64_t> ids(s_.agents().begin(), s_.agents().end());
    std::sort(ids.begin(), ids.end());
    if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) {
      return Status::Corruption("agent listed twice");
    }
    uint64_t total_seqs = 0;
    for (int k = 0; k < nagents; ++k) {
      if (s_.next_seqs(k) > kMaxSeq) return Status::Corruption("next seq out of range");
      local_.push_back(doc_.AgentIndex(s_.agents(k)));
      total_seqs += s_.next_seqs(k);
    }
    next_.assign(doc_.agent_ids_.size(), 0);
    for (int k = 0; k < nagents; ++k) next_[local_[k]] = s_.next_seqs(k);
    // Every inserted character has its code point in `text`, so this bounds
    // what loading allocates per seq, as SeqBound does for updates.
    if (total_seqs > SeqBound(s_.text().size())) {
      return Status::Corruption("version runs implausibly far ahead of the text");
    }
    return Status::Ok();
  }

  Status ReadLog() {
    const int nlog = s_.log_agent_size();
    if (s_.log_head_size() != nlog || s_.log_target_agent_size() != s_.log_target_seq_size()) {
      return Status::Corruption("log columns differ in length");
    }
    std::vector<uint64_t> cur(next_.size(), 0);
    int t = 0;
    for (int i = 0; i < nlog; ++i) {
      uint32_t a;
      if (!AgentAt(uint64_t{s_.log_agent(i)} + 1, &a)) return Status::Corruption("log agent");
      uint64_t len = s_.log_head(i) >> 2;
      uint64_t kind = s_.log_head(i) & 3;
      if (len == 0 || kind == 3 || len > next_[a] - cur[a]) return Status::Corruption("log run");
      LogRun r{a, static_cast<uint32_t>(cur[a]), static_cast<uint32_t>(len),
               static_cast<RunKind>(kind), Ref{}};
      if (kind != 0) {
        if (t >= s_.log_target_agent_size()) return Status::Corruption("log targets too short");
        uint32_t ta;
        uint64_t target;
        if (!AgentAt(s_.log_target_agent(t), &ta) ||
            !SeqFromDelta(r.seq, s_.log_target_seq(t++), next_[ta], &target)) {
          return Status::Corruption("log target");
        }
        r.target = Ref{ta, static_cast<uint32_t>(target)};
        if (r.kind == RunKind::kDeleteBackward ? r.target.seq < len - 1
                                               : r.target.seq + len > next_[ta]) {
          return Status::Corruption("log target range");
        }
      }
      cur[a] += len;
      doc_.runs_of_[a].push_back(static_cast<uint32_t>(doc_.log_.size()));
      doc_.log_.push_back(r);
    }
    if (t != s_.log_target_agent_size()) return Status::Corruption("log targets too long");
    for (size_t a = 0; a < cur.size(); ++a) {
      if (cur[a] != next_[a]) return Status::Corruption("log does not cover the version");
      doc_.next_seq_[a] = static_cast<uint32_t>(next_[a]);
    }
    return Status::Ok();
  }

  // Fills what_ from the log and checks every delete target.
  Status MarkSeqs() {
    what_.resize(next_.size());
    for (size_t a = 0; a < what_.size(); ++a) what_[a].assign(next_[a], kDel);
    const ChunkedVector<LogRun, 1024>& log = doc_.log_;
    for (size_t li = 0; li < log.size(); ++li) {
      if (log[li].kind == RunKind::kInsert) {
        std::fill_n(what_[log[li].agent].begin() + log[li].seq, log[li].len, kIns);
        inserted_ += log[li].len;
      }
    }
    for (size_t li = 0; li < log.size(); ++li) {
      const LogRun& r = log[li];
      if (r.kind == RunKind::kInsert) continue;
      const uint32_t* w = what_[r.target.agent].data() + r.TargetLow();
      if (std::any_of(w, w + r.len, [](uint32_t x) { return x == kDel; })) {
        return Status::Corruption("delete target is not an inserted character");
      }
    }
    return Status::Ok();
  }

  // An origin: none, or an inserted character.
  bool ReadRef(int k, uint32_t base, Ref* out) const {
    uint32_t a;
    uint64_t seq;
    if (s_.ref_agent(k) == 0) return s_.ref_seq(k) == 0;
    if (!AgentAt(s_.ref_agent(k), &a) || !SeqFromDelta(base, s_.ref_seq(k), next_[a], &seq)) {
      return false;
    }
    *out = Ref{a, static_cast<uint32_t>(seq)};
    return what_[a][seq] != kDel;
  }

  Status ReadItems() {
    const int nitems = s_.item_agent_size();
    if (s_.item_seq_size() != nitems || s_.item_head_size() != nitems ||
        s_.ref_agent_size() != 2 * nitems || s_.ref_seq_size() != 2 * nitems) {
      return Status::Corruption("item columns differ in length");
    }
    std::string_view text = s_.text();
    if (text.size() > kMaxArena) return Status::Corruption("snapshot text too large");
    std::optional<uint64_t> text_len = CountUtf8(text);
    if (!text_len) return Status::Corruption("snapshot text is not valid UTF-8");
    const bool ascii = *text_len == text.size();
    items_.resize(nitems);
    std::vector<uint64_t> last_end(next_.size(), 0);
    uint64_t chars = 0;
    size_t byte_pos = 0;
    for (int i = 0; i < nitems; ++i) {
      Item& it = items_[i];
      uint32_t a;
      uint64_t seq;
      uint64_t len = s_.item_head(i) >> 1;
      // item_seq is SeqDelta(seq, last_end): negated for SeqFromDelta.
      int64_t d = s_.item_seq(i);
      if (!AgentAt(uint64_t{s_.item_agent(i)} + 1, &a) || d == INT64_MIN ||
          !SeqFromDelta(last_end[a], -d, next_[a], &seq) || len == 0 || len > next_[a] - seq) {
        return Status::Corruption("item id");
      }
      uint32_t* w = what_[a].data() + seq;
      if (!std::all_of(w, w + len, [](uint32_t x) { return x == kIns; })) {
        return Status::Corruption("item is not a run of inserted characters no other item holds");
      }
      std::fill_n(w, len, ItemTree::BuiltLeafOf(static_cast<size_t>(i)));
      last_end[a] = seq + len;
      it.agent = a;
      it.seq = static_cast<uint32_t>(seq);
      it.len = static_cast<uint32_t>(len);
      it.deleted = s_.item_head(i) & 1;
      if (!ReadRef(2 * i, it.seq, &it.left) || !ReadRef(2 * i + 1, it.seq, &it.right)) {
        return Status::Corruption("item origin");
      }
      if (len > *text_len - chars) return Status::Corruption("snapshot text too short");
      size_t bytes = ascii ? len : Utf8Offset(text.substr(byte_pos), len);
      it.byte_off = static_cast<uint32_t>(byte_pos);
      it.byte_len = static_cast<uint32_t>(bytes);
      byte_pos += bytes;
      chars += len;
    }
    if (chars != inserted_ || chars != *text_len) {
      return Status::Corruption("items do not cover the log");
    }
    return Status::Ok();
  }

  const proto::Snapshot& s_;
  DocState& doc_;
  std::vector<uint32_t> local_;  // snapshot agent index -> local index
  std::vector<uint64_t> next_;   // by local index
  std::vector<std::vector<uint32_t>> what_;
  std::vector<Item> items_;
  uint64_t inserted_ = 0;
};

}  // namespace

Status DocState::LoadSnapshot(std::string_view payload) {
  proto::Snapshot s;
  if (!s.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return Status::Corruption("snapshot does not parse");
  }
  return SnapshotReader(s, *this).Read();
}

}  // namespace weft::engine::detail
