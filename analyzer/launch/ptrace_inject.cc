#include "launch/ptrace_inject.h"

#include <cpuid.h>
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "launch/elf_symbols.h"
#include "launch/inject_stub.h"
#include "util/text_file.h"

namespace allocprof {
namespace {

using Outcome = InjectResult::Outcome;
using inject::InjectControl;

// Kernel-internal error codes a system call interrupted without a signal handler returns; the
// kernel then restarts the call on the way back to user space (arch/x86/kernel/signal.c).
constexpr long kERestartSys = 512, kERestartNoIntr = 513, kERestartNoHand = 514, kERestartRestartBlock = 516;
constexpr uint64_t kUserCodeSegment64 = 0x33;
constexpr uint64_t kPage = 4096;

InjectResult Fail(Outcome outcome, std::string detail) {
  InjectResult r;
  r.outcome = outcome;
  r.detail = std::move(detail);
  return r;
}

uint64_t RoundUp(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

// ---------------------------------------------------------------------------------------------
// Test hook: die at step N.

int g_die_at = 0;
int g_step = 0;

void Step(const char* what) {
  ++g_step;
  if (g_step != g_die_at) return;
  std::string line = absl::StrCat("allocprof attach: test: killed at step ", g_step, " (", what, ")\n");
  ssize_t n = write(2, line.data(), line.size());
  (void)n;
  kill(getpid(), SIGKILL);
}

// ---------------------------------------------------------------------------------------------
// Waiting with a deadline: SIGALRM (no SA_RESTART) interrupts waitpid.

void OnAlarm(int) {}

class Deadline {
 public:
  explicit Deadline(int seconds) {
    clock_gettime(CLOCK_MONOTONIC, &end_);
    end_.tv_sec += seconds;
    struct sigaction sa = {};
    sa.sa_handler = OnAlarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old_);
  }
  ~Deadline() {
    struct itimerval off = {};
    setitimer(ITIMER_REAL, &off, nullptr);
    sigaction(SIGALRM, &old_, nullptr);
  }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  // waitpid(pid, __WALL) until an event or the deadline; returns the pid, or -1 with errno
  // (ETIMEDOUT at the deadline, ECHILD when nothing is left to wait for).
  pid_t Wait(pid_t pid, int* status) const {
    for (;;) {
      double left = Left();
      if (left <= 0) {
        errno = ETIMEDOUT;
        return -1;
      }
      struct itimerval t = {};
      t.it_value.tv_sec = static_cast<time_t>(left);
      t.it_value.tv_usec = static_cast<suseconds_t>((left - static_cast<double>(t.it_value.tv_sec)) * 1e6) + 1;
      setitimer(ITIMER_REAL, &t, nullptr);
      pid_t w = waitpid(pid, status, __WALL);
      int saved = errno;
      struct itimerval off = {};
      setitimer(ITIMER_REAL, &off, nullptr);
      if (w >= 0) return w;
      if (saved != EINTR) {
        errno = saved;
        return -1;
      }
    }
  }
  double Left() const {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return static_cast<double>(end_.tv_sec - now.tv_sec) + static_cast<double>(end_.tv_nsec - now.tv_nsec) / 1e9;
  }

 private:
  struct timespec end_;
  struct sigaction old_;
};

// ---------------------------------------------------------------------------------------------
// The process's address space, before anything is stopped.

struct Target {
  std::string label;
  std::vector<Mapping> maps;
  uint64_t dlopen = 0, dlsym = 0, dlerror = 0, errno_location = 0;
  uint64_t cave = 0;
  std::string cave_object;
  // Executable ranges of libc and the loader: a thread stopped there may hold their locks.
  std::vector<std::pair<uint64_t, uint64_t>> runtime_code;

