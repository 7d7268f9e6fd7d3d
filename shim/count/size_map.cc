#include "count/size_map.h"

#include <sched.h>
#include <sys/mman.h>

namespace allocprof::shim {

SizeMap g_size_map;

namespace {

// Blocks the radix cannot hold: at addresses off the granule, or of 4 GiB and more. Rare (never
// with glibc's malloc below 4 GiB), so a spin lock and a linear scan do.
constexpr int kSideEntries = 1024;
struct SideEntry {
  uintptr_t addr;  // 0: free slot
  uint64_t size;
};
SideEntry g_side[kSideEntries];
std::atomic<bool> g_side_lock{false};

class SideLock {
 public:
  SideLock() {
    while (g_side_lock.exchange(true, std::memory_order_acquire)) sched_yield();
  }
  ~SideLock() { g_side_lock.store(false, std::memory_order_release); }
};

void* Reserve(uint64_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

bool SizeMap::Init() {
  if (top_) return true;
  top_ = static_cast<std::atomic<std::atomic<uint32_t>*>*>(Reserve(kTopEntries * sizeof(void*)));
  return top_ != nullptr;
}

std::atomic<uint32_t>* SizeMap::CreateLeaf(uintptr_t index) {
  constexpr uint64_t kLeafBytes = (uint64_t{1} << kLeafBits) * sizeof(uint32_t);
  auto* fresh = static_cast<std::atomic<uint32_t>*>(Reserve(kLeafBytes));
  if (fresh == nullptr) return nullptr;
  std::atomic<uint32_t>* expected = nullptr;
  if (top_[index].compare_exchange_strong(expected, fresh, std::memory_order_acq_rel)) return fresh;
  munmap(fresh, kLeafBytes);  // another thread created it first
  return expected;
}

void SizeMap::SetSlow(uintptr_t addr, uint64_t size) {
  std::atomic<uint32_t>* e = Entry(addr, true);
  SideLock lock;
  int free_slot = -1;
  for (int i = 0; i < kSideEntries; ++i) {
    if (g_side[i].addr == addr) free_slot = i;  // a stale entry of this address (unseen free)
    if (g_side[i].addr == 0 && free_slot < 0) free_slot = i;
  }
  if (free_slot >= 0) g_side[free_slot] = SideEntry{addr, size};
  // A large block in the radix is marked as living in the side table; unknown when it is full.
  if (e) e->store(free_slot >= 0 ? kInSideTable : 0, std::memory_order_relaxed);
}

bool SizeMap::TakeSlow(uintptr_t addr, uint64_t* size) {
  std::atomic<uint32_t>* e = Entry(addr, false);
  if (e) {
    if (e->load(std::memory_order_relaxed) != kInSideTable) return false;  // unknown block
    e->store(0, std::memory_order_relaxed);
  }
  SideLock lock;
  for (int i = 0; i < kSideEntries; ++i) {
    if (g_side[i].addr == addr) {
      *size = g_side[i].size;
      g_side[i].addr = 0;
      return true;
    }
  }
  return false;
}

}  // namespace allocprof::shim
