// Doc: the public face; the work is in DocState.
#include "weft/engine/doc.h"

#include <cstring>

#include "doc_state.h"
#include "update_codec.h"

namespace weft::engine {

namespace {
std::string_view AsChars(std::span<const std::byte> bytes) {
  return std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}
}  // namespace

Doc::Doc(uint64_t agent, DocOptions options)
    : state_(std::make_unique<detail::DocState>(agent, options)) {}
Doc::Doc(std::unique_ptr<detail::DocState> state) : state_(std::move(state)) {}
Doc::~Doc() = default;
Doc::Doc(Doc&&) noexcept = default;
Doc& Doc::operator=(Doc&&) noexcept = default;

uint64_t Doc::agent() const { return state_->agent_; }

Result<Ops> Doc::Insert(uint64_t pos, std::string_view utf8) {
  Ops ops;
  Status st = state_->LocalInsert(pos, utf8, &ops, true);
  if (!st.ok()) return st;
  return ops;
}

Result<Ops> Doc::Remove(uint64_t pos, uint64_t len) {
  Ops ops;
  Status st = state_->LocalRemove(pos, len, &ops, true);
  if (!st.ok()) return st;
  return ops;
}

Status Doc::Insert(uint64_t pos, std::string_view utf8, Ops* out) {
  return state_->LocalInsert(pos, utf8, out, true);
}

Status Doc::Remove(uint64_t pos, uint64_t len, Ops* out) {
  return state_->LocalRemove(pos, len, out, true);
}

Status Doc::ApplyLocal(std::span<const LocalEdit> edits, std::string_view text, size_t* applied) {
  return state_->LocalEdits(edits, text, applied);
}

std::string Doc::Text() const {
  const detail::ItemTree& tree = state_->tree_;
  std::string out;
  out.reserve(tree.arena_size());
  tree.AppendText(&out);
  return out;
}

uint64_t Doc::size() const { return state_->tree_.visible(); }

VersionVector Doc::version() const {
  VersionVector v;
  for (size_t a = 0; a < state_->agent_ids_.size(); ++a) {
    v.Set(state_->agent_ids_[a], state_->next_seq_[a]);
  }
  return v;
}

VersionVector Doc::version(std::span<const uint64_t> agents) const {
  VersionVector v;
  for (uint64_t agent : agents) v.Set(agent, known_seqs(agent));
  return v;
}

uint64_t Doc::known_seqs(uint64_t agent) const { return state_->NextSeq(agent); }

size_t Doc::pending_ops() const { return state_->pending_.size(); }

Status Doc::Apply(std::span<const Op> ops) {
  std::vector<detail::RawOp> raw;
  raw.reserve(ops.size());
  for (const Op& op : ops) raw.push_back(detail::ViewOf(op));
  return state_->ApplyBatch(raw);
}

std::string Doc::EncodeOpsSince(const VersionVector& since, const VersionVector* until) const {
  return state_->EncodeOpsSince(since, until, true);
}

std::string Doc::EncodeOpsSince(const VersionVector& since, const VersionVector* until,
                                bool compress) const {
  return state_->EncodeOpsSince(since, until, compress);
}

Status Doc::ApplyUpdate(std::span<const std::byte> bytes) {
  return detail::ApplyUpdateBytes(*state_, AsChars(bytes));
}

Status Doc::ApplyUpdate(std::string_view bytes) { return detail::ApplyUpdateBytes(*state_, bytes); }

Result<Ops> Doc::DecodeUpdate(std::span<const std::byte> bytes, size_t max_decoded_bytes) {
  return detail::DecodeUpdateBytes(AsChars(bytes), max_decoded_bytes);
}

Result<Ops> Doc::DecodeUpdate(std::string_view bytes, size_t max_decoded_bytes) {
  return detail::DecodeUpdateBytes(bytes, max_decoded_bytes);
}

std::string Doc::EncodeSnapshot() const { return state_->EncodeSnapshot(); }

Result<Doc> Doc::LoadSnapshot(std::string_view bytes, uint64_t agent, DocOptions options) {
  auto state = std::make_unique<detail::DocState>(agent, options);
  WEFT_RETURN_IF_ERROR(state->LoadSnapshot(bytes));
  return Doc(std::move(state));
}

Result<Doc> Doc::LoadSnapshot(std::span<const std::byte> bytes, uint64_t agent,
                              DocOptions options) {
  return LoadSnapshot(AsChars(bytes), agent, options);
}

void Doc::SetChangeListener(std::function<void(const Delta&)> listener) {
  state_->listener_ = std::move(listener);
}

Anchor Doc::AnchorAt(uint64_t pos, Bias bias) const {
  const detail::ItemTree& tree = state_->tree_;
  uint64_t size = tree.visible();
  if (pos > size) pos = size;
  Anchor a;
  a.bias = bias;
  bool edge = bias == Bias::kLeft ? pos == 0 : pos == size;
  if (edge) return a;
  detail::ItemTree::Found f = tree.FindVisible(bias == Bias::kLeft ? pos - 1 : pos);
  const detail::Item& it = tree.at(f.loc);
  a.has_id = true;
  a.id = state_->ToId(detail::Ref{it.agent, it.seq + f.offset});
  return a;
}

uint64_t Doc::Resolve(const Anchor& anchor) const {
  const detail::ItemTree& tree = state_->tree_;
  uint64_t fallback = anchor.bias == Bias::kLeft ? 0 : tree.visible();
  if (!anchor.has_id) return fallback;
  std::optional<uint32_t> a = state_->FindAgent(anchor.id.agent);
  if (!a || anchor.id.seq > detail::kMaxSeq ||
      !state_->IsInsertRange(*a, static_cast<uint32_t>(anchor.id.seq),
                             static_cast<uint32_t>(anchor.id.seq))) {
    return fallback;
  }
  detail::ItemTree::Found f = tree.FindId(*a, static_cast<uint32_t>(anchor.id.seq));
  const detail::Item& it = tree.at(f.loc);
  uint64_t before = tree.VisibleBefore(f.loc) + (it.deleted ? 0 : f.offset);
  return anchor.bias == Bias::kLeft && !it.deleted ? before + 1 : before;
}

Result<Ops> Doc::Undo() { return state_->UndoRedo(true); }
Result<Ops> Doc::Redo() { return state_->UndoRedo(false); }
bool Doc::CanUndo() const { return !state_->undo_.empty(); }
bool Doc::CanRedo() const { return !state_->redo_.empty(); }

size_t Doc::HeapBytes() const { return sizeof(detail::DocState) + state_->HeapBytes(); }

Status Doc::CheckInvariants() const { return state_->CheckInvariants(); }

}  // namespace weft::engine