  bool InRuntime(uint64_t address) const {
    for (const auto& [lo, hi] : runtime_code) {
      if (address >= lo && address < hi) return true;
    }
    return false;
  }
};

bool IsLoader(const std::string& base) {
  return absl::StartsWith(base, "ld-linux") || absl::StartsWith(base, "ld64.so") || absl::StartsWith(base, "ld.so");
}
bool IsGlibc(const std::string& base) {
  return base == "libc.so.6" || (absl::StartsWith(base, "libc-2.") && absl::EndsWith(base, ".so"));
}
bool IsMusl(const std::string& base) {
  return absl::StartsWith(base, "ld-musl-") || absl::StartsWith(base, "libc.musl-");
}
bool IsRuntime(const std::string& base) {
  return IsGlibc(base) || IsLoader(base) || absl::StartsWith(base, "libpthread") || absl::StartsWith(base, "libdl");
}

// Every mapping of the same file as `m`.
std::vector<Mapping> SameFile(const std::vector<Mapping>& maps, const Mapping& m) {
  std::vector<Mapping> out;
  for (const Mapping& x : maps) {
    if (x.inode == m.inode && x.dev_major == m.dev_major && x.dev_minor == m.dev_minor) out.push_back(x);
  }
  return out;
}

uint64_t HeaderAddress(const std::vector<Mapping>& same) {
  for (const Mapping& m : same) {
    if (m.offset == 0) return m.start;
  }
  return 0;
}

const Mapping* Containing(const std::vector<Mapping>& maps, uint64_t address) {
  for (const Mapping& m : maps) {
    if (address >= m.start && address < m.end) return &m;
  }
  return nullptr;
}

// Finds the symbols in `image` (mapped as `same`), writing each found one into `*out`.
bool ResolveIn(const ElfImage& image, const std::vector<Mapping>& same, const std::vector<const char*>& names,
               std::vector<uint64_t*> out, std::string* error) {
  std::optional<uint64_t> bias = image.LoadBias(same);
  if (!bias) {
    *error = "its mappings match none of its loadable segments";
    return false;
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (*out[i] != 0) continue;
    std::optional<uint64_t> value = image.DynamicSymbol(names[i], error);
    if (!value) {
      if (!error->empty()) return false;
      continue;
    }
    uint64_t address = *bias + *value;
    const Mapping* m = Containing(same, address);
    if (!m || !m->executable()) {
      *error = absl::StrFormat("%s resolves to 0x%x, outside its code", names[i], address);
      return false;
    }
    *out[i] = address;
  }
  return true;
}

// A cave in `image`: the bytes after its executable segment up to the end of that page.
std::optional<uint64_t> FindCave(const ElfImage& image, const std::vector<Mapping>& same, size_t need) {
  std::optional<uint64_t> bias = image.LoadBias(same);
  if (!bias) return std::nullopt;
  for (const ElfImage::Segment& s : image.loads()) {
    if (!(s.flags & PF_X) || s.memsz == 0) continue;
    uint64_t end = *bias + s.vaddr + s.memsz;
    uint64_t cave = RoundUp(end, 16);
    uint64_t page_end = RoundUp(end, kPage);
    const Mapping* m = Containing(same, end - 1);
    if (!m || !m->executable() || m->perms[3] != 'p' || m->end < page_end) continue;
    if (cave + need <= page_end) return cave;
  }
  return std::nullopt;
}

std::optional<InjectResult> AnalyzeTarget(pid_t pid, Target* t) {
  std::string exe_error;
  ElfImage exe;
  if (!exe.OpenPath(absl::StrCat("/proc/", pid, "/exe"), &exe_error)) {
    if (errno == EACCES || errno == EPERM) return Fail(Outcome::kNotPermitted, exe_error);
    if (kill(pid, 0) != 0 && errno == ESRCH) return Fail(Outcome::kNoSuchProcess, exe_error);
    return Fail(Outcome::kFailed, exe_error);
  }
  if (exe.elf_class() != ELFCLASS64 || exe.machine() != EM_X86_64) {
    return Fail(Outcome::kUnsupported,
                absl::StrCat(t->label, " is a ", exe.Describe(),
                             " program; allocprof attach loads its 64-bit x86-64 shim, so it attaches to x86-64 "
                             "processes only"));
  }
  std::string maps;
  if (!ReadWholeFile(absl::StrCat("/proc/", pid, "/maps"), &maps)) {
    return Fail(Outcome::kNotPermitted, absl::StrCat("cannot read /proc/", pid, "/maps: ", strerror(errno)));
  }
  t->maps = ParseMaps(maps);
  const Mapping* loader = nullptr;
  const Mapping* libc = nullptr;
  const Mapping* libdl = nullptr;
  for (const Mapping& m : t->maps) {
    if (!m.file_backed()) continue;
    std::string base = m.basename();
    if (IsMusl(base)) {
      return Fail(Outcome::kUnsupported, absl::StrCat(t->label, " uses musl libc (", m.path,
                                                      "); allocprof attach needs a glibc process (its shim is "
                                                      "built against glibc)"));
    }
    if (IsLoader(base) && !loader) loader = &m;
    if (IsGlibc(base) && !libc) libc = &m;
    if (absl::StartsWith(base, "libdl.so") && !libdl) libdl = &m;
    if (m.executable() && IsRuntime(base)) t->runtime_code.emplace_back(m.start, m.end);
  }
  if (!loader && !exe.has_interpreter()) {
    return Fail(Outcome::kUnsupported,
                absl::StrCat(t->label,
                             " is statically linked (no dynamic loader in its address space): a library cannot be "
                             "loaded into it, so it cannot be traced (link it dynamically to profile it)"));
  }
  if (!libc) {
    return Fail(Outcome::kUnsupported, absl::StrCat(t->label,
                                                    " has no glibc (libc.so.6) in its address space; allocprof "
                                                    "attach supports glibc processes only"));
  }
  std::vector<Mapping> libc_maps = SameFile(t->maps, *libc);
  ElfImage libc_image;
  std::string error;
  if (!libc_image.Open(pid, *libc, HeaderAddress(libc_maps), &error)) {
    if (errno == EACCES || errno == EPERM) return Fail(Outcome::kNotPermitted, error);
    return Fail(Outcome::kFailed, absl::StrCat("cannot read its C library: ", error));
  }
  if (libc_image.elf_class() != ELFCLASS64 || libc_image.machine() != EM_X86_64) {
    return Fail(Outcome::kUnsupported, absl::StrCat(t->label, " maps a ", libc_image.Describe(), " C library (",
                                                    libc->path, "): not an x86-64 glibc"));
  }
  uint64_t glibc_marker = 0;
  if (!ResolveIn(libc_image, libc_maps, {"dlopen", "dlsym", "dlerror", "__errno_location", "gnu_get_libc_version"},
                 {&t->dlopen, &t->dlsym, &t->dlerror, &t->errno_location, &glibc_marker}, &error)) {
    return Fail(Outcome::kFailed, absl::StrCat(libc->path, ": ", error));
  }
  if (glibc_marker == 0 || t->errno_location == 0) {
    return Fail(Outcome::kUnsupported, absl::StrCat(t->label, "'s C library (", libc->path,
                                                    ") is not glibc: it lacks gnu_get_libc_version or "
                                                    "__errno_location"));
  }
  if ((t->dlopen == 0 || t->dlsym == 0 || t->dlerror == 0) && libdl) {
    // glibc before 2.34 keeps dlopen in libdl, there only when the program loaded it.
    std::vector<Mapping> dl_maps = SameFile(t->maps, *libdl);
    ElfImage dl_image;
    if (!dl_image.Open(pid, *libdl, HeaderAddress(dl_maps), &error) ||
        !ResolveIn(dl_image, dl_maps, {"dlopen", "dlsym", "dlerror"}, {&t->dlopen, &t->dlsym, &t->dlerror}, &error)) {
      return Fail(Outcome::kFailed, absl::StrCat(libdl->path, ": ", error));
    }
  }
  if (t->dlopen == 0 || t->dlsym == 0 || t->dlerror == 0) {
    return Fail(Outcome::kUnsupported,
                absl::StrCat(t->label, "'s glibc (", libc->path,
                             ") has no dlopen: glibc before 2.34 keeps it in libdl.so.2, which this program did not "
                             "load"));
  }

  // The cave: libc's or the loader's first, then any other object's.
  size_t need = inject::GadgetCode().size;
  std::vector<const Mapping*> candidates = {libc};
  if (loader) candidates.push_back(loader);
  for (const Mapping& m : t->maps) {
    if (m.file_backed() && m.executable() && m.perms[3] == 'p') candidates.push_back(&m);
  }
  for (const Mapping* m : candidates) {
    std::vector<Mapping> same = SameFile(t->maps, *m);
    std::optional<uint64_t> cave;
    if (m == libc) {
      cave = FindCave(libc_image, same, need);
    } else {
      ElfImage image;
      std::string ignored;
      if (image.Open(pid, *m, HeaderAddress(same), &ignored) && image.elf_class() == ELFCLASS64)
        cave = FindCave(image, same, need);
    }
    if (cave) {
      t->cave = *cave;
      t->cave_object = m->path;
      break;
    }
  }
  if (t->cave == 0) {
    return Fail(Outcome::kFailed, absl::StrCat("no loaded object of ", t->label, " has ", need,
                                               " unused bytes after its code to place the system-call gadget in"));
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// The process's memory, through /proc/PID/mem (writes reach read-only code pages as a tracer's do),
// else word by word through ptrace.

class Memory {
 public:
  explicit Memory(pid_t pid) : pid_(pid) {
    fd_ = open(absl::StrCat("/proc/", pid, "/mem").c_str(), O_RDWR | O_CLOEXEC);
  }
  ~Memory() {
    if (fd_ >= 0) close(fd_);
  }
  Memory(const Memory&) = delete;
  Memory& operator=(const Memory&) = delete;

  bool Read(uint64_t address, void* out, size_t size) const {
    if (fd_ >= 0 && pread(fd_, out, size, static_cast<off_t>(address)) == static_cast<ssize_t>(size)) return true;
    for (size_t done = 0; done < size; done += 8) {
      errno = 0;
      long word = ptrace(PTRACE_PEEKDATA, tid_, address + done, nullptr);
      if (errno != 0) return false;
      memcpy(static_cast<char*>(out) + done, &word, std::min<size_t>(8, size - done));
    }
    return true;
  }
  bool Write(uint64_t address, const void* in, size_t size) const {
    if (fd_ >= 0 && pwrite(fd_, in, size, static_cast<off_t>(address)) == static_cast<ssize_t>(size)) return true;
    for (size_t done = 0; done < size; done += 8) {
      long word = 0;
      size_t n = std::min<size_t>(8, size - done);
      if (n < 8 && !Read(address + done, &word, 8)) return false;
      memcpy(&word, static_cast<const char*>(in) + done, n);
      if (ptrace(PTRACE_POKEDATA, tid_, address + done, word) != 0) return false;
    }
    return true;
  }
  std::string ReadString(uint64_t address, size_t max) const {
    std::string s;
    char buf[256];
    while (s.size() < max) {
      if (!Read(address + s.size(), buf, sizeof(buf))) break;
      size_t n = strnlen(buf, sizeof(buf));
      s.append(buf, n);
      if (n < sizeof(buf)) break;
    }
    return s.substr(0, max);
  }
  void set_tid(pid_t tid) { tid_ = tid; }

 private:
  pid_t pid_;
  pid_t tid_ = 0;  // a stopped tracee, for the ptrace fallback
  int fd_ = -1;
};

// ---------------------------------------------------------------------------------------------
// The threads.

enum class Place {
  kBlocked,       // stopped inside a blocking system call: idle, holds no lock of its own making
  kAfterSyscall,  // just returned from a system call made outside the allocator
  kOwnCode,       // running code outside libc and the loader
  kRuntime,       // inside libc or the loader: it may hold the allocator's or the loader's lock
  kUnusable,      // 32-bit code segment, or not stopped
};

const char* PlaceName(Place p) {
  switch (p) {
    case Place::kBlocked:
      return "blocked in system call";
    case Place::kAfterSyscall:
      return "returning from system call";
    case Place::kOwnCode:
      return "running its own code";
    case Place::kRuntime:
      return "inside libc or the loader";
    case Place::kUnusable:
      break;
  }
  return "unusable";
}

struct Thread {
  bool stopped = false;
  bool gone = false;
  bool group_stop = false;  // stopped by SIGSTOP & co. (job control)
  bool exec = false;        // the process called exec
  struct user_regs_struct regs = {};
  Place place = Place::kUnusable;
};

Place Classify(const Target& target, const struct user_regs_struct& r) {
  if (r.cs != kUserCodeSegment64) return Place::kUnusable;
  long orig = static_cast<long>(r.orig_rax);
  if (orig >= 0) {
    long rax = static_cast<long>(r.rax);
    if (rax == -kERestartSys || rax == -kERestartNoIntr || rax == -kERestartNoHand || rax == -kERestartRestartBlock ||
        rax == -EINTR) {
      return Place::kBlocked;
    }
    // The allocator's own system calls, made while it holds an arena lock.
    if (target.InRuntime(r.rip) && (orig == SYS_mmap || orig == SYS_munmap || orig == SYS_mremap || orig == SYS_brk ||
                                    orig == SYS_madvise || orig == SYS_mprotect)) {
      return Place::kRuntime;
    }
    return Place::kAfterSyscall;
  }
  return target.InRuntime(r.rip) ? Place::kRuntime : Place::kOwnCode;
}

// System calls the kernel ends with EINTR, instead of restarting them, when the thread is merely
// stopped (signal(7): "Interruption of system calls and library functions by stop signals"; a
// ptrace interrupt is such a stop). Nothing was done when they fail so: restarting them is safe.
bool EndsWithEintrWhenStopped(long nr) {
  switch (nr) {
    case SYS_epoll_wait:
    case SYS_epoll_pwait:
    case 441:  // epoll_pwait2
    case SYS_semop:
    case SYS_semtimedop:
    case SYS_rt_sigtimedwait:
    case SYS_io_getevents:
    case 333:  // io_pgetevents
    // Sockets with SO_RCVTIMEO / SO_SNDTIMEO.
    case SYS_read:
    case SYS_readv:
    case SYS_recvfrom:
    case SYS_recvmsg:
    case SYS_recvmmsg:
    case SYS_write:
    case SYS_writev:
    case SYS_sendto:
    case SYS_sendmsg:
    case SYS_sendmmsg:
    case SYS_accept:
    case SYS_accept4:
      return true;
    default:
      return false;
  }
}

// True when thread `tid` has a signal it would take now (pending and not blocked): then an EINTR
// it holds may be that signal's, not the interrupt's.
bool SignalDeliverable(pid_t pid, pid_t tid) {
  std::string status;
  if (!ReadWholeFile(absl::StrCat("/proc/", pid, "/task/", tid, "/status"), &status)) return true;
  uint64_t pending = 0, shared = 0, blocked = 0;
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    uint64_t* field = absl::ConsumePrefix(&line, "SigPnd:")   ? &pending
                      : absl::ConsumePrefix(&line, "ShdPnd:") ? &shared
                      : absl::ConsumePrefix(&line, "SigBlk:") ? &blocked
                                                              : nullptr;
    if (field && !absl::SimpleHexAtoi(absl::StripAsciiWhitespace(line), field)) return true;
  }
  return ((pending | shared) & ~blocked) != 0;
}

// A thread stopped by our interrupt in one of the calls above, which therefore returned EINTR,
// resumes by making the call again (`*r` changed; true) — as if it had never been stopped.
bool UndoStopEintr(pid_t pid, pid_t tid, const Memory& memory, struct user_regs_struct* r) {
  long orig = static_cast<long>(r->orig_rax);
  if (orig < 0 || static_cast<long>(r->rax) != -EINTR || !EndsWithEintrWhenStopped(orig)) return false;
  unsigned char insn[2] = {};
  if (!memory.Read(r->rip - 2, insn, 2) || insn[0] != 0x0f || insn[1] != 0x05) return false;  // `syscall`
  if (SignalDeliverable(pid, tid)) return false;
  r->rax = r->orig_rax;
  r->rip -= 2;
  r->orig_rax = static_cast<unsigned long long>(-1);
  return true;
}

class Injector {
 public:
  Injector(const InjectRequest& request, const Target& target, const Deadline& deadline)
      : request_(request), target_(target), deadline_(deadline), memory_(request.pid) {}
  ~Injector() { Release(); }

  InjectResult Run();

 private:
  std::optional<InjectResult> SeizeAll();
  std::optional<InjectResult> WaitAllStopped();
  std::optional<InjectResult> Choose();
  void ResumeAllForAWhile(int attempt);
  // Resumes (PTRACE_CONT) or detaches a thread stopped by our interrupt, restarting a call the
  // interrupt ended with EINTR.
  void LetGo(pid_t tid, enum __ptrace_request how);
  void ComputeResumeContext();
  // One system call on the chosen thread through the cave; returns its result.
  std::optional<InjectResult> Syscall(const char* what, long number, std::initializer_list<uint64_t> args,
                                      long* result);
  // Resumes the chosen thread (PTRACE_SYSCALL) until its next system-call stop; returns false
  // with `*fail` set when it exited or the deadline passed. Signals meant for the thread are passed on.
  bool NextSyscallStop(bool* exit_stop, std::optional<InjectResult>* fail);
  std::optional<InjectResult> RunStub(InjectResult* result);
  bool SetRegs(const struct user_regs_struct& r) { return ptrace(PTRACE_SETREGS, tid_, nullptr, &r) == 0; }
  InjectResult Gone(const std::string& when);
  void Release();

  const InjectRequest& request_;
  const Target& target_;
  const Deadline& deadline_;
  Memory memory_;
  std::map<pid_t, Thread> threads_;
  pid_t tid_ = 0;                        // the chosen thread
  struct user_regs_struct resume_ = {};  // its registers to resume with
  bool regs_changed_ = false;            // its registers are not resume_ right now
  bool thread_running_stub_ = false;     // it runs the stub (which restores everything itself)
  bool chosen_stopped_ = true;           // it is in a ptrace stop
  bool resume_ready_ = false;            // resume_ is computed
  std::vector<unsigned char> cave_original_;
  bool cave_written_ = false;
  uint64_t region_ = 0, region_size_ = 0;
  long interrupted_syscall_ = -1;
  int pending_signal_ = 0;
};

std::vector<pid_t> ListTasks(pid_t pid) {
  std::vector<pid_t> tids;
  DIR* d = opendir(absl::StrCat("/proc/", pid, "/task").c_str());
  if (!d) return tids;
  while (struct dirent* e = readdir(d)) {
    pid_t tid;
    if (absl::SimpleAtoi(e->d_name, &tid)) tids.push_back(tid);
  }
  closedir(d);
  std::sort(tids.begin(), tids.end());
  return tids;
}

std::optional<InjectResult> Injector::SeizeAll() {
  for (int round = 0; round < 1000; ++round) {
    bool added = false;
    for (pid_t tid : ListTasks(request_.pid)) {
      if (threads_.count(tid)) continue;
      std::string stat;
      // A zombie thread (an exited main thread whose process runs on) never stops.
      if (ReadWholeFile(absl::StrCat("/proc/", request_.pid, "/task/", tid, "/stat"), &stat)) {
        size_t paren = stat.rfind(')');
        if (paren != std::string::npos && paren + 2 < stat.size() && (stat[paren + 2] == 'Z' || stat[paren + 2] == 'X'))
          continue;
      }
      if (ptrace(PTRACE_SEIZE, tid, nullptr, PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEEXEC) != 0) {
        if (errno == ESRCH) continue;  // exited meanwhile
        int e = errno;
        if (e == EPERM || e == EACCES) {
          return Fail(Outcome::kNotPermitted, absl::StrCat("ptrace(PTRACE_SEIZE, ", tid, "): ", strerror(e)));
        }
        return Fail(Outcome::kFailed, absl::StrCat("ptrace(PTRACE_SEIZE, ", tid, "): ", strerror(e)));
      }
      threads_[tid] = Thread{};
      ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);
      added = true;
    }
    if (!added) break;
  }
  if (threads_.empty()) return Fail(Outcome::kNoSuchProcess, "it has no threads left");
  return std::nullopt;
}

std::optional<InjectResult> Injector::WaitAllStopped() {
  for (;;) {
    bool waiting = false;
    for (const auto& [tid, t] : threads_) waiting |= !t.stopped && !t.gone;
    if (!waiting) return std::nullopt;
    int status = 0;
    pid_t w = deadline_.Wait(-1, &status);
    if (w < 0) {
      if (errno == ETIMEDOUT) {
        std::string which;
        for (const auto& [tid, t] : threads_) {
          if (!t.stopped && !t.gone) absl::StrAppend(&which, which.empty() ? "" : ", ", tid);
        }
        return Fail(Outcome::kTimedOut, absl::StrCat("threads ", which, " did not stop (in uninterruptible sleep?)"));
      }
      return Fail(Outcome::kFailed, absl::StrCat("waitpid: ", strerror(errno)));
    }
    auto it = threads_.find(w);
    if (it == threads_.end()) continue;
    Thread& t = it->second;
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      t.gone = true;
      continue;
    }
    if (!WIFSTOPPED(status)) continue;
    int event = status >> 16;
    int sig = WSTOPSIG(status);
    if (event == PTRACE_EVENT_STOP) {
      t.stopped = true;
      t.group_stop = sig != SIGTRAP;
    } else if (event == PTRACE_EVENT_EXEC) {
      t.stopped = true;
      t.exec = true;
    } else if (event == 0 && sig != (SIGTRAP | 0x80)) {
      // A signal on its way: deliver it; the interrupt's stop follows.
      ptrace(PTRACE_CONT, w, nullptr, sig);
    } else {
      ptrace(PTRACE_CONT, w, nullptr, 0);
    }
  }
}

void Injector::ResumeAllForAWhile(int attempt) {
  for (auto& [tid, t] : threads_) {
    if (t.stopped && !t.gone) {
      LetGo(tid, PTRACE_CONT);
      t.stopped = false;
    }
  }
  // Long enough to be scheduled and leave the C library; longer on each attempt.
  struct timespec ts = {0, std::min(100000L << std::min(attempt, 5), 2000000L)};
  nanosleep(&ts, nullptr);
  for (auto& [tid, t] : threads_) {
    if (!t.gone) ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr);
  }
}

