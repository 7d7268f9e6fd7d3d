// The analysis options every command that analyzes a trace accepts (analyze, diff, report), so the
// same flags give the same figures whichever command computes them.
#ifndef ALLOCPROF_ANALYZER_ANALYSIS_FLAGS_H_
#define ALLOCPROF_ANALYZER_ANALYSIS_FLAGS_H_

#include "absl/status/status.h"
#include "passes/heap_analysis.h"
#include "report/report.h"
#include "util/cli_args.h"

namespace allocprof {

// Declares --top, --windows, --window, --size-classes, --loh-threshold, --short-lived,
// --pool-target, the Gen-model knobs and --no-symbols.
void AddAnalysisFlags(CliArgs& args);

// The Gen-model knobs alone (--gen0-budget, --llc, --gen1-min, ...), for export's collection
// marks; AddAnalysisFlags includes them.
void AddGenModelFlags(CliArgs& args);
absl::Status ReadGenModelFlags(const CliArgs& args, GenParameters* gen);

// Fills `options` from the parsed flags; the error names the flag and the value.
absl::Status ReadAnalysisFlags(const CliArgs& args, AnalysisOptions* options);

// --process PID|NAME (every command that reads a run), and with `all` --all-processes (analyze).
void AddProcessFlags(CliArgs& args, bool all);
RunSelection ReadProcessFlags(const CliArgs& args);

// Fills `window` from --from and --to (for export, which takes only these of the analysis flags);
// a time --to must come after a time --from.
absl::Status ReadWindowFlags(const CliArgs& args, WindowSpec* window);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_ANALYSIS_FLAGS_H_
