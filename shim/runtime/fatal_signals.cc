#include "runtime/fatal_signals.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>

#include "hooks/real_functions.h"
#include "record/nested_events.h"
#include "record/thread_state.h"
#include "runtime/options.h"
#include "runtime/process_state.h"
#include "unwind/stack_capture.h"

namespace allocprof::shim {
namespace {

using SigactionFn = int (*)(int, const struct sigaction*, struct sigaction*);

// Every signal whose default action ends the process, but SIGKILL and SIGSTOP (which cannot be
// caught), SIGTRAP (debuggers) and the real-time signals (libraries' own).
constexpr int kFatal[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGILL,    SIGABRT, SIGBUS,  SIGFPE,
                          SIGUSR1, SIGSEGV, SIGUSR2, SIGPIPE,   SIGALRM, SIGTERM, SIGSTKFLT,
                          SIGXCPU, SIGXFSZ, SIGPROF, SIGVTALRM, SIGIO,   SIGPWR,  SIGSYS};

std::atomic<SigactionFn> g_real_sigaction{nullptr};
std::atomic<uint64_t> g_managed{0};  // bit per signal: the handler stands in for its SIG_DFL
std::atomic<long> g_finisher{0};     // thread id of the thread ending the trace
std::atomic_flag g_disposition_lock = ATOMIC_FLAG_INIT;

// Serialises our reading and writing of dispositions with the program's (cold, bounded: a thread
// forked while another held it, or a handler that interrupted the holder, must not hang).
class DispositionLock {
 public:
  DispositionLock() {
    for (int i = 0; i < 100000 && g_disposition_lock.test_and_set(std::memory_order_acquire); ++i) sched_yield();
  }
  ~DispositionLock() { g_disposition_lock.clear(std::memory_order_release); }
};

bool Managed(int sig) { return sig > 0 && sig < 64 && ((g_managed.load(std::memory_order_relaxed) >> sig) & 1); }

// The program's handler of each signal, called by Trampoline, which the kernel has instead: a
// handler that interrupts its thread inside the shim must have its allocations recorded
// (record/nested_events.h). Written under the disposition lock, read by the trampoline.
struct ProgramHandler {
  std::atomic<uintptr_t> fn;
  std::atomic<bool> siginfo;  // SA_SIGINFO: called with (sig, info, context)
};
constexpr int kSignals = 65;
ProgramHandler g_program[kSignals];

void Trampoline(int sig, siginfo_t* info, void* context) {
  uintptr_t fn = g_program[sig].fn.load(std::memory_order_acquire);
  bool with_info = g_program[sig].siginfo.load(std::memory_order_relaxed);
  // Over the shim: the handler's calls reach the hooks with the guard held; they are its, not ours.
  bool over = t_local.in_hook;
  // Interrupting LeaveShim between the guard's release and its merge: older events of handlers go
  // into the buffer before this handler's own.
  if (!over && (__atomic_load_n(&t_local.deferred_signals, __ATOMIC_RELAXED) & kNestedEventsPending))
    MergeNestedEvents();
  // The kernel made this frame return to the sa_restorer: a handler's stacks leave it out.
  auto restorer = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  if (g_signal_restorer.load(std::memory_order_relaxed) != restorer)
    g_signal_restorer.store(restorer, std::memory_order_relaxed);
  uint8_t saved = t_local.signal_over_shim;
  if (over) t_local.signal_over_shim = 1;
  ++t_local.handlers_running;  // stacks captured meanwhile hold this trampoline's frame
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (fn && with_info)
    reinterpret_cast<void (*)(int, siginfo_t*, void*)>(fn)(sig, info, context);
  else if (fn)
    reinterpret_cast<void (*)(int)>(fn)(sig);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  --t_local.handlers_running;
  t_local.signal_over_shim = saved;
}

bool IsTrampoline(uintptr_t fn) { return fn == reinterpret_cast<uintptr_t>(&Trampoline); }

// A handler function (not SIG_DFL, SIG_IGN, SIG_HOLD or SIG_ERR).
bool IsFunction(uintptr_t fn) { return fn > 2 && fn != reinterpret_cast<uintptr_t>(SIG_ERR); }

struct Saved {
  uintptr_t fn;
  bool siginfo;
};

Saved LoadProgram(int sig) {
  return {g_program[sig].fn.load(std::memory_order_relaxed), g_program[sig].siginfo.load(std::memory_order_relaxed)};
}

void StoreProgram(int sig, Saved h) {
  g_program[sig].siginfo.store(h.siginfo, std::memory_order_relaxed);
  g_program[sig].fn.store(h.fn, std::memory_order_release);
}

SigactionFn RealSigaction() {
  SigactionFn f = g_real_sigaction.load(std::memory_order_acquire);
  if (!f) {
    f = reinterpret_cast<SigactionFn>(LookupNext("sigaction"));
    g_real_sigaction.store(f, std::memory_order_release);
  }
  return f;
}

long Tid() { return syscall(SYS_gettid); }

void OnFatalSignal(int sig, siginfo_t* info, void* context);

struct sigaction HandlerAction() {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = OnFatalSignal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  // While it runs, every other handled signal waits, and a fault inside it (the same signals,
  // blocked) is fatal at once: no recursion, no loop.
  sigemptyset(&sa.sa_mask);
  for (int s : kFatal) sigaddset(&sa.sa_mask, s);
  return sa;
}

bool IsHandler(void* fn) { return fn == reinterpret_cast<void*>(&OnFatalSignal); }

// What the program would have seen without us.
void AsProgramSees(struct sigaction* old) {
  if (!old || !IsHandler(reinterpret_cast<void*>(old->sa_sigaction))) return;
  memset(old, 0, sizeof(*old));
  old->sa_handler = SIG_DFL;
}

// A hardware fault: returning re-executes the instruction, which faults again under SIG_DFL.
bool IsFault(int sig, const siginfo_t* info) {
  return info && info->si_code > 0 && (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE);
}

// Sent by this process to itself with raise, abort or pthread_kill: it cannot be held back (abort
// restores SIG_DFL and raises again when the handler returns).
bool SentBySelf(const siginfo_t* info) { return info && info->si_code == SI_TKILL && info->si_pid == getpid(); }

void Unblock(uint64_t signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int s = 1; s < 64; ++s) {
    if ((signals >> s) & 1) sigaddset(&set, s);
  }
  syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &set, nullptr, _NSIG / 8);
}

