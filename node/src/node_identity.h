// The node id a data directory belongs to: DIR/node-id, the id in hex and
// a newline. A node restarted on the same directory is the same node to
// its peers.
#pragma once

#include <cstdint>
#include <string>

#include "weft/persist/file_system.h"
#include "weft/status.h"

namespace weft::node {

// The id in `dir` (which must exist); when there is none yet, a random
// nonzero one, written through `fs` atomically and durably (temporary file,
// fsync, rename, directory fsync) before it is returned. Corruption for a
// node-id file that does not hold one; the error of `fs` when it cannot be
// read or written.
Result<uint64_t> LoadOrCreateNodeId(persist::FileSystem* fs, const std::string& dir);

// A random nonzero id.
uint64_t RandomNodeId();

}  // namespace weft::node
