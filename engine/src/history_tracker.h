// HistoryTracker: the engine side of HistoryImporter, on a DocState. Also
// the entry point for anything inside the engine that holds a positional
// history (a positional encoding of ops, say).
//
// The Doc's item tree is the Eg-walker tracker: while an import runs, each
// Item also has a prepare state (ItemTree::BeginTracking): whether it is in
// the version the next txn was made against (its "prepare version") and how
// many deletes of that version removed it. Before a txn, the prepare
// version moves from the previous txn's to the new one's parents: txns only
// in the old one are retreated (their inserts leave it, their deletes are
// undone there), txns only in the new one advanced. The txn's positions then
// count Items visible in the prepare version, its inserts take as origins
// the characters a replica at that version would (the one before, and the
// next one that exists there), and are integrated among the Items not in
// that version exactly as a remote op is. The Doc's own state (deleted or
// not, the text) is the merge of everything added so far, all along.
//
// Invariant: between calls, the prepare version is the history of
// frontier_ (after a successful AddTxn, the txn just added), in_prep_
// marks exactly its txns, and every Item's prepare state says whether its
// insert is among them and how many of their deletes target it.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "doc_state.h"
#include "weft/engine/history_import.h"
#include "weft/status.h"

namespace weft::engine::detail {

class HistoryTracker {
 public:
  // Starts tracking `doc`'s item tree. REQUIRES: no other tracker on it.
  explicit HistoryTracker(DocState& doc);
  ~HistoryTracker();

  Result<uint32_t> AddTxn(uint64_t agent, std::span<const uint32_t> parents,
                          std::span<const PositionalPatch> patches);
  uint32_t txns() const { return static_cast<uint32_t>(txns_.size()); }
  void Finish();

 private:
  struct Txn {
    uint32_t agent;  // local index
    uint32_t seq_begin, seq_end;
    uint32_t first_run;                   // in the agent's runs_of_
    uint32_t parents_begin, parents_end;  // in parents_
  };
  using Entry = std::pair<uint32_t, uint8_t>;  // MoveTo's walk: (txn, sides)
  std::span<const uint32_t> ParentsOf(uint32_t txn) const {
    return std::span<const uint32_t>(parents_).subspan(
        txns_[txn].parents_begin, txns_[txn].parents_end - txns_[txn].parents_begin);
  }
  // Moves the prepare version to the history of `frontier`.
  void MoveTo(std::span<const uint32_t> frontier);
  // Txn `txn`'s ops enter (+1) or leave (-1) the prepare version.
  void Shift(uint32_t txn, int dir);
  // Adds `dir` to the prepare state of the characters [lo, hi) of `agent`:
  // kPrepInserted for inserts, 1 for deletes naming them.
  void ShiftIds(uint32_t agent, uint32_t lo, uint32_t hi, int64_t delta);
  // The patches against the prepare version, checked before any is applied.
  Status Check(uint32_t agent, std::span<const PositionalPatch> patches,
               std::vector<uint32_t>* lengths) const;
  void Delete(uint32_t agent, uint64_t pos, uint64_t len);
  void Insert(uint32_t agent, uint64_t pos, std::string_view text, uint32_t len);

  DocState& doc_;
  bool finished_ = false;
  std::vector<Txn> txns_;
  std::vector<uint32_t> parents_;
  std::vector<uint32_t> frontier_;  // the prepare version's frontier
  std::vector<uint8_t> in_prep_;    // per txn: in the prepare version
  std::vector<uint32_t> last_txn_;  // per local agent: its last txn, or kNone
  Loc hint_;                        // the Item ShiftIds touched last
  // MoveTo's working space, kept to spare an allocation per txn.
  std::vector<Entry> walk_;
  std::vector<uint32_t> retreat_, advance_;
};

}  // namespace weft::engine::detail