// The default action, as if the handler had never been there.
void DieOf(int sig, siginfo_t* info) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  if (SigactionFn real = RealSigaction()) real(sig, &dfl, nullptr);
  if (IsFault(sig, info)) return;
  // Sent again with its original siginfo (the core dump's), then let through.
  pid_t pid = getpid();
  long tid = Tid();
  if (!info || syscall(SYS_rt_tgsigqueueinfo, pid, tid, sig, info) != 0) syscall(SYS_tgkill, pid, tid, sig);
  Unblock(uint64_t{1} << sig);
  syscall(SYS_exit_group, 128 + sig);  // not reached: every handled signal ends the process
}

// The thread was inside the shim, maybe halfway through a record: block the signal in this thread
// until it leaves (LeaveShim), and queue it for the process again, where any other thread takes it.
void HoldBack(int sig, siginfo_t* info, ucontext_t* uc) {
  sigaddset(&uc->uc_sigmask, sig);
  __atomic_fetch_or(&t_local.deferred_signals, uint64_t{1} << sig, __ATOMIC_RELAXED);
  pid_t pid = getpid();
  if (!info || syscall(SYS_rt_sigqueueinfo, pid, sig, info) != 0) syscall(SYS_kill, pid, sig);
}

// The first thread here ends the trace; any other waits for it to end the process.
void FinishOnce() {
  long self = Tid();
  long none = 0;
  if (g_finisher.compare_exchange_strong(none, self)) {
    g_signal_exit.store(true);
    FinishTrace();
    return;
  }
  if (none == self) return;
  struct timespec ms = {0, 1000000};
  for (int i = 0; i < 10000; ++i) syscall(SYS_nanosleep, &ms, nullptr);
}

void OnFatalSignal(int sig, siginfo_t* info, void* context) {
  int saved_errno = errno;
  Mode mode = g_mode.load();
  if ((TraceActive(mode) || mode == Mode::kWriteThrough) && !InVforkChild()) {
    if (t_local.in_hook && !IsFault(sig, info) && !SentBySelf(info)) {
      HoldBack(sig, info, static_cast<ucontext_t*>(context));
      errno = saved_errno;
      return;
    }
    FinishOnce();
  }
  DieOf(sig, info);
  errno = saved_errno;
}

}  // namespace

