// The analysis options every command that analyzes a trace accepts (analyze, diff, report), so the
// same flags give the same figures whichever command computes them.
#ifndef ALLOCPROF_ANALYZER_ANALYSIS_FLAGS_H_
#define ALLOCPROF_ANALYZER_ANALYSIS_FLAGS_H_

#include "absl/status/status.h"
#include "cli_args.h"
#include "heap_analysis.h"

namespace allocprof {

// Declares --top, --windows, --window, --size-classes, --loh-threshold, --short-lived,
// --pool-target, the Gen-model knobs and --no-symbols.
void AddAnalysisFlags(CliArgs& args);

// Fills `options` from the parsed flags; the error names the flag and the value.
absl::Status ReadAnalysisFlags(const CliArgs& args, AnalysisOptions* options);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_ANALYSIS_FLAGS_H_
