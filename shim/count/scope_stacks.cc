#include "count/scope_stacks.h"

#include <string.h>

#include "allocprof/options.h"
#include "count/counters.h"
#include "count/frame_names.h"
#include "unwind/stack_capture.h"

namespace allocprof::shim {
namespace {

const char* const kOutcomeNames[] = {"hit", "fill", "exhausted", "oversize"};

// The pool-name index + 1 of `name`, 0 when no pool has it.
uint32_t PoolIdOf(const char* name, const allocprof_counters_t& names) {
  for (uint32_t i = 0; i < names.pool_count; ++i) {
    if (strncmp(names.pools[i].name, name, ALLOCPROF_POOL_NAME_MAX - 1) == 0) return i + 1;
  }
  return 0;
}

}  // namespace

void CaptureScopeAllocation(CountThread* c, format::EntryPoint entry, uint64_t size) {
  ScopeAllocation& a = c->ring[c->scope_seq % CountThread::kRingSize];
  a.seq = c->scope_seq++;
  a.size = size;
  a.entry = static_cast<uint8_t>(entry);
  a.outcome = -1;
  a.pool = c->rent_pool;  // tagged with the outcome when the rent ends
  uintptr_t frames[ScopeAllocation::kMaxFrames + kShimFrameSlack];
  int n = unw_backtrace(reinterpret_cast<void**>(frames), static_cast<int>(sizeof(frames) / sizeof(frames[0])));
  uint32_t depth = n > 0 ? TrimShimFrames(frames, static_cast<uint32_t>(n)) : 0;
  if (depth > ScopeAllocation::kMaxFrames) depth = ScopeAllocation::kMaxFrames;
  memcpy(a.frames, frames, depth * sizeof(uintptr_t));
  a.depth = depth;
}

size_t CountDescribe(uint64_t mark, const char* pool, const char* stop_at, char* out, size_t capacity) {
  options::TextBuffer text(out, capacity);
  CountThread* c = CountThreadSlow();
  if (!c || capacity == 0) return 0;
  // The pool names, as a snapshot holds them.
  allocprof_counters_t local;
  CountSnapshot(&local, sizeof(local), ALLOCPROF_SCOPE_THREAD);
  uint32_t pool_id = pool ? PoolIdOf(pool, local) : 0;

  uint64_t end = c->scope_seq;
  uint64_t first_kept = end > CountThread::kRingSize ? end - CountThread::kRingSize : 0;
  uint64_t from = mark > first_kept ? mark : first_kept;
  auto selected = [&](const ScopeAllocation& a) {
    return !pool || (pool_id != 0 && a.pool == pool_id && a.outcome > 0);
  };
  if (pool) {
    text.Add("fall-throughs of pool \"").Add(pool).Add("\" on this thread");
  } else {
    text.Add("allocations on this thread");
  }
  if (from > mark) {
    text.Add(" (of ").AddNumber(static_cast<int64_t>(end - mark)).Add(" allocations, the last ");
    text.AddNumber(CountThread::kRingSize).Add(" are kept)");
  }
  // Identical allocations (same entry point, size, pool outcome and stack) are written once.
  bool written[CountThread::kRingSize] = {};
  uint64_t shown = 0;
  FrameNamer namer;
  for (uint64_t s = from; s < end; ++s) {
    const ScopeAllocation& a = c->ring[s % CountThread::kRingSize];
    if (written[s % CountThread::kRingSize] || !selected(a)) continue;
    uint64_t same = 0;
    for (uint64_t t = s; t < end; ++t) {
      const ScopeAllocation& b = c->ring[t % CountThread::kRingSize];
      if (b.entry == a.entry && b.size == a.size && b.pool == a.pool && b.outcome == a.outcome && b.depth == a.depth &&
          memcmp(b.frames, a.frames, a.depth * sizeof(uintptr_t)) == 0) {
        written[t % CountThread::kRingSize] = true;
        ++same;
      }
    }
    text.Add(shown++ ? "" : ":\n").Add("  ");
    if (same > 1) text.AddNumber(static_cast<int64_t>(same)).Add(" x ");
    text.Add(format::kEntryPoints[a.entry].name).Add(" of ").AddNumber(static_cast<int64_t>(a.size)).Add(" bytes");
    if (a.pool != 0 && a.outcome > 0 && a.pool <= local.pool_count) {
      text.Add(", a fall-through (").Add(kOutcomeNames[a.outcome]).Add(") of pool \"");
      text.Add(local.pools[a.pool - 1].name).Add("\"");
    } else if (a.pool != 0 && a.outcome < 0) {
      text.Add(", inside a rent of pool \"").Add(a.pool <= local.pool_count ? local.pools[a.pool - 1].name : "?");
      text.Add("\" not yet ended");
    }
    text.Add("\n");
    for (uint32_t f = 0; f < a.depth; ++f) {
      char line[768];
      options::TextBuffer frame(line, sizeof(line));
      frame.Add("    #").AddNumber(f).Add(" ");
      if (!namer.Append(a.frames[f], stop_at, frame)) break;
      text.Add(line).Add("\n");
    }
  }
  if (shown == 0) text.Add(": none kept\n");
  return text.size();
}

}  // namespace allocprof::shim