void Injector::LetGo(pid_t tid, enum __ptrace_request how) {
  struct user_regs_struct r;
  if (ptrace(PTRACE_GETREGS, tid, nullptr, &r) == 0 && UndoStopEintr(request_.pid, tid, memory_, &r)) {
    ptrace(PTRACE_SETREGS, tid, nullptr, &r);
  }
  ptrace(how, tid, nullptr, 0);
}

std::optional<InjectResult> Injector::Choose() {
  constexpr int kPreferBlockedAttempts = 3, kMaxAttempts = 40;
  for (int attempt = 0;; ++attempt) {
    // Seize and stop threads until no new one appears (one not stopped yet may start another).
    size_t known;
    do {
      known = threads_.size();
      if (auto fail = SeizeAll()) return fail;
      if (auto fail = WaitAllStopped()) return fail;
    } while (threads_.size() != known);
    if (attempt == 0) Step("every thread stopped");  // (once: the steps stay the same in every run)
    pid_t best = 0;
    for (auto& [tid, t] : threads_) {
      if (t.gone) continue;
      if (t.exec) return Fail(Outcome::kFailed, "the process called exec during the attach; attach again");
      if (t.group_stop) {
        return Fail(Outcome::kFailed,
                    "the process is stopped (SIGSTOP, or job control): continue it first (kill -CONT " +
                        std::to_string(request_.pid) + ") and attach again");
      }
      if (ptrace(PTRACE_GETREGS, tid, nullptr, &t.regs) != 0) {
        t.place = Place::kUnusable;
        continue;
      }
      t.place = Classify(target_, t.regs);
      if (t.place == Place::kUnusable) continue;
      // The best place; among equals the main thread (as gdb would), then the lowest id.
      if (best == 0 || t.place < threads_[best].place || (t.place == threads_[best].place && tid == request_.pid)) {
        best = tid;
      }
    }
    if (best == 0) return Fail(Outcome::kNoSuchProcess, "none of its threads can run code (all exited?)");
    Place place = threads_[best].place;
    bool good = place == Place::kBlocked || (place != Place::kRuntime && attempt >= kPreferBlockedAttempts);
    if (good) {
      tid_ = best;
      break;
    }
    if (attempt + 1 >= kMaxAttempts) {
      return Fail(Outcome::kFailed, absl::StrCat("each of ", kMaxAttempts,
                                                 " times it was stopped, every thread was inside libc or the loader, "
                                                 "where it may hold a lock dlopen needs; attach again"));
    }
    ResumeAllForAWhile(attempt);
  }
  // The others run on: a lock one of them holds (the allocator's, the loader's) gets released.
  for (auto& [tid, t] : threads_) {
    if (tid == tid_ || t.gone) continue;
    LetGo(tid, PTRACE_DETACH);
    t.gone = true;
  }
  memory_.set_tid(tid_);
  Step("thread chosen, the others released");
  return std::nullopt;
}

