// The CLI's subcommands. Each returns the process exit code (util/exit_codes.h). run, test, attach
// and ctl are defined in launch/, the others here in cli/.
#ifndef ALLOCPROF_ANALYZER_COMMANDS_H_
#define ALLOCPROF_ANALYZER_COMMANDS_H_

#include "util/exit_codes.h"

namespace allocprof {

int RunCommand(int argc, char** argv);      // allocprof run [options] -- CMD ARGS...
int TestCommand(int argc, char** argv);     // allocprof test [options] -- CMD ARGS...
int AttachCommand(int argc, char** argv);   // allocprof attach [options] PID
int DumpCommand(int argc, char** argv);     // allocprof dump TRACE
int AnalyzeCommand(int argc, char** argv);  // allocprof analyze [options] TRACE...
int DiffCommand(int argc, char** argv);     // allocprof diff [options] BEFORE AFTER
int ReportCommand(int argc, char** argv);   // allocprof report [options] -o DIR TRACE
int ExportCommand(int argc, char** argv);   // allocprof export TRACE --format F -o FILE
int CtlCommand(int argc, char** argv);      // allocprof ctl PID start|stop|mark NAME

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_COMMANDS_H_
