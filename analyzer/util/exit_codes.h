// Exit codes shared by every subcommand (documented in README.md). Here rather than in cli/ so
// that the commands in launch/ use them without including the layer above them.
#ifndef ALLOCPROF_ANALYZER_UTIL_EXIT_CODES_H_
#define ALLOCPROF_ANALYZER_UTIL_EXIT_CODES_H_

namespace allocprof {

inline constexpr int kExitOk = 0;
inline constexpr int kExitVerdictFailed = 1;  // diff: a --fail-if rule failed
inline constexpr int kExitBadInput = 2;       // not a trace, unsupported version, unreadable
inline constexpr int kExitDamaged = 3;        // dump: the trace was truncated or corrupt (prefix shown)
inline constexpr int kExitNotPermitted = 4;   // attach: not permitted (ptrace, /proc/PID) or not attachable
inline constexpr int kExitUsage = 64;         // bad command line, or an output that exists (run/attach without --force)
inline constexpr int kExitCantCreate = 73;    // EX_CANTCREAT: an output file cannot be created or written

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_UTIL_EXIT_CODES_H_
