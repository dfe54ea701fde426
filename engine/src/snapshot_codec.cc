// Snapshot: the whole replica in document order, laid out for loading fast
// rather than for size: text stored as it is, records of varints read in
// one pass, and a bulk build of the item tree instead of integrating every
// op again. Grammar and worked example: engine/FORMAT.md.
#include <algorithm>
#include <string>
#include <vector>

#include "bit_words.h"
#include "byte_io.h"
#include "doc_state.h"
#include "envelope.h"
#include "op_model.h"
#include "utf8.h"

namespace weft::engine::detail {
namespace {

enum SnapshotFlags : uint8_t { kAsciiText = 1 };

// Reference modes of an item record's origins.
enum RefMode : uint32_t {
  kRefNone = 0,
  kRefImplied = 1,  // left: (agent, seq - 1); right: the previous item's right
  kRefSameAgent = 2,
  kRefOtherAgent = 3,
};

// log head  := len << 3 | kind << 1 | agent changed
// item head := len << 6 | right mode << 4 | left mode << 2 | agent changed << 1 | deleted
constexpr uint32_t kLogKindShift = 1, kLogLenShift = 3;
constexpr uint32_t kItemLeftShift = 2, kItemRightShift = 4, kItemLenShift = 6;

void PutRef(ByteWriter& w, Ref ref, uint32_t agent, uint32_t seq) {
  if (ref.agent == agent) {
    w.PutVarint(SeqDelta32(ref.seq, seq));
  } else {
    w.PutVarint(ref.agent);
    w.PutVarint(ref.seq);
  }
}

uint32_t RefModeOf(Ref ref, Ref implied, uint32_t agent) {
  if (ref.none()) return kRefNone;
  if (ref == implied) return kRefImplied;
  return ref.agent == agent ? kRefSameAgent : kRefOtherAgent;
}

}  // namespace

std::string DocState::EncodeSnapshot() const {
  std::string out;
  BeginEnvelope(PayloadKind::kSnapshot, &out);
  ByteWriter w(&out);
  w.PutVarint(agent_ids_.size());
  for (uint64_t id : agent_ids_) w.PutLe64(id);
  for (uint32_t next : next_seq_) w.PutVarint(next);
  std::string text;
  text.reserve(tree_.arena_size());
  for (Loc loc = tree_.Begin(); loc.leaf != kNone; loc = tree_.Next(loc)) {
    text.append(tree_.Bytes(tree_.at(loc)));
  }
  const bool ascii = CountUtf8(text) == text.size();
  w.PutVarint(text.size());
  w.PutU8(ascii ? kAsciiText : 0);
  w.PutBytes(text);

  w.PutVarint(log_.size());
  uint32_t agent = 0;
  for (size_t li = 0; li < log_.size(); ++li) {
    const LogRun& r = log_[li];
    const bool changed = r.agent != agent;
    w.PutVarint(uint64_t{r.len} << kLogLenShift | static_cast<uint64_t>(r.kind) << kLogKindShift |
                (changed ? 1 : 0));
    if (changed) w.PutVarint(r.agent);
    if (r.kind != RunKind::kInsert) {
      w.PutVarint(r.target.agent);
      w.PutVarint(SeqDelta32(r.target.seq, r.seq));
    }
    agent = r.agent;
  }

  std::vector<uint32_t> last_end(agent_ids_.size(), 0);
  std::string items;
  ByteWriter iw(&items);
  uint64_t nitems = 0;
  agent = 0;
  Ref previous_right;
  auto put_item = [&](const Item& it) {
    const bool changed = it.agent != agent;
    const uint32_t lmode = RefModeOf(it.left, Ref{it.agent, it.seq - 1}, it.agent);
    const uint32_t rmode = RefModeOf(it.right, previous_right, it.agent);
    iw.PutVarint(uint64_t{it.len} << kItemLenShift | rmode << kItemRightShift |
                 lmode << kItemLeftShift | (changed ? 2 : 0) | (it.deleted ? 1 : 0));
    if (changed) iw.PutVarint(it.agent);
    iw.PutVarint(SeqDelta32(it.seq, last_end[it.agent]));
    if (lmode >= kRefSameAgent) PutRef(iw, it.left, it.agent, it.seq);
    if (rmode >= kRefSameAgent) PutRef(iw, it.right, it.agent, it.seq);
    if (!ascii) iw.PutVarint(it.byte_len - it.len);
    last_end[it.agent] = it.seq + it.len;
    agent = it.agent;
    previous_right = it.right;
    ++nitems;
  };
  // Neighbours that could be one Item are written as one, so the bytes
  // depend on the document, not on where this replica's tree happens to
  // keep Items apart (a replica that merged a history in one pass cuts
  // them elsewhere than one that applied it op by op).
  Item run;
  for (Loc loc = tree_.Begin(); loc.leaf != kNone; loc = tree_.Next(loc)) {
    const Item& it = tree_.at(loc);
    if (run.len != 0 && run.agent == it.agent && uint64_t{run.seq} + run.len == it.seq &&
        run.deleted == it.deleted && it.left == Ref{it.agent, it.seq - 1} &&
        run.right == it.right) {
      run.len += it.len;
      run.byte_len += it.byte_len;  // both within the arena, below 2 GiB
      continue;
    }
    if (run.len != 0) put_item(run);
    run = it;
  }
  if (run.len != 0) put_item(run);
  w.PutVarint(nitems);
  w.PutBytes(items);
  EndEnvelope(&out);
  return out;
}

namespace {

// Per agent, one bit per seq: which ids are inserted characters, and which
// of those an Item already holds. Bounded by SeqBound through the version.
class SeqBits {
 public:
  void Reset(std::span<const uint64_t> next) {
    first_.assign(next.size() + 1, 0);
    for (size_t a = 0; a < next.size(); ++a) first_[a + 1] = first_[a] + (next[a] + 63) / 64;
    inserted_.assign(first_.back(), 0);
    held_.assign(first_.back(), 0);
  }
  // Marks [lo, hi) inserted.
  void Insert(uint32_t agent, uint64_t lo, uint64_t hi) {
    ForWords(agent, lo, hi, [](uint64_t& ins, uint64_t&, uint64_t m) {
      ins |= m;
      return true;
    });
  }
  bool AllInserted(uint32_t agent, uint64_t lo, uint64_t hi) {
    return ForWords(agent, lo, hi,
                    [](uint64_t& ins, uint64_t&, uint64_t m) { return (ins & m) == m; });
  }
  // Marks [lo, hi) held if all of it is inserted and none of it held yet.
  bool Hold(uint32_t agent, uint64_t lo, uint64_t hi) {
    return ForWords(agent, lo, hi, [](uint64_t& ins, uint64_t& held, uint64_t m) {
      if ((ins & m) != m || (held & m) != 0) return false;
      held |= m;
      return true;
    });
  }
  bool Inserted(uint32_t agent, uint64_t seq) const {
    return inserted_[first_[agent] + seq / 64] >> (seq % 64) & 1;
  }

