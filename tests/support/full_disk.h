// FullDisk: a file system that fails writes, as a full disk does, while
// `full` is set; otherwise it is the real one. Shared by the persistence
// and node tests.
#pragma once

#include <atomic>
#include <memory>

#include "weft/persist/file_system.h"

namespace weft::support {

using persist::AppendFile;
using persist::FileSystem;

// A file system that fails writes (as a full disk does) while `full` is set.
class FullDisk : public FileSystem {
 public:
  // Set from the test thread, read by whichever thread writes.
  std::atomic<bool> full{false};

  class File : public AppendFile {
   public:
    File(std::unique_ptr<AppendFile> f, FullDisk* d) : f_(std::move(f)), d_(d) {}
    Status Append(std::span<const std::span<const std::byte>> parts) override {
      if (d_->full) {
        // A partial write first, as a real full disk may leave.
        std::span<const std::byte> some[] = {parts[0].subspan(0, parts[0].size() / 2)};
        (void)f_->Append(some);
        return Status::ResourceExhausted("no space left on device");
      }
      return f_->Append(parts);
    }
    Status Sync() override { return f_->Sync(); }
    Status Truncate(uint64_t size) override { return f_->Truncate(size); }
    uint64_t size() const override { return f_->size(); }

   private:
    std::unique_ptr<AppendFile> f_;
    FullDisk* d_;
  };

  Result<std::unique_ptr<AppendFile>> OpenAppend(const std::string& path) override {
    Result<std::unique_ptr<AppendFile>> f = real_->OpenAppend(path);
    if (!f.ok()) return f;
    return std::unique_ptr<AppendFile>(new File(std::move(*f), this));
  }
  Result<std::string> ReadAll(const std::string& p) override { return real_->ReadAll(p); }
  Status WriteAtomically(const std::string& p, std::span<const std::byte> b) override {
    if (full) return Status::ResourceExhausted("no space left on device");
    return real_->WriteAtomically(p, b);
  }
  Status SyncDir(const std::string& d) override { return real_->SyncDir(d); }
  Status Remove(const std::string& p) override { return real_->Remove(p); }
  Status CreateDir(const std::string& d) override { return real_->CreateDir(d); }
  Result<std::vector<std::string>> List(const std::string& d) override { return real_->List(d); }
  Status Truncate(const std::string& p, uint64_t s) override { return real_->Truncate(p, s); }

 private:
  FileSystem* real_ = persist::DefaultFileSystem();
};

}  // namespace weft::support