// rseq: a thread stopped inside a restartable sequence resumes at its abort handler, as the kernel
// would move it when resuming it after the stop; here it would not, for it resumes in our code
// first. (rseq_cs is left set: were the thread resumed unchanged, the kernel would still abort.)
void FixRseq(pid_t tid, const Memory& memory, struct user_regs_struct* r) {
  struct __ptrace_rseq_configuration conf = {};
  if (ptrace(static_cast<enum __ptrace_request>(PTRACE_GET_RSEQ_CONFIGURATION), tid, sizeof(conf), &conf) <= 0 ||
      conf.rseq_abi_pointer == 0) {
    return;
  }
  uint64_t cs_pointer = 0;
  if (!memory.Read(conf.rseq_abi_pointer + 8, &cs_pointer, sizeof(cs_pointer)) || cs_pointer == 0) return;
  struct {
    uint32_t version, flags;
    uint64_t start_ip, post_commit_offset, abort_ip;
  } cs;
  if (!memory.Read(cs_pointer, &cs, sizeof(cs))) return;
  if (r->rip >= cs.start_ip && r->rip - cs.start_ip < cs.post_commit_offset) r->rip = cs.abort_ip;
}

void Injector::ComputeResumeContext() {
  resume_ = threads_[tid_].regs;
  long orig = static_cast<long>(resume_.orig_rax);
  if (orig >= 0) {
    interrupted_syscall_ = orig;
    UndoStopEintr(request_.pid, tid_, memory_, &resume_);
    long rax = static_cast<long>(resume_.rax);
    if (rax == -kERestartSys || rax == -kERestartNoIntr || rax == -kERestartNoHand) {
      resume_.rax = resume_.orig_rax;
      resume_.rip -= 2;
    } else if (rax == -kERestartRestartBlock) {
      unsigned char insn[2] = {};
      memory_.Read(resume_.rip - 2, insn, 2);
      bool int80 = insn[0] == 0xcd && insn[1] == 0x80;
      resume_.rax = int80 ? 0 /* i386 restart_syscall */ : SYS_restart_syscall;
      resume_.rip -= 2;
    }
  } else {
    FixRseq(tid_, memory_, &resume_);
  }
  // No restart of anything by the kernel from now on: the thread resumes from resume_ as it is.
  resume_.orig_rax = static_cast<unsigned long long>(-1);
  resume_ready_ = true;
}

