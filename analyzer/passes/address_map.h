// A hash map from heap addresses to small values, for the live set: open addressing with linear
// probing and backward-shift deletion (no tombstones), keyed by the address itself. Heap addresses
// are 16-byte aligned and dense, so a multiplicative hash of addr >> 4 spreads them well; this
// is several times cheaper per operation than a general-purpose map, and the live set is touched
// twice per event. Address 0 is reserved as "empty" (the analyzer never stores it).
// Thread-safety: none.
#ifndef ALLOCPROF_ANALYZER_ADDRESS_MAP_H_
#define ALLOCPROF_ANALYZER_ADDRESS_MAP_H_

#include <stddef.h>
#include <stdint.h>

#include <utility>
#include <vector>

namespace allocprof {

template <typename V>
class AddressMap {
 public:
  AddressMap() { Rehash(1024); }

  size_t size() const { return size_; }

  // Inserts or finds `addr`; returns the value and whether it was inserted.
  std::pair<V*, bool> TryEmplace(uint64_t addr, const V& value) {
    if ((size_ + 1) * 4 > slots_.size() * 3) Rehash(slots_.size() * 2);
    size_t i = Home(addr);
    for (;;) {
      Slot& s = slots_[i];
      if (s.key == addr) return {&s.value, false};
      if (s.key == 0) {
        s.key = addr;
        s.value = value;
        ++size_;
        return {&s.value, true};
      }
      i = (i + 1) & mask_;
    }
  }

  V* Find(uint64_t addr) {
    for (size_t i = Home(addr);; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.key == addr) return &s.value;
      if (s.key == 0) return nullptr;
    }
  }

  // Starts loading the cache line where a lookup of `addr` begins, for a lookup a little later.
  void Prefetch(uint64_t addr) const { __builtin_prefetch(&slots_[Home(addr)]); }

  // Removes the entry `value` (a pointer Find returned) points into.
  void Erase(V* value) {
    size_t hole = static_cast<size_t>(reinterpret_cast<Slot*>(reinterpret_cast<char*>(value) - offsetof(Slot, value)) -
                                      slots_.data());
    // Backward-shift: pull later entries of the probe run into the hole.
    for (size_t i = (hole + 1) & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.key == 0) break;
      size_t home = Home(s.key);
      bool movable = hole <= i ? (home <= hole || home > i) : (home <= hole && home > i);
      if (movable) {
        slots_[hole] = s;
        hole = i;
      }
    }
    slots_[hole].key = 0;
    --size_;
  }

  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const Slot& s : slots_) {
      if (s.key) fn(s.key, s.value);
    }
  }
  template <typename Fn>
  void ForEachMutable(Fn&& fn) {
    for (Slot& s : slots_) {
      if (s.key) fn(s.key, s.value);
    }
  }

 private:
  struct Slot {
    uint64_t key;
    V value;
  };

  size_t Home(uint64_t addr) const { return static_cast<size_t>(((addr >> 4) * 0x9e3779b97f4a7c15ull) >> shift_); }

  void Rehash(size_t capacity) {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(capacity, Slot{0, V{}});
    mask_ = capacity - 1;
    shift_ = 64 - __builtin_ctzll(capacity);
    size_ = 0;
    for (const Slot& s : old) {
      if (s.key) TryEmplace(s.key, s.value);
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_ADDRESS_MAP_H_