void ReleaseDeferredSignals() {
  // Outside the shim now: no handler sets a bit until the merge enters it again.
  if (t_local.deferred_signals & kNestedEventsPending) MergeNestedEvents();
  uint64_t held = t_local.deferred_signals & ~kNestedEventsPending;
  t_local.deferred_signals = 0;
  if (held) Unblock(held);
}

void InstallFatalSignalHandlers() {
  SigactionFn real = RealSigaction();
  if (!real) return;
  int control = GetOptions().control_signal;
  uint64_t managed = 0;
  for (int sig : kFatal) {
    if (sig != control) managed |= uint64_t{1} << sig;
  }
  DispositionLock lock;
  g_managed.store(managed, std::memory_order_relaxed);
  struct sigaction ours = HandlerAction();
  for (int sig : kFatal) {
    struct sigaction current;
    if (Managed(sig) && real(sig, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
      real(sig, &ours, nullptr);
    }
  }
}

int InterposeSigaction(int sig, const struct sigaction* act, struct sigaction* old, SigactionFn real) {
  if (!real) {
    errno = ENOSYS;
    return -1;
  }
  if (sig <= 0 || sig >= kSignals) return real(sig, act, old);
  DispositionLock lock;
  Saved previous = LoadProgram(sig);
  struct sigaction ours;
  bool wrapped = false;
  auto fn = act ? reinterpret_cast<uintptr_t>(act->sa_sigaction) : 0;
  if (act && IsFunction(fn)) {
    wrapped = true;
    // The program's handler runs through the trampoline, with the program's mask and flags.
    ours = *act;
    ours.sa_sigaction = Trampoline;
    ours.sa_flags |= SA_SIGINFO;
    StoreProgram(sig, {fn, (act->sa_flags & SA_SIGINFO) != 0});
    act = &ours;
  } else if (act && act->sa_handler == SIG_DFL && Managed(sig)) {
    ours = HandlerAction();
    act = &ours;
  }
  int rc = real(sig, act, old);
  if (rc != 0 && wrapped) StoreProgram(sig, previous);
  if (rc == 0 && old && IsTrampoline(reinterpret_cast<uintptr_t>(old->sa_sigaction))) {
    old->sa_sigaction = reinterpret_cast<void (*)(int, siginfo_t*, void*)>(previous.fn);
    if (!previous.siginfo) old->sa_flags &= ~SA_SIGINFO;
  }
  if (rc == 0) AsProgramSees(old);
  return rc;
}

SignalHandler InterposeSignal(int sig, SignalHandler handler, SignalHandler (*real)(int, SignalHandler)) {
  if (!real) {
    errno = ENOSYS;
    return SIG_ERR;
  }
  if (sig <= 0 || sig >= kSignals) return real(sig, handler);
  DispositionLock lock;
  Saved saved = LoadProgram(sig);
  SignalHandler previous = real(sig, handler);
  SigactionFn sa = RealSigaction();
  if (previous != SIG_ERR && handler == SIG_DFL && Managed(sig)) {
    // The function's own work done (sigset also unblocks), ours takes SIG_DFL's place again.
    struct sigaction ours = HandlerAction();
    if (sa) sa(sig, &ours, nullptr);
  } else if (previous != SIG_ERR && sa && IsFunction(reinterpret_cast<uintptr_t>(handler))) {
    // The same handler with the flags the function chose, through the trampoline.
    struct sigaction now;
    if (sa(sig, nullptr, &now) == 0 && now.sa_handler == handler) {
      StoreProgram(sig, {reinterpret_cast<uintptr_t>(handler), false});
      now.sa_sigaction = Trampoline;
      now.sa_flags |= SA_SIGINFO;
      sa(sig, &now, nullptr);
    }
  }
  if (IsTrampoline(reinterpret_cast<uintptr_t>(previous))) return reinterpret_cast<SignalHandler>(saved.fn);
  return IsHandler(reinterpret_cast<void*>(previous)) ? SIG_DFL : previous;
}

}  // namespace allocprof::shim
