// Plain-text rendering of an AnalysisReport, for a terminal or a log: the warnings, then each
// process's title and its sections in text order (report/sections/all_sections.cc).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "report/report.h"
#include "report/section.h"

namespace allocprof {
namespace {

void RenderWarnings(const AnalysisReport& report, std::string& out) {
  std::vector<std::string> warnings;
  for (const auto& p : report.processes) warnings.insert(warnings.end(), p.warnings.begin(), p.warnings.end());
  if (warnings.empty()) return;
  absl::StrAppend(&out, "Warnings\n");
  for (const auto& w : warnings) absl::StrAppend(&out, "  ! ", w, "\n");
  absl::StrAppend(&out, "\n");
}

void RenderProcess(const ProcessReport& p, const AnalysisOptions& o, std::string& out) {
  std::string cmd = p.process.command_line;
  std::replace(cmd.begin(), cmd.end(), '\0', ' ');
  absl::StrAppendFormat(&out, "== %s — pid %d (parent %d): %s\n", p.file, p.process.pid, p.process.ppid, cmd);
  absl::StrAppendFormat(&out, "   %s, %.3f s%s\n", HumanCountOf(p.threads, "thread", "threads"), p.duration_s,
                        p.ended_cleanly ? "" : ", trace cut short (no end record)");
  for (size_t i : TextOrder()) p.sections[i]->RenderText(p, o, out);
}

}  // namespace

std::string RenderText(const AnalysisReport& report) {
  std::string out;
  RenderWarnings(report, out);
  for (size_t i = 0; i < report.processes.size(); ++i) {
    if (i) absl::StrAppend(&out, "\n");
    RenderProcess(report.processes[i], report.options, out);
  }
  return out;
}

}  // namespace allocprof
