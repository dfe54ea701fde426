// Recovery: a node's data directory back into documents.
//
//   DIR/log/log-<segment>.wlog   the op log (op_log.h)
//   DIR/snapshots/doc-*.wsnap    one snapshot per document (snapshot_file.h)
//
// Each document starts from its newest snapshot, then every log record of
// it that the snapshot does not cover is applied, segment by segment. A
// torn tail of the last segment (a crash mid-append) is cut off and
// reported; damage anywhere else, a missing segment, or a damaged snapshot
// over a compacted log is an error naming what is wrong: a node never
// serves a document it could not rebuild exactly. Ops the node had accepted
// before their dependencies arrived come back waiting for them, as before.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "weft/engine/doc.h"
#include "weft/persist/file_system.h"
#include "weft/persist/op_log.h"
#include "weft/status.h"

namespace weft::persist {

std::string LogDir(const std::string& data_dir);
std::string SnapshotDir(const std::string& data_dir);

struct RecoveryOptions {
  FileSystem* fs = nullptr;  // null: DefaultFileSystem()
  // Inspect only: never cut a torn tail or remove a file (weft replay).
  bool read_only = false;
  // The recovered replicas' options; max_decoded_bytes bounds each log
  // record once decompressed.
  engine::DocOptions doc_options;
  // Largest snapshot accepted once decompressed (a larger one is ignored,
  // and its document rebuilt from the log if the log still has it).
  size_t max_snapshot_bytes = size_t{1} << 30;
  // One line per notable event (a cut tail, a skipped file).
  std::function<void(const std::string&)> log;
};

struct RecoveredState {
  std::map<std::string, std::unique_ptr<engine::Doc>, std::less<>> docs;
  // Per document, what its snapshot covers (absent: no snapshot).
  std::map<std::string, LogPosition, std::less<>> snapshot_covers;
  // Every segment on disk and, per document, where the document's last
  // record in it ends: what compaction needs to know when a segment is
  // fully covered.
  std::map<uint64_t, std::map<std::string, uint64_t, std::less<>>> segment_docs;
  uint64_t next_segment = 0;   // the first segment number a writer may create
  uint64_t records = 0;        // log records read
  uint64_t applied = 0;        // of which not covered by a snapshot
  uint64_t dropped_bytes = 0;  // cut from a torn tail
};

Result<RecoveredState> Recover(const std::string& data_dir, RecoveryOptions options = {});

}  // namespace weft::persist
