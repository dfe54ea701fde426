// `weft`: one program, one subcommand per use. Flag parsing and wiring only;
// the work lives in the libraries.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "commands.h"
#include "weft/version.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int argc, char** argv);
  const char* summary;
};

constexpr Command kCommands[] = {
    {"ringbuf-demo", weft::demo::RunRingbufDemo,
     "a producer fanning pooled events out to two readers"},
#ifdef WEFT_HAVE_ENGINE
    {"replay", weft::demo::RunReplay, "replay an editing trace and check the result"},
#endif
#ifdef WEFT_HAVE_TRANSPORT
    {"node", weft::demo::RunNode, "run a node: host documents and sync them with peers"},
    {"cat", weft::demo::RunCat, "print a document's text as a node has it"},
    {"type", weft::demo::RunType, "stream a trace's edits to a node as a typist would"},
    {"log", weft::demo::RunLog, "dump or verify a node's op log and snapshots"},
    {"edit", weft::demo::RunEdit, "a terminal editor on a shared document"},
    {"load", weft::demo::RunLoad, "many clients typing into a node: throughput and latency"},
    {"demo", weft::demo::RunDemo,
     "three nodes, writers, a crash and a partition: watch them converge"},
#endif
};

void PrintUsage(std::FILE* out) {
  std::fprintf(out, "usage: weft COMMAND [ARGS]\n\ncommands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-14s %s\n", c.name, c.summary);
  std::fprintf(out, "  %-14s %s\n", "version", "print the version (also --version)");
  std::fprintf(out, "\n'weft COMMAND --help' describes one command.\n");
}

// The release, then the ABI version of the C API (libweft.so) it ships.
int PrintVersion() {
  std::printf("weft %s\nC API (libweft.so) ABI version %d\n", WEFT_VERSION_STRING,
              WEFT_C_ABI_VERSION);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // A peer that vanishes mid-write must be an error on that connection, not
  // the end of the process.
  std::signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    PrintUsage(stderr);
    return 2;
  }
  std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    PrintUsage(stdout);
    return 0;
  }
  if (name == "--version" || name == "version") return PrintVersion();
  for (const Command& c : kCommands) {
    if (name == c.name) return c.run(argc - 2, argv + 2);
  }
  std::fprintf(stderr, "weft: unknown command '%s' (try 'weft --help')\n", argv[1]);
  return 2;
}
