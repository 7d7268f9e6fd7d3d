// AnalyzeRun: a process tree's traces as one run (report/report.h).
#include <algorithm>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "report/render_util.h"
#include "report/report.h"

namespace allocprof {
namespace {

std::string Basename(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string ListProcesses(const std::vector<RunTrace>& run) {
  std::string out;
  for (const RunTrace& t : run) {
    if (out.size() > 1500) {
      absl::StrAppend(&out, ", ...");
      break;
    }
    absl::StrAppend(&out, out.empty() ? "" : ", ", DescribeRunProcess(t));
  }
  return out;
}

// Whether `child` is `root`.PID[.N] for this pid.
bool NamesPid(const std::string& root, const std::string& child, uint64_t pid) {
  std::string rest = child.substr(std::min(child.size(), root.size() + 1));
  uint64_t named = 0;
  return absl::SimpleAtoi(rest.substr(0, rest.find('.')), &named) && named == pid;
}

}  // namespace

std::string DescribeRunProcess(const RunTrace& t) {
  return absl::StrFormat("pid %d %s (%s)", t.process.pid, CommandName(t.process), Basename(t.file));
}

bool IsProcessSelectionError(const absl::Status& st) {
  return absl::IsInvalidArgument(st) && absl::StartsWith(st.message(), "--process ");
}

size_t MostAllocating(const std::vector<RunTrace>& run) {
  size_t best = 0;
  for (size_t i = 1; i < run.size(); ++i) {
    if (run[i].allocations > run[best].allocations) best = i;
  }
  return best;
}

absl::StatusOr<size_t> SelectProcess(const std::vector<RunTrace>& run, const std::string& selector) {
  uint64_t pid = 0;
  bool by_pid = absl::SimpleAtoi(selector, &pid);
  std::optional<size_t> best;
  for (size_t i = 0; i < run.size(); ++i) {
    const RunTrace& t = run[i];
    bool match = by_pid ? t.process.pid == pid
                        : ProcessNameMatches(t.process, selector) || t.file == selector || Basename(t.file) == selector;
    if (match && (!best || t.allocations > run[*best].allocations)) best = i;
  }
  if (best) return *best;
  return absl::InvalidArgumentError(absl::StrFormat("--process %s: no process of this run is %s %s; its processes: %s",
                                                    selector, by_pid ? "pid" : "named", selector, ListProcesses(run)));
}

absl::StatusOr<RunPick> PickFromRun(const std::vector<std::string>& inputs, const RunSelection& selection) {
  RunPick pick;
  std::vector<std::string> files = inputs;
  if (files.size() == 1 && selection.find_children) {
    for (auto& child : FindChildTraces(files[0])) files.push_back(std::move(child));
  }
  if (files.size() <= 1 && selection.process.empty()) {
    for (const auto& f : files) pick.run.push_back(RunTrace{f, {}, false, 0, 0});
    return pick;
  }
  for (const std::string& f : files) {
    if (std::find_if(pick.run.begin(), pick.run.end(), [&](const RunTrace& t) { return t.file == f; }) !=
        pick.run.end()) {
      continue;
    }
    auto scanned = ScanTrace(f);
    if (!scanned.ok()) return scanned.status();
    // A found FILE.PID[.N] whose process is not PID is no child of FILE (FILE was itself a child
    // trace, FILE.PID.N, and these are its pid's later images): leave it out.
    if (f != files.front() && inputs.size() == 1 && scanned->has_process &&
        !NamesPid(files.front(), f, scanned->process.pid)) {
      continue;
    }
    pick.run.push_back(std::move(*scanned));
  }
  pick.most = pick.focus = MostAllocating(pick.run);
  pick.reason = "allocated most";
  if (!selection.process.empty()) {
    auto picked = SelectProcess(pick.run, selection.process);
    if (!picked.ok()) return picked.status();
    pick.focus = *picked;
    pick.reason = absl::StrCat("--process ", selection.process);
  } else if (!selection.same_command.empty()) {
    std::optional<size_t> same;
    for (size_t i = 0; i < pick.run.size(); ++i) {
      if (CommandName(pick.run[i].process) == selection.same_command &&
          (!same || pick.run[i].allocations > pick.run[*same].allocations)) {
        same = i;
      }
    }
    if (same) {
      pick.focus = *same;
      pick.reason = absl::StrCat("the same command as the other side (", selection.same_command, ")");
    } else {
      pick.reason = absl::StrCat("allocated most (no process runs ", selection.same_command, ")");
    }
  }
  return pick;
}

absl::StatusOr<AnalysisReport> AnalyzeRun(const std::vector<std::string>& inputs, const RunSelection& selection,
                                          const AnalysisOptions& options, bool show_progress) {
  auto pick = PickFromRun(inputs, selection);
  if (!pick.ok()) return pick.status();
  if (pick->run.size() <= 1) {
    std::vector<std::string> files;
    for (const auto& t : pick->run) files.push_back(t.file);
    return Analyze(files, options, show_progress);
  }
  std::vector<std::string> analyzed = {pick->run[pick->focus].file};
  if (selection.all) {
    for (size_t i = 0; i < pick->run.size(); ++i) {
      if (i != pick->focus) analyzed.push_back(pick->run[i].file);
    }
  }
  auto report = Analyze(analyzed, options, show_progress);
  if (!report.ok()) return report.status();
  report->inputs = inputs;
  report->run = std::move(pick->run);
  report->run_focus = pick->focus;
  report->run_most = pick->most;
  report->focus_reason = pick->reason;
  return report;
}

}  // namespace allocprof
