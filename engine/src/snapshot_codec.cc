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

// Validates everything a later edit or merge relies on: the agent table, that
// the log covers each agent's seqs exactly, that the Items cover exactly the
// inserted seqs, that every origin and delete target is an inserted
// character, and the text. Not checked: that the order of the Items is the
// one Integrate would produce (a hostile snapshot can make this replica
// diverge from others, but not crash it).
Status DocState::LoadSnapshot(std::string_view payload) {
  proto::Snapshot s;
  if (!s.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return Status::Corruption("snapshot does not parse");
  }
  const int nagents = s.agents_size();
  if (s.next_seqs_size() != nagents) return Status::Corruption("agent columns differ in length");
  if (agent_ids_.size() != 1 || !log_.empty()) return Status::Internal("load into a used Doc");
  {
    std::vector<uint64_t> ids(s.agents().begin(), s.agents().end());
    std::sort(ids.begin(), ids.end());
    if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) {
      return Status::Corruption("agent listed twice");
    }
  }
  std::vector<uint32_t> local(nagents);
  for (int k = 0; k < nagents; ++k) {
    if (s.next_seqs(k) > kMaxSeq) return Status::Corruption("next seq out of range");
    local[k] = AgentIndex(s.agents(k));
  }
  std::vector<uint64_t> next(agent_ids_.size(), 0);
  uint64_t total_seqs = 0;
  for (int k = 0; k < nagents; ++k) {
    next[local[k]] = s.next_seqs(k);
    total_seqs += s.next_seqs(k);
  }
  // Every inserted character has its code point in `text`, so this bounds
  // what loading allocates per seq, as SeqBound does for updates.
  if (total_seqs > SeqBound(s.text().size())) {
    return Status::Corruption("version runs implausibly far ahead of the text");
  }
  auto agent_at = [&](uint64_t idx1, uint32_t* out) {
    if (idx1 == 0 || idx1 > static_cast<uint64_t>(nagents)) return false;
    *out = local[idx1 - 1];
    return true;
  };

  // The log.
  const int nlog = s.log_agent_size();
  if (s.log_head_size() != nlog || s.log_target_agent_size() != s.log_target_seq_size()) {
    return Status::Corruption("log columns differ in length");
  }
  std::vector<uint64_t> cur(agent_ids_.size(), 0);
  int t = 0;
  for (int i = 0; i < nlog; ++i) {
    uint32_t a;
    if (!agent_at(uint64_t{s.log_agent(i)} + 1, &a)) return Status::Corruption("log agent");
    uint64_t len = s.log_head(i) >> 2;
    uint64_t kind = s.log_head(i) & 3;
    if (len == 0 || kind == 3 || len > next[a] - cur[a]) return Status::Corruption("log run");
    LogRun r{a, static_cast<uint32_t>(cur[a]), static_cast<uint32_t>(len),
             static_cast<RunKind>(kind), Ref{}};
    if (kind != 0) {
      if (t >= s.log_target_agent_size()) return Status::Corruption("log targets too short");
      uint32_t ta;
      if (!agent_at(s.log_target_agent(t), &ta)) return Status::Corruption("log target agent");
      uint64_t target;
      if (!SeqFromDelta(r.seq, s.log_target_seq(t++), next[ta], &target)) {
        return Status::Corruption("log target seq");
      }
      r.target = Ref{ta, static_cast<uint32_t>(target)};
      if (r.kind == RunKind::kDeleteBackward ? r.target.seq < len - 1
                                             : r.target.seq + len > next[ta]) {
        return Status::Corruption("log target range");
      }
    }
    cur[a] += len;
    runs_of_[a].push_back(static_cast<uint32_t>(log_.size()));
    log_.push_back(r);
  }
  if (t != s.log_target_agent_size()) return Status::Corruption("log targets too long");
  for (size_t a = 0; a < cur.size(); ++a) {
    if (cur[a] != next[a]) return Status::Corruption("log does not cover the version");
    next_seq_[a] = static_cast<uint32_t>(next[a]);
  }
  // What each seq is: kDel (a delete), kIns (an inserted character no Item
  // holds yet), or the leaf Build() will put the Item holding it in. This
  // array becomes the id index.
  constexpr uint32_t kDel = ItemTree::kNoLeafBelow, kIns = ItemTree::kNoLeafBelow + 1;
  std::vector<std::vector<uint32_t>> what(agent_ids_.size());
  for (size_t a = 0; a < what.size(); ++a) what[a].assign(next[a], kDel);
  uint64_t inserted = 0;
  for (size_t li = 0; li < log_.size(); ++li) {
    const LogRun& r = log_[li];
    if (r.kind == RunKind::kInsert) {
      std::fill_n(what[r.agent].begin() + r.seq, r.len, kIns);
      inserted += r.len;
    }
  }
  auto all_inserts = [&](uint32_t a, uint64_t lo, uint64_t len) {
    const uint32_t* w = what[a].data() + lo;
    return std::none_of(w, w + len, [](uint32_t x) { return x == kDel; });
  };
  for (size_t li = 0; li < log_.size(); ++li) {
    const LogRun& r = log_[li];
    if (r.kind != RunKind::kInsert && !all_inserts(r.target.agent, r.TargetLow(), r.len)) {
      return Status::Corruption("delete target is not an inserted character");
    }
  }

  // The Items.
  const int nitems = s.item_agent_size();
  if (s.item_seq_size() != nitems || s.item_head_size() != nitems ||
      s.ref_agent_size() != 2 * nitems || s.ref_seq_size() != 2 * nitems) {
    return Status::Corruption("item columns differ in length");
  }
  std::string_view text = s.text();
  std::optional<uint64_t> text_len = CountUtf8(text);
  if (!text_len) return Status::Corruption("snapshot text is not valid UTF-8");
  const bool ascii = *text_len == text.size();
  std::vector<Item> items(nitems);
  std::vector<uint64_t> last_end(agent_ids_.size(), 0);
  uint64_t chars = 0;
  size_t byte_pos = 0;
  auto read_ref = [&](int k, uint32_t base, Ref* out) {
    uint32_t ra = s.ref_agent(k);
    int64_t d = s.ref_seq(k);
    if (ra == 0) return d == 0;
    uint32_t a;
    uint64_t seq;
    if (!agent_at(ra, &a) || !SeqFromDelta(base, d, next[a], &seq)) return false;
    *out = Ref{a, static_cast<uint32_t>(seq)};
    return what[a][seq] != kDel;
  };
  for (int i = 0; i < nitems; ++i) {
    Item& it = items[i];
    uint32_t a;
    if (!agent_at(uint64_t{s.item_agent(i)} + 1, &a)) return Status::Corruption("item agent");
    uint64_t len = s.item_head(i) >> 1;
    uint64_t seq;
    // item_seq is seq - last_end, i.e. SeqDelta(seq, last_end): negate for SeqFromDelta.
    int64_t d = s.item_seq(i);
    if (d == INT64_MIN || !SeqFromDelta(last_end[a], -d, next[a], &seq) || len == 0 ||
        len > next[a] - seq) {
      return Status::Corruption("item seq");
    }
    uint32_t* w = what[a].data() + seq;
    if (!std::all_of(w, w + len, [](uint32_t x) { return x == kIns; })) {
      return Status::Corruption("item is not a run of inserted characters no other item holds");
    }
    std::fill_n(w, len, ItemTree::BuiltLeafOf(static_cast<size_t>(i)));
    last_end[a] = seq + len;
    it.agent = a;
    it.seq = static_cast<uint32_t>(seq);
    it.len = static_cast<uint32_t>(len);
    it.deleted = s.item_head(i) & 1;
    if (!read_ref(2 * i, it.seq, &it.left) || !read_ref(2 * i + 1, it.seq, &it.right)) {
      return Status::Corruption("item origin");
    }
    if (len > *text_len - chars) return Status::Corruption("snapshot text too short");
    size_t bytes = ascii ? len : Utf8Offset(text.substr(byte_pos), len);
    it.byte_off = static_cast<uint32_t>(byte_pos);
    it.byte_len = static_cast<uint32_t>(bytes);
    byte_pos += bytes;
    chars += len;
  }
  if (chars != inserted || chars != *text_len)
    return Status::Corruption("items do not cover the log");
  if (text.size() > kMaxArena) return Status::Corruption("snapshot text too large");
  tree_.Build(items, text, what);
  return Status::Ok();
}

}  // namespace weft::engine::detail