 private:
  // f(inserted word, held word, mask) over the words of bits [lo, hi),
  // stopping at a false. REQUIRES: lo < hi <= the agent's next seq.
  template <typename F>
  bool ForWords(uint32_t agent, uint64_t lo, uint64_t hi, F f) {
    uint64_t* ins = inserted_.data() + first_[agent];
    uint64_t* held = held_.data() + first_[agent];
    return ForBitWords(lo, hi - 1, [&](uint64_t k, uint64_t m) { return f(ins[k], held[k], m); });
  }

  std::vector<size_t> first_;  // per agent: its first word
  std::vector<uint64_t> inserted_;
  std::vector<uint64_t> held_;
};

// Reads a Snapshot body into an empty DocState, validating everything a
// later edit or merge relies on: the agent table, that the log covers each
// agent's seqs exactly in causal order (a delete targets characters
// inserted before it), that the Items hold exactly the inserted ids, that
// every origin is an inserted character, and the text. Not checked: that
// the order of the Items is the one Integrate would produce (a hostile
// snapshot can make this replica diverge from others, but not crash it).
class SnapshotReader {
 public:
  SnapshotReader(std::string_view body, DocState& doc) : r_(body), doc_(doc) {}

  Status Read() {
    if (doc_.agent_ids_.size() != 1 || !doc_.log_.empty()) {
      return Status::Internal("load into a used Doc");
    }
    WEFT_RETURN_IF_ERROR(ReadAgents());
    WEFT_RETURN_IF_ERROR(ReadText());
    WEFT_RETURN_IF_ERROR(ReadLog());
    WEFT_RETURN_IF_ERROR(ReadItems());
    if (r_.remaining() != 0) return Status::Corruption("bytes after the snapshot");
    std::vector<uint32_t> next(doc_.next_seq_.begin(), doc_.next_seq_.end());
    doc_.tree_.Build(items_, text_, next);
    return Status::Ok();
  }

