// The op log: append-only segment files of checksummed records, each the
// update bytes of one accepted op batch as they arrived, with the document
// they belong to. The byte format is in engine/persist/FORMAT.md.
#pragma once

#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weft/persist/file_system.h"
#include "weft/status.h"

namespace weft::persist {

enum class FsyncPolicy : uint8_t {
  kAlways,  // fsync after every record
  kBatch,   // fsync once per batch the caller appends (Sync())
  kOff,     // never fsync (the OS flushes when it likes)
};

// Parses "always", "batch" or "off".
Result<FsyncPolicy> ParseFsyncPolicy(std::string_view text);

// Where a record ends: the segment and the byte offset just past it.
struct LogPosition {
  uint64_t segment = 0;
  uint64_t offset = 0;
  friend auto operator<=>(const LogPosition&, const LogPosition&) = default;
};

enum class RecordType : uint8_t { kOps = 1 };

inline constexpr char kSegmentMagic[8] = {'W', 'E', 'F', 'T', 'L', 'O', 'G', '1'};
inline constexpr size_t kSegmentHeaderBytes = 16;  // magic, u64 segment number
inline constexpr size_t kRecordHeaderBytes = 9;    // u32 length, u32 crc, u8 type
inline constexpr size_t kMaxRecordPayload = 64 << 20;

// "log-0000000000000007.wlog" for segment 7.
std::string SegmentName(uint64_t segment);
// The segment number of a segment file name, or nullopt for other files.
std::optional<uint64_t> ParseSegmentName(std::string_view name);

struct OpLogOptions {
  FsyncPolicy fsync = FsyncPolicy::kBatch;
  uint64_t segment_bytes = 4 << 20;  // start a new segment past this size
  FileSystem* fs = nullptr;          // null: DefaultFileSystem()
};

// Appends records to the log in `dir`. One thread.
class OpLogWriter {
 public:
  // Starts segment `first_segment` (a new file) in `dir`, creating the
  // directory if needed.
  static Result<std::unique_ptr<OpLogWriter>> Open(const std::string& dir, uint64_t first_segment,
                                                   OpLogOptions options = {});

  // Appends one record holding `update` for `doc`, written straight from
  // the caller's buffer. With FsyncPolicy::kAlways it is durable on return.
  // On error the segment is cut back to its last whole record and the
  // writer stays usable (e.g. once disk space returns).
  Result<LogPosition> AppendOps(std::string_view doc, std::span<const std::byte> update);

  // Makes every appended record durable (kBatch; a no-op for kOff).
  Status Sync();

  // Where the next record starts.
  LogPosition position() const { return {segment_, file_->size()}; }
  const std::string& dir() const { return dir_; }
  uint64_t records() const { return records_; }
  uint64_t syncs() const { return syncs_; }

 private:
  OpLogWriter(std::string dir, OpLogOptions options) : dir_(std::move(dir)), options_(options) {}
  Status StartSegment(uint64_t segment);

  std::string dir_;
  OpLogOptions options_;
  uint64_t segment_ = 0;
  std::unique_ptr<AppendFile> file_;
  uint64_t records_ = 0;
  uint64_t syncs_ = 0;
  bool dirty_ = false;  // appended since the last sync
};

// One record read back. `doc` and `update` view the SegmentScan's bytes.
struct LogRecord {
  RecordType type = RecordType::kOps;
  std::string_view doc;
  std::string_view update;
  LogPosition start;  // where its header begins
  LogPosition end;    // just past it
};

// The readable prefix of one segment file. Not copyable: records view
// `bytes`.
struct SegmentScan {
  SegmentScan() = default;
  SegmentScan(SegmentScan&&) = default;
  SegmentScan& operator=(SegmentScan&&) = default;
  SegmentScan(const SegmentScan&) = delete;
  SegmentScan& operator=(const SegmentScan&) = delete;

  uint64_t segment = 0;
  std::string bytes;  // the whole file
  std::vector<LogRecord> records;
  uint64_t valid_bytes = 0;  // header and whole, checksummed records
  uint64_t file_bytes = 0;
  // Set when the file holds more than valid_bytes: what is wrong there.
  std::optional<std::string> damage;
  // The damage is a torn tail (nothing valid follows it): what a crash in
  // the middle of an append leaves. Otherwise a record in the middle is bad.
  bool torn_tail = false;
};

// Reads `path` (segment number `segment`). Never fails on bad content (that
// is reported in the scan); fails only if the file cannot be read, or its
// header is not a weft log segment of that number.
Result<SegmentScan> ScanSegment(FileSystem* fs, const std::string& path, uint64_t segment);

// The record encoding, shared by the writer and tests: header + payload
// for `doc` and `update`.
std::string EncodeOpsRecordHeader(std::string_view doc, std::span<const std::byte> update);

}  // namespace weft::persist
