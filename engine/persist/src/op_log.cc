#include "weft/persist/op_log.h"

#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "weft/crc32c.h"

namespace weft::persist {
namespace {

void PutU16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>(v >> 8));
}
void PutU32(char* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(v >> (8 * i));
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

std::span<const std::byte> Bytes(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

// The checksum covers the length, the type and the payload, so a damaged
// length cannot pass for a shorter or longer record.
uint32_t RecordCrc(std::string_view length_and_type, std::span<const std::byte> payload_head,
                   std::span<const std::byte> payload_rest) {
  uint32_t crc = Crc32c(Bytes(length_and_type));
  crc = Crc32c(crc, payload_head);
  return Crc32c(crc, payload_rest);
}

// Parses the record at `at` of `file`; nullopt (with `why`) if it is not a
// whole, valid record.
std::optional<LogRecord> ParseRecord(std::string_view file, uint64_t segment, size_t at,
                                     std::string* why) {
  if (file.size() - at < kRecordHeaderBytes) {
    *why = "a partial record header";
    return std::nullopt;
  }
  uint32_t length = GetU32(file.data() + at);
  uint32_t crc = GetU32(file.data() + at + 4);
  auto type = static_cast<uint8_t>(file[at + 8]);
  if (length > kMaxRecordPayload) {
    *why = "a record length of " + std::to_string(length) + " bytes";
    return std::nullopt;
  }
  if (file.size() - at - kRecordHeaderBytes < length) {
    *why = "a record cut short (" + std::to_string(length) + " bytes declared, " +
           std::to_string(file.size() - at - kRecordHeaderBytes) + " present)";
    return std::nullopt;
  }
  std::string length_and_type(file.substr(at, 4));
  length_and_type.push_back(static_cast<char>(type));
  std::string_view payload = file.substr(at + kRecordHeaderBytes, length);
  if (RecordCrc(length_and_type, Bytes(payload), {}) != crc) {
    *why = "a checksum mismatch";
    return std::nullopt;
  }
  if (type != static_cast<uint8_t>(RecordType::kOps)) {
    *why = "an unknown record type " + std::to_string(type);
    return std::nullopt;
  }
  if (payload.size() < 2) {
    *why = "an ops record without a document name";
    return std::nullopt;
  }
  size_t doc_len =
      static_cast<uint8_t>(payload[0]) | (size_t{static_cast<uint8_t>(payload[1])} << 8);
  if (doc_len == 0 || payload.size() - 2 < doc_len) {
    *why = "an ops record with a bad document name length";
    return std::nullopt;
  }
  LogRecord r;
  r.type = RecordType::kOps;
  r.doc = payload.substr(2, doc_len);
  r.update = payload.substr(2 + doc_len);
  r.start = {segment, at};
  r.end = {segment, at + kRecordHeaderBytes + length};
  return r;
}

}  // namespace

Result<FsyncPolicy> ParseFsyncPolicy(std::string_view text) {
  if (text == "always") return FsyncPolicy::kAlways;
  if (text == "batch") return FsyncPolicy::kBatch;
  if (text == "off") return FsyncPolicy::kOff;
  return Status::InvalidArgument("--fsync must be always, batch or off");
}

std::string SegmentName(uint64_t segment) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "log-%016" PRIx64 ".wlog", segment);
  return buf;
}

std::optional<uint64_t> ParseSegmentName(std::string_view name) {
  if (name.size() != 25 || name.substr(0, 4) != "log-" || name.substr(20) != ".wlog") {
    return std::nullopt;
  }
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(name.data() + 4, name.data() + 20, v, 16);
  if (ec != std::errc() || end != name.data() + 20) return std::nullopt;
  return v;
}

std::string EncodeOpsRecordHeader(std::string_view doc, std::span<const std::byte> update) {
  std::string out(kRecordHeaderBytes, '\0');
  PutU16(out, static_cast<uint16_t>(doc.size()));
  out.append(doc);
  uint32_t length = static_cast<uint32_t>(2 + doc.size() + update.size());
  PutU32(out.data(), length);
  out[8] = static_cast<char>(RecordType::kOps);
  std::string length_and_type = out.substr(0, 4) + out[8];
  PutU32(out.data() + 4,
         RecordCrc(length_and_type, Bytes(std::string_view(out).substr(9)), update));
  return out;
}

Result<std::unique_ptr<OpLogWriter>> OpLogWriter::Open(const std::string& dir,
                                                       uint64_t first_segment,
                                                       OpLogOptions options) {
  if (options.fs == nullptr) options.fs = DefaultFileSystem();
  WEFT_RETURN_IF_ERROR(options.fs->CreateDir(dir));
  std::unique_ptr<OpLogWriter> w(new OpLogWriter(dir, options));
  WEFT_RETURN_IF_ERROR(w->StartSegment(first_segment));
  return w;
}

