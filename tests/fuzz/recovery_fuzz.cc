// libFuzzer target: recovery of a data directory whose log segment and
// snapshot hold arbitrary bytes. Recovery must answer with documents or a
// Status, never crash, and every document it returns must be consistent.
// Files live in memory, so each run costs no disk I/O.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "weft/persist/op_log.h"
#include "weft/persist/recovery.h"
#include "weft/persist/snapshot_file.h"

namespace {

using namespace weft;

class MemoryFileSystem : public persist::FileSystem {
 public:
  std::map<std::string, std::string> files;

  class File : public persist::AppendFile {
   public:
    explicit File(std::string* data) : data_(data) {}
    Status Append(std::span<const std::span<const std::byte>> parts) override {
      for (auto p : parts) data_->append(reinterpret_cast<const char*>(p.data()), p.size());
      return Status::Ok();
    }
    Status Sync() override { return Status::Ok(); }
    Status Truncate(uint64_t size) override {
      data_->resize(size);
      return Status::Ok();
    }
    uint64_t size() const override { return data_->size(); }

   private:
    std::string* data_;
  };

  Result<std::unique_ptr<persist::AppendFile>> OpenAppend(const std::string& path) override {
    return std::unique_ptr<persist::AppendFile>(new File(&files[path]));
  }
  Result<std::string> ReadAll(const std::string& path) override {
    auto it = files.find(path);
    if (it == files.end()) return Status::IoError("no such file");
    return it->second;
  }
  Status WriteAtomically(const std::string& path, std::span<const std::byte> b) override {
    files[path] = std::string(reinterpret_cast<const char*>(b.data()), b.size());
    return Status::Ok();
  }
  Status SyncDir(const std::string&) override { return Status::Ok(); }
  Status Remove(const std::string& path) override {
    files.erase(path);
    return Status::Ok();
  }
  Status CreateDir(const std::string&) override { return Status::Ok(); }
  Result<std::vector<std::string>> List(const std::string& dir) override {
    std::vector<std::string> out;
    for (const auto& [path, data] : files) {
      if (path.size() > dir.size() + 1 && path.compare(0, dir.size() + 1, dir + "/") == 0 &&
          path.find('/', dir.size() + 1) == std::string::npos) {
        out.push_back(path.substr(dir.size() + 1));
      }
    }
    return out;
  }
  Status Truncate(const std::string& path, uint64_t size) override {
    files[path].resize(size);
    return Status::Ok();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  MemoryFileSystem fs;
  // Byte 0 splits the rest between a log segment and a snapshot file; bit 7
  // of byte 1 prefixes the segment with a valid header, so the fuzzer
  // reaches the record parser without having to find the magic first.
  size_t split = 2 + (size - 2) * data[0] / 255;
  std::string segment(reinterpret_cast<const char*>(data + 2), split - 2);
  std::string snapshot(reinterpret_cast<const char*>(data + split), size - split);
  if (data[1] & 0x80) {
    std::string header(persist::kSegmentMagic, sizeof persist::kSegmentMagic);
    header.append(8, '\0');
    segment = header + segment;
  }
  fs.files[persist::LogDir("d") + "/" + persist::SegmentName(0)] = segment;
  if (!snapshot.empty()) {
    fs.files[persist::SnapshotDir("d") + "/" + persist::SnapshotName("doc")] = snapshot;
  }
  persist::RecoveryOptions ro;
  ro.fs = &fs;
  ro.read_only = (data[1] & 1) != 0;
  Result<persist::RecoveredState> r = persist::Recover("d", ro);
  if (r.ok()) {
    for (const auto& [name, doc] : r->docs) {
      if (!doc->CheckInvariants().ok()) std::abort();
    }
  }
  return 0;
}
