// Process lifecycle: initialisation, the ticker thread, fork, exec, exit and _exit.
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "count/counters.h"
#include "hooks/real_functions.h"
#include "record/recorder.h"
#include "record/sampler.h"
#include "record/thread_state.h"
#include "runtime/capture_control.h"
#include "runtime/embedded_suppressions.h"
#include "runtime/fatal_signals.h"
#include "runtime/module_map.h"
#include "runtime/options.h"
#include "runtime/process_record.h"
#include "runtime/process_state.h"
#include "runtime/raw_syscalls.h"
#include "runtime/stderr_log.h"
#include "runtime/trace_writer.h"
#include "unwind/stack_capture.h"
#include "unwind/stack_table.h"

extern char** environ;

namespace allocprof::shim {

std::atomic<Mode> g_mode{Mode::kUninitialized};
std::atomic<uint32_t> g_generation{0};
std::atomic<bool> g_signal_exit{false};

namespace {

// The traced process's pid: a vfork child shares our memory but has another pid, and must not
// touch the parent's tracing state on its way to exec or _exit.
pid_t g_pid = 0;

std::atomic<bool> g_ticker_started{false};
std::atomic<uint32_t> g_paused_allocations{0};  // since start or the fork, while no ticker runs
std::atomic<bool> g_ticker_stop{false};
std::atomic<bool> g_stop_reported{false};
std::atomic<long> g_offload_tid{0};  // the offload thread, which the ticker's last-thread check ignores
// The ticker wakes at least this often to see whether it is the process's last thread.
constexpr int kLastThreadCheckMs = 100;

// Marks the calling thread as inside the shim for a scope (the shim's own allocations are not
// recorded), whether or not it already was.
class ShimScope {
 public:
  ShimScope() : outer_(!t_local.in_hook) { EnterShim(); }
  ~ShimScope() {
    if (outer_) LeaveShim();
  }

