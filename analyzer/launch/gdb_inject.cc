#include "launch/gdb_inject.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace allocprof {
namespace {

constexpr char kStateMarker[] = "allocprof-state: ";
constexpr char kDlopenFailedMarker[] = "allocprof-dlopen-failed: ";

// A C string literal for gdb's expression parser.
std::string GdbQuote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += absl::StrFormat("\\%03o", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string Script(const InjectRequest& r) {
  std::string s = "set confirm off\nset pagination off\nset width 0\n";
  // RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE: the library's symbols stay out of the global scope, so
  // nothing in the process binds to them by accident, and it can never be unloaded.
  absl::StrAppend(&s, "set $allocprof_handle = (void *) dlopen(", GdbQuote(r.library), ", 0x1002)\n");
  absl::StrAppend(&s, "if $allocprof_handle == 0\n  printf \"", kDlopenFailedMarker, "%s\\n\", (char *) dlerror()\n",
                  "else\n  printf \"", kStateMarker, "%ld\\n\", (long) ", r.start_function, "(",
                  GdbQuote(r.start_argument), ")\nend\ndetach\n");
  return s;
}

double Now() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

std::string LastLines(const std::string& text, size_t n) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipWhitespace());
  if (lines.size() > n) lines.erase(lines.begin(), lines.end() - static_cast<long>(n));
  return absl::StrJoin(lines, "\n");
}

// `t` is gdb's whole output.
void Classify(const std::string& t, InjectResult* r) {
  for (absl::string_view line : absl::StrSplit(t, '\n')) {
    if (absl::ConsumePrefix(&line, kStateMarker)) {
      if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &r->state)) {
        r->outcome = InjectResult::Outcome::kLoaded;
        return;
      }
    } else if (absl::ConsumePrefix(&line, kDlopenFailedMarker)) {
      r->outcome = InjectResult::Outcome::kDlopenFailed;
      r->detail = std::string(line);
      return;
    }
  }
  if (absl::StrContains(t, "ptrace: No such process")) {
    r->outcome = InjectResult::Outcome::kNoSuchProcess;
  } else if (absl::StrContains(t, "ptrace: Operation not permitted") || absl::StrContains(t, "Could not attach")) {
    r->outcome = InjectResult::Outcome::kPtraceDenied;
  } else {
    r->outcome = InjectResult::Outcome::kGdbFailed;
  }
  r->detail = LastLines(t, 6);
}

}  // namespace

InjectResult InjectLibrary(const InjectRequest& request) {
  InjectResult result;
  char script_path[] = "/tmp/allocprof-attach-XXXXXX.gdb";
  int script_fd = mkstemps(script_path, 4);
  if (script_fd < 0) {
    result.detail = absl::StrCat("cannot create a gdb script in /tmp: ", strerror(errno));
    return result;
  }
  std::string script = Script(request);
  bool written = write(script_fd, script.data(), script.size()) == static_cast<ssize_t>(script.size());
  close(script_fd);
  if (!written) {
    unlink(script_path);
    result.detail = absl::StrCat("cannot write ", script_path);
    return result;
  }

  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    unlink(script_path);
    result.detail = absl::StrCat("pipe: ", strerror(errno));
    return result;
  }
  std::string pid = absl::StrCat(request.pid);
  std::vector<std::string> argv = {request.gdb, "-nx", "-q", "-batch",
                                   // Never prompt for or download debug info, never run scripts
                                   // shipped with the process's libraries.
                                   "-iex", "set debuginfod enabled off", "-iex", "set auto-load off", "-p", pid, "-x",
                                   script_path};
  pid_t child = fork();
  if (child == 0) {
    setpgid(0, 0);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    dup2(out[1], 1);
    dup2(out[1], 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(request.gdb.c_str(), args.data());
    fprintf(stderr, "cannot execute %s: %s\n", request.gdb.c_str(), strerror(errno));
    _exit(127);
  }
  close(out[1]);
  if (child < 0) {
    close(out[0]);
    unlink(script_path);
    result.detail = absl::StrCat("fork: ", strerror(errno));
    return result;
  }
  double deadline = Now() + request.timeout_seconds;
  bool timed_out = false;
  std::string transcript;
  char buf[4096];
  for (;;) {
    double left = deadline - Now();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    struct pollfd p = {out[0], POLLIN, 0};
    int ready = poll(&p, 1, static_cast<int>(left * 1000) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    ssize_t n = read(out[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    transcript.append(buf, static_cast<size_t>(n));
  }
  close(out[0]);
  if (timed_out) kill(-child, SIGKILL);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  unlink(script_path);
  if (timed_out) {
    result.outcome = InjectResult::Outcome::kTimedOut;
    result.detail = LastLines(transcript, 6);
    return result;
  }
  Classify(transcript, &result);
  return result;
}

}  // namespace allocprof
