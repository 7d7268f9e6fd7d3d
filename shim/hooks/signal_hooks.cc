// The calls that set signal dispositions, interposed so that the shim's fatal-signal handler is
// never in the program's way (runtime/fatal_signals.h). Each forwards to the next definition of
// the same name (libc's, or another preloaded library's such as a JVM's libjsig).
#include <dlfcn.h>
#include <signal.h>

#include <atomic>

#include "hooks/real_functions.h"
#include "runtime/fatal_signals.h"

using namespace allocprof::shim;

namespace {

using SigactionFn = int (*)(int, const struct sigaction*, struct sigaction*);
using SignalFn = SignalHandler (*)(int, SignalHandler);

template <typename Fn>
Fn Next(std::atomic<Fn>* slot, const char* name) {
  Fn f = slot->load(std::memory_order_acquire);
  if (!f) {
    f = reinterpret_cast<Fn>(LookupNext(name));
    slot->store(f, std::memory_order_release);
  }
  return f;
}

std::atomic<SigactionFn> g_sigaction{nullptr}, g___sigaction{nullptr};
std::atomic<SignalFn> g_signal{nullptr}, g_bsd_signal{nullptr}, g_sysv_signal{nullptr}, g___sysv_signal{nullptr},
    g_sigset{nullptr};

}  // namespace

#define ALLOCPROF_EXPORT extern "C" __attribute__((visibility("default")))

ALLOCPROF_EXPORT int sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  return InterposeSigaction(sig, act, old, Next(&g_sigaction, "sigaction"));
}

ALLOCPROF_EXPORT int __sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  return InterposeSigaction(sig, act, old, Next(&g___sigaction, "__sigaction"));
}

ALLOCPROF_EXPORT SignalHandler signal(int sig, SignalHandler handler) {
  return InterposeSignal(sig, handler, Next(&g_signal, "signal"));
}

ALLOCPROF_EXPORT SignalHandler bsd_signal(int sig, SignalHandler handler) {
  return InterposeSignal(sig, handler, Next(&g_bsd_signal, "bsd_signal"));
}

ALLOCPROF_EXPORT SignalHandler sysv_signal(int sig, SignalHandler handler) {
  return InterposeSignal(sig, handler, Next(&g_sysv_signal, "sysv_signal"));
}

ALLOCPROF_EXPORT SignalHandler __sysv_signal(int sig, SignalHandler handler) {
  return InterposeSignal(sig, handler, Next(&g___sysv_signal, "__sysv_signal"));
}

ALLOCPROF_EXPORT SignalHandler sigset(int sig, SignalHandler disposition) {
  return InterposeSignal(sig, disposition, Next(&g_sigset, "sigset"));
}
