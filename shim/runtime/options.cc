#include "runtime/options.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "allocprof/options.h"
#include "record/clock.h"
#include "runtime/raw_syscalls.h"
#include "runtime/stderr_log.h"

extern char** environ;

namespace allocprof::shim {
namespace {

using options::Id;

static_assert(static_cast<int>(format::UnwindMode::kNone) == 0 &&
                  static_cast<int>(format::UnwindMode::kFramePointer) == 1 &&
                  static_cast<int>(format::UnwindMode::kLibunwind) == 2,
              "ALLOCPROF_UNWIND's choices are listed in UnwindMode's order");

static_assert(sizeof(Options::output) == options::SpecOf(Id::kOutput).max + 1);
static_assert(options::internal::ChoiceIndex(options::SpecOf(Id::kMode).choices, "count") == 1,
              "ALLOCPROF_MODE=count sets count_only");
static_assert(options::internal::ChoiceIndex(options::SpecOf(Id::kTestOffload).choices, "hold") == kOffloadHold,
              "ALLOCPROF_TEST_OFFLOAD's choices are listed in Options::offload's order");
static_assert(options::internal::ChoiceIndex(options::SpecOf(Id::kTestLock).choices, "exchange") == kLockExchange,
              "ALLOCPROF_TEST_LOCK's choices are listed in Options::lock_kind's order");
static_assert(options::internal::ChoiceIndex(options::SpecOf(Id::kTestClock).choices, "vdso") == kClockVdso,
              "ALLOCPROF_TEST_CLOCK's choices are listed in clock.h's order");
static_assert(sizeof(Options::start_at_mark) == options::SpecOf(Id::kStartAtMark).max + 1);

template <size_t kSize>
constexpr void CopyText(char (&field)[kSize], const char* text) {
  size_t n = 0;
  for (; text[n] && n + 1 < kSize; ++n) field[n] = text[n];
  field[n] = '\0';
}

// Puts one option's value (already checked against its range) where the shim reads it.
constexpr void StoreOption(Options& o, Id id, const options::Value& v) {
  switch (id) {
    case Id::kOutput:
      CopyText(o.output, v.text);
      break;
    case Id::kMode:
      o.count_only = v.number == 1;
      break;
    case Id::kUnwind:
      o.unwind = static_cast<format::UnwindMode>(v.number);
      break;
    case Id::kDepth:
      o.max_depth = static_cast<uint32_t>(v.number);
      break;
    case Id::kBuffer:
      o.buffer_bytes = static_cast<uint32_t>(v.number);
      break;
    case Id::kFlushMs:
      o.flush_interval_ms = static_cast<uint32_t>(v.number);
      break;
    case Id::kZstdLevel:
      o.compression_level = static_cast<int>(v.number);
      break;
    case Id::kSample:
      o.sample_bytes = static_cast<uint64_t>(v.number);
      break;
    case Id::kSampleSeed:
      o.sample_seed = static_cast<uint64_t>(v.number);
      o.sample_seed_set = true;
      break;
    case Id::kFollow:
      o.follow = v.number != 0;
      break;
    case Id::kQuiet:
      o.quiet = v.number != 0;
      break;
    case Id::kStartAfter:
      o.start_after_ns = static_cast<uint64_t>(v.number);
      break;
    case Id::kStartAtMark:
      CopyText(o.start_at_mark, v.text);
      break;
    case Id::kStopAfter:
      o.stop_after_ns = static_cast<uint64_t>(v.number);
      break;
    case Id::kStartPaused:
      o.start_paused = v.number != 0;
      break;
    case Id::kControl:
      o.control = v.number != 0;
      break;
    case Id::kControlSignal:
      o.control_signal = static_cast<int>(v.number);
      break;
    case Id::kRootPid:
      o.root_pid = static_cast<int>(v.number);
      break;
    case Id::kTestEnospcAfter:
      o.fail_write_after = static_cast<uint64_t>(v.number);
      break;
    case Id::kTestOffload:
      o.offload = static_cast<uint8_t>(v.number);
      break;
    case Id::kTestLock:
      o.lock_kind = static_cast<uint8_t>(v.number);
      break;
    case Id::kTestClock:
      o.clock_kind = static_cast<uint8_t>(v.number);
      break;
    case Id::kCount:
      break;
  }
}

// The table's defaults, computed at compile time (the shim reads options before its own
// constructors run, so g_options must need none).
constexpr Options DefaultOptions() {
  Options o{};
  for (const options::Spec& spec : options::kSpecs) {
    options::Value v;
    if (spec.fallback[0] && options::Parse(spec, spec.fallback, &v)) StoreOption(o, spec.id, v);
  }
  return o;
}

static_assert(DefaultOptions().max_depth == 64 && DefaultOptions().unwind == format::UnwindMode::kLibunwind,
              "the defaults come from allocprof/options.h");

// Environment copy for the rare case that environ is not yet set when the first allocation arrives.
char g_proc_environ[64 << 10];
char** g_option_entries = nullptr;  // SetOptionEntries

// Bad values, reported on stderr as they are found and written into the trace once it is open.
constexpr int kMaxRejected = 8;
char g_rejected[kMaxRejected][320];
int g_rejected_count = 0;

bool StartsWith(const char* s, const char* prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

void Reject(const options::Spec& spec, const char* value) {
  char line[320];
  options::TextBuffer text(line, sizeof(line));
  options::DescribeBadValue(spec, spec.variable, value, text);
  text.Add(spec.fallback[0] ? "; using the default, " : "; ignored").Add(spec.fallback);
  // Printed even under ALLOCPROF_QUIET=1: the trace is not what was asked for.
  LogError(line);
  if (g_rejected_count < kMaxRejected) memcpy(g_rejected[g_rejected_count++], line, text.size() + 1);
}

// One "NAME=value" entry; names that are no option of the shim's (ALLOCPROF_SHIM, read by the
// CLI) are left alone.
void ApplyOption(const char* entry) {
  const char* eq = strchr(entry, '=');
  if (!eq) return;
  const options::Spec* spec = options::FindVariable(entry, static_cast<size_t>(eq - entry));
  if (!spec) return;
  options::Value v;
  if (options::Parse(*spec, eq + 1, &v))
    StoreOption(g_options, spec->id, v);
  else
    Reject(*spec, eq + 1);
}

}  // namespace

constinit Options g_options = DefaultOptions();

void SetOptionEntries(char** entries) { g_option_entries = entries; }

void LoadOptions() {
  g_rejected_count = 0;
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

int RejectedOptionCount() { return g_rejected_count; }
const char* RejectedOption(int i) { return g_rejected[i]; }

}  // namespace allocprof::shim
