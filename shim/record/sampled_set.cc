#include "record/sampled_set.h"

#include <sys/mman.h>

#include <iterator>

namespace allocprof::shim {

namespace {
constexpr size_t kPageBytes = 4096;  // the smallest page; a larger one is touched more than once
}  // namespace

bool SampledSet::Init() {
  // Every page of the dense arrays is written once here, so that the fast free's first read of a
  // page does not map the zero page, which an insert's first write would then have to replace with
  // a TLB flush on every core (see Insert).
  for (size_t i = 0; i < kBuckets; i += kPageBytes) used_[i].fetch_or(0, std::memory_order_relaxed);
  used_[kBuckets - 1].fetch_or(0, std::memory_order_relaxed);
  groups_[0].fetch_add(0, std::memory_order_relaxed);
  groups_[std::size(groups_) - 1].fetch_add(0, std::memory_order_relaxed);
  void* mem = mmap(nullptr, kBuckets * sizeof(Line), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) return false;
  lines_ = static_cast<Line*>(mem);
  return true;
}

void SampledSet::Insert(uintptr_t addr) {
  size_t b = BucketOf(addr);
  std::atomic<uint16_t>& group = groups_[GroupOf(b)];
  group.fetch_add(1, std::memory_order_acq_rel);
  // An overflow keeps the group's count for good, once per line.
  auto overflow = [&] {
    if (used_[b].fetch_or(kOverflowed, std::memory_order_release) & kOverflowed)
      group.fetch_sub(1, std::memory_order_release);
  };
  if (!lines_) return overflow();
  Line& line = lines_[b];
  uint8_t used = used_[b].load(std::memory_order_relaxed);
  for (int i = 0; i < kSlots; ++i) {
    // Still there: its free was never seen (freed behind the shim's back); keep the one entry.
    if ((used & (1u << i)) && line.addr[i].load(std::memory_order_relaxed) == addr) {
      group.fetch_sub(1, std::memory_order_release);
      return;
    }
  }
  // A free slot is found from the used bits, not by reading the line: the first touch of a line's
  // page is then this CAS, a write, which maps a fresh page. A read first would map the shared
  // zero page, and the write after it would replace that page and flush the TLB of every core the
  // program runs on, an interrupt each (perf: ~5% of a sampled churn run's CPU). A slot whose bit
  // is clear but that is still being filled or emptied makes the CAS fail, and the next is tried.
  for (int i = 0; i < kSlots; ++i) {
    uintptr_t expected = 0;
    if (!(used & (1u << i)) && line.addr[i].compare_exchange_strong(expected, addr, std::memory_order_acq_rel)) {
      used_[b].fetch_or(static_cast<uint8_t>(1u << i), std::memory_order_release);
      return;
    }
  }
  overflow();
}

SampledSet::Removal SampledSet::RemoveSlow(size_t b, uintptr_t addr, uint8_t used) {
  if (lines_) {
    Line& line = lines_[b];
    for (int i = 0; i < kSlots; ++i) {
      if (!(used & (1u << i)) || line.addr[i].load(std::memory_order_relaxed) != addr) continue;
      // Clear the bit first: once the slot is 0 another thread may fill it and set the bit again.
      used_[b].fetch_and(static_cast<uint8_t>(~(1u << i)), std::memory_order_acq_rel);
      line.addr[i].store(0, std::memory_order_release);
      groups_[GroupOf(b)].fetch_sub(1, std::memory_order_release);
      return Removal::kRemoved;
    }
  }
  return (used & kOverflowed) ? Removal::kMaybe : Removal::kAbsent;
}

}  // namespace allocprof::shim
