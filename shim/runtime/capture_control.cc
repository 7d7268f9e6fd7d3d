#include "runtime/capture_control.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "allocprof/trace_format.h"
#include "record/clock.h"
#include "runtime/options.h"
#include "runtime/process_record.h"
#include "runtime/raw_syscalls.h"
#include "runtime/stderr_log.h"
#include "runtime/trace_writer.h"

namespace allocprof::shim {

std::atomic<bool> g_record_frees_while_paused{false};

namespace {

using format::CaptureState;

std::atomic_flag g_transition_lock = ATOMIC_FLAG_INIT;
std::atomic<bool> g_ended{false};
std::atomic<bool> g_started_at_mark{false};
uint64_t g_start_deadline = 0;           // absolute ns, 0: none
Mode g_recording_mode = Mode::kTracing;  // what recording means here: kTracing or kSampling
uint64_t g_stop_deadline = 0;
bool g_control_wanted = false;

// The control FIFO: allocprof.<pid>.ctl in the trace's folder, owned by the process that made it.
int g_control_fd = -1;
pid_t g_control_owner = 0;
char g_control_path[4200];
bool g_control_failed = false;

// --control-signal: the handler wakes the ticker through this pipe to record what it changed.
int g_signal_pipe[2] = {-1, -1};

class TransitionLock {
 public:
  TransitionLock() {
    while (g_transition_lock.test_and_set(std::memory_order_acquire)) sched_yield();
  }
  ~TransitionLock() { g_transition_lock.clear(std::memory_order_release); }
};

// Moves g_mode from `mode` to `next` (recording or paused). Atomics only: the signal handler uses
// it too. Frees are wanted from the first time recording starts.
bool SwitchMode(Mode mode, Mode next) {
  if (next != Mode::kPaused) g_record_frees_while_paused.store(true);
  return g_mode.compare_exchange_strong(mode, next);
}

// Returns null on success, else why the change is impossible.
const char* SetCapture(CaptureState target, const char* reason) {
  TransitionLock lock;
  if (g_ended.load()) return "capture has ended (--stop-after)";
  Mode mode = g_mode.load();
  if (!TraceActive(mode)) return "tracing is not active in this process";
  Mode next = target == CaptureState::kRecording ? g_recording_mode : Mode::kPaused;
  if (target == CaptureState::kEnded) {
    g_ended.store(true);
    g_record_frees_while_paused.store(false);
  } else if (mode == next) {
    return nullptr;  // already so: no record
  }
  if (!SwitchMode(mode, next)) return "tracing stopped meanwhile";
  WriteCaptureRecord(static_cast<uint8_t>(target), reason);
  return nullptr;
}

// The handler switches the mode itself, so a program that raises the signal records (or not) from
// its next allocation on; the record of the change is left to the ticker (the handler can take no
// lock). Changes wait in a small ring; more than it holds between two ticks are counted, not kept.
// Threads handling the signal at once each reserve their own slot (fetch_add), and stamp it with
// its sequence number + 1 once filled, so the reader never takes a slot that is still being written.
struct SignalToggle {
  uint64_t time;
  uint8_t state;
  std::atomic<uint32_t> published;  // sequence number + 1 of the toggle it holds, once complete
};
constexpr uint32_t kToggleRing = 64;
SignalToggle g_toggles[kToggleRing];
std::atomic<uint32_t> g_toggles_written{0};  // slots reserved so far
uint32_t g_toggles_read = 0;

void OnControlSignal(int) {
  int saved = errno;
  if (!g_ended.load(std::memory_order_relaxed)) {
    Mode mode = g_mode.load();
    Mode next = IsTracing(mode) ? Mode::kPaused : g_recording_mode;
    if (TraceActive(mode)) {
      if (SwitchMode(mode, next)) {
        uint32_t slot = g_toggles_written.fetch_add(1, std::memory_order_relaxed);
        SignalToggle& t = g_toggles[slot % kToggleRing];
        t.published.store(0, std::memory_order_relaxed);  // a lapped reader must not take it half-written
        std::atomic_thread_fence(std::memory_order_release);
        t.time = NowNs();
        t.state = static_cast<uint8_t>(next != Mode::kPaused ? CaptureState::kRecording : CaptureState::kPaused);
        t.published.store(slot + 1, std::memory_order_release);
      }
    }
  }
  char byte = 1;
  if (g_signal_pipe[1] >= 0) (void)RawWrite(g_signal_pipe[1], &byte, 1);
  errno = saved;
}

bool MakeSignalPipe() {
  if (syscall(SYS_pipe2, g_signal_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
    g_signal_pipe[0] = g_signal_pipe[1] = -1;
    return false;
  }
  return true;
}

}  // namespace

void OpenControlChannel() {
  if (!g_control_wanted || g_control_fd >= 0 || g_control_failed) return;
  const char* trace = TracePath();
  const char* slash = strrchr(trace, '/');
  size_t dir_len = slash ? static_cast<size_t>(slash - trace) + 1 : 0;
  char pid[21];
  FormatUnsigned(static_cast<uint64_t>(getpid()), pid);
  if (dir_len + strlen(pid) + 32 > sizeof(g_control_path)) {
    g_control_failed = true;
    LogError("the trace's folder name is too long for a control channel; `allocprof ctl` cannot reach this process");
    return;
  }
  memcpy(g_control_path, trace, dir_len);
  g_control_path[dir_len] = '\0';
  strcat(g_control_path, "allocprof.");
  strcat(g_control_path, pid);
  strcat(g_control_path, ".ctl");
  // A FIFO left by a killed process that had our pid is stale: replace it, but nothing else.
  struct stat st;
  if (lstat(g_control_path, &st) == 0 && S_ISFIFO(st.st_mode)) unlink(g_control_path);
  if (mkfifo(g_control_path, 0600) != 0) {
    g_control_failed = true;
    LogError3("cannot create the control FIFO ", g_control_path, "; `allocprof ctl` cannot reach this process");
    return;
  }
  // Read-write, so the FIFO never reports end-of-file between two writers.
  g_control_fd = RawOpen(g_control_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (g_control_fd < 0) {
    g_control_failed = true;
    unlink(g_control_path);
    return;
  }
  g_control_owner = getpid();
}

namespace {

void Reply(const char* reply_path, const char* text) {
  if (!reply_path || !*reply_path) return;
  int fd = RawOpen(reply_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;  // the client gave up waiting
  (void)RawWrite(fd, text, strlen(text));
  RawClose(fd);
}

// One command: verb TAB reply-fifo [TAB argument].
void RunCommand(char* line) {
  char* fields[3] = {line, nullptr, nullptr};
  for (int i = 1; i < 3; ++i) {
    char* tab = fields[i - 1] ? strchr(fields[i - 1], '\t') : nullptr;
    if (!tab) break;
    *tab = '\0';
    fields[i] = tab + 1;
  }
  const char* verb = fields[0];
  const char* reply = fields[1];
  const char* error = nullptr;
  if (strcmp(verb, "start") == 0) {
    error = SetCapture(CaptureState::kRecording, "allocprof ctl start");
  } else if (strcmp(verb, "stop") == 0) {
    error = SetCapture(CaptureState::kPaused, "allocprof ctl stop");
  } else if (strcmp(verb, "mark") == 0 && fields[2] && *fields[2]) {
    WriteMarkRecord(fields[2]);
    CaptureOnMark(fields[2]);
  } else {
    error = "unknown command (start, stop or mark NAME)";
  }
  if (!error) {
    Reply(reply, "ok\n");
    return;
  }
  char text[160] = "error: ";
  strncat(text, error, sizeof(text) - 10);
  strcat(text, "\n");
  Reply(reply, text);
}

char g_command[8192];
size_t g_command_len = 0;

void RecordSignalTogglesLocked() {
  uint32_t written = g_toggles_written.load(std::memory_order_acquire);
  if (written - g_toggles_read > kToggleRing) g_toggles_read = written - kToggleRing;
  for (; g_toggles_read != written; ++g_toggles_read) {
    const SignalToggle& t = g_toggles[g_toggles_read % kToggleRing];
    // Not filled yet: its handler wakes the ticker once it is, and the next call takes it from here.
    // Overwritten (the ring lapped): the next call skips ahead.
    if (t.published.load(std::memory_order_acquire) != g_toggles_read + 1) break;
    uint64_t time = t.time;
    uint8_t state = t.state;
    std::atomic_thread_fence(std::memory_order_acquire);
    if (t.published.load(std::memory_order_relaxed) != g_toggles_read + 1) break;
    WriteCaptureRecordAt(time, state, "control signal");
  }
}

// Writes the records of state changes the control signal made since the last call. Exit can come
// from a signal handler that interrupted a state change: wait for it only so long.
void RecordSignalToggles() {
  int spins = 0;
  while (g_transition_lock.test_and_set(std::memory_order_acquire)) {
    if (++spins > 1000) return;
    sched_yield();
  }
  RecordSignalTogglesLocked();
  g_transition_lock.clear(std::memory_order_release);
}

}  // namespace

Mode InitialCaptureMode(uint64_t start_ns, Mode recording) {
  const Options& o = GetOptions();
  g_control_wanted = o.control;
  if (o.start_after_ns) g_start_deadline = start_ns + o.start_after_ns;
  if (o.stop_after_ns) g_stop_deadline = start_ns + o.stop_after_ns;
  bool paused = o.start_after_ns || o.start_at_mark[0] || o.start_paused;
  if (!paused) g_record_frees_while_paused.store(true);
  g_recording_mode = recording;
  return paused ? Mode::kPaused : recording;
}

void StartCaptureControl() {
  const Options& o = GetOptions();
  if (g_mode.load() == Mode::kPaused) {
    const char* why = o.start_paused       ? "start-paused"
                      : o.start_at_mark[0] ? "waiting for start-at-mark"
                                           : "start-after";
    WriteCaptureRecord(static_cast<uint8_t>(CaptureState::kPaused), why);
  } else if (g_stop_deadline || g_control_wanted || o.control_signal) {
    WriteCaptureRecord(static_cast<uint8_t>(CaptureState::kRecording), "capture control in use");
  }
  // Before the program's main runs: a client that learns our pid can reach us at once.
  OpenControlChannel();
  if (o.control_signal && MakeSignalPipe()) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = OnControlSignal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(o.control_signal, &sa, nullptr);
  }
}

bool CaptureNeedsTicker() { return g_start_deadline || g_stop_deadline || g_control_wanted || g_signal_pipe[0] >= 0; }

void CaptureOnMark(const char* name) {
  const char* wanted = GetOptions().start_at_mark;
  if (!wanted[0] || strcmp(wanted, name) != 0 || g_started_at_mark.exchange(true)) return;
  SetCapture(CaptureState::kRecording, "start-at-mark");
}

int CaptureMsUntilDeadline(uint64_t now) {
  uint64_t next = 0;
  if (g_start_deadline && g_mode.load() == Mode::kPaused && !g_ended.load()) next = g_start_deadline;
  if (g_stop_deadline && !g_ended.load() && (!next || g_stop_deadline < next)) next = g_stop_deadline;
  if (!next) return -1;
  if (next <= now) return 0;
  uint64_t ms = (next - now + 999999) / 1000000;
  return ms > 60000 ? 60000 : static_cast<int>(ms);
}

void CaptureRunDeadlines(uint64_t now) {
  if (g_start_deadline && now >= g_start_deadline) {
    g_start_deadline = 0;
    SetCapture(CaptureState::kRecording, "start-after");
  }
  if (g_stop_deadline && now >= g_stop_deadline) {
    g_stop_deadline = 0;
    SetCapture(CaptureState::kEnded, "stop-after");
  }
  RecordSignalToggles();
}

int ControlPollFd() { return g_control_fd; }

int SignalPollFd() { return g_signal_pipe[0]; }

void DrainSignalPipe() {
  char buf[64];
  while (g_signal_pipe[0] >= 0 && RawRead(g_signal_pipe[0], buf, sizeof(buf)) > 0) {
  }
}

void ControlOnReadable() {
  for (;;) {
    ssize_t n = RawRead(g_control_fd, g_command + g_command_len, sizeof(g_command) - 1 - g_command_len);
    if (n <= 0) break;
    g_command_len += static_cast<size_t>(n);
    char* start = g_command;
    char* end = g_command + g_command_len;
    while (char* newline = static_cast<char*>(memchr(start, '\n', static_cast<size_t>(end - start)))) {
      *newline = '\0';
      RunCommand(start);
      start = newline + 1;
    }
    g_command_len = static_cast<size_t>(end - start);
    memmove(g_command, start, g_command_len);
    if (g_command_len == sizeof(g_command) - 1) g_command_len = 0;  // a line this long is no command
  }
}

void CaptureAfterForkChild() {
  g_transition_lock.clear();
  if (g_control_fd >= 0) RawClose(g_control_fd);
  g_control_fd = -1;
  g_control_failed = false;
  g_command_len = 0;
  if (g_signal_pipe[0] >= 0) {
    RawClose(g_signal_pipe[0]);
    RawClose(g_signal_pipe[1]);
    MakeSignalPipe();
  }
}

void CloseControlChannel() {
  RecordSignalToggles();
  if (g_control_fd < 0 || g_control_owner != getpid()) return;
  unlink(g_control_path);
  RawClose(g_control_fd);
  g_control_fd = -1;
}

}  // namespace allocprof::shim
