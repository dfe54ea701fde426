// DataDir: what a node finds in its data directory at start (NodeOptions::
// data_dir): its id, the documents it recovers from the op log and the
// snapshots, and the op log opened for appending after them.
#pragma once

#include <cstdint>
#include <memory>

#include "weft/node/node.h"
#include "weft/persist/op_log.h"
#include "weft/persist/recovery.h"
#include "weft/status.h"

namespace weft::node {

struct DataDir {
  uint64_t node_id = 0;
  std::unique_ptr<persist::RecoveredState> recovered;
  std::unique_ptr<persist::OpLogWriter> log_writer;
};

// Creates the directory if needed and recovers it through `options.fs`
// (not null). `node_id` 0: the one kept in the directory (created on first
// start). Logs one line on what it recovered. Errors: those of the file
// system, Corruption for damage recovery refuses (with the directory).
Result<DataDir> OpenDataDir(const NodeOptions& options, uint64_t node_id);

}  // namespace weft::node
