#include "count/counters.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include <new>

#include "record/thread_state.h"

namespace allocprof::shim {

__thread CountThread* t_count __attribute__((tls_model("initial-exec")));

namespace {

__thread bool t_count_retired __attribute__((tls_model("initial-exec")));
__thread uint8_t t_count_exit_rounds __attribute__((tls_model("initial-exec")));

pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
CountThread* g_live = nullptr;       // registry of live threads' states
CountThread* g_free_list = nullptr;  // states of exited threads, reused by new ones
Totals g_exited;                     // what exited threads counted (atomic adds: late events)
pthread_key_t g_exit_key;

// Pool names, registered once each; a pool id in counting mode is the name's index + 1.
char g_pool_names[ALLOCPROF_MAX_POOLS][ALLOCPROF_POOL_NAME_MAX];
std::atomic<uint32_t> g_pool_count{0};
std::atomic<uint32_t> g_pools_untracked{0};

void AtomicAdd(Counter& c, uint64_t n) { c.value.fetch_add(n, std::memory_order_relaxed); }

// Adds `from` into `into` (atomically: late events of exited threads add to it concurrently).
void Fold(const Totals& from, Totals& into) {
  auto add = [](Counter& to, const Counter& c) {
    if (uint64_t v = c.Get()) AtomicAdd(to, v);
  };
  add(into.allocations, from.allocations);
  add(into.frees, from.frees);
  add(into.bytes_allocated, from.bytes_allocated);
  add(into.bytes_freed, from.bytes_freed);
  add(into.frees_unknown, from.frees_unknown);
  for (int p = 0; p < ALLOCPROF_MAX_POOLS; ++p) {
    const PoolCounters& f = from.pools[p];
    PoolCounters& t = into.pools[p];
    add(t.rents, f.rents);
    for (int k = 0; k < 4; ++k) add(t.rent_outcomes[k], f.rent_outcomes[k]);
    add(t.fallthrough_bytes, f.fallthrough_bytes);
    add(t.returns, f.returns);
    for (int k = 0; k < 3; ++k) add(t.return_outcomes[k], f.return_outcomes[k]);
  }
}

void Link(CountThread* c) {
  c->prev = nullptr;
  c->next = g_live;
  if (g_live) g_live->prev = c;
  g_live = c;
}

void Unlink(CountThread* c) {
  if (c->prev)
    c->prev->next = c->next;
  else
    g_live = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = nullptr;
}

// The key's destructor: re-armed until the last round, so that allocations made by the thread's
// other TLS destructors are still counted as the thread's own.
void OnCountThreadExit(void* state) {
  auto* c = static_cast<CountThread*>(state);
  if (t_count_exit_rounds < PTHREAD_DESTRUCTOR_ITERATIONS - 1) {
    ++t_count_exit_rounds;
    pthread_setspecific(g_exit_key, c);
    return;
  }
  pthread_mutex_lock(&g_mutex);
  Fold(c->totals, g_exited);
  Unlink(c);
  c->next = g_free_list;
  g_free_list = c;
  pthread_mutex_unlock(&g_mutex);
  t_count = nullptr;
  t_count_retired = true;
}

// Sums `c` into the public record.
void AddTo(const Totals& t, allocprof_counters_t* out, uint32_t pools) {
  out->allocations += t.allocations.Get();
  out->frees += t.frees.Get();
  out->bytes_allocated += t.bytes_allocated.Get();
  out->bytes_freed += t.bytes_freed.Get();
  out->frees_unknown += t.frees_unknown.Get();
  for (uint32_t p = 0; p < pools; ++p) {
    const PoolCounters& f = t.pools[p];
    allocprof_pool_counters_t& o = out->pools[p];
    o.rents += f.rents.Get();
    for (int k = 0; k < 4; ++k) o.rent_outcomes[k] += f.rent_outcomes[k].Get();
    o.fallthrough_bytes += f.fallthrough_bytes.Get();
    o.returns += f.returns.Get();
    for (int k = 0; k < 3; ++k) o.return_outcomes[k] += f.return_outcomes[k].Get();
  }
}

PoolCounters* PoolOf(CountThread* c, uint32_t pool) {
  if (pool == 0 || pool > ALLOCPROF_MAX_POOLS) return nullptr;
  return &c->totals.pools[pool - 1];
}

}  // namespace

bool InitCounting() {
  pthread_key_create(&g_exit_key, OnCountThreadExit);
  return g_size_map.Init();
}

CountThread* CountThreadSlow() {
  if (t_count) return t_count;
  if (t_count_retired) return nullptr;
  int saved_errno = errno;
  pthread_mutex_lock(&g_mutex);
  CountThread* c = g_free_list;
  if (c) {
    g_free_list = c->next;
  } else {
    void* mem = mmap(nullptr, sizeof(CountThread), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    c = mem == MAP_FAILED ? nullptr : new (mem) CountThread{};
  }
  if (c) {
    // A reused state's counts were folded into the exited totals when its thread ended.
    memset(static_cast<void*>(c), 0, sizeof(*c));
    Link(c);
  }
  pthread_mutex_unlock(&g_mutex);
  if (c) {
    t_count = c;
    pthread_setspecific(g_exit_key, c);  // the main thread never runs it, and needs not
  }
  errno = saved_errno;
  return c;
}

void CountAllocOrphan(uint64_t size) {
  AtomicAdd(g_exited.allocations, 1);
  AtomicAdd(g_exited.bytes_allocated, size);
}

void CountFreeOrphan(bool known, uint64_t size) {
  AtomicAdd(g_exited.frees, 1);
  if (known)
    AtomicAdd(g_exited.bytes_freed, size);
  else
    AtomicAdd(g_exited.frees_unknown, 1);
}

void* CountRealloc(format::EntryPoint entry, void* old_ptr, uint64_t size, void* (*call)(void*), void* ctx) {
  auto old_addr = reinterpret_cast<uintptr_t>(old_ptr);
  uint64_t old_size = 0;
  bool known = old_ptr && g_size_map.Take(old_addr, &old_size);
  void* result = call(ctx);
  int result_errno = errno;
  // Success, or glibc's realloc(p, 0), which frees p and returns null.
  bool freed_old = old_ptr && (result || size == 0);
  if (old_ptr && !freed_old && known) g_size_map.Set(old_addr, old_size);  // failed: p stays
  if (freed_old) CountFreeOf(known, old_size);
  if (result) CountAlloc(entry, reinterpret_cast<uintptr_t>(result), size);
  errno = result_errno;
  return result;
}

uint32_t CountRegisterPool(const char* name) {
  const char* n = name ? name : "pool";
  pthread_mutex_lock(&g_mutex);
  uint32_t count = g_pool_count.load(std::memory_order_relaxed);
  uint32_t id = 0;
  for (uint32_t i = 0; i < count && id == 0; ++i) {
    if (strncmp(g_pool_names[i], n, ALLOCPROF_POOL_NAME_MAX - 1) == 0) id = i + 1;
  }
  if (id == 0 && count < ALLOCPROF_MAX_POOLS) {
    strncpy(g_pool_names[count], n, ALLOCPROF_POOL_NAME_MAX - 1);
    g_pool_count.store(count + 1, std::memory_order_release);
    id = count + 1;
  }
  if (id == 0) g_pools_untracked.fetch_add(1, std::memory_order_relaxed);
  pthread_mutex_unlock(&g_mutex);
  return id;
}

void CountRentBegin(uint32_t pool) {
  CountThread* c = CountThreadSlow();
  if (!c || pool == 0 || pool > ALLOCPROF_MAX_POOLS) return;
  c->rent_pool = static_cast<uint16_t>(pool);
  c->rent_first = c->scope_seq;
}

void CountRentEnd(uint32_t pool, uint64_t granted, int outcome) {
  CountThread* c = CountThreadSlow();
  PoolCounters* p = c ? PoolOf(c, pool) : nullptr;
  if (!p || outcome < 0 || outcome > 3) return;
  p->rents.Add(1);
  p->rent_outcomes[outcome].Add(1);
  if (outcome != ALLOCPROF_RENT_HIT) p->fallthrough_bytes.Add(granted);
  // The allocations kept since the rent began are its fall-throughs.
  if (c->rent_pool == pool && outcome != ALLOCPROF_RENT_HIT) {
    uint64_t first = c->scope_seq > CountThread::kRingSize ? c->scope_seq - CountThread::kRingSize : 0;
    for (uint64_t s = first > c->rent_first ? first : c->rent_first; s < c->scope_seq; ++s) {
      ScopeAllocation& a = c->ring[s % CountThread::kRingSize];
      a.pool = static_cast<uint16_t>(pool);
      a.outcome = static_cast<int8_t>(outcome);
    }
  }
  c->rent_pool = 0;
}

void CountReturn(uint32_t pool, int outcome) {
  CountThread* c = CountThreadSlow();
  PoolCounters* p = c ? PoolOf(c, pool) : nullptr;
  if (!p || outcome < 0 || outcome > 2) return;
  p->returns.Add(1);
  p->return_outcomes[outcome].Add(1);
}

int CountSnapshot(allocprof_counters_t* out, size_t size, int scope) {
  allocprof_counters_t all;
  memset(&all, 0, sizeof(all));
  uint32_t pools = g_pool_count.load(std::memory_order_acquire);
  if (scope == ALLOCPROF_SCOPE_PROCESS) {
    pthread_mutex_lock(&g_mutex);
    pools = g_pool_count.load(std::memory_order_acquire);
    for (CountThread* c = g_live; c; c = c->next) AddTo(c->totals, &all, pools);
    AddTo(g_exited, &all, pools);
    pthread_mutex_unlock(&g_mutex);
  } else if (CountThread* c = CountThreadSlow()) {
    AddTo(c->totals, &all, pools);
  }
  all.live_bytes = static_cast<int64_t>(all.bytes_allocated - all.bytes_freed);
  all.pool_count = pools;
  all.pools_untracked = g_pools_untracked.load(std::memory_order_relaxed);
  for (uint32_t p = 0; p < pools; ++p) memcpy(all.pools[p].name, g_pool_names[p], ALLOCPROF_POOL_NAME_MAX);
  memcpy(out, &all, size < sizeof(all) ? size : sizeof(all));
  return 1;
}

uint64_t CountScopeBegin() {
  CountThread* c = CountThreadSlow();
  if (!c) return 0;
  ++c->scope_depth;
  return c->scope_seq;
}

void CountScopeEnd() {
  CountThread* c = t_count;
  if (c && c->scope_depth) --c->scope_depth;
}

void CountBeforeFork() { pthread_mutex_lock(&g_mutex); }
void CountAfterForkParent() { pthread_mutex_unlock(&g_mutex); }

void CountAfterForkChild() {
  pthread_mutex_init(&g_mutex, nullptr);
  CountThread* self = t_count;
  for (CountThread* c = g_live; c;) {
    CountThread* next = c->next;
    if (c != self) {
      Fold(c->totals, g_exited);
      c->next = g_free_list;
      g_free_list = c;
    }
    c = next;
  }
  g_live = nullptr;
  if (self) Link(self);
}

}  // namespace allocprof::shim
