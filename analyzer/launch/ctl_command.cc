// allocprof ctl PID start|stop|mark NAME: talks to a traced process's control FIFO.
//
// The shim of a process run with --control keeps allocprof.PID.ctl open in its trace's folder; we
// find it through /proc/PID/fd (so the folder need not be known), write one command line, and wait
// for the shim's answer on a reply FIFO of our own: when ctl returns, the change has happened.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "util/cli_args.h"
#include "util/exit_codes.h"

namespace allocprof {
namespace {

constexpr char kCtlUsage[] =
    "usage: allocprof ctl [options] PID start|stop|mark NAME\n"
    "\n"
    "Controls a process traced with `allocprof run --control` (or --start-paused):\n"
    "  start      record from now on (frees of blocks recorded earlier are always recorded)\n"
    "  stop       pause recording; allocations pass through unrecorded until the next start\n"
    "  mark NAME  record a named point in time, as allocprof_mark(NAME) in the program would\n"
    "Returns once the process has applied the command.\n"
    "Exit status: 0 done, 1 the process refused (e.g. capture ended), 2 no such process or no control\n"
    "channel, or no answer in time, 64 bad command line.\n"
    "\n"
    "options:\n";

// The process's open control FIFO, as a /proc path that opens it whatever its folder's name.
std::string FindControlFifo(int pid, std::string* shown_path) {
  std::string fd_dir = absl::StrCat("/proc/", pid, "/fd");
  std::string wanted = absl::StrCat("/allocprof.", pid, ".ctl");
  DIR* d = opendir(fd_dir.c_str());
  if (!d) return "";
  std::string found;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string link = absl::StrCat(fd_dir, "/", e->d_name);
    char target[PATH_MAX];
    ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
    if (n <= 0) continue;
    target[n] = '\0';
    if (absl::EndsWith(target, wanted)) {
      *shown_path = target;
      found = link;
      break;
    }
  }
  closedir(d);
  return found;
}

struct CtlRequest {
  int pid = 0;
  std::string verb;
  std::string argument;  // the mark's NAME; empty for start and stop
  double timeout_s = 10;
};

// Fills `request` from the command line; returns an exit status when there is nothing to send.
std::optional<int> ParseCtlRequest(int argc, char** argv, CtlRequest* request) {
  CliArgs args;
  args.Option("--timeout", true, "seconds to wait for the process to answer (default 10)");
  args.Option("-h,--help", false, "show this help");
  absl::Status st = args.Parse(argc, argv, 2);
  if (args.Has("--help")) {
    printf("%s%s", kCtlUsage, args.Help().c_str());
    return kExitOk;
  }
  std::vector<std::string> words = args.positional();
  for (const auto& r : args.rest()) words.push_back(r);
  auto usage = [&](const std::string& problem) { return UsageError("ctl", problem); };
  if (!st.ok()) return usage(std::string(st.message()));
  if (words.size() < 2 || !absl::SimpleAtoi(words[0], &request->pid) || request->pid <= 0)
    return usage("give a PID and a command");
  request->verb = words[1];
  const std::string& verb = request->verb;
  if (verb == "mark") {
    if (words.size() != 3 || words[2].empty() || words[2].size() > 256)
      return usage("mark takes one NAME of 1..256 bytes");
    request->argument = words[2];
    if (request->argument.find_first_of("\t\n") != std::string::npos)
      return usage("a mark name cannot hold tabs or newlines");
  } else if (verb == "start" || verb == "stop") {
    if (words.size() != 2) return usage(absl::StrCat(verb, " takes no argument"));
  } else {
    return usage(absl::StrCat("unknown command '", verb, "' (start, stop or mark NAME)"));
  }
  if (args.Has("--timeout") &&
      (!absl::SimpleAtod(args.Get("--timeout"), &request->timeout_s) || request->timeout_s <= 0)) {
    return usage(absl::StrCat("--timeout: cannot use '", args.Get("--timeout"), "'"));
  }
  return std::nullopt;
}

// The FIFO the shim answers on, in a private folder of ours, removed with this object. The shim
// opens it write-only and non-blocking, so our read end must exist before the command is sent.
class ReplyFifo {
 public:
  ReplyFifo() = default;
  ReplyFifo(const ReplyFifo&) = delete;
  ReplyFifo& operator=(const ReplyFifo&) = delete;
  ~ReplyFifo() {
    if (fd_ >= 0) close(fd_);
    if (!path_.empty()) unlink(path_.c_str());
    if (!dir_.empty()) rmdir(dir_.c_str());
  }

