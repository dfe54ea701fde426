#include "weft/persist/recovery.h"

#include <algorithm>

#include "weft/persist/snapshot_file.h"

namespace weft::persist {

std::string LogDir(const std::string& data_dir) { return data_dir + "/log"; }
std::string SnapshotDir(const std::string& data_dir) { return data_dir + "/snapshots"; }

namespace {

struct Recoverer {
  RecoveryOptions opt;
  RecoveredState state;

  void Log(const std::string& line) {
    if (opt.log) opt.log(line);
  }

  engine::Doc& DocFor(std::string_view name) {
    auto it = state.docs.find(name);
    if (it == state.docs.end()) {
      it = state.docs.emplace(std::string(name), std::make_unique<engine::Doc>(0, opt.doc_options))
               .first;
    }
    return *it->second;
  }

  Status LoadSnapshots(const std::string& dir) {
    Result<std::vector<std::string>> names = opt.fs->List(dir);
    if (!names.ok()) return names.status();
    for (const std::string& name : *names) {
      if (name.size() < 6 || name.substr(name.size() - 6) != ".wsnap") continue;
      std::string path = dir + "/" + name;
      Result<SnapshotFile> s = ReadSnapshotFile(opt.fs, path);
      if (!s.ok()) {
        // Its document falls back on the log; if the log no longer reaches
        // back far enough, the history check below says so.
        Log("ignoring snapshot " + path + ": " + s.status().ToString());
        ++skipped_snapshots;
        continue;
      }
      engine::DocOptions load = opt.doc_options;
      load.max_decoded_bytes = opt.max_snapshot_bytes;
      Result<engine::Doc> doc = engine::Doc::LoadSnapshot(s->snapshot, 0, load);
      if (!doc.ok()) {
        Log("ignoring snapshot " + path + ": " + doc.status().ToString());
        ++skipped_snapshots;
        continue;
      }
      state.docs[s->doc] = std::make_unique<engine::Doc>(std::move(*doc));
      state.snapshot_covers[s->doc] = s->covers;
    }
    return Status::Ok();
  }

  Status ReplayLog(const std::string& dir) {
    Result<std::vector<std::string>> names = opt.fs->List(dir);
    if (!names.ok()) return names.status();
    std::vector<uint64_t> segments;
    for (const std::string& n : *names) {
      if (std::optional<uint64_t> s = ParseSegmentName(n)) segments.push_back(*s);
    }
    std::sort(segments.begin(), segments.end());
    for (size_t i = 1; i < segments.size(); ++i) {
      if (segments[i] != segments[i - 1] + 1) {
        return Status::Corruption("log segment " + std::to_string(segments[i - 1] + 1) +
                                  " is missing (have " + std::to_string(segments[i - 1]) + " and " +
                                  std::to_string(segments[i]) + ")");
      }
    }
    for (size_t i = 0; i < segments.size(); ++i) {
      bool last = i + 1 == segments.size();
      std::string path = dir + "/" + SegmentName(segments[i]);
      Result<SegmentScan> scan = ScanSegment(opt.fs, path, segments[i]);
      if (!scan.ok()) return scan.status();
      state.segment_docs[segments[i]];  // listed even without records
      for (const LogRecord& r : scan->records) WEFT_RETURN_IF_ERROR(Apply(r));
      if (scan->damage) WEFT_RETURN_IF_ERROR(HandleDamage(path, *scan, last));
    }
    state.next_segment = segments.empty() ? 0 : segments.back() + 1;
    first_segment = segments.empty() ? 0 : segments.front();
    return Status::Ok();
  }

  Status Apply(const LogRecord& r) {
    ++state.records;
    auto& docs = state.segment_docs[r.end.segment];
    auto last = docs.find(r.doc);
    if (last == docs.end()) last = docs.emplace(std::string(r.doc), 0).first;
    last->second = r.end.offset;
    auto covered = state.snapshot_covers.find(r.doc);
    if (covered != state.snapshot_covers.end() && r.end <= covered->second) return Status::Ok();
    ++state.applied;
    Status s = DocFor(r.doc).ApplyUpdate(r.update);
    if (!s.ok()) {
      return Status::Corruption("record at segment " + std::to_string(r.start.segment) +
                                " offset " + std::to_string(r.start.offset) + " of '" +
                                std::string(r.doc) + "' does not apply: " + s.ToString());
    }
    return Status::Ok();
  }

  Status HandleDamage(const std::string& path, const SegmentScan& scan, bool last) {
    std::string where = path + ": " + *scan.damage;
    if (!last || !scan.torn_tail) {
      return Status::Corruption(
          where + (scan.torn_tail ? " (not the last segment)" : " with valid records after it"));
    }
    uint64_t dropped = scan.file_bytes - scan.valid_bytes;
    state.dropped_bytes += dropped;
    if (opt.read_only) {
      Log("torn tail in " + path + ": " + std::to_string(dropped) + " bytes (" + *scan.damage +
          "), ignored");
      return Status::Ok();
    }
    if (scan.valid_bytes < kSegmentHeaderBytes) {
      // Created but never written: a crash between creating and filling it.
      WEFT_RETURN_IF_ERROR(opt.fs->Remove(path));
      state.segment_docs.erase(scan.segment);
    } else {
      WEFT_RETURN_IF_ERROR(opt.fs->Truncate(path, scan.valid_bytes));
    }
    Log("cut a torn tail of " + std::to_string(dropped) + " bytes from " + path + " (" +
        *scan.damage + ")");
    return Status::Ok();
  }

  // Ops still waiting for dependencies are normal (the node had accepted
  // them before their dependencies arrived; peers will send those). But a
  // snapshot skipped as damaged over a log that no longer starts at its
  // beginning may have held history nothing else holds: refuse rather than
  // serve a document with a hole.
  Status CheckComplete() const {
    if (skipped_snapshots == 0 || first_segment == 0) return Status::Ok();
    return Status::Corruption(std::to_string(skipped_snapshots) +
                              " damaged snapshot(s) over a log compacted up to segment " +
                              std::to_string(first_segment) +
                              ": the history they held is nowhere else");
  }

  size_t skipped_snapshots = 0;
  uint64_t first_segment = 0;
};

}  // namespace

Result<RecoveredState> Recover(const std::string& data_dir, RecoveryOptions options) {
  if (options.fs == nullptr) options.fs = DefaultFileSystem();
  Recoverer r{std::move(options), {}};
  WEFT_RETURN_IF_ERROR(r.LoadSnapshots(SnapshotDir(data_dir)));
  WEFT_RETURN_IF_ERROR(r.ReplayLog(LogDir(data_dir)));
  WEFT_RETURN_IF_ERROR(r.CheckComplete());
  return std::move(r.state);
}

}  // namespace weft::persist
