// The shim's options, listed once. The shim reads each from its ALLOCPROF_* variable (attached,
// from the option lines `allocprof attach` passes instead); `allocprof run` and `allocprof attach`
// offer them as flags with the help, range and default written here, and pass them on as those
// variables. Every reader parses and range-checks a value with the same code (Parse); what a bad
// one does depends on who finds it:
// - run and attach refuse to start (exit 64), naming the option, the valid range and the value,
//   for a flag and for a variable they inherit alike;
// - the shim, loaded into a program it must not stop, keeps the default and says so: one line on
//   stderr (even with ALLOCPROF_QUIET=1) and a warning in the trace.
//
// Header-only and constexpr, nothing allocates: the shim parses its options while the C runtime
// may still be initialising, and the defaults below are checked at compile time.
// Adding an option: a line in ALLOCPROF_OPTIONS, a field in shim/runtime/options.h and its case
// in StoreOption (shim/runtime/options.cc); run and attach need nothing more.
#ifndef ALLOCPROF_OPTIONS_H_
#define ALLOCPROF_OPTIONS_H_

#include <stddef.h>
#include <stdint.h>

#include "allocprof/units.h"

namespace allocprof::options {

enum class Kind : uint8_t {
  kText,      // any text of min..max bytes
  kChoice,    // one of the '|'-separated words of `choices`; its value is the word's index
  kSwitch,    // 0 or 1; as a flag it takes no value and sets the opposite of the default
  kInteger,   // decimal, min..max
  kBytes,     // a size (64KiB, 2M: units::ParseByteSize), min..max bytes
  kDuration,  // a duration (500ms, 10s: units::ParseDuration), min..max nanoseconds
  kSignal,    // a signal a program can spare (units::ControlSignalNumber); its value is the number
};

// Which command offers the option as a flag (`flag` below).
enum Use : uint8_t {
  kEnvOnly = 0,
  kRun = 1,
  kAttach = 2,
  // run, attach and test set the variable themselves, never from their own environment (a nested
  // `allocprof run` must not write its parent's trace file).
  kLauncherSets = 4,
  kTest = 8,
};

inline constexpr int64_t kUnbounded = INT64_MAX;

// X(id, variable, flag, use, kind, min, max, default, choices, help)
//   flag: "--depth", or "-o,--output" with its short alias first; nullptr: environment only.
//   default: spelled as a user would write it; "" when unset (the shim's field stays zero).
//   help: for --help, which adds the range, the default and the variable.
// clang-format off
#define ALLOCPROF_OPTIONS(X)                                                                                         \
  X(kOutput, "ALLOCPROF_OUTPUT", "-o,--output", kRun | kAttach | kLauncherSets, kText, 1, 4095, "", nullptr,        \
    "trace file (default allocprof.trace); forked children write FILE.PID")                                         \
  X(kUnwind, "ALLOCPROF_UNWIND", "--unwind", kRun | kAttach, kChoice, 0, 0, "libunwind", "none|fp|libunwind",       \
    "stack capture: libunwind (any code), fp (frame pointers: needs -fno-omit-frame-pointer) or none")              \
  X(kMode, "ALLOCPROF_MODE", nullptr, kLauncherSets, kChoice, 0, 0, "trace", "trace|count", "trace: write a trace "  \
    "(allocprof run); count: only count, for allocprof/budget.h, with no trace file (allocprof test)")              \
  X(kDepth, "ALLOCPROF_DEPTH", "--depth", kRun | kAttach | kTest, kInteger, 1, 1024, "64", nullptr,                 \
    "frames kept per stack")                                                                                        \
  X(kBuffer, "ALLOCPROF_BUFFER", "--buffer", kRun, kBytes, 16 << 10, 8 << 20, "128KiB", nullptr,                    \
    "per-thread buffer")                                                                                            \
  X(kFlushMs, "ALLOCPROF_FLUSH_MS", "--flush-ms", kRun | kAttach, kInteger, 0, 60000, "200", nullptr,               \
    "idle buffers are flushed this often, in milliseconds; 0 = only when full or at exit")                          \
  X(kZstdLevel, "ALLOCPROF_ZSTD_LEVEL", "--zstd-level", kRun, kInteger, -50, 19, "1", nullptr,                      \
    "compression level of trace chunks; 0 = none, negative = zstd's fast modes")                                    \
  X(kSample, "ALLOCPROF_SAMPLE", "--sample", kRun, kBytes, 0, 1 << 30, "", nullptr,                                 \
    "record allocations as a Poisson process over bytes with this mean interval, e.g. 512KiB (reports give "        \
    "estimates); 0 or unset: every allocation")                                                                     \
  X(kSampleSeed, "ALLOCPROF_SAMPLE_SEED", "--sample-seed", kRun, kInteger, 0, kUnbounded, "", nullptr,              \
    "seed of the sampling (default: different every run)")                                                          \
  X(kFollow, "ALLOCPROF_FOLLOW", "--no-follow", kRun, kSwitch, 0, 1, "1", nullptr,                                  \
    "do not trace programs that CMD execs")                                                                         \
  X(kQuiet, "ALLOCPROF_QUIET", "-q,--quiet", kRun | kTest, kSwitch, 0, 1, "0", nullptr,                             \
    "no messages from allocprof on stderr")                                                                         \
  X(kStartAfter, "ALLOCPROF_START_AFTER", "--start-after", kRun, kDuration, 0, kUnbounded, "", nullptr,             \
    "record only after this long, e.g. 10s (each process counts from its start)")                                   \
  X(kStartAtMark, "ALLOCPROF_START_AT_MARK", "--start-at-mark", kRun, kText, 1, 256, "", nullptr,                   \
    "record only after the program calls allocprof_mark(NAME)")                                                     \
  X(kStopAfter, "ALLOCPROF_STOP_AFTER", "--stop-after", kRun, kDuration, 0, kUnbounded, "", nullptr,                \
    "stop recording after this long, e.g. 60s (the trace ends cleanly at exit); 0 or unset: never")                 \
  X(kStartPaused, "ALLOCPROF_START_PAUSED", "--start-paused", kRun, kSwitch, 0, 1, "0", nullptr,                    \
    "start paused; `allocprof ctl PID start` starts recording (implies --control)")                                 \
  X(kControl, "ALLOCPROF_CONTROL", "--control", kRun, kSwitch, 0, 1, "0", nullptr,                                  \
    "open a control FIFO next to the trace for `allocprof ctl PID start|stop|mark NAME`")                           \
  X(kControlSignal, "ALLOCPROF_CONTROL_SIGNAL", "--control-signal", kRun, kSignal, 0, 0, "", nullptr,               \
    "toggle recording when the program receives this signal, e.g. SIGUSR2")                                         \
  X(kRootPid, "ALLOCPROF_ROOT_PID", nullptr, kLauncherSets, kInteger, 1, INT32_MAX, "", nullptr,                    \
    "the process whose trace takes the plain output name; later processes write FILE.PID")                          \
  X(kTestEnospcAfter, "ALLOCPROF_TEST_ENOSPC_AFTER", nullptr, kEnvOnly, kBytes, 0, kUnbounded, "", nullptr,         \
    "tests: the trace file behaves as if the disk were full after this many bytes")                                \
  X(kTestOffload, "ALLOCPROF_TEST_OFFLOAD", nullptr, kEnvOnly, kChoice, 0, 0, "on", "on|off|hold",                  \
    "tests: off compresses every chunk on the program's threads; hold keeps the offload thread from taking any, "   \
    "so each sealed chunk waits for its thread's next flush")                                                      \
  X(kTestLock, "ALLOCPROF_TEST_LOCK", nullptr, kEnvOnly, kChoice, 0, 0, "membarrier", "membarrier|exchange",         \
    "tests: exchange makes the owner of a thread's buffer take its lock with an atomic exchange, as where the "     \
    "kernel has no membarrier")                                                                                  \
  X(kTestClock, "ALLOCPROF_TEST_CLOCK", nullptr, kEnvOnly, kChoice, 0, 0, "auto", "auto|tsc|vdso",                  \
    "tests: tsc stamps events with the calibrated TSC wherever the CPU has rdtscp, whatever the kernel's "         \
    "clocksource; vdso always with clock_gettime; auto uses the TSC where it is invariant and the kernel's clock")
// clang-format on

enum class Id : uint8_t {
#define ALLOCPROF_OPTION_ID(id, variable, flag, use, kind, min, max, fallback, choices, help) id,
  ALLOCPROF_OPTIONS(ALLOCPROF_OPTION_ID)
#undef ALLOCPROF_OPTION_ID
      kCount
};
inline constexpr int kCount = static_cast<int>(Id::kCount);

struct Spec {
  Id id;
  const char* variable;
  const char* flag;
  uint8_t use;
  Kind kind;
  int64_t min, max;  // kInteger, kBytes, kDuration: the valid values; kText: the length in bytes
  const char* fallback;
  const char* choices;
  const char* help;
};

inline constexpr Spec kSpecs[] = {
#define ALLOCPROF_OPTION_SPEC(id, variable, flag, use, kind, min, max, fallback, choices, help) \
  {Id::id, variable, flag, use, Kind::kind, min, max, fallback, choices, help},
    ALLOCPROF_OPTIONS(ALLOCPROF_OPTION_SPEC)
#undef ALLOCPROF_OPTION_SPEC
};

constexpr const Spec& SpecOf(Id id) { return kSpecs[static_cast<int>(id)]; }

// A parsed value: `number` for every kind but kText (a switch's 0/1, a choice's index, a signal's
// number), `text` the text it was parsed from (kText's value; not copied).
struct Value {
  int64_t number = 0;
  const char* text = "";
};

namespace internal {

constexpr bool Same(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}

constexpr int64_t Length(const char* s) {
  int64_t n = 0;
  while (s[n]) ++n;
  return n;
}

// Index of `word` among the '|'-separated `choices`, -1 when absent.
constexpr int ChoiceIndex(const char* choices, const char* word) {
  int index = 0;
  for (const char* c = choices; *c; ++index) {
    const char* w = word;
    while (*c && *c != '|' && *c == *w) ++c, ++w;
    if ((*c == '|' || *c == '\0') && *w == '\0') return index;
    while (*c && *c != '|') ++c;
    if (*c == '|') ++c;
  }
  return -1;
}

}  // namespace internal

// Parses `text` as the option's value. False when it is malformed or out of range (the message is
// DescribeBadValue's).
constexpr bool Parse(const Spec& spec, const char* text, Value* out) {
  if (!text) return false;
  Value v{0, text};
  switch (spec.kind) {
    case Kind::kText: {
      int64_t length = internal::Length(text);
      if (length < spec.min || length > spec.max) return false;
      v.number = length;
      *out = v;
      return true;
    }
    case Kind::kChoice: {
      int index = internal::ChoiceIndex(spec.choices, text);
      if (index < 0) return false;
      v.number = index;
      *out = v;
      return true;
    }
    case Kind::kSwitch:
      if (!internal::Same(text, "0") && !internal::Same(text, "1")) return false;
      v.number = text[0] - '0';
      *out = v;
      return true;
    case Kind::kSignal:
      v.number = units::ControlSignalNumber(text);
      if (v.number == 0) return false;
      *out = v;
      return true;
    case Kind::kInteger:
      if (!units::ParseInteger(text, &v.number)) return false;
      break;
    case Kind::kBytes:
    case Kind::kDuration: {
      uint64_t n = 0;
      bool ok = spec.kind == Kind::kBytes ? units::ParseByteSize(text, &n) : units::ParseDuration(text, &n);
      if (!ok || n > uint64_t{INT64_MAX}) return false;
      v.number = static_cast<int64_t>(n);
      break;
    }
  }
  if (v.number < spec.min || v.number > spec.max) return false;
  *out = v;
  return true;
}

// The option whose variable is the first `name_length` bytes of `name`, or null.
constexpr const Spec* FindVariable(const char* name, size_t name_length) {
  for (const Spec& spec : kSpecs) {
    size_t i = 0;
    while (i < name_length && spec.variable[i] == name[i]) ++i;
    if (i == name_length && spec.variable[i] == '\0') return &spec;
  }
  return nullptr;
}

// The long form of the option's flag ("--output" of "-o,--output").
constexpr const char* LongFlag(const Spec& spec) {
  const char* flag = spec.flag;
  for (const char* p = spec.flag; p && *p; ++p) {
    if (*p == ',') flag = p + 1;
  }
  return flag;
}

// The table is well formed: ids in order, every default valid, flags where `use` says.
constexpr bool TableIsValid() {
  for (int i = 0; i < kCount; ++i) {
    const Spec& s = kSpecs[i];
    Value v;
    if (static_cast<int>(s.id) != i) return false;
    if (s.fallback[0] && !Parse(s, s.fallback, &v)) return false;
    if ((s.flag != nullptr) != ((s.use & (kRun | kAttach | kTest)) != 0)) return false;
    if ((s.kind == Kind::kChoice) != (s.choices != nullptr)) return false;
    if (s.kind == Kind::kSwitch && !s.fallback[0]) return false;  // a switch flag flips its default
  }
  return true;
}
static_assert(TableIsValid(), "ALLOCPROF_OPTIONS: an id out of order, a default outside its range, or a bad column");

// Appends to a fixed buffer, truncating; always NUL-terminated. No allocation (the shim uses it).
class TextBuffer {
 public:
  TextBuffer(char* data, size_t capacity) : data_(data), capacity_(capacity) {
    if (capacity_) data_[0] = '\0';
  }
  const char* c_str() const { return data_; }
  size_t size() const { return size_; }

