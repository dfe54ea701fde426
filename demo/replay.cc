// `weft replay [--json] [--repeat N] TRACE`: replays an editing trace through
// weft::engine::Doc and checks it against the trace's endContent. Flag
// parsing, timing and reporting only; the replay itself is in
// weft/engine/trace.h.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "commands.h"
#include "weft/engine/doc.h"
#include "weft/engine/trace.h"

namespace weft::demo {
namespace {

using engine::Doc;
using Clock = std::chrono::steady_clock;

constexpr int kExitOk = 0;
constexpr int kExitDiverged = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitTieBreak = 3;
// The importing replica's own agent id (it makes no ops of its own): far
// above the ids the trace's agents take.
constexpr uint64_t kImportAgent = UINT64_MAX - 3;

struct Flags {
  bool json = false;
  bool replicas = false;
  int repeat = 1;
  std::string trace;
};

struct Run {
  double local_ms = 0, merge_ms = 0, load_ms = 0;
};

double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void Usage(std::FILE* out) {
  std::fprintf(out,
               "usage: weft replay [--json] [--repeat N] [--replicas] TRACE\n"
               "       weft replay --data DIR --doc NAME [--expect FILE]\n"
               "  Replays TRACE (.json or .json.gz, sequential or concurrent) and checks the\n"
               "  result against its endContent, then merges the full history into a fresh\n"
               "  replica and loads a snapshot into another. With --repeat N, all N replays\n"
               "  run first, then N merges back to back, then N loads; medians are printed.\n"
               "  A concurrent trace is imported\n"
               "  into one replica (HistoryImporter); with --replicas it is replayed as a\n"
               "  network of one replica per agent instead, synced before each txn.\n"
               "  exit 0: all match endContent; 1: replicas, merge or load disagree (a bug);\n"
               "  3: all agree but differ from endContent (concurrent tie-break); 2: bad input.\n"
               "  With --data, rebuilds document NAME from a node's data directory (read only)\n"
               "  and prints its text, or compares it with FILE (exit 0 same, 1 different).\n");
}

int ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 0; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--json") {
      f->json = true;
    } else if (a == "--replicas") {
      f->replicas = true;
    } else if (a == "--repeat") {
      if (i + 1 >= argc) return kExitBadInput;
      char* end = nullptr;
      long n = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || n < 1 || n > 1000) return kExitBadInput;
      f->repeat = static_cast<int>(n);
    } else if (a == "--help" || a == "-h") {
      Usage(stdout);
      std::exit(kExitOk);
    } else if (!a.empty() && a[0] == '-') {
      return kExitBadInput;
    } else if (f->trace.empty()) {
      f->trace = std::string(a);
    } else {
      return kExitBadInput;
    }
  }
  return f->trace.empty() ? kExitBadInput : kExitOk;
}

