// Counting mode's record of each live block's requested size, by address: what makes a free's
// bytes (and so live bytes) exact without asking the allocator, whose usable size is rounded up.
//
// A two-level radix over 16-byte granules (glibc's malloc alignment): the top level, one pointer
// per 16 MiB of address space, and leaves of one 32-bit entry per granule (size + 1; 0: unknown),
// both reserved with MAP_NORESERVE and committed page by page as entries are written. It costs
// 4 bytes per 16 bytes of the address range the heap occupies (less where blocks are large or
// sparse), and two dependent loads and a store per event. Blocks at addresses that are not
// 16-byte aligned (allocators other than glibc's may return 8-byte aligned small blocks) and
// blocks of 4 GiB or more go to a small locked side table instead; when that is full their frees
// count as frees of unknown blocks.
//
// Thread-safety: an entry is written by the thread that allocated the block and cleared by the one
// that frees it, before the block goes back to the allocator; the program's own hand-over of the
// pointer orders the two, as it orders every other use of the block. Leaves are published with a
// compare-and-swap. Nothing here allocates through the hooked functions.
#ifndef ALLOCPROF_SHIM_COUNT_SIZE_MAP_H_
#define ALLOCPROF_SHIM_COUNT_SIZE_MAP_H_

#include <stdint.h>

#include <atomic>

namespace allocprof::shim {

class SizeMap {
 public:
  static constexpr int kGranuleShift = 4;
  static constexpr int kLeafBits = 20;     // granules per leaf: 16 MiB of address space
  static constexpr int kAddressBits = 47;  // user space of x86-64 with 4-level paging
  static constexpr uint64_t kTopEntries = uint64_t{1} << (kAddressBits - kGranuleShift - kLeafBits);
  static constexpr uint32_t kInSideTable = UINT32_MAX;  // the entry's size is in the side table

  // Reserves the top level; false when that failed (every size is then unknown).
  bool Init();

  // Remembers `size` for the block at `addr` (a new allocation).
  __attribute__((always_inline)) void Set(uintptr_t addr, uint64_t size) {
    std::atomic<uint32_t>* e = Entry(addr, true);
    if (__builtin_expect(e != nullptr && size < kInSideTable - 1, 1))
      e->store(static_cast<uint32_t>(size + 1), std::memory_order_relaxed);
    else
      SetSlow(addr, size);
  }

  // Forgets the block at `addr` (a free); true with its size when it was known.
  __attribute__((always_inline)) bool Take(uintptr_t addr, uint64_t* size) {
    std::atomic<uint32_t>* e = Entry(addr, false);
    if (__builtin_expect(e == nullptr, 0)) return TakeSlow(addr, size);
    uint32_t v = e->load(std::memory_order_relaxed);
    if (__builtin_expect(v == 0 || v == kInSideTable, 0)) return TakeSlow(addr, size);
    e->store(0, std::memory_order_relaxed);
    *size = v - 1;
    return true;
  }

 private:
  // The entry of an aligned address, creating its leaf when asked; null for addresses that belong
  // to the side table, or when the leaf is missing (or could not be created).
  __attribute__((always_inline)) std::atomic<uint32_t>* Entry(uintptr_t addr, bool create) {
    if (__builtin_expect(
            (addr & ((uintptr_t{1} << kGranuleShift) - 1)) != 0 || (addr >> kAddressBits) != 0 || top_ == nullptr, 0))
      return nullptr;
    uintptr_t granule = addr >> kGranuleShift;
    std::atomic<uint32_t>* leaf = top_[granule >> kLeafBits].load(std::memory_order_acquire);
    if (__builtin_expect(leaf == nullptr, 0)) {
      if (!create) return nullptr;
      leaf = CreateLeaf(granule >> kLeafBits);
      if (leaf == nullptr) return nullptr;
    }
    return &leaf[granule & ((uintptr_t{1} << kLeafBits) - 1)];
  }

  std::atomic<uint32_t>* CreateLeaf(uintptr_t index);
  void SetSlow(uintptr_t addr, uint64_t size);
  bool TakeSlow(uintptr_t addr, uint64_t* size);

  std::atomic<std::atomic<uint32_t>*>* top_ = nullptr;
};

extern SizeMap g_size_map;

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_COUNT_SIZE_MAP_H_
