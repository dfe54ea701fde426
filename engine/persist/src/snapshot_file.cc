#include "weft/persist/snapshot_file.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "weft/crc32c.h"

namespace weft::persist {
namespace {

constexpr char kMagic[8] = {'W', 'E', 'F', 'T', 'S', 'N', 'P', '1'};
constexpr size_t kFixed = 8 + 4 + 2 + 16;  // magic, crc, doc length, position

void PutLe(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
uint64_t GetLe(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

}  // namespace

std::string SnapshotName(std::string_view doc) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : doc) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  char buf[40];
  std::snprintf(buf, sizeof buf, "doc-%016" PRIx64 ".wsnap", h);
  return buf;
}

Status WriteSnapshotFile(FileSystem* fs, const std::string& dir, const SnapshotFile& s) {
  WEFT_RETURN_IF_ERROR(fs->CreateDir(dir));
  std::string path = dir + "/" + SnapshotName(s.doc);
  if (Result<SnapshotFile> old = ReadSnapshotFile(fs, path); old.ok() && old->doc != s.doc) {
    return Status::FailedPrecondition("snapshot file name of '" + s.doc + "' taken by '" +
                                      old->doc + "'");
  }
  std::string body;
  PutLe(body, s.doc.size(), 2);
  body += s.doc;
  PutLe(body, s.covers.segment, 8);
  PutLe(body, s.covers.offset, 8);
  body += s.snapshot;
  std::string file(kMagic, sizeof kMagic);
  PutLe(file, Crc32c(std::as_bytes(std::span(body.data(), body.size()))), 4);
  file += body;
  return fs->WriteAtomically(path, std::as_bytes(std::span(file.data(), file.size())));
}

Result<SnapshotFile> ReadSnapshotFile(FileSystem* fs, const std::string& path) {
  Result<std::string> bytes = fs->ReadAll(path);
  if (!bytes.ok()) return bytes.status();
  const std::string& f = *bytes;
  if (f.size() < kFixed || std::memcmp(f.data(), kMagic, sizeof kMagic) != 0) {
    return Status::Corruption(path + ": not a weft snapshot");
  }
  std::string_view body = std::string_view(f).substr(12);
  if (Crc32c(std::as_bytes(std::span(body.data(), body.size()))) != GetLe(f.data() + 8, 4)) {
    return Status::Corruption(path + ": checksum mismatch");
  }
  size_t doc_len = GetLe(body.data(), 2);
  if (doc_len == 0 || body.size() < 2 + doc_len + 16) {
    return Status::Corruption(path + ": bad document name length");
  }
  SnapshotFile s;
  s.doc = std::string(body.substr(2, doc_len));
  s.covers.segment = GetLe(body.data() + 2 + doc_len, 8);
  s.covers.offset = GetLe(body.data() + 2 + doc_len + 8, 8);
  s.snapshot = std::string(body.substr(2 + doc_len + 16));
  return s;
}

}  // namespace weft::persist