// "code point N (byte B): "…left…" vs "…right…"" for the first difference.
std::string FirstDifference(const std::string& a, const std::string& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  while (i > 0 && (static_cast<unsigned char>(a[i < a.size() ? i : a.size() - 1]) & 0xC0) == 0x80)
    --i;
  size_t cp = 0;
  for (size_t k = 0; k < i; ++k) cp += (static_cast<unsigned char>(a[k]) & 0xC0) != 0x80;
  auto snippet = [&](const std::string& s) {
    std::string out = s.substr(i, 24);
    for (char& c : out) {
      if (c == '\n' || c == '"') c = ' ';
    }
    return out;
  };
  return "code point " + std::to_string(cp) + " (byte " + std::to_string(i) + "): \"" + snippet(a) +
         "\" vs \"" + snippet(b) + "\" (lengths " + std::to_string(a.size()) + " and " +
         std::to_string(b.size()) + " bytes)";
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

long PeakRssKb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

int Fail(int code, const std::string& msg) {
  std::fprintf(stderr, "weft replay: %s\n", msg.c_str());
  return code;
}

int ExitForStatus(const Status& st) {
  StatusCode c = st.code();
  bool input = c == StatusCode::kCorruption || c == StatusCode::kOutOfRange ||
               c == StatusCode::kInvalidArgument || c == StatusCode::kIoError;
  return Fail(input ? kExitBadInput : kExitDiverged, "replay failed: " + st.ToString());
}

// Everything one replay produces; the last of --repeat runs is kept.
struct Outcome {
  std::vector<Doc> replicas;
  std::string update, snapshot;
  std::string merged_text, loaded_text;
  size_t heap_bytes = 0;
};

// One full replay: local edits, merge into a fresh replica, snapshot load.
// Returns an exit code when something fails, nothing when all ran.
std::optional<int> ReplayOnce(const engine::Trace& trace, const Flags& flags,
                              const std::function<void(uint64_t)>& progress, bool show_progress,
                              Outcome* out, Run* run) {
  out->replicas.clear();
  auto t0 = Clock::now();
  Status st;
  if (trace.concurrent && !flags.replicas) {
    out->replicas.emplace_back(kImportAgent);
    st = engine::ImportConcurrent(trace, out->replicas[0], progress);
  } else if (trace.concurrent) {
    // Replicas are checked against each other as they finish and then
    // released (a history with hundreds of agents would otherwise hold the
    // whole document hundreds of times at the end); the final catch-up
    // runs on every core.
    engine::ConcurrentReplayOptions options;
    options.keep_replicas = false;
    options.threads = std::max(1u, std::thread::hardware_concurrency());
    if (show_progress) {
      options.catch_up_progress = [](size_t done, size_t total) {
        std::fprintf(stderr, "\r\033[Kfinal sync: %zu / %zu replicas", done, total);
      };
    }
    st = engine::ReplayConcurrent(trace, out->replicas, progress, options);
  } else {
    out->replicas.emplace_back(engine::TraceAgentId(0));
    st = engine::ReplaySequential(trace, out->replicas[0], progress);
  }
  auto t1 = Clock::now();
  if (show_progress) std::fprintf(stderr, "\r\033[K");
  if (!st.ok()) return ExitForStatus(st);
  run->local_ms = Ms(t0, t1);

  // Merge and load timers include reading the text once, as an editor would.
  out->update = out->replicas[0].EncodeOpsSince(engine::VersionVector());
  auto t2 = Clock::now();
  Doc merged(UINT64_MAX);
  st = merged.ApplyUpdate(out->update);
  out->merged_text = merged.Text();
  auto t3 = Clock::now();
  if (!st.ok()) return Fail(kExitDiverged, "merge failed: " + st.ToString());
  run->merge_ms = Ms(t2, t3);

  out->snapshot = out->replicas[0].EncodeSnapshot();
  auto t4 = Clock::now();
  Result<Doc> loaded = Doc::LoadSnapshot(out->snapshot, UINT64_MAX - 1);
  if (loaded.ok()) out->loaded_text = loaded->Text();
  auto t5 = Clock::now();
  if (!loaded.ok()) {
    return Fail(kExitDiverged, "snapshot load failed: " + loaded.status().ToString());
  }
  run->load_ms = Ms(t4, t5);
  out->heap_bytes = out->replicas[0].HeapBytes();
  return std::nullopt;
}

// Where the replicas, the merge and the load first disagree; empty if they
// all hold `text`.
std::string Divergence(const Outcome& out, const std::string& text) {
  for (size_t k = 1; k < out.replicas.size(); ++k) {
    std::string other = out.replicas[k].Text();
    if (other != text) {
      return "replica 0 and replica " + std::to_string(k) + " differ at " +
             FirstDifference(text, other);
    }
  }
  if (out.merged_text != text) {
    return "merge differs from the replicas at " + FirstDifference(text, out.merged_text);
  }
  if (out.loaded_text != text) {
    return "snapshot load differs from the replicas at " + FirstDifference(text, out.loaded_text);
  }
  return "";
}

void Report(const Flags& flags, const engine::Trace& trace, const Outcome& out,
            const std::vector<Run>& runs, bool converged, bool ok) {
  std::vector<double> local, merge, load;
  for (const Run& r : runs) {
    local.push_back(r.local_ms);
    merge.push_back(r.merge_ms);
    load.push_back(r.load_ms);
  }
  const char* kind = trace.concurrent ? "concurrent" : "sequential";
  auto patches = static_cast<unsigned long long>(trace.patches);
  if (flags.json) {
    std::printf(
        "{\"trace\": %s, \"kind\": \"%s\", \"patches\": %llu, \"agents\": %u, \"converged\": %s, "
        "\"ok\": %s, \"local_ms\": %.3f, \"merge_ms\": %.3f, \"load_ms\": %.3f, "
        "\"update_bytes\": %zu, \"snapshot_bytes\": %zu, \"doc_heap_bytes\": %zu, "
        "\"peak_rss_kb\": %ld}\n",
        JsonString(flags.trace).c_str(), kind, patches, trace.num_agents,
        converged ? "true" : "false", ok ? "true" : "false", Median(local), Median(merge),
        Median(load), out.update.size(), out.snapshot.size(), out.heap_bytes, PeakRssKb());
    return;
  }
  std::printf("%s: %s, %llu patches, %u agent(s)\n", flags.trace.c_str(), kind, patches,
              trace.num_agents);
  std::printf("  local %.2f ms, merge %.2f ms, load %.2f ms (median of %d)\n", Median(local),
              Median(merge), Median(load), flags.repeat);
  std::printf("  update %zu bytes, snapshot %zu bytes, doc heap %zu bytes, peak RSS %ld KiB\n",
              out.update.size(), out.snapshot.size(), out.heap_bytes, PeakRssKb());
}

}  // namespace

