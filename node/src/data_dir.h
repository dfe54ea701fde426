// DataDir: what a node finds in its data directory at start (NodeOptions::
// data_dir): its id, the documents it recovers from the op log and the
// snapshots, and the op log opened for appending after them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "weft/node/node.h"
#include "weft/persist/op_log.h"
#include "weft/persist/recovery.h"
#include "weft/status.h"

namespace weft::node {

struct DataDir {
  uint64_t node_id = 0;
  std::unique_ptr<persist::RecoveredState> recovered;
  // Null when the disk had no room for a new log segment (full, or writes
  // failing): the node then starts anyway, serving what it recovered and
  // refusing op batches, and the persister calls open_log until it works.
  std::unique_ptr<persist::OpLogWriter> log_writer;
  std::function<Result<std::unique_ptr<persist::OpLogWriter>>()> open_log;
};

// Creates the directory if needed and recovers it through `options.fs`
// (not null). `node_id` 0: the one kept in the directory (created on first
// start). Logs one line on what it recovered. Errors: those of the file
// system, Corruption for damage recovery refuses (with the directory). A
// log that cannot be opened for want of space or a working disk is not an
// error (see DataDir::log_writer).
Result<DataDir> OpenDataDir(const NodeOptions& options, uint64_t node_id);

}  // namespace weft::node