InjectResult Injector::Gone(const std::string& when) {
  tid_ = 0;
  return Fail(Outcome::kNoSuchProcess, absl::StrCat("it exited ", when));
}

bool Injector::NextSyscallStop(bool* exit_stop, std::optional<InjectResult>* fail) {
  for (;;) {
    int sig = pending_signal_;
    pending_signal_ = 0;
    chosen_stopped_ = false;
    if (ptrace(PTRACE_SYSCALL, tid_, nullptr, sig) != 0) {
      *fail = errno == ESRCH ? Gone("during the attach")
                             : Fail(Outcome::kFailed, absl::StrCat("ptrace(PTRACE_SYSCALL): ", strerror(errno)));
      return false;
    }
    int status = 0;
    pid_t w = deadline_.Wait(tid_, &status);
    if (w < 0) {
      *fail = errno == ETIMEDOUT ? Fail(Outcome::kTimedOut, "") : Gone("during the attach");
      return false;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      *fail = Gone(WIFSIGNALED(status) ? absl::StrCat("during the attach, killed by signal ", WTERMSIG(status))
                                       : "during the attach");
      return false;
    }
    if (!WIFSTOPPED(status)) continue;
    chosen_stopped_ = true;
    int event = status >> 16;
    int stop = WSTOPSIG(status);
    if (event == 0 && stop == (SIGTRAP | 0x80)) {
      struct __ptrace_syscall_info info = {};
      if (ptrace(PTRACE_GET_SYSCALL_INFO, tid_, sizeof(info), &info) > 0) {
        *exit_stop = info.op == PTRACE_SYSCALL_INFO_EXIT;
      } else {
        *exit_stop = !*exit_stop;  // kernels before 5.3: entry and exit alternate
      }
      return true;
    }
    if (event == PTRACE_EVENT_EXEC) {
      *fail = Fail(Outcome::kFailed, "the process called exec during the attach");
      return false;
    }
    if (event == 0) pending_signal_ = stop;  // a signal for the thread: delivered on resume
    // PTRACE_EVENT_STOP (a group stop or a stray interrupt): resume.
  }
}

