#include "weft/persist/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace weft::persist {
namespace {

Status Errno(const std::string& what) {
  int e = errno;
  std::string msg = what + ": " + std::strerror(e);
  if (e == ENOSPC || e == EDQUOT) return Status::ResourceExhausted(msg);
  return Status::IoError(msg);
}

class PosixAppendFile : public AppendFile {
 public:
  PosixAppendFile(int fd, std::string path, uint64_t size)
      : fd_(fd), path_(std::move(path)), size_(size) {}
  ~PosixAppendFile() override { close(fd_); }

  Status Append(std::span<const std::span<const std::byte>> parts) override {
    iovec iov[8];
    size_t n = 0, total = 0;
    for (std::span<const std::byte> p : parts) {
      if (p.empty()) continue;
      if (n == std::size(iov)) return Status::Internal("too many parts in one append");
      iov[n++] = iovec{const_cast<std::byte*>(p.data()), p.size()};
      total += p.size();
    }
    size_t done = 0;
    size_t first = 0;
    while (done < total) {
      ssize_t w = writev(fd_, iov + first, static_cast<int>(n - first));
      if (w < 0) {
        if (errno == EINTR) continue;
        size_ += done;
        return Errno("write " + path_);
      }
      done += static_cast<size_t>(w);
      // Skip the parts written completely; trim the one written partly.
      size_t left = static_cast<size_t>(w);
      while (first < n && left >= iov[first].iov_len) left -= iov[first++].iov_len;
      if (first < n) {
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
        iov[first].iov_len -= left;
      }
    }
    size_ += total;
    return Status::Ok();
  }

  Status Sync() override {
    if (fdatasync(fd_) != 0) return Errno("fsync " + path_);
    return Status::Ok();
  }

  Status Truncate(uint64_t size) override {
    if (ftruncate(fd_, static_cast<off_t>(size)) != 0) return Errno("truncate " + path_);
    size_ = size;
    return Status::Ok();
  }

  uint64_t size() const override { return size_; }

 private:
  int fd_;
  std::string path_;
  uint64_t size_;
};

class PosixFileSystem : public FileSystem {
 public:
  Result<std::unique_ptr<AppendFile>> OpenAppend(const std::string& path) override {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("open " + path);
    struct stat st {};
    if (fstat(fd, &st) != 0) {
      close(fd);
      return Errno("stat " + path);
    }
    return std::unique_ptr<AppendFile>(
        new PosixAppendFile(fd, path, static_cast<uint64_t>(st.st_size)));
  }

  Result<std::string> ReadAll(const std::string& path) override {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Errno("open " + path);
    std::string out;
    char buf[1 << 16];
    while (true) {
      ssize_t r = read(fd, buf, sizeof buf);
      if (r < 0) {
        if (errno == EINTR) continue;
        close(fd);
        return Errno("read " + path);
      }
      if (r == 0) break;
      out.append(buf, static_cast<size_t>(r));
    }
    close(fd);
    return out;
  }

  Status WriteAtomically(const std::string& path, std::span<const std::byte> bytes) override {
    std::string tmp = path + ".tmp";
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Errno("open " + tmp);
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t w = write(fd, bytes.data() + done, bytes.size() - done);
      if (w < 0) {
        if (errno == EINTR) continue;
        Status s = Errno("write " + tmp);
        close(fd);
        unlink(tmp.c_str());
        return s;
      }
      done += static_cast<size_t>(w);
    }
    if (fsync(fd) != 0) {
      Status s = Errno("fsync " + tmp);
      close(fd);
      unlink(tmp.c_str());
      return s;
    }
    close(fd);
    if (rename(tmp.c_str(), path.c_str()) != 0) {
      Status s = Errno("rename " + tmp);
      unlink(tmp.c_str());
      return s;
    }
    std::string dir = path.substr(0, path.find_last_of('/'));
    return SyncDir(dir.empty() ? "." : dir);
  }

  Status SyncDir(const std::string& dir) override {
    int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Errno("open " + dir);
    int rc = fsync(fd);
    close(fd);
    if (rc != 0) return Errno("fsync " + dir);
    return Status::Ok();
  }

  Status Remove(const std::string& path) override {
    if (unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("remove " + path);
    return Status::Ok();
  }

  // Creates missing parents too, like mkdir -p.
  Status CreateDir(const std::string& dir) override {
    for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
      std::string prefix = dir.substr(0, slash);
      if (!prefix.empty() && mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
        return Errno("mkdir " + prefix);
      }
      if (slash == std::string::npos) return Status::Ok();
    }
  }

  Result<std::vector<std::string>> List(const std::string& dir) override {
    std::vector<std::string> out;
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) return out;
      return Errno("list " + dir);
    }
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") out.push_back(std::move(name));
    }
    closedir(d);
    return out;
  }

  Status Truncate(const std::string& path, uint64_t size) override {
    if (truncate(path.c_str(), static_cast<off_t>(size)) != 0) return Errno("truncate " + path);
    return Status::Ok();
  }
};

}  // namespace

FileSystem* DefaultFileSystem() {
  static PosixFileSystem fs;
  return &fs;
}

}  // namespace weft::persist
