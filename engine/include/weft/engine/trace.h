// Editing traces (../shared/traces/README.md): loading and replaying them
// through Docs. Used by `weft replay`, the trace tests and the benchmarks.
// Target weft::engine_trace (reads gzip and JSON); the Doc itself does not
// depend on it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "weft/engine/doc.h"
#include "weft/status.h"

namespace weft::engine {

struct TracePatch {
  uint64_t pos = 0;  // code points
  uint64_t del = 0;  // code points deleted at pos, before inserting
  std::string text;  // UTF-8 inserted at pos
};

struct TraceTxn {
  std::vector<uint64_t> parents;  // indexes of earlier txns (concurrent traces)
  uint32_t agent = 0;             // trace agent index (concurrent traces)
  std::vector<TracePatch> patches;
};

struct Trace {
  bool concurrent = false;  // `"kind": "concurrent"`
  std::string start_content;
  std::string end_content;
  uint32_t num_agents = 1;
  std::vector<TraceTxn> txns;
  uint64_t patches = 0;  // total over txns
};

// Reads a `.json` or `.json.gz` trace. kIoError if unreadable, kCorruption if
// it is not a well-formed trace (one-line message saying what is wrong).
Result<Trace> LoadTrace(const std::string& path);

// Applies every patch of a sequential trace as a local edit of `doc`, in
// order. `progress(done_patches)` is called now and then if set.
Status ReplaySequential(const Trace& trace, Doc& doc,
                        const std::function<void(uint64_t)>& progress = {});

// A generated sequential trace in the shape of refactoring, for benchmarks
// and tests of large edits: a first paste of code, then `cycles` rounds of a
// rename across a region (a short identifier replaced every few dozen
// characters, which leaves many small Items), a block cut and pasted
// elsewhere (a delete spanning those Items and an insert of up to
// max_chars / 4 characters), typing with backspaces at a few places, and a
// further paste or, once the text nears max_chars, a large delete. Mostly
// ASCII with some non-ASCII characters. Deterministic for a seed; its
// endContent is computed on a plain buffer, not by a Doc.
// With `bottom_up` the renames walk from the region's end to its start,
// as codemods and language servers apply a batch of edits so that each
// leaves the positions of the ones still to come unchanged.
struct PasteDeleteOptions {
  uint64_t seed = 1;
  int cycles = 40;
  uint64_t max_chars = 400'000;
  bool bottom_up = false;
};
Trace GeneratePasteDeleteTrace(const PasteDeleteOptions& options);

// A generated concurrent-format trace of a document many people edit now
// and then: each txn is a short edit (a few letters typed at one place,
// one backspace) by an author drawn at random from `authors`, on top of
// the txn before it. Authors come back after thousands of others' txns,
// which is what a long-lived shared document's history looks like to
// the importer and to a merge. Deterministic for a seed; endContent is
// computed on a plain buffer.
struct ManyAuthorsOptions {
  uint64_t seed = 1;
  uint32_t authors = 20'000;
  int txns = 40'000;
};
Trace GenerateManyAuthorsTrace(const ManyAuthorsOptions& options);

// The agent id of trace agent `k` in replays (ids order concurrent inserts).
inline uint64_t TraceAgentId(uint32_t k) { return uint64_t{k} + 1; }

struct ConcurrentReplayOptions {
  // Keep every replica, synced, in `replicas`. When false, the final sync
  // checks each replica against the others as soon as it has caught up and
  // then releases it, and `replicas` holds replica 0 alone: with hundreds of
  // agents, every replica holding the whole final document at once is most
  // of the replay's memory.
  bool keep_replicas = true;
  // Threads for the final sync, where every replica catches up on its own
  // (most of the time of a history with many agents who stopped early).
  unsigned threads = 1;
  // Called now and then during that final sync, on the calling thread, with
  // how many replicas have caught up so far and how many there are.
  std::function<void(size_t done, size_t total)> catch_up_progress;
};

// Replays a concurrent trace with one replica per agent: before each txn the
// agent's replica is brought to exactly the txn's parent version by syncing
// the missing ops from the other replicas (EncodeOpsSince/ApplyUpdate), then
// the patches are applied as local edits. At the end every replica is synced
// with every other. `replicas` receives them (index = trace agent; see
// ConcurrentReplayOptions::keep_replicas). An agent whose txns are not
// totally ordered (its replica is ahead of a txn's parents) gets another
// replica, appended after the trace agents', under a further agent id.
// kCorruption for a malformed history (bad parent, a patch out of range);
// kInternal when a replica ends with a different text from the others (a
// bug); other errors from the Doc.
Status ReplayConcurrent(const Trace& trace, std::vector<Doc>& replicas,
                        const std::function<void(uint64_t)>& progress = {},
                        const ConcurrentReplayOptions& options = {});

// Imports a concurrent trace into `doc` (an empty replica) through a
// HistoryImporter: one replica, however many agents the trace has. Trace
// agent k types as TraceAgentId(k); a txn that does not descend from its
// agent's previous one goes to the agent's next id, or a further id as in
// ReplayConcurrent, so both make the same ops. kCorruption for a malformed
// history (a patch out of range, text that is not UTF-8), with the txn.
Status ImportConcurrent(const Trace& trace, Doc& doc,
                        const std::function<void(uint64_t)>& progress = {});

}  // namespace weft::engine
