#include "thread_state.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <zstd.h>

#include "clock.h"
#include "options.h"
#include "process_state.h"
#include "stack_capture.h"
#include "trace_writer.h"

namespace allocprof::shim {

__thread ThreadLocal t_local __attribute__((tls_model("initial-exec")));

namespace {

pthread_mutex_t g_registry_mutex = PTHREAD_MUTEX_INITIALIZER;
ThreadState* g_head = nullptr;       // live states
ThreadState* g_free_list = nullptr;  // released states, reused by new threads
uint32_t g_next_index = 0;
pthread_key_t g_exit_key;

uint32_t ReserveBytes() { return StackDefBound(format::kMaxStackDepth) + 4 * kMaxEventRecord; }

ThreadState* MapState() {
  const Options& o = GetOptions();
  size_t frames_bytes = (o.max_depth + kShimFrameSlack) * sizeof(uintptr_t);
  size_t chunk_bytes = sizeof(format::ChunkHeader) + o.buffer_bytes + ReserveBytes();
  size_t total = (sizeof(ThreadState) + 63) / 64 * 64 + frames_bytes + chunk_bytes;
  long page = sysconf(_SC_PAGESIZE);
  total = (total + static_cast<size_t>(page) - 1) / static_cast<size_t>(page) * static_cast<size_t>(page);
  void* mem = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return nullptr;
  auto* t = new (mem) ThreadState{};
  auto* base = static_cast<uint8_t*>(mem);
  t->frames = reinterpret_cast<uintptr_t*>(base + (sizeof(ThreadState) + 63) / 64 * 64);
  t->chunk = reinterpret_cast<uint8_t*>(t->frames) + frames_bytes;
  t->capacity = o.buffer_bytes;
  t->soft_limit = t->chunk + sizeof(format::ChunkHeader) + o.buffer_bytes;
  t->mapping_size = total;
  return t;
}

void RefreshThreadName(ThreadState* t) {
  char name[16] = {0};
  if (prctl(PR_GET_NAME, name) != 0) return;
  if (memcmp(name, t->name, sizeof(name)) == 0) return;
  memcpy(t->name, name, sizeof(name));
  t->enc.Tag(format::RecordTag::kThreadName);
  t->enc.String(name, sizeof(name));
}

void Link(ThreadState* t) {
  t->prev = nullptr;
  t->next = g_head;
  if (g_head) g_head->prev = t;
  g_head = t;
}

void Unlink(ThreadState* t) {
  if (t->prev) t->prev->next = t->next;
  else g_head = t->next;
  if (t->next) t->next->prev = t->prev;
  t->prev = t->next = nullptr;
}

// Writes the chunk that announces a thread, so the reader knows it exists before its first full
// chunk arrives.
void AnnounceThread(ThreadState* t, uint64_t now) {
  t->enc.Tag(format::RecordTag::kThreadStart);
  t->enc.Time(now);
  t->enc.Uint(static_cast<uint64_t>(t->tid));
  RefreshThreadName(t);
  FlushLocked(t, now);
}

}  // namespace

void LockSlow(ThreadState* t) {
  while (!TryLock(t)) sched_yield();
}

bool LockBounded(ThreadState* t) {
  for (int i = 0; i < 20000; ++i) {
    if (TryLock(t)) return true;
    sched_yield();
  }
  return false;
}

void RegistryLock() { pthread_mutex_lock(&g_registry_mutex); }
void RegistryUnlock() { pthread_mutex_unlock(&g_registry_mutex); }
ThreadState* RegistryHead() { return g_head; }

void ResetChunk(ThreadState* t, uint64_t now) {
  t->base_time = now;
  t->covered_until = now;
  t->enc = RecordEncoder{t->chunk + sizeof(format::ChunkHeader), now, 0, 0};
}

void FlushLocked(ThreadState* t, uint64_t now) {
  if (HasRecords(t)) {
    uint8_t* payload = t->chunk + sizeof(format::ChunkHeader);
    auto raw = static_cast<uint32_t>(t->enc.cursor - payload);
    format::ChunkHeader header{};
    header.magic = format::kChunkMagic;
    header.codec = static_cast<uint8_t>(format::Codec::kNone);
    header.header_size = sizeof(format::ChunkHeader);
    header.stored_size = raw;
    header.raw_size = raw;
    header.thread = t->index;
    header.record_count = t->enc.records;
    header.base_time_ns = t->base_time;
    header.covered_until_ns = now;
    uint8_t* out = t->chunk;
    int level = GetOptions().compression_level;
    // Small chunks (thread start, exit) are not worth a compression context.
    if (level > 0 && raw >= 4096) {
      if (!t->compressed) {
        size_t cap = sizeof(format::ChunkHeader) + ZSTD_compressBound(t->capacity + ReserveBytes());
        void* mem = mmap(nullptr, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem != MAP_FAILED) {
          t->compressed = static_cast<uint8_t*>(mem);
          t->compressed_capacity = cap;
        }
      }
      if (!t->zstd) t->zstd = ZSTD_createCCtx();
      if (t->zstd && t->compressed) {
        size_t n = ZSTD_compressCCtx(static_cast<ZSTD_CCtx*>(t->zstd), t->compressed + sizeof(format::ChunkHeader),
                                     t->compressed_capacity - sizeof(format::ChunkHeader), payload, raw, level);
        if (!ZSTD_isError(n) && n < raw) {
          header.codec = static_cast<uint8_t>(format::Codec::kZstd);
          header.stored_size = static_cast<uint32_t>(n);
          out = t->compressed;
        }
      }
    }
    header.checksum = format::ChunkChecksum(header, out + sizeof(header), header.stored_size);
    memcpy(out, &header, sizeof(header));
    WriteChunks(out, sizeof(header) + header.stored_size);
  }
  ResetChunk(t, now);
  if (t == t_local.state) {
    RefreshThreadName(t);
    MaybeStartTickerAfterFork();
  }
}

ThreadState* CreateThreadState() {
  RegistryLock();
  ThreadState* t = g_free_list;
  if (t) g_free_list = t->next;
  t = t ? t : MapState();
  if (!t) {
    RegistryUnlock();
    return nullptr;
  }
  t->lock.store(0, std::memory_order_relaxed);
  t->index = g_next_index++;
  t->tid = static_cast<pid_t>(gettid());
  t->stack_lo = t->stack_hi = 0;
  memset(t->name, 0, sizeof(t->name));
  Link(t);
  RegistryUnlock();

  uint64_t now = NowNs();
  ResetChunk(t, now);
  t_local.state = t;
  Lock(t);
  AnnounceThread(t, now);
  Unlock(t);
  // The main thread never runs key destructors; the exit path flushes it instead.
  if (getpid() != t->tid) {
    pthread_setspecific(g_exit_key, t);
    MaybeStartTickerAfterFork();
  }
  return t;
}

void InitThreadExitKey() { pthread_key_create(&g_exit_key, OnThreadExit); }

void OnThreadExit(void* state) {
  auto* t = static_cast<ThreadState*>(state);
  // Let every other key destructor run first (they may still allocate): re-arm until the last round.
  if (t_local.exit_rounds < PTHREAD_DESTRUCTOR_ITERATIONS - 1) {
    ++t_local.exit_rounds;
    pthread_setspecific(g_exit_key, t);
    return;
  }
  bool outer = !t_local.in_hook;
  t_local.in_hook = true;
  Lock(t);
  uint64_t now = NowNs();
  t->enc.Tag(format::RecordTag::kThreadEnd);
  t->enc.Time(now);
  FlushLocked(t, now);
  Unlock(t);
  RegistryLock();
  Unlink(t);
  t->next = g_free_list;
  g_free_list = t;
  RegistryUnlock();
  t_local.state = nullptr;
  t_local.exited = true;
  if (outer) t_local.in_hook = false;
}

void ResetThreadsAfterFork() {
  pthread_mutex_init(&g_registry_mutex, nullptr);
  ThreadState* self = t_local.state;
  ThreadState* t = g_head;
  g_head = nullptr;
  while (t) {
    ThreadState* next = t->next;
    if (t != self) {
      t->next = g_free_list;
      g_free_list = t;
    }
    t = next;
  }
  if (self) {
    self->lock.store(0, std::memory_order_relaxed);
    Link(self);
    self->tid = static_cast<pid_t>(gettid());
    uint64_t now = NowNs();
    ResetChunk(self, now);  // the buffered events are the parent's; it writes them
    memset(self->name, 0, sizeof(self->name));
    Lock(self);
    AnnounceThread(self, now);
    Unlock(self);
  }
}

}  // namespace allocprof::shim