int RunReplay(int argc, char** argv) {
#ifdef WEFT_HAVE_TRANSPORT
  // `weft replay --data DIR --doc NAME`: a node's op log instead of a trace.
  for (int i = 0; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--data") return RunReplayLog(argc, argv);
  }
#endif
  Flags flags;
  if (ParseFlags(argc, argv, &flags) != kExitOk) {
    Usage(stderr);
    return kExitBadInput;
  }
  Result<engine::Trace> trace = engine::LoadTrace(flags.trace);
  if (!trace.ok()) return Fail(kExitBadInput, flags.trace + ": " + trace.status().ToString());

  const bool show_progress = !flags.json && isatty(STDERR_FILENO);
  auto progress = [&](uint64_t done) {
    if (show_progress) {
      std::fprintf(stderr, "\rreplaying: %llu / %llu patches",
                   static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(trace->patches));
    }
  };
  Outcome out;
  std::vector<Run> runs(flags.repeat);
  for (Run& run : runs) {
    if (std::optional<int> exit = ReplayOnce(*trace, flags, progress, show_progress, &out, &run)) {
      return *exit;
    }
  }
  if (flags.repeat > 1) {
    // Warm figures, taken as the JS anchors' warm harness takes them: all
    // the replays first, then the merges back to back, then the loads. A
    // merge timed right after a replay and two encodings runs in caches
    // they filled, which tells how the process around it ran, not the
    // merge.
    for (Run& run : runs) {
      auto t0 = Clock::now();
      Doc merged(UINT64_MAX);
      const Status st = merged.ApplyUpdate(out.update);
      const std::string text = merged.Text();
      run.merge_ms = Ms(t0, Clock::now());
      if (!st.ok() || text != out.merged_text) {
        return Fail(kExitDiverged, "a repeated merge differs");
      }
    }
    for (Run& run : runs) {
      auto t0 = Clock::now();
      Result<Doc> loaded = Doc::LoadSnapshot(out.snapshot, UINT64_MAX - 1);
      const std::string text = loaded.ok() ? loaded->Text() : std::string();
      run.load_ms = Ms(t0, Clock::now());
      if (!loaded.ok() || text != out.loaded_text) {
        return Fail(kExitDiverged, "a repeated snapshot load differs");
      }
    }
  }
  const std::string text = out.replicas[0].Text();
  const std::string divergence = Divergence(out, text);
  const bool converged = divergence.empty();
  const bool ok = converged && text == trace->end_content;
  Report(flags, *trace, out, runs, converged, ok);
  if (!converged) return Fail(kExitDiverged, "diverged: " + divergence);
  if (!ok) {
    // A sequential trace has no concurrent inserts, so no tie-break can
    // explain this one: say so rather than let it pass for one.
    std::string why =
        trace->concurrent ? "" : " (sequential trace: not a tie-break; a bug or a wrong trace)";
    return Fail(kExitTieBreak, "replicas, merge and load agree but differ from endContent at " +
                                   FirstDifference(trace->end_content, text) + why);
  }
  if (!flags.json) std::printf("  ok: matches endContent\n");
  return kExitOk;
}

}  // namespace weft::demo
