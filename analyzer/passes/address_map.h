// A hash map from heap addresses to small values, for the live set: open addressing with linear
// probing and backward-shift deletion (no tombstones), keyed by the address itself. Heap addresses
// are 16-byte aligned and dense, so a multiplicative hash of addr >> 4 spreads them well; this
// is several times cheaper per operation than a general-purpose map, and the live set is touched
// twice per event. Address 0 is reserved as "empty" (the analyzer never stores it).
//
// Keys and values live in two arrays: probing and the backward shift of an erase read only keys,
// eight to a cache line, and a lookup touches one value line. (One array of key+value slots made
// every probe step a 40-byte stride: the heap pass's free was a fifth of the analyzer's time.)
// The table is at most half full: an erase shifts back the rest of its probe run, and at up to
// three quarters full those runs made the erase the heap pass's costliest step (churn trace: the
// analysing thread's CPU 1.01-1.10 s at 3/4, 0.78-0.80 s at 1/2; the slots take 80-160 bytes
// per live block instead of 53-107).
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
    if ((size_ + 1) * 2 > keys_.size()) Rehash(keys_.size() * 2);
    size_t i = Home(addr);
    for (;;) {
      uint64_t k = keys_[i];
      if (k == addr) return {&values_[i], false};
      if (k == 0) {
        keys_[i] = addr;
        values_[i] = value;
        ++size_;
        return {&values_[i], true};
      }
      i = (i + 1) & mask_;
    }
  }

  V* Find(uint64_t addr) {
    for (size_t i = Home(addr);; i = (i + 1) & mask_) {
      uint64_t k = keys_[i];
      if (k == addr) return &values_[i];
      if (k == 0) return nullptr;
    }
  }

  // Starts loading the cache line where a lookup of `addr` begins, for a lookup a little later.
  void Prefetch(uint64_t addr) const { __builtin_prefetch(&keys_[Home(addr)]); }
  // The same for the value a lookup will most likely find (its home slot's).
  void PrefetchValue(uint64_t addr) const { __builtin_prefetch(&values_[Home(addr)]); }

  // Removes the entry `value` (a pointer Find returned) points into.
  void Erase(V* value) {
    size_t hole = static_cast<size_t>(value - values_.data());
    // Backward-shift: pull later entries of the probe run into the hole.
    for (size_t i = (hole + 1) & mask_;; i = (i + 1) & mask_) {
      uint64_t k = keys_[i];
      if (k == 0) break;
      size_t home = Home(k);
      bool movable = hole <= i ? (home <= hole || home > i) : (home <= hole && home > i);
      if (movable) {
        keys_[hole] = k;
        values_[hole] = values_[i];
        hole = i;
      }
    }
    keys_[hole] = 0;
    --size_;
  }

  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (size_t i = 0; i < keys_.size(); ++i) {
      if (keys_[i]) fn(keys_[i], values_[i]);
    }
  }
  template <typename Fn>
  void ForEachMutable(Fn&& fn) {
    for (size_t i = 0; i < keys_.size(); ++i) {
      if (keys_[i]) fn(keys_[i], values_[i]);
    }
  }

 private:
  size_t Home(uint64_t addr) const { return static_cast<size_t>(((addr >> 4) * 0x9e3779b97f4a7c15ull) >> shift_); }

  void Rehash(size_t capacity) {
    std::vector<uint64_t> old_keys;
    std::vector<V> old_values;
    old_keys.swap(keys_);
    old_values.swap(values_);
    keys_.assign(capacity, 0);
    values_.assign(capacity, V{});
    mask_ = capacity - 1;
    shift_ = 64 - __builtin_ctzll(capacity);
    size_ = 0;
    for (size_t i = 0; i < old_keys.size(); ++i) {
      if (old_keys[i]) TryEmplace(old_keys[i], old_values[i]);
    }
  }

  std::vector<uint64_t> keys_;
  std::vector<V> values_;
  size_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_ADDRESS_MAP_H_
