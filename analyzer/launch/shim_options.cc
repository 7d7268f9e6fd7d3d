#include "launch/shim_options.h"

#include <stdlib.h>

#include "absl/strings/str_cat.h"

namespace allocprof {
namespace {

using options::Spec;

std::string Describe(void (*describe)(const Spec&, options::TextBuffer&), const Spec& spec) {
  char buffer[512];
  options::TextBuffer text(buffer, sizeof(buffer));
  describe(spec, text);
  return text.c_str();
}

// The shim's parser on `value`; the error says where the value came from.
absl::Status Check(const Spec& spec, const std::string& source, const std::string& value) {
  options::Value parsed;
  if (options::Parse(spec, value.c_str(), &parsed)) return absl::OkStatus();
  char buffer[512];
  options::TextBuffer text(buffer, sizeof(buffer));
  options::DescribeBadValue(spec, source.c_str(), value.c_str(), text);
  return absl::InvalidArgumentError(text.c_str());
}

}  // namespace

void DeclareShimFlags(CliArgs& args, options::Use command) {
  for (const Spec& spec : options::kSpecs) {
    if (!(spec.use & command)) continue;
    bool is_switch = spec.kind == options::Kind::kSwitch;
    std::string help = spec.help;
    std::string range = Describe(options::DescribeForHelp, spec);
    std::string variable;
    if (!(spec.use & options::kLauncherSets)) {
      // A switch flag sets the opposite of its default.
      variable = is_switch ? absl::StrCat(spec.variable, "=", spec.fallback[0] == '1' ? "0" : "1") : spec.variable;
    }
    if (!range.empty() || !variable.empty()) {
      absl::StrAppend(&help, " (", range, !range.empty() && !variable.empty() ? "; " : "", variable, ")");
    }
    args.Option(spec.flag, !is_switch, help);
  }
}

absl::StatusOr<std::vector<ShimOption>> CollectShimOptions(const CliArgs& args, options::Use command) {
  std::vector<ShimOption> out;
  for (const Spec& spec : options::kSpecs) {
    bool offered = spec.use & command;
    if (offered && args.Has(options::LongFlag(spec))) {
      std::string value = spec.kind != options::Kind::kSwitch ? args.Get(options::LongFlag(spec))
                          : spec.fallback[0] == '1'           ? "0"
                                                              : "1";
      if (absl::Status st = Check(spec, options::LongFlag(spec), value); !st.ok()) return st;
      out.push_back({&spec, value, true});
      continue;
    }
    if (spec.use & options::kLauncherSets) continue;
    // run's program inherits every variable; attach and test check only the options they offer
    // (test's program, counting, reads no other).
    if (command != options::kRun && !offered) continue;
    const char* inherited = getenv(spec.variable);
    if (!inherited) continue;
    if (absl::Status st = Check(spec, absl::StrCat(spec.variable, " (in the environment)"), inherited); !st.ok())
      return st;
    out.push_back({&spec, inherited, false});
  }
  return out;
}

absl::Status CheckOutputPath(const std::string& absolute) {
  const Spec& spec = options::SpecOf(options::Id::kOutput);
  options::Value parsed;
  if (options::Parse(spec, absolute.c_str(), &parsed)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("the trace file's absolute path must be at most ", spec.max, " bytes: ", absolute));
}

std::string ShimOptionValue(const std::vector<ShimOption>& collected, options::Id id) {
  for (const ShimOption& o : collected) {
    if (o.spec->id == id) return o.value;
  }
  return options::SpecOf(id).fallback;
}

}  // namespace allocprof