std::optional<InjectResult> Injector::Syscall(const char* what, long number, std::initializer_list<uint64_t> args,
                                              long* result) {
  inject::Code code = inject::GadgetCode();
  std::vector<unsigned char> bytes(code.bytes, code.bytes + code.size);
  inject::GadgetData data = {};
  data.number = static_cast<uint64_t>(number);
  std::copy(args.begin(), args.end(), data.args);
  data.resume_rip = resume_.rip;
  memcpy(bytes.data() + inject::GadgetDataOffset(), &data, sizeof(data));
  if (!memory_.Write(target_.cave, bytes.data(), bytes.size())) {
    return Fail(Outcome::kFailed, absl::StrFormat("cannot write the gadget at 0x%x in %s: %s", target_.cave,
                                                  target_.cave_object, strerror(errno)));
  }
  cave_written_ = true;
  Step(absl::StrCat(what, ": gadget written").c_str());
  struct user_regs_struct r = resume_;
  r.rip = target_.cave;
  if (!SetRegs(r)) return Fail(Outcome::kFailed, absl::StrCat("ptrace(PTRACE_SETREGS): ", strerror(errno)));
  regs_changed_ = true;
  Step(absl::StrCat(what, ": thread sent to the gadget").c_str());
  uint64_t after = target_.cave + inject::GadgetAfterSyscallOffset();
  bool exit_stop = true;
  for (;;) {
    std::optional<InjectResult> fail;
    if (!NextSyscallStop(&exit_stop, &fail)) return fail;
    struct user_regs_struct now;
    if (ptrace(PTRACE_GETREGS, tid_, nullptr, &now) != 0) return Gone("during the attach");
    if (now.rip != after) continue;  // a system call of a signal handler that ran first
    if (!exit_stop) {
      Step(absl::StrCat(what, ": at the system call").c_str());
      continue;
    }
    *result = static_cast<long>(now.rax);
    Step(absl::StrCat(what, ": system call returned").c_str());
    break;
  }
  // What the gadget would do from here: every register back, resume where the thread was.
  if (!SetRegs(resume_)) return Fail(Outcome::kFailed, absl::StrCat("ptrace(PTRACE_SETREGS): ", strerror(errno)));
  regs_changed_ = false;
  Step(absl::StrCat(what, ": registers restored").c_str());
  return std::nullopt;
}

