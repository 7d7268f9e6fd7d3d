// The CLI's subcommands. Each returns the process exit code (see kExit*).
#ifndef ALLOCPROF_ANALYZER_COMMANDS_H_
#define ALLOCPROF_ANALYZER_COMMANDS_H_

namespace allocprof {

// Exit codes shared by every subcommand (documented in README.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitVerdictFailed = 1;  // diff: a --fail-if rule failed
inline constexpr int kExitBadInput = 2;       // not a trace, unsupported version, unreadable
inline constexpr int kExitDamaged = 3;        // dump: the trace was truncated or corrupt (prefix shown)
inline constexpr int kExitNotPermitted = 4;   // attach: ptrace (or reading /proc/PID) is not permitted
inline constexpr int kExitUsage = 64;         // bad command line

int RunCommand(int argc, char** argv);   // allocprof run [options] -- CMD ARGS...
int AttachCommand(int argc, char** argv);  // allocprof attach [options] PID
int DumpCommand(int argc, char** argv);  // allocprof dump TRACE
int AnalyzeCommand(int argc, char** argv);  // allocprof analyze [options] TRACE...
int DiffCommand(int argc, char** argv);     // allocprof diff [options] BEFORE AFTER
int ReportCommand(int argc, char** argv);   // allocprof report [options] -o DIR TRACE
int ExportCommand(int argc, char** argv);   // allocprof export TRACE --format F -o FILE
int CtlCommand(int argc, char** argv);      // allocprof ctl PID start|stop|mark NAME

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_COMMANDS_H_
