// The pool and work-unit hooks of include/allocprof/pool.h: rents, returns and counts become timed
// records in the calling thread's stream, so the analyzer sees them in order with the allocations
// they enclose (a rent's fall-through allocations are the ones between its begin and end).
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <atomic>

#include "allocprof/pool.h"
#include "record/recorder.h"
#include "runtime/capture_control.h"
#include "runtime/process_record.h"
#include "runtime/trace_writer.h"

using namespace allocprof::shim;
using allocprof::format::RecordTag;

namespace {

std::atomic<uint32_t> g_next_pool{1};

// Counter names: a small table; a thread remembers its last name pointer, since callers pass the
// same string literal every time.
constexpr uint32_t kMaxCounters = 256;
pthread_mutex_t g_counter_mutex = PTHREAD_MUTEX_INITIALIZER;
char g_counter_names[kMaxCounters][64];
uint32_t g_counters = 0;
struct LastCounter {
  const char* name;
  uint32_t id;
};
__thread LastCounter t_last_counter __attribute__((tls_model("initial-exec")));

template <typename Fill>
void WriteProcessRecord(Fill&& fill) {
  SmallEncoder<4096> small(NowNs());
  fill(small.enc);
  uint8_t scratch[sizeof(allocprof::format::ChunkHeader) + 4096];
  WriteProcessChunk(small.enc, scratch, sizeof(scratch));
}

uint32_t CounterId(const char* unit) {
  if (t_last_counter.name == unit && unit) return t_last_counter.id;
  const char* name = unit ? unit : "units";
  pthread_mutex_lock(&g_counter_mutex);
  uint32_t id = 0;
  for (uint32_t i = 0; i < g_counters; ++i) {
    if (strncmp(g_counter_names[i], name, 63) == 0) id = i + 1;
  }
  bool fresh = false;
  if (id == 0 && g_counters < kMaxCounters) {
    strncpy(g_counter_names[g_counters], name, 63);
    id = ++g_counters;
    fresh = true;
  }
  pthread_mutex_unlock(&g_counter_mutex);
  if (fresh) {
    WriteProcessRecord([&](RecordEncoder& enc) {
      enc.Tag(RecordTag::kCounterName);
      enc.Uint(id);
      enc.String(name, 63);
    });
  }
  t_last_counter = LastCounter{unit, id};
  return id;
}

// Writes one timed record into the calling thread's stream: `write(enc, now, stack_id)`.
template <typename Write>
__attribute__((always_inline)) inline void Record(bool capture_stack, Write&& write, bool even_when_paused = false) {
  HookGuard guard;
  if (!guard.entered()) return;
  int saved_errno = errno;
  ThreadState* t = t_local.state;
  if (__builtin_expect(t == nullptr || !IsTracing(g_mode.load(std::memory_order_relaxed)), 0)) {
    t = StateForControlRecord(even_when_paused);
  }
  if (t) {
    InternResult stack{0, false};
    uint32_t depth = 0;
    if (capture_stack) {
      depth = CaptureStack(t);
      stack = InternCapturedStack(t, depth);
    }
    Lock(t);
    uint64_t now = NowNs();
    PrepareLocked(t, stack, depth, now, /*control=*/300);  // pool names and marks are <= 256 bytes
    write(t->enc, now, stack.id);
    Unlock(t);
    AfterControlRecord(t);
  }
  errno = saved_errno;
}

// Whether the process counts instead of tracing (count/counters.h); initialises it on first use.
bool Counting() {
  Mode mode = g_mode.load(std::memory_order_relaxed);
  if (__builtin_expect(mode == Mode::kUninitialized || mode == Mode::kInitializing, 0)) {
    EnsureProcessInitialized();
    mode = g_mode.load(std::memory_order_acquire);
  }
  return mode == Mode::kCounting;
}

}  // namespace

#define ALLOCPROF_EXPORT extern "C" __attribute__((visibility("default")))

ALLOCPROF_EXPORT uint32_t allocprof_hook_pool_register(const char* name, uint64_t max_block, uint32_t slots) {
  HookGuard guard;
  if (!guard.entered()) return 0;
  int saved_errno = errno;
  EnsureProcessInitialized();
  if (Counting()) {
    uint32_t id = CountRegisterPool(name);
    errno = saved_errno;
    return id;
  }
  uint32_t id = g_next_pool.fetch_add(1);
  WriteProcessRecord([&](RecordEncoder& enc) {
    enc.Tag(RecordTag::kPoolRegister);
    enc.Uint(id);
    enc.String(name ? name : "pool", 256);
    enc.Uint(max_block);
    enc.Uint(slots);
  });
  errno = saved_errno;
  return id;
}

ALLOCPROF_EXPORT void allocprof_hook_pool_rent_begin(uint32_t pool, uint64_t requested) {
  if (Counting()) return CountRentBegin(pool);
  Record(true, [&](RecordEncoder& enc, uint64_t now, uint32_t stack_id) {
    enc.Tag(RecordTag::kRentBegin);
    enc.Time(now);
    enc.Uint(pool);
    enc.Uint(requested);
    enc.Uint(stack_id);
  });
}

ALLOCPROF_EXPORT void allocprof_hook_pool_rent_end(uint32_t pool, uint64_t requested, uint64_t granted, int outcome) {
  if (Counting()) return CountRentEnd(pool, granted, outcome);
  Record(false, [&](RecordEncoder& enc, uint64_t now, uint32_t) {
    enc.Tag(RecordTag::kRentEnd);
    enc.Time(now);
    enc.Uint(pool);
    enc.Uint(requested);
    enc.Uint(granted);
    enc.Uint(static_cast<uint64_t>(outcome));
  });
}

ALLOCPROF_EXPORT void allocprof_hook_pool_return(uint32_t pool, uint64_t size, int outcome) {
  if (Counting()) return CountReturn(pool, outcome);
  // Kept returns are the common case and need no stack; a dropped one's stack says who dropped it.
  Record(outcome != ALLOCPROF_RETURN_KEPT, [&](RecordEncoder& enc, uint64_t now, uint32_t stack_id) {
    enc.Tag(RecordTag::kPoolReturn);
    enc.Time(now);
    enc.Uint(pool);
    enc.Uint(size);
    enc.Uint(static_cast<uint64_t>(outcome));
    enc.Uint(stack_id);
  });
}

ALLOCPROF_EXPORT void allocprof_hook_mark(const char* name) {
  if (Counting()) return;  // nothing to mark without a trace
  Record(
      false,
      [&](RecordEncoder& enc, uint64_t now, uint32_t) {
        enc.Tag(RecordTag::kMark);
        enc.Time(now);
        enc.String(name ? name : "", 256);
      },
      /*even_when_paused=*/true);
  HookGuard guard;
  if (guard.entered() && name) CaptureOnMark(name);
}

ALLOCPROF_EXPORT void allocprof_hook_count(const char* unit, uint64_t n) {
  if (Counting()) return;
  Record(false, [&](RecordEncoder& enc, uint64_t now, uint32_t) {
    uint32_t id = CounterId(unit);
    enc.Tag(RecordTag::kCount);
    enc.Time(now);
    enc.Uint(id);
    enc.Uint(n);
  });
}
