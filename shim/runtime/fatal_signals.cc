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
#include "record/thread_state.h"
#include "runtime/options.h"
#include "runtime/process_state.h"

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
  t_local.deferred_signals |= uint64_t{1} << sig;
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
  uint64_t held = t_local.deferred_signals;
  t_local.deferred_signals = 0;
  Unblock(held);
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
  if (!Managed(sig)) return real(sig, act, old);
  DispositionLock lock;
  struct sigaction ours;
  if (act && act->sa_handler == SIG_DFL) {
    ours = HandlerAction();
    act = &ours;
  }
  int rc = real(sig, act, old);
  if (rc == 0) AsProgramSees(old);
  return rc;
}

SignalHandler InterposeSignal(int sig, SignalHandler handler, SignalHandler (*real)(int, SignalHandler)) {
  if (!real) {
    errno = ENOSYS;
    return SIG_ERR;
  }
  if (!Managed(sig)) return real(sig, handler);
  DispositionLock lock;
  SignalHandler previous = real(sig, handler);
  if (previous != SIG_ERR && handler == SIG_DFL) {
    // The function's own work done (sigset also unblocks), ours takes SIG_DFL's place again.
    struct sigaction ours = HandlerAction();
    if (SigactionFn sa = RealSigaction()) sa(sig, &ours, nullptr);
  }
  return IsHandler(reinterpret_cast<void*>(previous)) ? SIG_DFL : previous;
}

}  // namespace allocprof::shim
