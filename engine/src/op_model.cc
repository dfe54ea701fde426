#include "op_model.h"

#include <cstdlib>

namespace weft::engine::detail {
namespace {

constexpr uint16_t kOpAlphabet[kOpContexts] = {
    6,
    6,
    6,  // heads: kind * 2 + agent changed
    kNumAlphabet,
    kNumAlphabet,
    kNumAlphabet,
    kNumAlphabet,
    RefPredictor::kModes,
    RefPredictor::kModes,
    RefPredictor::kModes,
    RefPredictor::kModes,
    kNumAlphabet,
    kNumAlphabet,
    kNumAlphabet,
    kNumAlphabet,
    kNumAlphabet,
    kNumAlphabet,
    kNumAlphabet,
    kNumAlphabet,
};

// |seq - base| modulo 2^32, the cost of reaching seq from base.
uint32_t Distance(uint32_t seq, uint32_t base) {
  uint32_t d = seq - base;
  return d <= 0x80000000u ? d : 0u - d;
}

}  // namespace

std::span<const uint16_t> OpAlphabets() { return kOpAlphabet; }

void RefPredictor::Push(uint32_t agent, uint32_t seq) {
  // Move to the front: the entry equal to the new one, or else the oldest,
  // makes room. Fixed bounds and selects instead of branches: which entry
  // matches is as good as random.
  const uint64_t key = Key(agent, seq);
  uint32_t at = kRecent - 1;
  for (uint32_t i = kRecent - 1; i-- > 0;) at = recent_[i] == key ? i : at;
  for (uint32_t i = kRecent - 1; i > 0; --i) recent_[i] = i <= at ? recent_[i - 1] : recent_[i];
  recent_[0] = key;
}

void RefPredictor::Learn(const ModelRun& run) {
  if (run.kind == ModelKind::kInsert) {
    if (!run.left.none()) Push(run.left.agent, run.left.seq + 1);
    if (!run.right.none()) Push(run.right.agent, run.right.seq);
    Push(run.agent, run.seq + run.len - 1);
    return;
  }
  // The ids on either side of what was deleted: deletes continue there.
  const ModelRef& t = run.left;
  if (run.kind == ModelKind::kDeleteForward) {
    if (t.seq > 0) Push(t.agent, t.seq - 1);
    Push(t.agent, t.seq + run.len);
  } else {
    Push(t.agent, t.seq + 1);
    if (t.seq >= run.len) Push(t.agent, t.seq - run.len);
  }
}

void RefPredictor::PutRef(SymbolWriter& w, uint32_t type, ModelRef ref, const ModelRun& run,
                          const ModelRef* left) {
  const uint32_t mode_context = kModeLeft + type;
  const uint32_t delta_type = type < kRefDeleteForward ? type : 2;
  if (ref.none()) {
    w.Put(mode_context, kNone);
    return;
  }
  const uint32_t cursor = cursor_[ref.agent];
  cursor_[ref.agent] = ref.seq;  // as the decoder does once it has read the reference
  if (left != nullptr && !left->none() && ref == ModelRef{left->agent, left->seq + 1}) {
    w.Put(mode_context, kAfterLeft);
    return;
  }
  const uint64_t key = Key(ref.agent, ref.seq);
  for (uint32_t i = 0; i < kRecent; ++i) {
    if (recent_[i] == key) {
      w.Put(mode_context, kHit + i);
      return;
    }
  }
  // The closest base of the same agent: the run's own seq, or a recent id.
  uint32_t best_mode = kExplicit;
  uint32_t best_base = 0;
  uint32_t best_distance = UINT32_MAX;
  if (ref.agent == run.agent) {
    best_mode = kSelf;
    best_base = run.seq;
    best_distance = Distance(ref.seq, run.seq);
  }
  for (uint32_t i = 0; i < kRecent; ++i) {
    if (static_cast<uint32_t>(recent_[i] >> 32) != ref.agent) continue;
    uint32_t base = static_cast<uint32_t>(recent_[i]);
    if (Distance(ref.seq, base) < best_distance) {
      best_mode = kNear + i;
      best_base = base;
      best_distance = Distance(ref.seq, base);
    }
  }
  w.Put(mode_context, best_mode);
  if (best_mode == kExplicit) {
    w.PutNum(kRefAgent, ref.agent);
    w.PutNum(kRefCursor, SeqDelta32(ref.seq, cursor));
  } else if (best_mode == kSelf) {
    w.PutNum(kSelfDeltaLeft + delta_type, SeqDelta32(ref.seq, best_base));
  } else {
    w.PutNum(kNearDeltaLeft + delta_type, SeqDelta32(ref.seq, best_base));
  }
}

void RefPredictor::PutRun(SymbolWriter& w, const ModelRun& run) {
  w.PutNum(kLenInsert + static_cast<uint32_t>(run.kind), run.len - 1);
  if (run.kind == ModelKind::kInsert) {
    PutRef(w, kRefLeft, run.left, run, nullptr);
    PutRef(w, kRefRight, run.right, run, &run.left);
  } else {
    uint32_t type = run.kind == ModelKind::kDeleteForward ? kRefDeleteForward : kRefDeleteBackward;
    PutRef(w, type, run.left, run, nullptr);
  }
  Learn(run);
}

}  // namespace weft::engine::detail