// The size of the XSAVE area for the enabled components (standard format), or 0 without XSAVE.
uint64_t XsaveSize() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return 0;
  if (!__get_cpuid_count(0xd, 0, &a, &b, &c, &d)) return 0;
  return b;
}

std::optional<InjectResult> Injector::RunStub(InjectResult* result) {
  inject::Code stub = inject::StubCode();
  uint64_t xsave_size = XsaveSize();
  bool use_xsave = xsave_size != 0;
  if (!use_xsave) xsave_size = 512;  // FXSAVE
  // Strings after InjectControl, then the XSAVE area.
  const std::string name = "allocprof-attach";
  std::vector<std::string> strings = {request_.library, request_.start_function, request_.start_argument, name};
  uint64_t strings_at = inject::kControlOffset + RoundUp(sizeof(InjectControl), 64);
  uint64_t at = strings_at;
  std::vector<uint64_t> offsets;
  for (const std::string& s : strings) {
    offsets.push_back(at);
    at += s.size() + 1;
  }
  uint64_t xsave_at = RoundUp(at, 64);
  region_size_ = RoundUp(xsave_at + xsave_size, kPage);

  long mapped = 0;
  if (auto fail =
          Syscall("mmap", SYS_mmap,
                  {0, region_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, static_cast<uint64_t>(-1), 0},
                  &mapped)) {
    return fail;
  }
  if (mapped < 0 && mapped > -4096) {
    return Fail(Outcome::kFailed, absl::StrCat("mmap of ", region_size_,
                                               " bytes in the process failed: ", strerror(static_cast<int>(-mapped))));
  }
  region_ = static_cast<uint64_t>(mapped);

  InjectControl control = {};
  control.dlopen = target_.dlopen;
  control.dlsym = target_.dlsym;
  control.dlerror = target_.dlerror;
  control.errno_location = target_.errno_location;
  control.library = region_ + offsets[0];
  control.start_name = region_ + offsets[1];
  control.start_argument = region_ + offsets[2];
  control.dlopen_flags = 0x2 | 0x1000;  // RTLD_NOW | RTLD_NODELETE (RTLD_LOCAL is 0)
  control.xsave_area = region_ + xsave_at;
  control.use_xsave = use_xsave;
  control.all_signals = ~uint64_t{0};
  control.mxcsr_default = 0x1f80;
  const struct user_regs_struct& r = resume_;
  control.r15 = r.r15, control.r14 = r.r14, control.r13 = r.r13, control.r12 = r.r12;
  control.rbp = r.rbp, control.rbx = r.rbx, control.r11 = r.r11, control.r10 = r.r10;
  control.r9 = r.r9, control.r8 = r.r8, control.rax = r.rax, control.rcx = r.rcx;
  control.rdx = r.rdx, control.rsi = r.rsi, control.rdi = r.rdi;
  control.rflags = r.eflags, control.rip = r.rip, control.rsp = r.rsp;
  std::vector<unsigned char> block(region_size_ - inject::kControlOffset, 0);
  memcpy(block.data(), &control, sizeof(control));
  for (size_t i = 0; i < strings.size(); ++i) {
    memcpy(block.data() + (offsets[i] - inject::kControlOffset), strings[i].c_str(), strings[i].size() + 1);
  }
  if (!memory_.Write(region_, stub.bytes, stub.size) ||
      !memory_.Write(region_ + inject::kControlOffset, block.data(), block.size())) {
    return Fail(Outcome::kFailed, absl::StrCat("cannot write the stub into the process: ", strerror(errno)));
  }
  Step("stub written");
  long rc = 0;
  if (auto fail = Syscall("mprotect", SYS_mprotect, {region_, inject::kCodeSize, PROT_READ | PROT_EXEC}, &rc)) {
    return fail;
  }
  if (rc != 0) {
    return Fail(Outcome::kFailed,
                absl::StrCat("mprotect in the process failed: ", strerror(static_cast<int>(-rc)),
                             " (a policy forbidding executable memory: SELinux execmem, PaX MPROTECT?)"));
  }
  // A name in /proc/PID/maps, where the kernel supports it (CONFIG_ANON_VMA_NAME); failure is fine.
  if (auto fail = Syscall("prctl", SYS_prctl,
                          {PR_SET_VMA, PR_SET_VMA_ANON_NAME, region_, region_size_, region_ + offsets[3]}, &rc)) {
    return fail;
  }

  struct user_regs_struct go = resume_;
  go.rip = region_;
  go.rsp = region_ + inject::kCodeSize + inject::kStackSize;
  if (!SetRegs(go)) return Fail(Outcome::kFailed, absl::StrCat("ptrace(PTRACE_SETREGS): ", strerror(errno)));
  regs_changed_ = true;
  thread_running_stub_ = true;
  Step("thread sent to the stub");
  uint64_t marker = region_ + inject::StubMarkerOffset();
  bool exit_stop = true, saw_dlopen = false, saw_start = false;
  for (;;) {
    std::optional<InjectResult> fail;
    if (!NextSyscallStop(&exit_stop, &fail)) return fail;
    struct user_regs_struct now;
    if (ptrace(PTRACE_GETREGS, tid_, nullptr, &now) != 0) return Gone("during the attach");
    if (now.rip == marker && exit_stop) break;
    if (now.rip >= region_ && now.rip < region_ + inject::kCodeSize) continue;
    // A system call made by dlopen or by the start function.
    uint64_t progress = 0;
    memory_.Read(region_ + inject::kControlOffset + offsetof(InjectControl, progress), &progress, sizeof(progress));
    if (!saw_dlopen && progress == inject::kStateSaved) {
      saw_dlopen = true;
      Step("stub: inside dlopen");
    } else if (!saw_start && progress == inject::kDlopenReturned) {
      saw_start = true;
      Step("stub: inside the start function");
    }
  }
  Step("stub: finished");
  InjectControl done = {};
  if (!memory_.Read(region_ + inject::kControlOffset, &done, sizeof(done))) {
    return Fail(Outcome::kFailed, absl::StrCat("cannot read the stub's results: ", strerror(errno)));
  }
  // The stub's last instructions reload resume_; the same, at once.
  if (!SetRegs(resume_)) return Fail(Outcome::kFailed, absl::StrCat("ptrace(PTRACE_SETREGS): ", strerror(errno)));
  regs_changed_ = false;
  thread_running_stub_ = false;
  Step("registers restored after the stub");
  if (done.handle == 0 || done.start_function == 0) {
    result->outcome = done.handle == 0 ? Outcome::kDlopenFailed : Outcome::kNoStartFunction;
    result->detail = done.error_message ? memory_.ReadString(done.error_message, 2000) : "(no message)";
  } else {
    result->outcome = Outcome::kLoaded;
    result->state = static_cast<long>(done.start_result);
  }
  if (auto fail = Syscall("munmap", SYS_munmap, {region_, region_size_}, &rc)) return fail;
  if (rc == 0) region_ = 0;
  return std::nullopt;
}

