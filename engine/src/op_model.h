// OpModel: how an Update's runs become symbols and back (engine/FORMAT.md,
// "Ops"). Encoder and decoder keep the same predictor state, so a reference
// is usually written as "the id we expected" (a few bits) instead of an id.
//
// References (origins and delete targets) are predicted from a short list
// of recently mentioned ids, most recent first: where the last insert
// ended, the character after its left origin, its right origin, and the
// ids next to each run a delete removed. Edits cluster, so the next
// reference is often one of these or close to one; a right origin is most
// often the character after the left origin (an insert into the middle of
// a run). Everything else is a seq relative to the run's own, or an agent
// and a seq relative to where that agent was last referenced.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "symbol_coder.h"

namespace weft::engine::detail {

// A reference inside an Update: agent table index and seq, or none
// (document start for a left origin, end for a right one).
struct ModelRef {
  static constexpr uint32_t kNoAgent = UINT32_MAX;
  uint32_t agent = kNoAgent;
  uint32_t seq = 0;
  bool none() const { return agent == kNoAgent; }
  friend bool operator==(const ModelRef&, const ModelRef&) = default;
};

enum class ModelKind : uint8_t { kInsert = 0, kDeleteForward = 1, kDeleteBackward = 2 };

// One run as the model sees it: `len` seqs of agent `agent` (table index)
// from `seq`. An insert has origins `left` and `right`; a delete its first
// target in `left` (`right` unused).
struct ModelRun {
  uint32_t agent = 0;
  uint32_t seq = 0;
  uint32_t len = 0;
  ModelKind kind = ModelKind::kInsert;
  ModelRef left, right;
};

enum OpContext : uint32_t {
  // The run head (kind and whether the agent changed), by the previous
  // run's kind.
  kHeadAfterInsert,
  kHeadAfterDeleteForward,
  kHeadAfterDeleteBackward,
  kRunAgent,  // a run's agent, when it changes
  kLenInsert,
  kLenDeleteForward,
  kLenDeleteBackward,
  // Per reference kind: the mode, then the delta a mode needs.
  kModeLeft,
  kModeRight,
  kModeDeleteForward,
  kModeDeleteBackward,
  kSelfDeltaLeft,
  kSelfDeltaRight,
  kSelfDeltaDelete,
  kNearDeltaLeft,
  kNearDeltaRight,
  kNearDeltaDelete,
  kRefAgent,   // an explicit reference's agent
  kRefCursor,  // its seq, relative to where that agent was last referenced
  kOpContexts
};

std::span<const uint16_t> OpAlphabets();

// The predictor both sides keep while walking the runs of one Update.
class RefPredictor {
 public:
  static constexpr uint32_t kRecent = 8;
  // Reference modes.
  static constexpr uint32_t kNone = 0;
  static constexpr uint32_t kAfterLeft = 1;          // right origin only: left + 1
  static constexpr uint32_t kSelf = 2;               // seq relative to the run's
  static constexpr uint32_t kExplicit = 3;           // agent, seq relative to its cursor
  static constexpr uint32_t kHit = 4;                // + i: recent[i] itself
  static constexpr uint32_t kNear = kHit + kRecent;  // + i: relative to recent[i]
  static constexpr uint32_t kModes = kNear + kRecent;

  explicit RefPredictor(uint32_t agents) : cursor_(agents, 0) {}

  // Writes the body of `run` (its length and references; the caller writes
  // the head, and the decoder knows the seq).
  void PutRun(SymbolWriter& w, const ModelRun& run);
  // Reads the body of a run whose head was read: fills len and references
  // of `run` (agent, seq and kind set). False on a malformed reference.
  bool GetRun(SymbolReader& src, ModelRun* run);

 private:
  void PutRef(SymbolWriter& w, uint32_t type, ModelRef ref, const ModelRun& run,
              const ModelRef* left);
  bool GetRef(SymbolReader& src, uint32_t type, const ModelRun& run, const ModelRef* left,
              ModelRef* out);
  // Remembers what a run makes likely to be referenced next.
  void Learn(const ModelRun& run);
  void Push(uint32_t agent, uint32_t seq);