  TextBuffer& Add(const char* s, size_t max_length = SIZE_MAX) {
    for (size_t i = 0; s[i] && i < max_length && size_ + 1 < capacity_; ++i) data_[size_++] = s[i];
    if (capacity_) data_[size_] = '\0';
    return *this;
  }
  TextBuffer& AddNumber(int64_t v) {
    char digits[24];
    int n = 0;
    uint64_t magnitude = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
    do {
      digits[n++] = static_cast<char>('0' + magnitude % 10);
      magnitude /= 10;
    } while (magnitude);
    if (v < 0) digits[n++] = '-';
    char text[24];
    for (int i = 0; i < n; ++i) text[i] = digits[n - 1 - i];
    text[n] = '\0';
    return Add(text);
  }
  // In the largest binary unit that divides it: 16KiB, 8MiB, 1GiB, 100B.
  TextBuffer& AddBytes(int64_t v) {
    static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB"};
    int unit = 0;
    while (v != 0 && unit < 3 && v % 1024 == 0) v /= 1024, ++unit;
    AddNumber(v);
    return v == 0 ? *this : Add(kUnits[unit]);
  }
  // In the largest unit that divides it: 500ms, 10s.
  TextBuffer& AddDuration(int64_t ns) {
    static constexpr struct {
      int64_t ns;
      const char* name;
    } kUnits[] = {{1000000000, "s"}, {1000000, "ms"}, {1000, "us"}, {1, "ns"}};
    for (const auto& u : kUnits) {
      if (ns % u.ns == 0) return AddNumber(ns / u.ns).Add(ns ? u.name : "");
    }
    return *this;
  }

