// The shim's options as `allocprof run` and `allocprof attach` take them: flags declared, parsed and
// range-checked from the one table in allocprof/options.h, and a variable the command inherits
// checked the same way, so a bad value is refused before the program starts instead of being
// dropped by the shim.
#ifndef ALLOCPROF_ANALYZER_LAUNCH_SHIM_OPTIONS_H_
#define ALLOCPROF_ANALYZER_LAUNCH_SHIM_OPTIONS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "allocprof/options.h"
#include "util/cli_args.h"

namespace allocprof {

// Declares the flags of the options `command` (options::kRun, kAttach or kTest) offers, with help
// built from the table (range, default, and the variable that sets it too).
void DeclareShimFlags(CliArgs& args, options::Use command);

struct ShimOption {
  const options::Spec* spec;
  std::string value;  // as the shim reads it (a switch flag's "0" or "1")
  bool from_flag;     // false: from this process's environment
};

// The options to hand to the shim: each flag given, else the variable in this process's
// environment (never for kLauncherSets options, which the command sets itself). `run` checks
// every variable its program will inherit; `attach` and `test` take only the options they offer. An
// InvalidArgument error names the first bad value, its source and the valid range.
absl::StatusOr<std::vector<ShimOption>> CollectShimOptions(const CliArgs& args, options::Use command);

// The trace file's absolute path, which the command passes as ALLOCPROF_OUTPUT, checked as the
// shim will check it.
absl::Status CheckOutputPath(const std::string& absolute);

// The value of `id` among `collected`, or its default ("" when unset).
std::string ShimOptionValue(const std::vector<ShimOption>& collected, options::Id id);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_LAUNCH_SHIM_OPTIONS_H_
