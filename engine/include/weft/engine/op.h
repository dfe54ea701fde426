// Op and OpId: the units a Doc exchanges with other replicas.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace weft::engine {

// The id of one character or one deleted position: the agent that made it
// and that agent's sequence number. Every agent numbers its ops 0, 1, 2, ...
// with no gaps; an op of n code points takes n consecutive seqs.
struct OpId {
  uint64_t agent = 0;
  uint64_t seq = 0;
  friend auto operator<=>(const OpId&, const OpId&) = default;
};

// One op: an insert of a run of characters with consecutive ids, or a delete
// of a run of ids. Ops are what `Doc::Insert`/`Doc::Remove` return and what
// `Doc::Apply` takes; on the wire they travel as an encoded Update.
struct Op {
  enum class Kind : uint8_t { kInsert, kDelete };

  Kind kind = Kind::kInsert;
  OpId id;           // the first seq of this op; it covers [id.seq, id.seq + len)
  uint64_t len = 0;  // code points inserted, or positions deleted; >= 1

  // kInsert: the characters the run was typed between when it was made (no
  // value = document start / end) and its text (len code points of UTF-8).
  std::optional<OpId> origin_left;
  std::optional<OpId> origin_right;
  std::string text;

  // kDelete: the first id deleted; the run deletes `len` ids of target.agent
  // going up from target.seq (or down when `backward`, as backspace makes).
  OpId target;
  bool backward = false;

  friend bool operator==(const Op&, const Op&) = default;
};

using Ops = std::vector<Op>;

}  // namespace weft::engine