  static uint64_t Key(uint32_t agent, uint32_t seq) { return uint64_t{agent} << 32 | seq; }
  static constexpr std::array<uint64_t, kRecent> MakeEmpty() {
    std::array<uint64_t, kRecent> a{};
    for (uint64_t& k : a) k = uint64_t{ModelRef::kNoAgent} << 32;
    return a;
  }

  // agent << 32 | seq, most recent first; unused entries name no agent.
  std::array<uint64_t, kRecent> recent_ = MakeEmpty();
  std::vector<uint32_t> cursor_;  // per agent: the seq last referenced
};

// Seq deltas are taken modulo 2^32 and written as zigzag of the 32-bit
// signed difference: every seq is below 2^32, so any seq is reachable from
// any base in 32 bits.
inline uint32_t SeqDelta32(uint32_t seq, uint32_t base) {
  int32_t d = static_cast<int32_t>(seq - base);
  return (static_cast<uint32_t>(d) << 1) ^ static_cast<uint32_t>(d >> 31);
}
inline uint32_t SeqFromDelta32(uint32_t base, uint32_t zz) {
  return base + ((zz >> 1) ^ (0u - (zz & 1)));
}

// Reference type -> its mode context and delta contexts.
inline constexpr uint32_t kRefLeft = 0, kRefRight = 1, kRefDeleteForward = 2,
                          kRefDeleteBackward = 3;

inline bool RefPredictor::GetRef(SymbolReader& src, uint32_t type, const ModelRun& run,
                                 const ModelRef* left, ModelRef* out) {
  const uint32_t delta_type = type < kRefDeleteForward ? type : 2;
  const uint32_t mode = src.Get(kModeLeft + type);
  if (mode == kNone) {
    *out = ModelRef{};
    return type < kRefDeleteForward;  // a delete always has a target
  }
  if (mode == kAfterLeft) {
    if (left == nullptr || left->none()) return false;
    *out = ModelRef{left->agent, left->seq + 1};
  } else if (mode == kSelf) {
    *out = ModelRef{run.agent, SeqFromDelta32(run.seq, src.GetNum(kSelfDeltaLeft + delta_type))};
  } else if (mode == kExplicit) {
    uint32_t agent = src.GetNum(kRefAgent);
    if (agent >= cursor_.size()) return false;
    *out = ModelRef{agent, SeqFromDelta32(cursor_[agent], src.GetNum(kRefCursor))};
  } else if (mode < kNear) {
    uint64_t k = recent_[mode - kHit];
    *out = ModelRef{static_cast<uint32_t>(k >> 32), static_cast<uint32_t>(k)};
  } else {
    uint64_t k = recent_[mode - kNear];
    uint32_t base = static_cast<uint32_t>(k);
    *out = ModelRef{static_cast<uint32_t>(k >> 32),
                    SeqFromDelta32(base, src.GetNum(kNearDeltaLeft + delta_type))};
  }
  if (out->agent >= cursor_.size()) return false;  // an unused recent entry
  cursor_[out->agent] = out->seq;
  return true;
}

inline bool RefPredictor::GetRun(SymbolReader& src, ModelRun* run) {
  const uint32_t len_context = kLenInsert + static_cast<uint32_t>(run->kind);
  run->len = src.GetNum(len_context) + 1;
  if (run->len == 0) return false;  // wrapped: no run is 2^32 long
  bool ok;
  if (run->kind == ModelKind::kInsert) {
    ok = GetRef(src, kRefLeft, *run, nullptr, &run->left) &&
         GetRef(src, kRefRight, *run, &run->left, &run->right);
  } else {
    uint32_t type = run->kind == ModelKind::kDeleteForward ? kRefDeleteForward : kRefDeleteBackward;
    ok = GetRef(src, type, *run, nullptr, &run->left);
    run->right = ModelRef{};
  }
  if (!ok) return false;
  Learn(*run);
  return true;
}

}  // namespace weft::engine::detail
