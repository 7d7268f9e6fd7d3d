#include "util/cli_args.h"

#include <stdio.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "util/exit_codes.h"

namespace allocprof {

void CliArgs::Option(const std::string& names, bool takes_value, const std::string& help) {
  std::vector<std::string> parts = absl::StrSplit(names, ',');
  Spec spec{parts.back(), takes_value, names, help};
  for (const auto& n : parts) by_name_[n] = specs_.size();
  specs_.push_back(spec);
}

absl::Status CliArgs::Parse(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      saw_double_dash_ = true;
      for (int j = i + 1; j < argc; ++j) rest_.push_back(argv[j]);
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      if (positional_.empty()) first_positional_index_ = i;
      positional_.push_back(arg);
      continue;
    }
    std::string name = arg;
    std::string value;
    bool has_inline = false;
    if (size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_inline = true;
    }
    auto it = by_name_.find(name);
    if (it == by_name_.end()) return absl::InvalidArgumentError(absl::StrCat("unknown option '", name, "'"));
    const Spec& spec = specs_[it->second];
    if (spec.takes_value) {
      if (!has_inline) {
        if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat("option '", name, "' needs a value"));
        value = argv[++i];
      }
    } else if (has_inline) {
      return absl::InvalidArgumentError(absl::StrCat("option '", name, "' takes no value"));
    }
    values_[spec.canonical].push_back(value);
  }
  return absl::OkStatus();
}

bool CliArgs::Has(const std::string& name) const { return values_.contains(name); }

std::string CliArgs::Get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second.back();
}

const std::vector<std::string>& CliArgs::GetAll(const std::string& name) const {
  static const std::vector<std::string> kNone;
  auto it = values_.find(name);
  return it == values_.end() ? kNone : it->second;
}

std::string CliArgs::Help() const {
  std::string out;
  for (const auto& s : specs_) {
    std::string left = absl::StrCat("  ", s.names, s.takes_value ? " VALUE" : "");
    if (left.size() < 28)
      left.resize(28, ' ');
    else
      left += "  ";
    absl::StrAppend(&out, left, s.help, "\n");
  }
  return out;
}

int UsageError(const std::string& command, const std::string& problem) {
  fprintf(stderr, "allocprof %s: %s\nsee 'allocprof %s --help'\n", command.c_str(), problem.c_str(), command.c_str());
  return kExitUsage;
}

std::string ShellWords(int argc, char** argv, int first, int end) {
  std::string out;
  for (int i = first; i < end && i < argc; ++i) {
    std::string word = argv[i];
    bool plain = !word.empty() && word.find_first_not_of(
                                      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "0123456789_./:=,@%+-") == std::string::npos;
    if (!out.empty()) out += ' ';
    if (plain) {
      out += word;
    } else {
      out += '\'';
      for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
      out += '\'';
    }
  }
  return out;
}

}  // namespace allocprof