  // Creates and opens it for reading, owned by `pid`'s user; false after printing why not.
  bool Create(int pid) {
    char dir_template[] = "/tmp/allocprof-ctl.XXXXXX";
    if (!mkdtemp(dir_template)) {
      fprintf(stderr, "allocprof ctl: cannot create a folder in /tmp: %s\n", strerror(errno));
      return false;
    }
    dir_ = dir_template;
    if (mkfifo((dir_ + "/reply").c_str(), 0600) != 0) {
      fprintf(stderr, "allocprof ctl: cannot create %s/reply: %s\n", dir_.c_str(), strerror(errno));
      return false;
    }
    path_ = dir_ + "/reply";
    // The traced process may run as another user (we are root, or the same user): let it answer.
    struct stat owner;
    if (stat(absl::StrCat("/proc/", pid).c_str(), &owner) == 0 && owner.st_uid != geteuid()) {
      if (chown(dir_.c_str(), owner.st_uid, owner.st_gid) != 0 ||
          chown(path_.c_str(), owner.st_uid, owner.st_gid) != 0) {
        fprintf(stderr, "allocprof ctl: cannot give the reply FIFO to process %d's user: %s\n", pid, strerror(errno));
      }
    }
    fd_ = open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) fprintf(stderr, "allocprof ctl: cannot open %s: %s\n", path_.c_str(), strerror(errno));
    return fd_ >= 0;
  }

  // The first line the shim writes, or what came before the timeout or the shim's close.
  std::string AwaitAnswer(double timeout_s) const {
    std::string answer;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (answer.find('\n') == std::string::npos) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      double elapsed = static_cast<double>(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9;
      if (elapsed >= timeout_s) break;
      struct pollfd p = {fd_, POLLIN, 0};
      int ready = poll(&p, 1, static_cast<int>((timeout_s - elapsed) * 1000) + 1);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) break;
      char buf[256];
      ssize_t n = read(fd_, buf, sizeof(buf));
      if (n > 0) answer.append(buf, static_cast<size_t>(n));
      if (n == 0) break;  // the shim opened the reply FIFO and closed it without an answer
    }
    return answer;
  }

  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
  int fd_ = -1;
};

// Writes the command line into the process's control FIFO; false after printing why not.
bool SendCommand(const CtlRequest& request, const std::string& proc_link, const std::string& fifo_path,
                 const std::string& reply_path) {
  int command_fd = open(proc_link.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (command_fd < 0) {
    fprintf(stderr, "allocprof ctl: cannot open %s: %s\n", fifo_path.c_str(), strerror(errno));
    return false;
  }
  std::string line =
      absl::StrCat(request.verb, "\t", reply_path, request.argument.empty() ? "" : "\t", request.argument, "\n");
  // One write below PIPE_BUF is atomic: commands of several ctl clients never interleave.
  ssize_t written = write(command_fd, line.data(), line.size());
  int write_errno = written < 0 ? errno : EAGAIN;
  close(command_fd);
  if (written != static_cast<ssize_t>(line.size())) {
    fprintf(stderr, "allocprof ctl: cannot write to %s: %s\n", fifo_path.c_str(), strerror(write_errno));
    return false;
  }
  return true;
}

int ReportAnswer(const CtlRequest& request, const std::string& answer) {
  if (answer.empty()) {
    fprintf(stderr, "allocprof ctl: process %d did not answer within %g s (is it stopped, or exiting?)\n", request.pid,
            request.timeout_s);
    return kExitBadInput;
  }
  if (absl::StartsWith(answer, "ok")) {
    printf("allocprof ctl: %d: %s%s done\n", request.pid, request.verb.c_str(),
           request.argument.empty() ? "" : absl::StrCat(" ", request.argument).c_str());
    return kExitOk;
  }
  fprintf(stderr, "allocprof ctl: process %d: %s", request.pid, answer.c_str());
  return kExitVerdictFailed;
}

}  // namespace

int CtlCommand(int argc, char** argv) {
  CtlRequest request;
  if (std::optional<int> done = ParseCtlRequest(argc, argv, &request)) return *done;
  if (kill(request.pid, 0) != 0 && errno == ESRCH) {
    fprintf(stderr, "allocprof ctl: no process %d\n", request.pid);
    return kExitBadInput;
  }
  std::string fifo_path;
  std::string proc_link = FindControlFifo(request.pid, &fifo_path);
  if (proc_link.empty()) {
    fprintf(stderr,
            "allocprof ctl: process %d has no allocprof control channel (start it with `allocprof run --control` "
            "or --start-paused, or ALLOCPROF_CONTROL=1 with the shim preloaded)%s\n",
            request.pid,
            access(absl::StrCat("/proc/", request.pid, "/fd").c_str(), R_OK) != 0
                ? "; /proc/PID/fd is not readable by us"
                : "");
    return kExitBadInput;
  }
  ReplyFifo reply;
  if (!reply.Create(request.pid)) return kExitBadInput;
  if (!SendCommand(request, proc_link, fifo_path, reply.path())) return kExitBadInput;
  return ReportAnswer(request, reply.AwaitAnswer(request.timeout_s));
}

}  // namespace allocprof