Status OpLogWriter::StartSegment(uint64_t segment) {
  if (file_ && dirty_ && options_.fsync != FsyncPolicy::kOff) WEFT_RETURN_IF_ERROR(Sync());
  std::string path = dir_ + "/" + SegmentName(segment);
  Result<std::unique_ptr<AppendFile>> f = options_.fs->OpenAppend(path);
  if (!f.ok()) return f.status();
  if ((*f)->size() != 0) return Status::FailedPrecondition(path + " already exists");
  std::string header(kSegmentMagic, sizeof kSegmentMagic);
  for (int i = 0; i < 8; ++i) header.push_back(static_cast<char>(segment >> (8 * i)));
  std::span<const std::byte> parts[] = {Bytes(header)};
  if (Status s = (*f)->Append(parts); !s.ok()) {
    (void)options_.fs->Remove(path);
    return s;
  }
  // The new file's name must survive a crash before its first record does.
  if (options_.fsync != FsyncPolicy::kOff) {
    WEFT_RETURN_IF_ERROR((*f)->Sync());
    WEFT_RETURN_IF_ERROR(options_.fs->SyncDir(dir_));
  }
  file_ = std::move(*f);
  segment_ = segment;
  dirty_ = false;
  return Status::Ok();
}

Result<LogPosition> OpLogWriter::AppendOps(std::string_view doc,
                                           std::span<const std::byte> update) {
  if (doc.empty() || doc.size() > 0xffff) return Status::InvalidArgument("bad document name");
  if (2 + doc.size() + update.size() > kMaxRecordPayload) {
    return Status::InvalidArgument("record over the size limit");
  }
  if (file_->size() >= options_.segment_bytes) WEFT_RETURN_IF_ERROR(StartSegment(segment_ + 1));
  std::string head = EncodeOpsRecordHeader(doc, update);
  std::span<const std::byte> parts[] = {Bytes(head), update};
  uint64_t before = file_->size();
  if (Status s = file_->Append(parts); !s.ok()) {
    // Leave no partial record behind: the next append starts clean.
    (void)file_->Truncate(before);
    return s;
  }
  dirty_ = true;
  ++records_;
  if (options_.fsync == FsyncPolicy::kAlways) {
    if (Status s = Sync(); !s.ok()) {
      (void)file_->Truncate(before);
      return s;
    }
  }
  return position();
}

Status OpLogWriter::Sync() {
  if (!dirty_ || options_.fsync == FsyncPolicy::kOff) return Status::Ok();
  WEFT_RETURN_IF_ERROR(file_->Sync());
  dirty_ = false;
  ++syncs_;
  return Status::Ok();
}

Result<SegmentScan> ScanSegment(FileSystem* fs, const std::string& path, uint64_t segment) {
  Result<std::string> bytes = fs->ReadAll(path);
  if (!bytes.ok()) return bytes.status();
  SegmentScan scan;
  scan.bytes = std::move(*bytes);
  std::string_view file = scan.bytes;
  scan.segment = segment;
  scan.file_bytes = file.size();
  if (file.size() < kSegmentHeaderBytes ||
      std::memcmp(file.data(), kSegmentMagic, sizeof kSegmentMagic) != 0) {
    // A crash right after creating the file can leave it empty or short.
    scan.damage = file.empty() ? "an empty segment file" : "no segment header";
    scan.torn_tail = file.size() < kSegmentHeaderBytes;
    return scan;
  }
  if (GetU64(file.data() + 8) != segment) {
    return Status::Corruption(path + " holds segment " + std::to_string(GetU64(file.data() + 8)));
  }
  size_t at = kSegmentHeaderBytes;
  scan.valid_bytes = at;
  std::string why;
  while (at < file.size()) {
    std::optional<LogRecord> r = ParseRecord(file, segment, at, &why);
    if (!r) break;
    at = r->end.offset;
    scan.valid_bytes = at;
    scan.records.push_back(std::move(*r));
  }
  if (at == file.size()) return scan;
  scan.damage = why + " at offset " + std::to_string(at);
  // A torn tail has nothing valid after it. Look for a whole record further
  // on: if there is one, the damage is in the middle (bounded work: a
  // recovery path, and every candidate needs a plausible header first).
  scan.torn_tail = true;
  std::string ignored;
  size_t budget = 64 << 20;
  for (size_t probe = at + 1; probe + kRecordHeaderBytes <= file.size() && budget > 0; ++probe) {
    if (static_cast<uint8_t>(file[probe + 8]) != static_cast<uint8_t>(RecordType::kOps)) continue;
    uint32_t length = GetU32(file.data() + probe);
    if (length < 3 || length > file.size() - probe - kRecordHeaderBytes) continue;
    budget -= std::min<size_t>(budget, length);
    if (ParseRecord(file, segment, probe, &ignored)) {
      scan.torn_tail = false;
      break;
    }
  }
  return scan;
}

}  // namespace weft::persist