// Brings a seized, running thread to a stop: the interrupt's own stop, or (ptrace(2)) a
// syscall-exit stop when PTRACE_SYSCALL is in effect, or a signal's stop, whose signal is returned
// in `*signal` to be delivered on detach. False when it exited or did not stop within two seconds.
bool InterruptAndWait(pid_t tid, int* signal) {
  *signal = 0;
  if (ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) != 0) return false;
  Deadline grace(2);
  int status;
  while (grace.Wait(tid, &status) == tid) {
    if (WIFEXITED(status) || WIFSIGNALED(status)) return false;
    if (!WIFSTOPPED(status)) continue;
    int event = status >> 16;
    int sig = WSTOPSIG(status);
    if (event == 0 && sig != (SIGTRAP | 0x80)) *signal = sig;
    return true;
  }
  return false;
}

void Injector::Release() {
  auto stop_chosen = [this] {
    if (chosen_stopped_ || tid_ == 0) return;
    int sig = 0;
    chosen_stopped_ = InterruptAndWait(tid_, &sig);
    if (sig != 0) pending_signal_ = sig;
  };
  if (tid_ != 0) {
    stop_chosen();
    // In the gadget (or not sent anywhere yet), all that is left to do is to give the thread its
    // registers to resume with. The stub, stopped or not, restores everything itself.
    if (resume_ready_ && !thread_running_stub_ && chosen_stopped_ && SetRegs(resume_)) {
      regs_changed_ = false;
      // A failure after the region was mapped (mprotect refused, say): unmap it.
      long rc = -1;
      if (region_ != 0 && !Syscall("munmap after a failure", SYS_munmap, {region_, region_size_}, &rc) && rc == 0) {
        region_ = 0;
      }
      stop_chosen();
      if (regs_changed_ && chosen_stopped_ && SetRegs(resume_)) regs_changed_ = false;
    }
  }
  if (tid_ != 0) {
    bool in_gadget = regs_changed_ && !thread_running_stub_;
    if (cave_written_ && !in_gadget && !cave_original_.empty()) {
      memory_.Write(target_.cave, cave_original_.data(), cave_original_.size());
    }
    if (chosen_stopped_) ptrace(PTRACE_DETACH, tid_, nullptr, pending_signal_);
    tid_ = 0;
  }
  // Threads still seized (a failure before one was chosen).
  for (auto& [tid, t] : threads_) {
    if (t.gone) continue;
    int sig = 0;
    if (!t.stopped) {
      t.stopped = InterruptAndWait(tid, &sig);
      if (t.stopped) ptrace(PTRACE_DETACH, tid, nullptr, sig);
    } else if (!t.gone) {
      LetGo(tid, PTRACE_DETACH);
    }
    t.gone = true;
  }
}

InjectResult Injector::Run() {
  if (auto fail = SeizeAll()) return *fail;
  Step("every thread seized and interrupted");
  if (auto fail = Choose()) return *fail;
  ComputeResumeContext();
  cave_original_.resize(inject::GadgetCode().size);
  if (!memory_.Read(target_.cave, cave_original_.data(), cave_original_.size())) {
    cave_original_.clear();
    return Fail(Outcome::kFailed,
                absl::StrFormat("cannot read the process's memory at 0x%x: %s", target_.cave, strerror(errno)));
  }
  InjectResult result;
  result.thread = tid_;
  result.syscall = interrupted_syscall_;
  result.where = PlaceName(threads_[tid_].place);
  if (interrupted_syscall_ >= 0) absl::StrAppend(&result.where, " ", interrupted_syscall_);
  if (auto fail = RunStub(&result)) {
    fail->thread = result.thread;
    fail->syscall = result.syscall;
    fail->where = result.where;
    return *fail;
  }
  if (!memory_.Write(target_.cave, cave_original_.data(), cave_original_.size())) {
    return Fail(Outcome::kFailed, absl::StrCat("cannot restore the bytes of ", target_.cave_object));
  }
  cave_written_ = false;
  Step("cave restored");
  ptrace(PTRACE_DETACH, tid_, nullptr, pending_signal_);
  tid_ = 0;
  return result;
}

}  // namespace

InjectResult InjectLibrary(const InjectRequest& request) {
  const char* die_at = getenv(kDieAtVariable);
  g_die_at = die_at ? atoi(die_at) : 0;
  g_step = 0;
  std::string comm;
  ReadWholeFile(absl::StrCat("/proc/", request.pid, "/comm"), &comm);
  Target target;
  target.label = absl::StrCat("process ", request.pid, " (", absl::StripTrailingAsciiWhitespace(comm), ")");
  if (auto fail = AnalyzeTarget(request.pid, &target)) return *fail;
  Step("process examined");
  Deadline deadline(request.timeout_seconds);
  Injector injector(request, target, deadline);
  InjectResult r = injector.Run();
  if (r.outcome == Outcome::kTimedOut && r.detail.empty()) {
    r.detail = absl::StrCat("the calls did not return within ", request.timeout_seconds, " s");
  }
  return r;
}

}  // namespace allocprof
