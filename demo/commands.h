// Entry points of the `weft` program's subcommands. Each takes the arguments
// after its own name and returns the process exit code: 0 success, 1 runtime
// failure, 2 bad arguments or input.
#pragma once

namespace weft::demo {

int RunRingbufDemo(int argc, char** argv);
int RunReplay(int argc, char** argv);
int RunNode(int argc, char** argv);
int RunCat(int argc, char** argv);
int RunType(int argc, char** argv);
int RunLog(int argc, char** argv);
int RunReplayLog(int argc, char** argv);
int RunEdit(int argc, char** argv);
int RunDemo(int argc, char** argv);
int RunLoad(int argc, char** argv);

}  // namespace weft::demo
