#include "runtime/options.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "allocprof/units.h"
#include "runtime/raw_syscalls.h"
#include "runtime/stderr_log.h"

extern char** environ;

namespace allocprof::shim {
namespace {

Options g_options = {
    .output = {0},
    .unwind = format::UnwindMode::kLibunwind,
    .max_depth = 64,
    .buffer_bytes = 128u << 10,
    .flush_interval_ms = 200,
    .compression_level = 1,
    .root_pid = 0,
    .follow = true,
    .quiet = false,
    .fail_write_after = 0,
    .start_after_ns = 0,
    .stop_after_ns = 0,
    .start_at_mark = {0},
    .start_paused = false,
    .control = false,
    .control_signal = 0,
    .sample_bytes = 0,
    .sample_seed = 0,
    .sample_seed_set = false,
};

// Environment copy for the rare case that environ is not yet set when the first allocation arrives.
char g_proc_environ[64 << 10];
char** g_option_entries = nullptr;  // SetOptionEntries

bool StartsWith(const char* s, const char* prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

bool ParseUint(const char* text, uint64_t* out) {
  uint64_t bytes;
  if (!units::ParseByteSize(text, &bytes)) return false;
  *out = bytes;
  return true;
}

void ApplyOption(const char* entry) {
  const char* eq = strchr(entry, '=');
  if (!eq) return;
  const char* value = eq + 1;
  size_t name_len = static_cast<size_t>(eq - entry);
  auto is = [&](const char* name) { return strlen(name) == name_len && memcmp(entry, name, name_len) == 0; };
  uint64_t n = 0;
  if (is("ALLOCPROF_OUTPUT")) {
    size_t len = strlen(value);
    if (len < sizeof(g_options.output))
      memcpy(g_options.output, value, len + 1);
    else
      LogError("ALLOCPROF_OUTPUT is too long; using the default name");
  } else if (is("ALLOCPROF_UNWIND")) {
    if (strcmp(value, "fp") == 0)
      g_options.unwind = format::UnwindMode::kFramePointer;
    else if (strcmp(value, "none") == 0)
      g_options.unwind = format::UnwindMode::kNone;
    else if (strcmp(value, "libunwind") == 0)
      g_options.unwind = format::UnwindMode::kLibunwind;
    else
      LogError("ALLOCPROF_UNWIND must be libunwind, fp or none; using libunwind");
  } else if (is("ALLOCPROF_DEPTH")) {
    if (ParseUint(value, &n) && n >= 1 && n <= format::kMaxStackDepth)
      g_options.max_depth = static_cast<uint32_t>(n);
    else
      LogError("ALLOCPROF_DEPTH must be 1..1024; using 64");
  } else if (is("ALLOCPROF_BUFFER")) {
    if (ParseUint(value, &n) && n >= (16u << 10) && n <= (8u << 20))
      g_options.buffer_bytes = static_cast<uint32_t>(n);
    else
      LogError("ALLOCPROF_BUFFER must be 16KiB..8MiB; using 128KiB");
  } else if (is("ALLOCPROF_FLUSH_MS")) {
    // 0: no flush thread (buffers go out when full and at exit).
    if (ParseUint(value, &n) && n <= 60000) g_options.flush_interval_ms = static_cast<uint32_t>(n);
  } else if (is("ALLOCPROF_ZSTD_LEVEL")) {
    // Negative levels are zstd's fast modes.
    bool negative = value[0] == '-';
    if (ParseUint(value + negative, &n) && n <= (negative ? 50u : 19u)) {
      g_options.compression_level = negative ? -static_cast<int>(n) : static_cast<int>(n);
    }
  } else if (is("ALLOCPROF_ROOT_PID")) {
    if (ParseUint(value, &n)) g_options.root_pid = static_cast<int>(n);
  } else if (is("ALLOCPROF_FOLLOW")) {
    g_options.follow = strcmp(value, "0") != 0;
  } else if (is("ALLOCPROF_QUIET")) {
    g_options.quiet = strcmp(value, "1") == 0;
  } else if (is("ALLOCPROF_START_AFTER") || is("ALLOCPROF_STOP_AFTER")) {
    uint64_t ns;
    if (!units::ParseDuration(value, &ns)) {
      LogError3("ignored, not a duration (e.g. 10s, 500ms): ", entry, "");
    } else if (is("ALLOCPROF_START_AFTER")) {
      g_options.start_after_ns = ns;
    } else {
      g_options.stop_after_ns = ns;
    }
  } else if (is("ALLOCPROF_START_AT_MARK")) {
    size_t len = strlen(value);
    if (len > 0 && len < sizeof(g_options.start_at_mark))
      memcpy(g_options.start_at_mark, value, len + 1);
    else
      LogError("ALLOCPROF_START_AT_MARK must name a mark of 1..256 bytes; ignored");
  } else if (is("ALLOCPROF_START_PAUSED")) {
    g_options.start_paused = strcmp(value, "1") == 0;
  } else if (is("ALLOCPROF_CONTROL")) {
    g_options.control = strcmp(value, "1") == 0;
  } else if (is("ALLOCPROF_CONTROL_SIGNAL")) {
    int sig = units::ControlSignalNumber(value);
    if (sig > 0)
      g_options.control_signal = sig;
    else
      LogError3("ignored, not a signal name or number: ", entry, "");
  } else if (is("ALLOCPROF_SAMPLE")) {
    // 0 keeps full tracing; the upper bound keeps every weight 1/p within 32 bits.
    if (ParseUint(value, &n) && n <= (uint64_t{1} << 30))
      g_options.sample_bytes = n;
    else
      LogError("ALLOCPROF_SAMPLE must be 0..1GiB; recording every allocation");
  } else if (is("ALLOCPROF_SAMPLE_SEED")) {
    if (ParseUint(value, &n)) {
      g_options.sample_seed = n;
      g_options.sample_seed_set = true;
    }
  } else if (is("ALLOCPROF_TEST_ENOSPC_AFTER")) {
    if (ParseUint(value, &n)) g_options.fail_write_after = n;
  }
}

}  // namespace

void SetOptionEntries(char** entries) { g_option_entries = entries; }

void LoadOptions() {
  if (char** entries = g_option_entries ? g_option_entries : environ) {
    for (char** e = entries; *e; ++e) {
      if (StartsWith(*e, "ALLOCPROF_")) ApplyOption(*e);
    }
  } else {
    int fd = RawOpen("/proc/self/environ", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = RawRead(fd, g_proc_environ, sizeof(g_proc_environ) - 1);
    RawClose(fd);
    if (n <= 0) return;
    g_proc_environ[n] = '\0';
    for (char* e = g_proc_environ; e < g_proc_environ + n; e += strlen(e) + 1) {
      if (StartsWith(e, "ALLOCPROF_")) ApplyOption(e);
    }
  }
  if (g_options.quiet) SetLogQuiet(true);
}

const Options& GetOptions() { return g_options; }

}  // namespace allocprof::shim
