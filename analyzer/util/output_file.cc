#include "util/output_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "allocprof/trace_format.h"
#include "util/exit_codes.h"

namespace allocprof {
namespace {

std::string Dirname(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string Basename(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// What is at an output path, as the policy sees it.
enum class Kind { kMissing, kRegular, kStream, kRefused };

struct Target {
  Kind kind = Kind::kMissing;
  struct stat st {};
  std::string refusal;  // kRefused: why, naming the path
};

absl::Status CreateError(const std::string& path, int err) {
  if (err == ENOENT) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", path, ": directory ", Dirname(path), " does not exist"));
  }
  return absl::FailedPreconditionError(absl::StrCat("cannot create ", path, ": ", strerror(err)));
}

const char* TypeName(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISFIFO(mode)) return "a FIFO";
  return "not a regular file";
}

bool IsStream(mode_t mode) { return S_ISCHR(mode) || S_ISFIFO(mode); }

Target Classify(const std::string& path) {
  Target t;
  struct stat lst;
  if (lstat(path.c_str(), &lst) != 0) {
    if (errno == ENOENT) return t;  // creating it says whether the directory exists
    t.kind = Kind::kRefused;
    t.refusal = std::string(CreateError(path, errno).message());
    return t;
  }
  if (S_ISLNK(lst.st_mode)) {
    struct stat target;
    if (stat(path.c_str(), &target) == 0 && IsStream(target.st_mode)) {
      t.kind = Kind::kStream;
      t.st = target;
      return t;
    }
    bool stdout_alias = absl::StartsWith(path, "/dev/std") || absl::StartsWith(path, "/dev/fd/") ||
                        absl::StartsWith(path, "/proc/self/fd/");
    t.kind = Kind::kRefused;
    t.refusal = absl::StrCat(path,
                             " is a symlink: an output is never written through a symlink to a file, nor replaces "
                             "one; give the file's own path",
                             stdout_alias ? " (standard output is -)" : "");
    return t;
  }
  t.st = lst;
  if (S_ISREG(lst.st_mode)) {
    t.kind = Kind::kRegular;
  } else if (IsStream(lst.st_mode)) {
    t.kind = Kind::kStream;
  } else {
    t.kind = Kind::kRefused;
    t.refusal = S_ISDIR(lst.st_mode) ? absl::StrCat(path, " is a directory; give a file name")
                                     : absl::StrCat(path, " is ", TypeName(lst.st_mode), ": not written");
  }
  return t;
}

bool StartsWithTraceMagic(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  char magic[sizeof(format::kFileMagic)];
  bool is_trace = read(fd, magic, sizeof(magic)) == static_cast<ssize_t>(sizeof(magic)) &&
                  memcmp(magic, format::kFileMagic, sizeof(magic)) == 0;
  close(fd);
  return is_trace;
}

// The refusals that apply to an existing regular file a derived output would replace.
absl::Status CheckReplaceable(const std::string& path, const Target& t, const std::vector<std::string>& inputs) {
  for (const auto& input : inputs) {
    struct stat in;
    if (stat(input.c_str(), &in) == 0 && in.st_dev == t.st.st_dev && in.st_ino == t.st.st_ino) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is an input of this command (", input, "): not replaced; choose another name"));
    }
  }
  if (StartsWithTraceMagic(path)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is an allocprof trace: an output never replaces one; choose another name"));
  }
  return absl::OkStatus();
}

// A fresh temporary file beside `path` (0600, O_EXCL), or -1 with errno set.
int CreateTemporary(const std::string& path, std::string* tmp) {
  *tmp = absl::StrCat(Dirname(path), "/.", Basename(path), ".XXXXXX");
  return mkostemp(tmp->data(), O_CLOEXEC);
}

bool WriteAll(int fd, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = ENOSPC;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

mode_t CurrentUmask() {
  mode_t mask = umask(022);
  umask(mask);
  return mask;
}

// Writes `data` to a temporary file and renames it over `path` (absent or a regular file `old`).
absl::Status WriteReplacing(const std::string& path, std::string_view data, const struct stat* old) {
  std::string tmp;
  int fd = CreateTemporary(path, &tmp);
  if (fd < 0) return CreateError(path, errno);
  mode_t mode = old ? (old->st_mode & 07777) : (0666 & ~CurrentUmask());
  bool ok = WriteAll(fd, data) && fchmod(fd, mode) == 0;
  int err = errno;
  // Root replacing someone's file gives the new one their ownership, as an in-place write would.
  if (ok && old && geteuid() == 0) (void)fchown(fd, old->st_uid, old->st_gid);
  if (close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (ok && rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    unlink(tmp.c_str());
    return absl::FailedPreconditionError(absl::StrCat("cannot write ", path, ": ", strerror(err)));
  }
  return absl::OkStatus();
}

// Writes into a character device or FIFO; it must still be one once open (no O_CREAT, no O_TRUNC:
// a path swapped for a regular file meanwhile is left as it was).
absl::Status WriteIntoStream(const std::string& path, std::string_view data) {
  int fd = open(path.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return absl::FailedPreconditionError(absl::StrCat("cannot open ", path, ": ", strerror(errno)));
  struct stat st;
  if (fstat(fd, &st) != 0 || !IsStream(st.st_mode)) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat(path, " changed while it was being opened: not written"));
  }
  bool ok = WriteAll(fd, data);
  int err = errno;
  if (close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) return absl::FailedPreconditionError(absl::StrCat("cannot write ", path, ": ", strerror(err)));
  return absl::OkStatus();
}

bool IsChildTraceSuffix(const std::string& s) {
  // PID, or PID.N: digits, optionally one dot and more digits.
  size_t dot = s.find('.');
  auto digits = [](const std::string& d) {
    return !d.empty() && std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (dot == std::string::npos) return digits(s);
  return digits(s.substr(0, dot)) && digits(s.substr(dot + 1));
}

}  // namespace

absl::Status CheckOutputFile(const std::string& path, const std::vector<std::string>& inputs) {
  if (path == "-") return absl::OkStatus();
  if (path.empty()) return absl::InvalidArgumentError("the output path is empty");
  Target t = Classify(path);
  switch (t.kind) {
    case Kind::kRefused:
      return absl::FailedPreconditionError(t.refusal);
    case Kind::kStream:
      return absl::OkStatus();
    case Kind::kRegular:
      if (absl::Status st = CheckReplaceable(path, t, inputs); !st.ok()) return st;
      break;
    case Kind::kMissing:
      break;
  }
  // The file will be created beside `path`: try it.
  std::string tmp;
  int fd = CreateTemporary(path, &tmp);
  if (fd < 0) return CreateError(path, errno);
  close(fd);
  unlink(tmp.c_str());
  return absl::OkStatus();
}

absl::Status WriteOutputFile(const std::string& path, std::string_view data, const std::vector<std::string>& inputs) {
  if (path == "-") {
    if (fwrite(data.data(), 1, data.size(), stdout) != data.size() || fflush(stdout) != 0) {
      return absl::FailedPreconditionError(absl::StrCat("cannot write to standard output: ", strerror(errno)));
    }
    return absl::OkStatus();
  }
  if (path.empty()) return absl::InvalidArgumentError("the output path is empty");
  Target t = Classify(path);
  switch (t.kind) {
    case Kind::kRefused:
      return absl::FailedPreconditionError(t.refusal);
    case Kind::kStream:
      return WriteIntoStream(path, data);
    case Kind::kRegular:
      if (absl::Status st = CheckReplaceable(path, t, inputs); !st.ok()) return st;
      return WriteReplacing(path, data, &t.st);
    case Kind::kMissing:
      break;
  }
  return WriteReplacing(path, data, nullptr);
}

std::vector<std::string> ChildTraces(const std::string& path) {
  std::vector<std::string> found;
  std::string dir = Dirname(path);
  std::string prefix = Basename(path) + ".";
  DIR* d = opendir(dir.c_str());
  if (!d) return found;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (absl::StartsWith(name, prefix) && IsChildTraceSuffix(name.substr(prefix.size()))) {
      found.push_back(absl::StrCat(dir == "/" ? "" : dir, "/", name));
    }
  }
  closedir(d);
  std::sort(found.begin(), found.end());
  return found;
}

int PrepareTraceOutput(const std::string& path, bool force, std::string* message) {
  if (path.empty() || path.back() == '/') {
    *message = absl::StrCat("'", path, "' is not a file name; give one such as -o app.trace");
    return kExitUsage;
  }
  Target t = Classify(path);
  if (t.kind == Kind::kRefused || t.kind == Kind::kStream) {
    *message = t.kind == Kind::kStream ? absl::StrCat(path, " is ", TypeName(t.st.st_mode),
                                                      ": a trace must be a regular file; choose another -o")
               : S_ISDIR(t.st.st_mode) ? absl::StrCat(path, " is a directory; give a file name, e.g. -o ", path,
                                                      path == "/" ? "" : "/", "app.trace")
                                       : t.refusal;
    return kExitCantCreate;
  }
  std::vector<std::string> old;
  if (t.kind == Kind::kRegular) old.push_back(path);
  for (const auto& child : ChildTraces(path)) {
    struct stat st;
    if (lstat(child.c_str(), &st) == 0 && S_ISREG(st.st_mode)) old.push_back(child);
  }
  if (!old.empty() && !force) {
    if (t.kind == Kind::kRegular) {
      *message = absl::StrCat(path, " already exists", old.size() > 1 ? " (with child-process traces " : "",
                              old.size() > 1 ? absl::StrCat(path, ".*)") : "",
                              "; pass --force to replace it, or choose another -o");
    } else {
      *message = absl::StrCat(old[0], old.size() > 1 ? absl::StrCat(" and ", old.size() - 1, " more") : "",
                              old.size() > 1 ? " are child-process traces" : " is a child-process trace",
                              " of an earlier run, which 'analyze ", path, " ", path,
                              ".*' would mix with this one; pass --force to remove them, or choose another -o");
    }
    return kExitUsage;
  }
  for (const auto& f : old) {
    if (unlink(f.c_str()) != 0) {
      *message = absl::StrCat("cannot remove ", f, ": ", strerror(errno));
      return kExitCantCreate;
    }
  }
  // The traced process creates the file the same way; a failure here would be its failure.
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    *message = std::string(CreateError(path, errno).message());
    return kExitCantCreate;
  }
  close(fd);
  unlink(path.c_str());
  return kExitOk;
}

}  // namespace allocprof
