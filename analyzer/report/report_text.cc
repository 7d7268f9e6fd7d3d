// Plain-text rendering of an AnalysisReport, for a terminal or a log: the warnings, then each
// process's title and its sections in text order (report/sections/all_sections.cc).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "report/report.h"
#include "report/section.h"

namespace allocprof {
namespace {

// Damage comes before any figure: the figures below it are incomplete.
void RenderDamage(const AnalysisReport& report, std::string& out) {
  std::vector<const ReportDamage*> damage;
  for (const auto& p : report.processes) {
    for (const auto& d : p.damage) damage.push_back(&d);
  }
  if (damage.empty()) return;
  absl::StrAppend(&out, "DAMAGED TRACE: the figures below miss what was lost (leaks, peak and counts may be wrong)\n");
  for (const auto* d : damage) absl::StrAppend(&out, "  ! ", d->message, "\n");
  absl::StrAppend(&out, "\n");
}

void RenderWarnings(const AnalysisReport& report, std::string& out) {
  std::vector<std::string> warnings;
  for (const auto& p : report.processes) {
    for (const auto& w : p.warnings) {
      bool is_damage =
          std::any_of(p.damage.begin(), p.damage.end(), [&](const ReportDamage& d) { return d.message == w; });
      if (!is_damage) warnings.push_back(w);
    }
  }
  if (warnings.empty()) return;
  absl::StrAppend(&out, "Warnings\n");
  for (const auto& w : warnings) absl::StrAppend(&out, "  ! ", w, "\n");
  absl::StrAppend(&out, "\n");
}

std::string OneLine(std::string cmd, size_t max) {
  std::replace(cmd.begin(), cmd.end(), '\0', ' ');
  if (cmd.size() > max) cmd = cmd.substr(0, max - 3) + "...";
  return cmd;
}

// The run's processes, the one that allocated most, and which one the sections below report.
void RenderRun(const AnalysisReport& report, std::string& out) {
  const auto& run = report.run;
  if (run.size() < 2) return;
  double total = 0, total_variance = 0;
  bool sampled = false;
  for (const auto& t : run) total += t.allocations, total_variance += t.allocations_variance, sampled |= t.sampled;
  const RunTrace& most = run[report.run_most];
  absl::StrAppendFormat(&out, "Processes: %d traces in this run, %s%s in all\n", run.size(),
                        HumanCount(static_cast<uint64_t>(total)),
                        sampled      ? absl::StrCat(PlusMinusCount(total_variance), " allocations (estimates)")
                        : total == 1 ? " allocation"
                                     : " allocations");
  absl::StrAppendFormat(&out, "  most allocations: %s, %s%s (%s)\n", DescribeRunProcess(most),
                        HumanCount(static_cast<uint64_t>(most.allocations)), PlusMinusCount(most.allocations_variance),
                        Percent(static_cast<uint64_t>(most.allocations), static_cast<uint64_t>(total)));
  std::vector<size_t> order(run.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return run[a].allocations > run[b].allocations; });
  constexpr size_t kShown = 20;
  // Sampled traces: each estimate with its 1 sigma, in wider columns.
  int count_width = sampled ? 22 : 12, bytes_width = sampled ? 24 : 11;
  absl::StrAppendFormat(&out, "  %8s %8s %*s %7s %*s  %-44s %s\n", "pid", "parent", count_width, "allocations", "share",
                        bytes_width, "bytes", "command", "trace");
  for (size_t k = 0; k < order.size() && k < kShown; ++k) {
    const RunTrace& t = run[order[k]];
    absl::StrAppendFormat(
        &out, "%s %8d %8d %*s %7s %*s  %-44s %s\n", order[k] == report.run_focus ? " >" : "  ", t.process.pid,
        t.process.ppid, count_width,
        absl::StrCat(HumanCount(static_cast<uint64_t>(t.allocations)), PlusMinusCount(t.allocations_variance)),
        Percent(static_cast<uint64_t>(t.allocations), static_cast<uint64_t>(total)), bytes_width,
        absl::StrCat(HumanBytes(static_cast<uint64_t>(t.bytes_allocated)), PlusMinusBytes(t.bytes_variance)),
        OneLine(t.process.command_line, 44), t.file);
  }
  if (order.size() > kShown) {
    absl::StrAppendFormat(&out, "  ... %d more with fewer allocations (the JSON report lists every one)\n",
                          order.size() - kShown);
  }
  absl::StrAppendFormat(
      &out, "  reported below (>): %s, %s%s\n\n", DescribeRunProcess(run[report.run_focus]), report.focus_reason,
      report.processes.size() > 1           ? ", then every other process"
      : report.run_focus == report.run_most ? "; --process PID|NAME picks another, --all-processes reports each"
                                            : "");
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
  RenderDamage(report, out);
  RenderWarnings(report, out);
  RenderRun(report, out);
  for (size_t i = 0; i < report.processes.size(); ++i) {
    if (i) absl::StrAppend(&out, "\n");
    RenderProcess(report.processes[i], report.options, out);
  }
  return out;
}

}  // namespace allocprof