 private:
  Status ReadAgents() {
    const uint64_t n = r_.VarintAtMost(r_.remaining() / 8);
    std::vector<uint64_t> ids(n);
    for (uint64_t& id : ids) id = r_.Le64();
    next_.resize(n);
    for (uint64_t& next : next_) next = r_.VarintAtMost(kMaxSeq);
    if (!r_.ok()) return Status::Corruption("snapshot agents truncated");
    std::vector<uint64_t> sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      return Status::Corruption("agent listed twice");
    }
    uint64_t total = 0;
    for (uint64_t next : next_) total += next;
    // Every inserted character is in the text, so this bounds what loading
    // allocates per seq, as SeqBound does for updates. (Checked against the
    // text's size, which the next field declares and ReadText confirms.)
    const uint64_t text_bytes = r_.VarintAtMost(r_.remaining());
    if (!r_.ok() || total > SeqBound(text_bytes)) {
      return Status::Corruption("version runs implausibly far ahead of the text");
    }
    text_bytes_ = text_bytes;
    local_.resize(n);
    for (uint64_t k = 0; k < n; ++k) local_[k] = doc_.AgentIndex(ids[k]);
    // By local index from here on.
    std::vector<uint64_t> next(doc_.agent_ids_.size(), 0);
    for (uint64_t k = 0; k < n; ++k) next[local_[k]] = next_[k];
    next_ = std::move(next);
    return Status::Ok();
  }

  Status ReadText() {
    const uint8_t flags = r_.U8();
    text_ = r_.Bytes(text_bytes_);
    if (!r_.ok() || flags > kAsciiText) return Status::Corruption("snapshot text truncated");
    if (text_.size() > kMaxArena) return Status::Corruption("snapshot text too large");
    ascii_ = flags & kAsciiText;
    std::optional<uint64_t> chars = CountUtf8(text_);
    if (!chars) return Status::Corruption("snapshot text is not valid UTF-8");
    if (ascii_ && *chars != text_.size()) return Status::Corruption("snapshot text is not ASCII");
    return Status::Ok();
  }

  bool Agent(uint64_t idx, uint32_t* out) const {
    if (idx >= local_.size()) return false;
    *out = local_[idx];
    return true;
  }

  // The loops below read through a local copy of the reader and check it
  // once at the end: a reader that failed yields zeros, which the checks
  // reject or which only fill a DocState that is then dropped. (A local
  // copy stays in registers; the member would be reloaded after every
  // store.)
  Status ReadLog() {
    ByteReader r = r_;
    const uint64_t n = r.VarintAtMost(r.remaining());
    if (n > 0 && local_.empty()) return Status::Corruption("log runs without agents");
    inserted_bits_.Reset(next_);
    std::vector<uint64_t> cur(next_.size(), 0);
    const uint64_t* next = next_.data();
    // Decoded first, stored after: the loop that checks stays tight, and
    // each agent's run list is allocated once at its final size.
    std::vector<LogRun> runs;
    runs.reserve(n);
    uint32_t agent = local_.empty() ? 0 : local_[0];
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t head = r.Varint();
      if (head & 1 && !Agent(r.Varint(), &agent)) return Status::Corruption("log agent");
      const uint64_t len = head >> kLogLenShift;
      const uint64_t kind = head >> kLogKindShift & 3;
      if (len == 0 || kind == 3 || len > next[agent] - cur[agent]) {
        return Status::Corruption("log run");
      }
      // Filled in place: a LogRun built aside and copied in stalls on the
      // copy (its fields written one by one, read back as a whole).
      LogRun& run = runs.emplace_back();
      run.agent = agent;
      run.seq = static_cast<uint32_t>(cur[agent]);
      run.len = static_cast<uint32_t>(len);
      run.kind = static_cast<RunKind>(kind);
      cur[agent] += len;
      if (run.kind == RunKind::kInsert) {
        inserted_bits_.Insert(agent, run.seq, run.seq + len);
        inserted_ += len;
        continue;
      }
      uint32_t ta;
      if (!Agent(r.Varint(), &ta)) return Status::Corruption("log target agent");
      const uint64_t t = SeqFromDelta32(run.seq, static_cast<uint32_t>(r.Varint()));
      run.target = Ref{ta, static_cast<uint32_t>(t)};
      const uint64_t lo = run.kind == RunKind::kDeleteBackward ? t - (len - 1) : t;
      if ((run.kind == RunKind::kDeleteBackward && t < len - 1) || lo + len > next[ta] ||
          !inserted_bits_.AllInserted(ta, lo, lo + len)) {
        return Status::Corruption("log delete target is not an inserted character");
      }
    }
    if (!r.ok()) return Status::Corruption("snapshot log truncated");
    r_ = r;
    for (size_t a = 0; a < cur.size(); ++a) {
      if (cur[a] != next[a]) return Status::Corruption("log does not cover the version");
      doc_.next_seq_[a] = static_cast<uint32_t>(next[a]);
    }
    std::vector<uint32_t> per_agent(next_.size(), 0);
    for (const LogRun& run : runs) ++per_agent[run.agent];
    for (size_t a = 0; a < per_agent.size(); ++a) doc_.runs_of_[a].reserve(per_agent[a]);
    for (uint32_t i = 0; i < runs.size(); ++i) doc_.runs_of_[runs[i].agent].push_back(i);
    doc_.log_.Append(runs.data(), runs.size());
    for (const LogRun& run : runs) doc_.logged_seqs_ += run.len;
    return Status::Ok();
  }

