// A small command-line parser for the subcommands: long options with or without a value
// ("--depth 32", "--depth=32"), short aliases, repeatable options, positionals, and "--" ending
// option parsing. Errors name the offending argument.
#ifndef ALLOCPROF_ANALYZER_CLI_ARGS_H_
#define ALLOCPROF_ANALYZER_CLI_ARGS_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"

namespace allocprof {

class CliArgs {
 public:
  // Declares an option. `names` is e.g. "-o,--output"; `takes_value` false for switches.
  void Option(const std::string& names, bool takes_value, const std::string& help);
  absl::Status Parse(int argc, char** argv, int first);

  bool Has(const std::string& name) const;
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  const std::vector<std::string>& GetAll(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }
  // Arguments after "--", verbatim.
  const std::vector<std::string>& rest() const { return rest_; }
  bool saw_double_dash() const { return saw_double_dash_; }
  // Index in argv of the first positional argument, or -1.
  int first_positional_index() const { return first_positional_index_; }
  std::string Help() const;

 private:
  struct Spec {
    std::string canonical;
    bool takes_value;
    std::string names;
    std::string help;
  };
  std::vector<Spec> specs_;
  absl::flat_hash_map<std::string, size_t> by_name_;
  absl::flat_hash_map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
  std::vector<std::string> rest_;
  bool saw_double_dash_ = false;
  int first_positional_index_ = -1;
};

// A usage error: "allocprof COMMAND: PROBLEM" and "see 'allocprof COMMAND --help'" on stderr, two
// lines, not the whole help. Returns kExitUsage.
int UsageError(const std::string& command, const std::string& problem);

// argv[first..] as a shell would need them typed (single quotes where needed), for suggestions.
std::string ShellWords(int argc, char** argv, int first, int end);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_CLI_ARGS_H_