 private:
  char* data_;
  size_t capacity_;
  size_t size_ = 0;
};

// What a valid value looks like: "a number in 1..1024", "a size in 16KiB..8MiB", "none, fp or
// libunwind", "0 or 1", "a duration such as 10s or 500ms", ...
inline void DescribeValid(const Spec& spec, TextBuffer& out) {
  auto range = [&](void (*add)(TextBuffer&, int64_t)) {
    add(out, spec.min);
    out.Add("..");
    add(out, spec.max);
  };
  auto number = [](TextBuffer& b, int64_t v) { b.AddNumber(v); };
  auto bytes = [](TextBuffer& b, int64_t v) { b.AddBytes(v); };
  auto duration = [](TextBuffer& b, int64_t v) { b.AddDuration(v); };
  switch (spec.kind) {
    case Kind::kText:
      out.Add("text of ");
      range(number);
      out.Add(" bytes");
      break;
    case Kind::kChoice: {
      // "a|b|c" as "a, b or c".
      const char* c = spec.choices;
      while (*c) {
        const char* end = c;
        while (*end && *end != '|') ++end;
        out.Add(c, static_cast<size_t>(end - c));
        if (!*end) break;
        const char* next = end + 1;
        bool last = true;
        for (const char* p = next; *p; ++p) last = last && *p != '|';
        out.Add(last ? " or " : ", ");
        c = next;
      }
      break;
    }
    case Kind::kSwitch:
      out.Add("0 or 1");
      break;
    case Kind::kInteger:
      out.Add("a number");
      if (spec.max != kUnbounded) {
        out.Add(" in ");
        range(number);
      } else {
        out.Add(" >= ").AddNumber(spec.min);
      }
      break;
    case Kind::kBytes:
      if (spec.max == kUnbounded) {
        out.Add("a size such as 64KiB");
      } else {
        out.Add("a size in ");
        range(bytes);
      }
      break;
    case Kind::kDuration:
      if (spec.max == kUnbounded) {
        out.Add("a duration such as 10s or 500ms");
      } else {
        out.Add("a duration in ");
        range(duration);
      }
      break;
    case Kind::kSignal:
      out.Add(
          "SIGUSR1, SIGUSR2, SIGHUP, SIGURG, SIGWINCH, SIGPWR (SIG optional) or a number in 1..64 other than "
          "SIGKILL, SIGSTOP, SIGSEGV and SIGBUS");
      break;
  }
}

// "<name> must be <DescribeValid> (got '<value>')"; long values are cut short.
inline void DescribeBadValue(const Spec& spec, const char* name, const char* value, TextBuffer& out) {
  out.Add(name).Add(" must be ");
  DescribeValid(spec, out);
  out.Add(" (got '").Add(value, 80).Add(internal::Length(value) > 80 ? "...')" : "')");
}

// The range and the default for --help: "1..1024, default 64", "default libunwind"; empty for
// switches and for options with neither.
inline void DescribeForHelp(const Spec& spec, TextBuffer& out) {
  if (spec.kind == Kind::kSwitch) return;
  bool range = spec.max != kUnbounded && (spec.kind == Kind::kInteger || spec.kind == Kind::kBytes);
  if (range && spec.kind == Kind::kInteger) out.AddNumber(spec.min).Add("..").AddNumber(spec.max);
  if (range && spec.kind == Kind::kBytes) out.AddBytes(spec.min).Add("..").AddBytes(spec.max);
  if (spec.fallback[0]) out.Add(range ? ", default " : "default ").Add(spec.fallback);
}

}  // namespace allocprof::options

#endif  // ALLOCPROF_OPTIONS_H_
