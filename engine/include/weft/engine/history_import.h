// HistoryImporter: a positional editing history into the ops of one Doc.
//
// Tools that keep a history as positional changes (a git history of a
// file, an OT server's log, an editor's own undo tree) record each change
// as patches against the version its author saw. Such a history becomes
// ops of a replica here, so it can be merged, synced and edited like any
// other, with the same ops as if every author had typed their changes into
// a replica of their own: the importer walks one prepare state back and
// forth along the causal graph (the Eg-walker algorithm of Gentle and
// Kleppmann) instead of keeping a replica per author, so its cost follows
// the history's concurrency, not its number of authors.
//
// Positions and lengths are Unicode code points, as everywhere in the engine.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "weft/engine/doc.h"
#include "weft/status.h"

namespace weft::engine {

namespace detail {
class HistoryTracker;
}

// One change of a txn: at `pos` delete `del` code points, then insert
// `text` there. Positions count the text of the txn's version after the
// txn's earlier patches, as a replica applying them one by one would.
struct PositionalPatch {
  uint64_t pos = 0;
  uint64_t del = 0;
  std::string_view text;  // UTF-8
};

class HistoryImporter {
 public:
  // Imports into `doc`. Txns without parents start from `doc` as it is now
  // (usually empty). REQUIRES: `doc` outlives the importer and is not
  // edited, merged or loaded into until Finish() (reading it is fine; its
  // text is the merge of every txn added so far).
  explicit HistoryImporter(Doc& doc);
  ~HistoryImporter();  // Finish()es
  HistoryImporter(const HistoryImporter&) = delete;
  HistoryImporter& operator=(const HistoryImporter&) = delete;

  // Adds one txn made by `agent` against the version after the txns
  // `parents` (indexes returned by earlier calls; none: the start), its
  // patches applied in order, and returns its index. Its ops are the ones a
  // replica of `agent` at that version would make for those patches as
  // local edits, integrated into the Doc as remote ops are (the Doc's
  // change listener sees them).
  //
  // An agent's txns must be causally ordered, as any replica's edits are:
  // each descends from that agent's previous txn in this import.
  //
  // Errors leave the Doc as it was: kInvalidArgument for a parent that is
  // not an earlier txn, a patch past the end of its version, or text that is
  // not UTF-8; kFailedPrecondition when `agent`'s previous txn is not an
  // ancestor of this one (give the txn another agent id), or when the Doc
  // has ops waiting in Pending; kResourceExhausted past the seq or text
  // limits of a Doc; kFailedPrecondition after Finish().
  Result<uint32_t> AddTxn(uint64_t agent, std::span<const uint32_t> parents,
                          std::span<const PositionalPatch> patches);

  // Number of txns added so far.
  uint32_t txns() const;

  // Ends the import and drops its tracking state: the Doc is an ordinary
  // replica again, holding every txn's ops. Idempotent.
  void Finish();

 private:
  std::unique_ptr<detail::HistoryTracker> tracker_;
};

// An order in which to add a history's txns to a HistoryImporter so that
// the prepare version moves little: every branch is added in one go, and
// where the history forks the shorter stretch goes first (it is the one
// retreated until the branches merge again). `parents[i]` are txn i's
// parents (earlier txns), `weight[i]` its size (patches, say). Returns a
// permutation of the txns in which each comes after its parents, or
// kInvalidArgument if a parent is not an earlier txn. An agent's txns keep
// their relative order whenever they are causally ordered, as AddTxn
// requires anyway. On the Eg-walker paper's git histories this moves 6 to
// 26 times fewer patches than adding the txns as recorded.
Result<std::vector<uint32_t>> ImportOrder(const std::vector<std::vector<uint32_t>>& parents,
                                          const std::vector<uint64_t>& weight);

}  // namespace weft::engine
