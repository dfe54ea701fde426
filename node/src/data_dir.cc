#include "data_dir.h"

#include <chrono>
#include <cinttypes>
#include <cstdio>

#include "node_identity.h"

namespace weft::node {

Result<DataDir> OpenDataDir(const NodeOptions& options, uint64_t node_id) {
  persist::FileSystem* fs = options.fs;
  const std::string& path = options.data_dir;
  WEFT_RETURN_IF_ERROR(fs->CreateDir(path));
  DataDir dir;
  dir.node_id = node_id;
  if (dir.node_id == 0) {
    Result<uint64_t> id = LoadOrCreateNodeId(fs, path);
    if (!id.ok()) return id.status();
    dir.node_id = *id;
  }
  persist::RecoveryOptions ro;
  ro.fs = fs;
  ro.log = options.log;
  ro.doc_options = options.budget.doc_options();
  ro.max_snapshot_bytes = options.budget.max_decoded_snapshot;
  auto started = std::chrono::steady_clock::now();
  Result<persist::RecoveredState> r = persist::Recover(path, ro);
  if (!r.ok()) return r.status().WithContext("recovering " + path);
  dir.recovered = std::make_unique<persist::RecoveredState>(std::move(*r));
  const persist::RecoveredState& rec = *dir.recovered;
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  char line[256];
  std::snprintf(line, sizeof line,
                "recovered %zu document(s) from %s in %.1f ms: %" PRIu64 " log records (%" PRIu64
                " replayed), %zu snapshot(s)",
                rec.docs.size(), path.c_str(), ms, rec.records, rec.applied,
                rec.snapshot_covers.size());
  if (options.log) options.log(line);
  persist::OpLogOptions lo;
  lo.fsync = options.fsync;
  lo.segment_bytes = options.segment_bytes;
  lo.fs = fs;
  dir.open_log = [log_dir = persist::LogDir(path), segment = rec.next_segment,
                  lo]() -> Result<std::unique_ptr<persist::OpLogWriter>> {
    Result<std::unique_ptr<persist::OpLogWriter>> w =
        persist::OpLogWriter::Open(log_dir, segment, lo);
    if (!w.ok()) return w.status().WithContext("opening the op log");
    return w;
  };
  Result<std::unique_ptr<persist::OpLogWriter>> w = dir.open_log();
  if (w.ok()) {
    dir.log_writer = std::move(*w);
  } else if (w.status().code() == StatusCode::kResourceExhausted ||
             w.status().code() == StatusCode::kIoError) {
    // A full or failing disk: what was recovered can still be served.
    if (options.log) {
      options.log("cannot write to " + path + " now (" + w.status().ToString() +
                  "): serving what it holds, refusing op batches until it can");
    }
  } else {
    return w.status();
  }
  return dir;
}

}  // namespace weft::node
