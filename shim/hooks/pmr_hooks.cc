// std::pmr::synchronized_pool_resource and unsynchronized_pool_resource profiled as pools without
// source changes. libstdc++'s vtables for them hold R_X86_64_64 relocations against the exported
// do_allocate/do_deallocate symbols, so the preloaded definitions below are what virtual calls
// reach; they report each allocation as a rent (a fall-through when upstream allocated inside it)
// and each deallocation as a return, then call libstdc++'s own implementation.
#include <dlfcn.h>
#include <stddef.h>

#include <atomic>
#include <memory_resource>

#include "allocprof/pool.h"
#include "hooks/real_functions.h"
#include "record/recorder.h"

using namespace allocprof::shim;

namespace {

using AllocateFn = void* (*)(void*, size_t, size_t);
using DeallocateFn = void (*)(void*, void*, size_t, size_t);

struct PmrPool {
  const char* name;
  const char* allocate_symbol;
  const char* deallocate_symbol;
  std::atomic<uint32_t> id{0};
  std::atomic<AllocateFn> allocate{nullptr};
  std::atomic<DeallocateFn> deallocate{nullptr};
};

PmrPool g_sync{"std::pmr::synchronized_pool_resource", "_ZNSt3pmr26synchronized_pool_resource11do_allocateEmm",
               "_ZNSt3pmr26synchronized_pool_resource13do_deallocateEPvmm"};
PmrPool g_unsync{"std::pmr::unsynchronized_pool_resource", "_ZNSt3pmr28unsynchronized_pool_resource11do_allocateEmm",
                 "_ZNSt3pmr28unsynchronized_pool_resource13do_deallocateEPvmm"};

void* Next(const char* symbol) {
  // The versioned lookup finds libstdc++'s definition even though ours has the same name.
  void* fn = dlvsym(RTLD_NEXT, symbol, "GLIBCXX_3.4.26");
  return fn ? fn : dlsym(RTLD_NEXT, symbol);
}

uint32_t PoolId(PmrPool& pool) {
  uint32_t id = pool.id.load(std::memory_order_acquire);
  if (id == 0) {
    // Instances differ in their options; the pool is reported per type.
    id = allocprof_hook_pool_register(pool.name, 0, 0);
    pool.id.store(id, std::memory_order_release);
  }
  return id;
}

uint64_t AllocationsSoFar() {
  if (ThreadState* t = t_local.state) return t->alloc_seq;
  CountThread* c = t_count;  // counting mode
  return c ? c->totals.allocations.Get() : 0;
}

template <typename Resource>
size_t LargestPooled(void* self) {
  return static_cast<Resource*>(self)->options().largest_required_pool_block;
}

template <typename Resource>
void* Allocate(PmrPool& pool, void* self, size_t bytes, size_t alignment) {
  AllocateFn real = pool.allocate.load(std::memory_order_acquire);
  if (!real) {
    real = reinterpret_cast<AllocateFn>(Next(pool.allocate_symbol));
    pool.allocate.store(real, std::memory_order_release);
  }
  uint32_t id = PoolId(pool);
  allocprof_hook_pool_rent_begin(id, bytes);
  uint64_t before = AllocationsSoFar();
  void* p = real(self, bytes, alignment);
  bool upstream = AllocationsSoFar() != before;
  int outcome = bytes > LargestPooled<Resource>(self) ? ALLOCPROF_RENT_OVERSIZE
                : upstream                            ? ALLOCPROF_RENT_FILL
                                                      : ALLOCPROF_RENT_HIT;
  allocprof_hook_pool_rent_end(id, bytes, bytes, outcome);
  return p;
}

template <typename Resource>
void Deallocate(PmrPool& pool, void* self, void* p, size_t bytes, size_t alignment) {
  DeallocateFn real = pool.deallocate.load(std::memory_order_acquire);
  if (!real) {
    real = reinterpret_cast<DeallocateFn>(Next(pool.deallocate_symbol));
    pool.deallocate.store(real, std::memory_order_release);
  }
  // Blocks above the largest pool size go straight back upstream; the others stay in the pool
  // until release() or destruction.
  bool oversize = bytes > LargestPooled<Resource>(self);
  allocprof_hook_pool_return(PoolId(pool), bytes, oversize ? ALLOCPROF_RETURN_DROPPED_OVERSIZE : ALLOCPROF_RETURN_KEPT);
  real(self, p, bytes, alignment);
}

}  // namespace

#define ALLOCPROF_EXPORT extern "C" __attribute__((visibility("default")))

ALLOCPROF_EXPORT void* _ZNSt3pmr26synchronized_pool_resource11do_allocateEmm(void* self, size_t bytes, size_t align) {
  return Allocate<std::pmr::synchronized_pool_resource>(g_sync, self, bytes, align);
}
ALLOCPROF_EXPORT void _ZNSt3pmr26synchronized_pool_resource13do_deallocateEPvmm(void* self, void* p, size_t bytes,
                                                                                size_t align) {
  Deallocate<std::pmr::synchronized_pool_resource>(g_sync, self, p, bytes, align);
}
ALLOCPROF_EXPORT void* _ZNSt3pmr28unsynchronized_pool_resource11do_allocateEmm(void* self, size_t bytes, size_t align) {
  return Allocate<std::pmr::unsynchronized_pool_resource>(g_unsync, self, bytes, align);
}
ALLOCPROF_EXPORT void _ZNSt3pmr28unsynchronized_pool_resource13do_deallocateEPvmm(void* self, void* p, size_t bytes,
                                                                                  size_t align) {
  Deallocate<std::pmr::unsynchronized_pool_resource>(g_unsync, self, p, bytes, align);
}
