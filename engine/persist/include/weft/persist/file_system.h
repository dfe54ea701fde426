// The few file operations persistence needs, behind an interface so tests
// can inject failures (a full disk, a failing fsync) deterministically.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "weft/status.h"

namespace weft::persist {

// A file opened for appending. One thread at a time.
class AppendFile {
 public:
  virtual ~AppendFile() = default;
  // Writes all of `parts`, in order, at the end. On error the file may hold
  // part of them: the caller truncates back to what it knows is good.
  virtual Status Append(std::span<const std::span<const std::byte>> parts) = 0;
  // Makes everything appended durable (fdatasync).
  virtual Status Sync() = 0;
  virtual Status Truncate(uint64_t size) = 0;
  virtual uint64_t size() const = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // Opens (creating if missing) `path` for appending at its end.
  virtual Result<std::unique_ptr<AppendFile>> OpenAppend(const std::string& path) = 0;
  virtual Result<std::string> ReadAll(const std::string& path) = 0;
  // Writes `bytes` to `path` atomically and durably: a temporary file,
  // fsynced, renamed over `path`, then the directory fsynced.
  virtual Status WriteAtomically(const std::string& path, std::span<const std::byte> bytes) = 0;
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual Status Remove(const std::string& path) = 0;
  // Creates `dir` and any missing parents; OK if it exists.
  virtual Status CreateDir(const std::string& dir) = 0;
  // Names (not paths) of the entries of `dir`; empty if it does not exist.
  virtual Result<std::vector<std::string>> List(const std::string& dir) = 0;
  virtual Status Truncate(const std::string& path, uint64_t size) = 0;
};

// The real, POSIX file system.
FileSystem* DefaultFileSystem();

}  // namespace weft::persist