 private:
  bool outer_;
};

void TickerSweep(uint64_t interval_ns) {
  uint64_t now = NowNs();
  MaybeCalibrateClock(now);
  SmallEncoder<8192> quiet(now);
  RecordEncoder& enc = quiet.enc;
  RegistryLock();
  // One barrier for all threads: a membarrier interrupts every core that runs one of the process's
  // threads, so one per thread per sweep would cost a many-threaded program more than its events.
  ForEachThreadLocked([&](ThreadState* t) { t->claimed_by_ticker = Claim(t); });
  SyncWithOwners();
  ForEachThreadLocked([&](ThreadState* t) {
    if (!t->claimed_by_ticker) return;
    t->claimed_by_ticker = false;
    if (OwnerInside(t)) {
      UnlockForeign(t);
      return;
    }
    // The owner may have flushed since `now` was read: its times can be newer.
    if (HasRecords(t)) {
      if (now > t->enc.base_time() && now - t->enc.base_time() >= interval_ns) FlushLocked(t, now);
    } else if (now > t->covered_until && now - t->covered_until >= interval_ns && enc.ControlRoom(32) &&
               !HasSealedChunk(t)) {  // a quiet promise must not overtake the thread's sealed records
      t->covered_until = now;
      enc.Tag(format::RecordTag::kQuiet);
      enc.Time(now);
      enc.Uint(t->index);
    }
    UnlockForeign(t);
  });
  RegistryUnlock();
  uint8_t scratch[sizeof(format::ChunkHeader) + sizeof(quiet.memory)];
  WriteProcessChunk(enc, scratch, sizeof(scratch));
}

// glibc ends the process (exit(0)) when its last thread exits, and counts the ticker among its
// threads: once a program's main thread has called pthread_exit, its last thread would exit into a
// process that never ends. The ticker looks for that state on each wake-up (the main thread a
// zombie, no thread but the ticker) and then ends the process as that last thread would have.
bool OnlyTheTickerIsLeft() {
  char stat[512];
  int fd = RawOpen("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = RawRead(fd, stat, sizeof(stat) - 1);
  RawClose(fd);
  if (n <= 0) return false;
  stat[n] = 0;
  const char* state = strrchr(stat, ')');  // "pid (comm) S ...": comm may hold anything
  if (!state || state[1] != ' ' || state[2] != 'Z') return false;
  long self = syscall(SYS_gettid), leader = getpid(), offload = g_offload_tid.load(std::memory_order_relaxed);
  fd = RawOpen("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  alignas(8) char buffer[2048];
  bool alone = true;
  long got;
  while (alone && (got = syscall(SYS_getdents64, fd, buffer, sizeof(buffer))) > 0) {
    for (long at = 0; at < got;) {
      const auto* entry = reinterpret_cast<const struct dirent64*>(buffer + at);
      at += entry->d_reclen;
      long tid = 0;
      for (const char* c = entry->d_name; *c >= '0' && *c <= '9'; ++c) tid = tid * 10 + (*c - '0');
      if (tid != 0 && tid != self && tid != leader && tid != offload) alone = false;
    }
  }
  RawClose(fd);
  return alone;
}

// Sweeps idle buffers every flush interval; between sweeps it waits for capture-control deadlines
// and commands (poll on the control FIFO and the control signal's pipe), waking at least every
// kLastThreadCheckMs to see whether it is the last thread.
void* TickerMain(void*) {
  t_local.in_hook = true;  // the ticker's own allocations (zstd contexts) are the shim's
  uint32_t interval_ms = GetOptions().flush_interval_ms;
  uint64_t interval_ns = static_cast<uint64_t>(interval_ms) * 1000000ull;
  uint64_t next_sweep = NowNs() + interval_ns;
  while (!g_ticker_stop.load(std::memory_order_relaxed)) {
    uint64_t now = NowNs();
    int timeout = interval_ms ? static_cast<int>(next_sweep > now ? (next_sweep - now + 999999) / 1000000 : 0) : -1;
    if (timeout < 0 || timeout > kLastThreadCheckMs) timeout = kLastThreadCheckMs;
    int deadline = CaptureMsUntilDeadline(now);
    if (deadline >= 0 && (timeout < 0 || deadline < timeout)) timeout = deadline;
    struct pollfd fds[2];
    nfds_t n = 0;
    int control = ControlPollFd(), signal_pipe = SignalPollFd();
    if (control >= 0) fds[n++] = {control, POLLIN, 0};
    if (signal_pipe >= 0) fds[n++] = {signal_pipe, POLLIN, 0};
    if (poll(fds, n, timeout) > 0) {
      for (nfds_t i = 0; i < n; ++i) {
        if (!(fds[i].revents & POLLIN)) continue;
        if (fds[i].fd == control)
          ControlOnReadable();
        else
          DrainSignalPipe();
      }
    }
    now = NowNs();
    CaptureRunDeadlines(now);
    if (interval_ms && now >= next_sweep) {
      if (TraceActive(g_mode.load(std::memory_order_relaxed))) TickerSweep(interval_ns);
      next_sweep = now + interval_ns;
    }
    if (OnlyTheTickerIsLeft()) {
      t_local.in_hook = false;  // exit handlers and destructors run here now: they are the program's
      exit(0);
    }
  }
  return nullptr;
}

// Compresses and writes the chunks the program's threads seal (thread_state.h, SealedChunk), so
// that zstd runs beside the program instead of on its threads. Lives as long as the process (or
// until a fork's child, which starts its own with its ticker).
void* OffloadMain(void*) {
  t_local.in_hook = true;
  g_offload_tid.store(syscall(SYS_gettid), std::memory_order_relaxed);
  size_t out_bytes = ChunkOutBytes();
  void* out = mmap(nullptr, out_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void* zstd = out == MAP_FAILED ? nullptr : CreateChunkCompressor();
  if (!zstd) return nullptr;                 // the program's threads keep compressing their own chunks
  uint32_t seen = WaitForSealedChunks(~0u);  // returns the count at once (it is never ~0u yet)
  ThreadState* t = nullptr;
  EnableOffload();
  bool hold = GetOptions().offload == kOffloadHold;  // tests: every sealed chunk stays pending
  for (;;) {
    while (!hold && (t = TakeSealedChunk())) WriteTakenChunk(t, zstd, static_cast<uint8_t*>(out), out_bytes);
    seen = WaitForSealedChunks(seen);
  }
  return nullptr;
}

// A helper thread that blocks every signal; false if it could not be created.
bool StartHelperThread(void* (*main)(void*), const char* name) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);  // the thread inherits a mask that blocks everything
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 256 << 10);
  pthread_t thread;
  bool started = pthread_create(&thread, &attr, main, nullptr) == 0;
  if (started) pthread_setname_np(thread, name);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return started;
}

// The offload thread comes with the ticker, when buffers are flushed in the background anyway
// (ALLOCPROF_FLUSH_MS > 0) and chunks are compressed.
void StartTicker() {
  if (GetOptions().flush_interval_ms == 0 && !CaptureNeedsTicker()) return;
  if (g_ticker_started.exchange(true)) return;
  if (!StartHelperThread(TickerMain, "allocprof-tick")) {
    g_ticker_started.store(false);
    return;
  }
  const Options& o = GetOptions();
  if (o.flush_interval_ms != 0 && o.compression_level != 0 && o.offload != kOffloadOff)
    StartHelperThread(OffloadMain, "allocprof-zstd");
}

void ForkPrepare() {
  ShimScope scope;
  RegistryLock();
}

void ForkParent() { RegistryUnlock(); }

void ForkChild() {
  ShimScope scope;
  g_pid = getpid();
  ClockAfterFork();
  g_ticker_started.store(false);  // the ticker did not survive the fork; restarted lazily
  g_offload_tid.store(0);         // nor did the offload thread (ResetThreadsAfterFork turns offloading off)
  g_paused_allocations.store(0);
  g_generation.fetch_add(1);
  ForgetModulesAfterFork();
  CloseTraceFileInChild();
  CaptureAfterForkChild();
  Mode mode = g_mode.load();
  if (!TraceActive(mode)) {
    ResetThreadsAfterFork();
    return;
  }
  if (!OpenTraceFile(NowNs())) {
    g_mode.store(Mode::kStopped);
    ResetThreadsAfterFork();
    return;
  }
  ResetThreadsAfterFork();
  OpenControlChannel();
}

// --no-follow: take the shim out of LD_PRELOAD so the programs we exec are not traced.
void DropSelfFromPreload() {
  Dl_info info;
  if (!dladdr(reinterpret_cast<void*>(&DropSelfFromPreload), &info) || !info.dli_fname) return;
  const char* preload = getenv("LD_PRELOAD");
  if (!preload) return;
  static char rebuilt[8192];
  size_t n = 0;
  const char* self_base = strrchr(info.dli_fname, '/');
  self_base = self_base ? self_base + 1 : info.dli_fname;
  for (const char* p = preload; *p;) {
    size_t len = strcspn(p, ": ");
    const char* base = static_cast<const char*>(memrchr(p, '/', len));
    base = base ? base + 1 : p;
    size_t base_len = len - static_cast<size_t>(base - p);
    bool is_self = base_len == strlen(self_base) && memcmp(base, self_base, base_len) == 0;
    if (!is_self && len && n + len + 2 < sizeof(rebuilt)) {
      if (n) rebuilt[n++] = ':';
      memcpy(rebuilt + n, p, len);
      n += len;
    }
    p += len;
    while (*p == ':' || *p == ' ') ++p;
  }
  rebuilt[n] = '\0';
  if (n)
    setenv("LD_PRELOAD", rebuilt, 1);
  else
    unsetenv("LD_PRELOAD");
}

__attribute__((constructor)) void OnLoad() {
  ShimScope scope;
  ResolveRealFunctions();
  EnsureProcessInitialized();
  if (!GetOptions().follow) DropSelfFromPreload();
  if (TraceActive(g_mode.load())) {
    if (!t_local.state && !t_local.exited) CreateThreadState();
    // After the process record; a forked child's trace gets it again from WriteProcessRecord.
    if (FindEmbeddedSuppressions()) WriteEmbeddedSuppressions();
    StartTicker();
  }
}

// Runs from _dl_fini, after the program's static destructors and atexit handlers. Libraries
// finalised after us may still allocate: from here on every event is written at once.
__attribute__((destructor)) void OnUnload() {
  ShimScope scope;
  if (!TraceActive(g_mode.load())) return;
  g_ticker_stop.store(true);
  DisableOffload();
  CloseControlChannel();
  g_mode.store(Mode::kWriteThrough);
  FlushAllThreads(NowNs());
  WriteEndRecord();
}

void BeforeExec(const char* path) {
  Mode mode = g_mode.load();
  if ((!TraceActive(mode) && mode != Mode::kWriteThrough) || InVforkChild()) return;
  ShimScope scope;
  DisableOffload();  // every chunk is in the file before the exec record
  CloseControlChannel();
  FlushAllThreads(NowNs());
  WriteExecRecord(path);
}

}  // namespace

bool InVforkChild() { return g_pid != 0 && getpid() != g_pid; }

void FinishTrace() {
  Mode mode = g_mode.load();
  if ((!TraceActive(mode) && mode != Mode::kWriteThrough) || InVforkChild()) return;
  ShimScope scope;
  DisableOffload();
  CloseControlChannel();
  FlushAllThreads(NowNs());
  WriteEndRecord();
  g_mode.store(Mode::kStopped);
}

void EnsureProcessInitialized() {
  Mode expected = Mode::kUninitialized;
  if (!g_mode.compare_exchange_strong(expected, Mode::kInitializing)) {
    while (g_mode.load(std::memory_order_acquire) == Mode::kInitializing) sched_yield();
    return;
  }
  ShimScope scope;
  g_pid = getpid();
  ResolveRealFunctions();
  LoadOptions();
  InitStackCapture();
  if (GetOptions().count_only) {
    // Counting mode: no trace file, no stack table, no ticker; fork needs only the counters'.
    if (!InitCounting()) LogError("cannot reserve the size map; bytes freed are not counted");
    pthread_atfork(CountBeforeFork, CountAfterForkParent, CountAfterForkChild);
    g_mode.store(Mode::kCounting, std::memory_order_release);
    return;
  }
  InitClock(GetOptions().clock_kind);  // before the first trace time (`start` below)
  if (!InitStackTable()) LogError("cannot reserve the stack table; stacks are not recorded");
  InitThreadLocks();
  InitThreadExitKey();
  pthread_atfork(ForkPrepare, ForkParent, ForkChild);
  // quick_exit runs its handlers, then _exit from inside libc, where the _exit above never sees it.
  // Registered before any of the program's, this handler runs after all of them.
  at_quick_exit(FinishTrace);
  uint64_t start = NowNs();
  Mode initial = InitialCaptureMode(start, InitSampler() ? Mode::kSampling : Mode::kTracing);
  if (!OpenTraceFile(start)) {
    g_mode.store(Mode::kStopped, std::memory_order_release);
    return;
  }
  for (int i = 0; i < RejectedOptionCount(); ++i) WriteWarning(RejectedOption(i));
  g_mode.store(initial, std::memory_order_release);
  StartCaptureControl();
  InstallFatalSignalHandlers();
}

void FlushAllThreads(uint64_t now) {
  // Exit and exec can come from a signal handler that interrupted a registry holder (a fork in
  // progress, a thread starting): never wait for the registry unboundedly.
  if (!RegistryLockBounded()) return;
  ForEachThreadLocked([&](ThreadState* t) {
    // Its own state too may be held: the exit may come from a signal handler that interrupted
    // this thread inside Lock .. Unlock.
    if (t == t_local.state ? TryLockForeign(t) || LockBounded(t) : LockBounded(t)) {
      FlushLocked(t, now);
      UnlockForeign(t);
    }
  });
  RegistryUnlock();
}

void StopTracing(const char* why, int err) {
  g_mode.store(Mode::kStopped);
  if (g_stop_reported.exchange(true)) return;
  LogError3("tracing stopped, the program continues: ", why, "");
  LogError3("trace file: ", TracePath(), "");
  LogError3("reason: ", ErrnoName(err), "");
}

// Restarts the ticker in a forked child once the child shows it is going to run for a while.
// Called from hooks on the program's threads, so never while a program's signal handler runs on
// this one: pthread_create is not async-signal-safe (the handler may have interrupted the
// program's own pthread_create, holding its locks); the next flush outside the handler starts it.
void MaybeStartTickerAfterFork() {
  if (!g_ticker_started.load(std::memory_order_relaxed) && t_local.handlers_running == 0) StartTicker();
}

// A paused child fills no buffer, so nothing above starts its ticker, and without it capture
// control (ctl, deadlines, the signal) cannot reach the child: it gets the ticker once it has
// made as many allocations as a buffer flush of a recording child would show.
void NotePausedAllocation() {
  if (g_ticker_started.load(std::memory_order_relaxed)) return;
  if (g_paused_allocations.fetch_add(1, std::memory_order_relaxed) + 1 >= kSubstantialRecords) {
    MaybeStartTickerAfterFork();
  }
}

}  // namespace allocprof::shim

