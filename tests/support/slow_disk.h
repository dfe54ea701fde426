// SlowDisk: a file system whose fsyncs wait between Hold() and Open(), as
// on a disk that is slow to answer; otherwise it is FullDisk (and so the
// real one). For tests of what waits on the disk and what must not.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>

#include "support/full_disk.h"

namespace weft::support {

class SlowDisk : public FullDisk {
 public:
  // Fsyncs from now on wait until Open().
  void Hold() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

  class File : public AppendFile {
   public:
    File(std::unique_ptr<AppendFile> f, SlowDisk* d) : f_(std::move(f)), d_(d) {}
    Status Append(std::span<const std::span<const std::byte>> parts) override {
      return f_->Append(parts);
    }
    Status Sync() override {
      std::unique_lock<std::mutex> lock(d_->mu_);
      d_->cv_.wait(lock, [&] { return d_->open_; });
      return f_->Sync();
    }
    Status Truncate(uint64_t size) override { return f_->Truncate(size); }
    uint64_t size() const override { return f_->size(); }

   private:
    std::unique_ptr<AppendFile> f_;
    SlowDisk* d_;
  };

  Result<std::unique_ptr<AppendFile>> OpenAppend(const std::string& path) override {
    Result<std::unique_ptr<AppendFile>> f = FullDisk::OpenAppend(path);
    if (!f.ok()) return f;
    return std::unique_ptr<AppendFile>(new File(std::move(*f), this));
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
};

}  // namespace weft::support
