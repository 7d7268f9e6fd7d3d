#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

extern char** environ;

namespace allocprof::testing {

namespace {

// Tests run their programs with the options they choose: shim options a developer exported in the
// shell (or that run_all.sh's foreign-environment pass exports) must not reach those programs. The
// analyzer's ALLOCPROF_READER_THREAD stays, because it must not change any result.
const bool g_environment_scrubbed = [] {
  std::vector<std::string> names;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    if (name.starts_with("ALLOCPROF_") && name != "ALLOCPROF_READER_THREAD") names.emplace_back(name);
  }
  for (const auto& name : names) unsetenv(name.c_str());
  return true;
}();

// Programs these tests start inherit the test binary's ignored signals and blocked mask. Run
// under `nohup` or from a job that ignores SIGINT/SIGHUP/SIGQUIT, `sh -c 'kill -HUP $$'` would
// exit 0 and a server waiting for SIGINT would never stop: the tests check signal behaviour, so
// they start from the defaults a terminal gives, whatever launched them.
const bool kSignalDefaultsRestored = [] {
  for (int sig = 1; sig < NSIG; ++sig) {
    struct sigaction current;
    if (sigaction(sig, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) signal(sig, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  return true;
}();

}  // namespace

std::string BuildPath(const std::string& relative) { return std::string(ALLOCPROF_BUILD_DIR) + "/" + relative; }
std::string SourcePath(const std::string& relative) { return std::string(ALLOCPROF_SOURCE_DIR) + "/" + relative; }
std::string Program(const std::string& name) { return BuildPath("tests/programs/" + name); }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

RunResult RunProgram(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                     const std::string& input) {
  TempDir io;
  std::string in_path = io / "stdin", out_path = io / "stdout", err_path = io / "stderr";
  {
    std::ofstream in(in_path, std::ios::binary);
    in << input;
  }
  pid_t pid = fork();
  if (pid == 0) {
    int in = open(in_path.c_str(), O_RDONLY);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    for (const auto& e : env) putenv(strdup(e.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadFile(out_path);
  r.err = ReadFile(err_path);
  return r;
}

RunResult RunTraced(const std::string& trace, const std::vector<std::string>& argv,
                    const std::vector<std::string>& options, const std::string& input) {
  std::vector<std::string> full = {BuildPath("allocprof"), "run", "-o", trace};
  full.insert(full.end(), options.begin(), options.end());
  full.push_back("--");
  full.insert(full.end(), argv.begin(), argv.end());
  return RunProgram(full, {}, input);
}

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/allocprof-test-XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    fprintf(stderr, "cannot create a temporary directory %s: %s\n", tmpl.c_str(), strerror(errno));
    abort();
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  for (const auto& f : Files()) unlink((path_ + "/" + f).c_str());
  rmdir(path_.c_str());
}

std::vector<std::string> TempDir::Files() const {
  std::vector<std::string> names;
  if (DIR* d = opendir(path_.c_str())) {
    while (struct dirent* e = readdir(d)) {
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names.push_back(e->d_name);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool TraceSummary::Damaged() const {
  return std::any_of(catalog.diagnostics.begin(), catalog.diagnostics.end(),
                     [](const Diagnostic& d) { return d.kind != Diagnostic::Kind::kNote; });
}

std::vector<uint32_t> TraceSummary::UndefinedStacks() const {
  std::vector<uint32_t> undefined;
  for (uint32_t id : stack_ids) {
    if (!catalog.stacks.contains(id)) undefined.push_back(id);
  }
  return undefined;
}

namespace {

class Summarizer : public EventSink {
 public:
  explicit Summarizer(TraceSummary* s) : s_(s) {}
  void OnEvent(const Event& e) override {
    ++s_->by_entry[e.entry];
    if (e.is_free) {
      ++s_->frees;
      auto it = live_.find(e.addr);
      if (it == live_.end()) {
        ++s_->frees_of_unknown;
      } else {
        ++s_->frees_by_size[it->second];
        live_.erase(it);
      }
    } else {
      ++s_->allocs;
      ++s_->allocs_by_size[e.size];
      if (e.stack_id == 0)
        ++s_->allocs_without_stack;
      else
        s_->stack_ids.insert(e.stack_id);
      auto [it, inserted] = live_.try_emplace(e.addr, e.size);
      if (!inserted) {
        ++s_->allocs_over_live;
        it->second = e.size;
      }
    }
  }
  size_t live() const { return live_.size(); }

 private:
  TraceSummary* s_;
  absl::flat_hash_map<uint64_t, uint64_t> live_;
};

}  // namespace

TraceSummary Summarize(const std::string& trace) {
  TraceSummary s;
  Summarizer sink(&s);
  absl::Status st = ReadProcessTrace(trace, &sink, &s.catalog);
  s.read_ok = st.ok();
  s.error = std::string(st.message());
  s.live_at_end = sink.live();
  return s;
}

SignalAllocTally ParseSignalAllocTally(const std::string& out) {
  SignalAllocTally t;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (absl::ConsumePrefix(&line, "handler allocations ")) (void)absl::SimpleAtoi(line, &t.handler);
    if (absl::ConsumePrefix(&line, "loop allocations ")) (void)absl::SimpleAtoi(line, &t.loop);
  }
  return t;
}

RunResult RunReloadMain(const std::string& trace) {
  std::string programs = Program("libreload_a.so");
  programs.resize(programs.rfind('/'));
  return RunTraced(trace,
                   {Program("reload_main"), programs, "./libreload_a.so", "reload_a_keep", "1111", "./libreload_b.so",
                    "reload_b_keep", "2222"},
                   {"-q"});
}

}  // namespace allocprof::testing