  // An origin: none, implied, or an inserted character.
  bool ReadRef(ByteReader& r, uint32_t mode, const Item& it, Ref implied, Ref* out) const {
    if (mode == kRefNone) {
      *out = Ref{};
      return true;
    }
    if (mode == kRefImplied) {
      *out = implied;
    } else if (mode == kRefSameAgent) {
      *out = Ref{it.agent, SeqFromDelta32(it.seq, static_cast<uint32_t>(r.Varint()))};
    } else {
      uint32_t a;
      if (!Agent(r.Varint(), &a)) return false;
      *out = Ref{a, static_cast<uint32_t>(r.VarintAtMost(UINT32_MAX))};
    }
    return !out->none() && out->seq < next_[out->agent] &&
           inserted_bits_.Inserted(out->agent, out->seq);
  }

  Status ReadItems() {
    ByteReader r = r_;
    const uint64_t n = r.VarintAtMost(r.remaining());
    if (n > 0 && local_.empty()) return Status::Corruption("items without agents");
    items_.reserve(n);
    std::vector<uint64_t> last_end(next_.size(), 0);
    const uint64_t* next = next_.data();
    const char* const text = text_.data();
    const size_t text_size = text_.size();
    uint32_t agent = local_.empty() ? 0 : local_[0];
    uint64_t chars = 0;
    size_t byte_pos = 0;
    Ref previous_right;
    for (uint64_t i = 0; i < n; ++i) {
      Item& it = items_.emplace_back();  // filled in place, as log runs are
      const uint64_t head = r.Varint();
      if (head & 2 && !Agent(r.Varint(), &agent)) return Status::Corruption("item agent");
      const uint64_t len = head >> kItemLenShift;
      const uint64_t seq =
          SeqFromDelta32(static_cast<uint32_t>(last_end[agent]), static_cast<uint32_t>(r.Varint()));
      if (len == 0 || seq >= next[agent] || len > next[agent] - seq ||
          !inserted_bits_.Hold(agent, seq, seq + len)) {
        return Status::Corruption("item is not a run of inserted characters no other item holds");
      }
      it.agent = agent;
      it.seq = static_cast<uint32_t>(seq);
      it.len = static_cast<uint32_t>(len);
      it.deleted = head & 1;
      if (!ReadRef(r, head >> kItemLeftShift & 3, it, Ref{agent, it.seq - 1}, &it.left) ||
          !ReadRef(r, head >> kItemRightShift & 3, it, previous_right, &it.right)) {
        return Status::Corruption("item origin");
      }
      const uint64_t bytes = ascii_ ? len : len + r.Varint();
      if (bytes > text_size - byte_pos) return Status::Corruption("snapshot text too short");
      // The whole text is valid UTF-8 (ReadText), so an item that starts on
      // a character (as the next one, or the end, does) holds whole
      // characters, and counting them is counting non-continuation bytes.
      if (!ascii_ && ((static_cast<uint8_t>(text[byte_pos]) & 0xC0) == 0x80 ||
                      CountCodePoints(text + byte_pos, bytes, text + text_size) != len)) {
        return Status::Corruption("item text is not its length of whole characters");
      }
      it.byte_off = static_cast<uint32_t>(byte_pos);
      it.byte_len = static_cast<uint32_t>(bytes);
      byte_pos += bytes;
      chars += len;
      last_end[agent] = seq + len;
      previous_right = it.right;
    }
    if (!r.ok()) return Status::Corruption("snapshot items truncated");
    r_ = r;
    if (byte_pos != text_size || chars != inserted_) {
      return Status::Corruption("items do not cover the log and the text");
    }
    return Status::Ok();
  }

  ByteReader r_;
  DocState& doc_;
  std::vector<uint32_t> local_;  // snapshot agent index -> local index
  std::vector<uint64_t> next_;   // by local index (by snapshot index while reading agents)
  uint64_t text_bytes_ = 0;
  std::string_view text_;
  bool ascii_ = false;
  SeqBits inserted_bits_;  // ids the log inserts, and those the Items hold
  uint64_t inserted_ = 0;  // how many
  std::vector<Item> items_;
};

}  // namespace

Status DocState::LoadSnapshot(std::string_view bytes) {
  // Nothing in a snapshot is compressed: what it decodes to is its size.
  if (bytes.size() > options_.max_decoded_bytes) {
    return Status::Corruption("snapshot larger than the limit");
  }
  Result<std::string_view> body = Unseal(bytes, PayloadKind::kSnapshot);
  if (!body.ok()) return body.status();
  return SnapshotReader(*body, *this).Read();
}

}  // namespace weft::engine::detail