using namespace allocprof::shim;

extern "C" {

__attribute__((visibility("default"))) void _exit(int status) {
  FinishTrace();
  if (!g_real._exit) ResolveRealFunctions();
  g_real._exit(status);
  __builtin_unreachable();
}

__attribute__((visibility("default"))) void _Exit(int status) { _exit(status); }

__attribute__((visibility("default"))) int execve(const char* path, char* const argv[], char* const envp[]) {
  ResolveRealFunctions();
  BeforeExec(path);
  return g_real.execve(path, argv, envp);
}

__attribute__((visibility("default"))) int execv(const char* path, char* const argv[]) {
  ResolveRealFunctions();
  BeforeExec(path);
  return g_real.execve(path, argv, environ);
}

__attribute__((visibility("default"))) int execvpe(const char* file, char* const argv[], char* const envp[]) {
  ResolveRealFunctions();
  BeforeExec(file);
  return g_real.execvpe(file, argv, envp);
}

__attribute__((visibility("default"))) int execvp(const char* file, char* const argv[]) {
  ResolveRealFunctions();
  BeforeExec(file);
  return g_real.execvpe(file, argv, environ);
}

__attribute__((visibility("default"))) int fexecve(int fd, char* const argv[], char* const envp[]) {
  ResolveRealFunctions();
  BeforeExec(nullptr);
  return g_real.fexecve(fd, argv, envp);
}

__attribute__((visibility("default"))) int execveat(int dirfd, const char* path, char* const argv[], char* const envp[],
                                                    int flags) {
  ResolveRealFunctions();
  BeforeExec(path);
  return g_real.execveat(dirfd, path, argv, envp, flags);
}

}  // extern "C"

