// Snapshot files: one per document, the engine's whole-replica snapshot
// plus the log position it covers. Format in engine/persist/FORMAT.md.
#pragma once

#include <string>
#include <string_view>

#include "weft/persist/file_system.h"
#include "weft/persist/op_log.h"
#include "weft/status.h"

namespace weft::persist {

struct SnapshotFile {
  std::string doc;
  LogPosition covers;  // every record of `doc` ending at or before this is in it
  std::string snapshot;
};

// The file name of `doc`'s snapshot: "doc-<fnv64 of the name>.wsnap".
std::string SnapshotName(std::string_view doc);

// Writes `doc`'s snapshot durably (temporary file, fsync, rename, directory
// fsync), replacing the previous one. FailedPrecondition if another
// document's snapshot already has that file name (a hash collision: that
// document then keeps relying on the log).
Status WriteSnapshotFile(FileSystem* fs, const std::string& dir, const SnapshotFile& s);

// Reads and checks one snapshot file. Corruption for bad magic or checksum.
Result<SnapshotFile> ReadSnapshotFile(FileSystem* fs, const std::string& path);

}  // namespace weft::persist
