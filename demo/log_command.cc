// `weft log dump` and `weft log verify`: read a node's data directory.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "commands.h"
#include "flags.h"
#include "weft/engine/doc.h"
#include "weft/persist/op_log.h"
#include "weft/persist/recovery.h"
#include "weft/persist/snapshot_file.h"

namespace weft::demo {
namespace {

using persist::FileSystem;

std::vector<uint64_t> Segments(FileSystem* fs, const std::string& dir, Status* status) {
  std::vector<uint64_t> out;
  Result<std::vector<std::string>> names = fs->List(dir);
  if (!names.ok()) {
    *status = names.status();
    return out;
  }
  for (const std::string& n : *names) {
    if (std::optional<uint64_t> s = persist::ParseSegmentName(n)) out.push_back(*s);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> SnapshotFiles(FileSystem* fs, const std::string& dir) {
  std::vector<std::string> out;
  Result<std::vector<std::string>> names = fs->List(dir);
  if (!names.ok()) return out;
  for (const std::string& n : *names) {
    if (n.size() > 6 && n.substr(n.size() - 6) == ".wsnap") out.push_back(dir + "/" + n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// "agent 0000000000000007 seqs 10..14, ..." for an update.
std::string AgentRanges(std::string_view update) {
  Result<engine::Ops> ops = engine::Doc::DecodeUpdate(update);
  if (!ops.ok()) return "undecodable update: " + ops.status().ToString();
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> ranges;  // agent -> [lo, hi)
  for (const engine::Op& op : *ops) {
    auto [it, fresh] = ranges.try_emplace(op.id.agent, op.id.seq, op.id.seq + op.len);
    if (!fresh) {
      it->second.first = std::min(it->second.first, op.id.seq);
      it->second.second = std::max(it->second.second, op.id.seq + op.len);
    }
  }
  std::string out;
  char buf[96];
  for (const auto& [agent, r] : ranges) {
    std::snprintf(buf, sizeof buf, "%s%016" PRIx64 ":%" PRIu64 "..%" PRIu64, out.empty() ? "" : " ",
                  agent, r.first, r.second - 1);
    out += buf;
  }
  return out + " (" + std::to_string(ops->size()) + " ops)";
}

int Dump(const std::string& data, const std::string& only_doc) {
  FileSystem* fs = persist::DefaultFileSystem();
  Status st;
  std::string log_dir = persist::LogDir(data);
  std::vector<uint64_t> segments = Segments(fs, log_dir, &st);
  if (!st.ok()) {
    std::fprintf(stderr, "weft log dump: %s\n", st.ToString().c_str());
    return 1;
  }
  for (uint64_t seg : segments) {
    std::string path = log_dir + "/" + persist::SegmentName(seg);
    Result<persist::SegmentScan> scan = persist::ScanSegment(fs, path, seg);
    if (!scan.ok()) {
      std::printf("segment %" PRIu64 " %s: %s\n", seg, path.c_str(),
                  scan.status().ToString().c_str());
      continue;
    }
    std::printf("segment %" PRIu64 " %s: %zu records, %" PRIu64 " bytes\n", seg, path.c_str(),
                scan->records.size(), scan->file_bytes);
    for (const persist::LogRecord& r : scan->records) {
      if (!only_doc.empty() && r.doc != only_doc) continue;
      std::printf("  %8" PRIu64 "  ops  doc '%.*s'  %zu bytes  %s\n", r.start.offset,
                  static_cast<int>(r.doc.size()), r.doc.data(), r.update.size(),
                  AgentRanges(r.update).c_str());
    }
    if (scan->damage) {
      std::printf("  %8" PRIu64 "  DAMAGE: %s (%s, %" PRIu64 " bytes)\n", scan->valid_bytes,
                  scan->damage->c_str(), scan->torn_tail ? "torn tail" : "followed by records",
                  scan->file_bytes - scan->valid_bytes);
    }
  }
  for (const std::string& path : SnapshotFiles(fs, persist::SnapshotDir(data))) {
    Result<persist::SnapshotFile> s = persist::ReadSnapshotFile(fs, path);
    if (!s.ok()) {
      std::printf("snapshot %s: %s\n", path.c_str(), s.status().ToString().c_str());
    } else if (only_doc.empty() || s->doc == only_doc) {
      std::printf(
          "snapshot %s: doc '%s' covers segment %" PRIu64 " offset %" PRIu64 ", %zu bytes\n",
          path.c_str(), s->doc.c_str(), s->covers.segment, s->covers.offset, s->snapshot.size());
    }
  }
  return 0;
}

int Verify(const std::string& data) {
  FileSystem* fs = persist::DefaultFileSystem();
  Status st;
  std::string log_dir = persist::LogDir(data);
  std::vector<uint64_t> segments = Segments(fs, log_dir, &st);
  int damaged = 0;
  uint64_t records = 0;
  if (!st.ok()) {
    std::printf("%s\n", st.ToString().c_str());
    return 1;
  }
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0 && segments[i] != segments[i - 1] + 1) {
      std::printf("segment %" PRIu64 ": missing\n", segments[i - 1] + 1);
      ++damaged;
    }
    std::string path = log_dir + "/" + persist::SegmentName(segments[i]);
    Result<persist::SegmentScan> scan = persist::ScanSegment(fs, path, segments[i]);
    if (!scan.ok()) {
      std::printf("%s: %s\n", path.c_str(), scan.status().ToString().c_str());
      ++damaged;
      continue;
    }
    records += scan->records.size();
    if (scan->damage) {
      std::printf("%s: %s (%s; %" PRIu64 " bytes after the last good record)\n", path.c_str(),
                  scan->damage->c_str(), scan->torn_tail ? "torn tail" : "valid records follow",
                  scan->file_bytes - scan->valid_bytes);
      ++damaged;
    }
  }
  std::vector<std::string> snaps = SnapshotFiles(fs, persist::SnapshotDir(data));
  for (const std::string& path : snaps) {
    Result<persist::SnapshotFile> s = persist::ReadSnapshotFile(fs, path);
    if (!s.ok()) {
      std::printf("%s\n", s.status().ToString().c_str());
      ++damaged;
    }
  }
  std::printf("%s: %zu segment(s), %" PRIu64 " records, %zu snapshot(s), %d damaged\n",
              damaged == 0 ? "ok" : "DAMAGED", segments.size(), records, snaps.size(), damaged);
  return damaged == 0 ? 0 : 1;
}

}  // namespace

int RunReplayLog(int argc, char** argv) {
  std::string data, doc, expect;
  FlagParser flags("replay", "--data DIR --doc NAME [--expect FILE]");
  flags.String("data", &data, true);
  flags.String("doc", &doc, true);
  flags.String("expect", &expect);
  if (std::optional<int> exit = flags.Parse(argc, argv)) return *exit;
  persist::RecoveryOptions ro;
  ro.read_only = true;  // a field log is evidence: look, do not repair
  ro.log = [](const std::string& line) { std::fprintf(stderr, "weft replay: %s\n", line.c_str()); };
  Result<persist::RecoveredState> r = persist::Recover(data, ro);
  if (!r.ok()) {
    std::fprintf(stderr, "weft replay: %s\n", r.status().ToString().c_str());
    return r.status().code() == StatusCode::kIoError ? 2 : 1;
  }
  auto it = r->docs.find(doc);
  if (it == r->docs.end()) return flags.Error("no document '" + doc + "' in " + data);
  std::string text = it->second->Text();
  if (it->second->pending_ops() != 0) {
    std::fprintf(stderr, "weft replay: %zu ops of '%s' still wait for their dependencies\n",
                 it->second->pending_ops(), doc.c_str());
  }
  if (expect.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  Result<std::string> want = persist::DefaultFileSystem()->ReadAll(expect);
  if (!want.ok()) return flags.Error(want.status().ToString());
  if (*want == text) {
    std::printf("ok: '%s' from %s (%" PRIu64 " records) matches %s\n", doc.c_str(), data.c_str(),
                r->records, expect.c_str());
    return 0;
  }
  size_t at = 0;
  while (at < text.size() && at < want->size() && text[at] == (*want)[at]) ++at;
  std::printf("DIFFERENT: '%s' (%zu bytes) and %s (%zu bytes) first differ at byte %zu\n",
              doc.c_str(), text.size(), expect.c_str(), want->size(), at);
  return 1;
}

int RunLog(int argc, char** argv) {
  std::string verb = argc > 0 ? argv[0] : "";
  std::string data, doc;
  FlagParser flags("log",
                   "dump --data DIR [--doc NAME] | verify --data DIR\n"
                   "dump prints every record of a node's op log (offset, type, document, agent\n"
                   "ranges, sizes) and its snapshots; verify checks every checksum and exits 1\n"
                   "on any damage, a torn tail included (the node's next start repairs that).");
  flags.String("data", &data, true);
  if (verb == "dump") flags.String("doc", &doc);
  if (verb != "dump" && verb != "verify") {
    if (verb == "--help" || verb == "-h") return flags.Parse(1, argv).value_or(0);
    return flags.Error("expected 'dump' or 'verify'");
  }
  if (std::optional<int> exit = flags.Parse(argc - 1, argv + 1)) return *exit;
  return verb == "dump" ? Dump(data, doc) : Verify(data);
}

}  // namespace weft::demo