// execl, execlp, execle: collect the variadic arguments into an argv on the stack.
#define ALLOCPROF_COLLECT_ARGS(first, argv, envp_out)                               \
  size_t count = 1;                                                                 \
  {                                                                                 \
    va_list ap;                                                                     \
    va_start(ap, first);                                                            \
    while (va_arg(ap, const char*)) ++count;                                        \
    va_end(ap);                                                                     \
  }                                                                                 \
  char** argv = static_cast<char**>(__builtin_alloca((count + 1) * sizeof(char*))); \
  {                                                                                 \
    va_list ap;                                                                     \
    va_start(ap, first);                                                            \
    argv[0] = const_cast<char*>(first);                                             \
    for (size_t i = 1; i <= count; ++i) argv[i] = va_arg(ap, char*);                \
    envp_out;                                                                       \
    va_end(ap);                                                                     \
  }

extern "C" {

__attribute__((visibility("default"))) int execl(const char* path, const char* arg, ...) {
  ALLOCPROF_COLLECT_ARGS(arg, argv, (void)0)
  return execv(path, argv);
}

__attribute__((visibility("default"))) int execlp(const char* file, const char* arg, ...) {
  ALLOCPROF_COLLECT_ARGS(arg, argv, (void)0)
  return execvp(file, argv);
}

__attribute__((visibility("default"))) int execle(const char* path, const char* arg, ...) {
  char** envp = nullptr;
  ALLOCPROF_COLLECT_ARGS(arg, argv, envp = va_arg(ap, char**))
  return execve(path, argv, envp);
}

}  // extern "C"
