#include "unwind/stack_table.h"

#include <string.h>
#include <sys/mman.h>

#include <atomic>

#include "runtime/module_map.h"
#include "runtime/process_record.h"
#include "runtime/process_state.h"

namespace allocprof::shim {
namespace {

struct Entry {
  uint64_t hash;
  uint32_t id;
  std::atomic<uint32_t> generation;  // process generation whose trace holds the definition
  uint32_t depth;
  uint32_t epoch;  // g_module_epoch it was interned in: a stack never spans a module unload
  uintptr_t frames[];
};

constexpr uint64_t kSlotCount = 1ull << 22;   // 4M distinct stacks
constexpr uint64_t kArenaBytes = 4ull << 30;  // reserved, touched as used
constexpr uint32_t kMaxProbes = 64;

std::atomic<uint64_t>* g_slots = nullptr;  // arena offset of the entry, 0 = empty
uint8_t* g_arena = nullptr;
std::atomic<uint64_t> g_arena_used{64};  // offset 0 means "empty slot"
std::atomic<uint32_t> g_next_id{1};
std::atomic<bool> g_full_reported{false};

uint64_t HashFrames(const uintptr_t* frames, uint32_t depth, uint32_t epoch) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ depth ^ (uint64_t{epoch} << 32);
  for (uint32_t i = 0; i < depth; ++i) {
    h = (h ^ frames[i]) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
  }
  return h | 1;
}

void ReportFull() {
  if (!g_full_reported.exchange(true)) {
    WriteWarning("stack table full: later new call stacks are recorded without frames");
  }
}

Entry* EntryAt(uint64_t offset) { return reinterpret_cast<Entry*>(g_arena + offset); }

}  // namespace

bool InitStackTable() {
  void* slots = mmap(nullptr, kSlotCount * sizeof(uint64_t), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  void* arena = mmap(nullptr, kArenaBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (slots == MAP_FAILED || arena == MAP_FAILED) return false;
  g_slots = static_cast<std::atomic<uint64_t>*>(slots);
  g_arena = static_cast<uint8_t*>(arena);
  return true;
}

namespace {

// The last few stacks this thread interned: most allocations come from a handful of call sites in
// a row, and comparing against those is cheaper than hashing and probing. An entry counts only for
// the process generation it was interned in (its definition is in that generation's trace).
struct RecentStacks {
  static constexpr uint32_t kWays = 4;
  const Entry* entry[kWays];
  uint32_t generation[kWays];
  uint32_t next;
};
__thread RecentStacks t_recent __attribute__((tls_model("initial-exec")));

bool SameFrames(const uintptr_t* a, const uintptr_t* b, uint32_t depth) {
  for (uint32_t i = 0; i < depth; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

void RememberRecent(const Entry* e, uint32_t generation) {
  uint32_t way = t_recent.next++ % RecentStacks::kWays;
  t_recent.entry[way] = e;
  t_recent.generation[way] = generation;
}

}  // namespace

InternResult InternStack(const uintptr_t* frames, uint32_t depth) {
  if (!g_slots) return {0, false};
  uint32_t generation = g_generation.load(std::memory_order_relaxed);
  uint32_t epoch = g_module_epoch.load(std::memory_order_acquire);
  if (depth > 0) {
    for (uint32_t w = 0; w < RecentStacks::kWays; ++w) {
      const Entry* e = t_recent.entry[w];
      if (e && e->frames[0] == frames[0] && e->depth == depth && t_recent.generation[w] == generation &&
          e->epoch == epoch && SameFrames(e->frames + 1, frames + 1, depth - 1)) {
        return {e->id, false};
      }
    }
  }
  uint64_t hash = HashFrames(frames, depth, epoch);
  uint64_t mine = 0;  // our entry, once allocated
  for (uint32_t probe = 0; probe < kMaxProbes; ++probe) {
    std::atomic<uint64_t>& slot = g_slots[(hash + probe) & (kSlotCount - 1)];
    uint64_t offset = slot.load(std::memory_order_acquire);
    if (offset == 0) {
      if (mine == 0) {
        uint64_t bytes = (sizeof(Entry) + depth * sizeof(uintptr_t) + 7) & ~7ull;
        mine = g_arena_used.fetch_add(bytes, std::memory_order_relaxed);
        if (mine + bytes > kArenaBytes) {
          ReportFull();
          return {0, false};
        }
        Entry* e = EntryAt(mine);
        e->hash = hash;
        e->id = g_next_id.fetch_add(1, std::memory_order_relaxed);
        e->generation.store(generation, std::memory_order_relaxed);
        e->depth = depth;
        e->epoch = epoch;
        memcpy(e->frames, frames, depth * sizeof(uintptr_t));
      }
      if (slot.compare_exchange_strong(offset, mine, std::memory_order_release, std::memory_order_acquire)) {
        if (depth > 0) RememberRecent(EntryAt(mine), generation);
        return {EntryAt(mine)->id, true};
      }
      // Lost the race for this slot: `offset` now holds the winner; compare against it below.
    }
    Entry* e = EntryAt(offset);
    if (e->hash == hash && e->depth == depth && e->epoch == epoch &&
        memcmp(e->frames, frames, depth * sizeof(uintptr_t)) == 0) {
      uint32_t seen = e->generation.load(std::memory_order_relaxed);
      bool define =
          seen != generation && e->generation.compare_exchange_strong(seen, generation, std::memory_order_relaxed);
      if (depth > 0) RememberRecent(e, generation);
      return {e->id, define};
    }
  }
  ReportFull();
  return {0, false};
}

}  // namespace allocprof::shim
