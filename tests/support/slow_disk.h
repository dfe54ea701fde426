// SlowDisk: a file system whose fsyncs wait between Hold() and Open(), and
// whose reads of chosen files wait between HoldReads() and OpenReads(), as
// on a disk that is slow to answer; otherwise it is FullDisk (and so the
// real one). For tests of what waits on the disk and what must not.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

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

  // Reads of files whose path contains `part` wait from now on until
  // OpenReads().
  void HoldReads(std::string part) {
    std::lock_guard<std::mutex> lock(mu_);
    held_part_ = std::move(part);
  }
  void OpenReads() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      held_part_.clear();
    }
    cv_.notify_all();
  }
  // Waits until a read is being held; false after `timeout` without one.
  bool WaitForHeldRead(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return reads_held_ > 0; });
  }

  Result<std::string> ReadAll(const std::string& path) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!held_part_.empty() && path.find(held_part_) != std::string::npos) {
        ++reads_held_;
        cv_.notify_all();
        cv_.wait(lock, [&] { return held_part_.empty(); });
        --reads_held_;
      }
    }
    return FullDisk::ReadAll(path);
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
  std::string held_part_;  // empty: no read is held
  int reads_held_ = 0;
};

}  // namespace weft::support
