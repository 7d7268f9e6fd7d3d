#include "record/thread_state.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>
#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_customMem, ZSTD_createCCtx_advanced
#include <zstd.h>

#include "record/clock.h"
#include "record/nested_events.h"
#include "runtime/options.h"
#include "runtime/process_state.h"
#include "runtime/trace_writer.h"
#include "unwind/stack_capture.h"

// zstd is linked into the shim (Makefile, SHIM_LDLIBS) and calls these weak hooks around each
// compression when they are defined. Defined here (hidden, like every shim symbol), the shim's copy
// never reaches a definition of the program's (zstd's CLI has one) and exports no reference to one.
// Returning 0 turns the tracing off.
extern "C" unsigned long long ZSTD_trace_compress_begin(const void*) { return 0; }
extern "C" void ZSTD_trace_compress_end(unsigned long long, const void*) {}

namespace allocprof::shim {

__thread ThreadLocal t_local __attribute__((tls_model("initial-exec")));

namespace {

pthread_mutex_t g_registry_mutex = PTHREAD_MUTEX_INITIALIZER;
ThreadState* g_head = nullptr;       // live states
ThreadState* g_free_list = nullptr;  // released states, reused by new threads
uint32_t g_next_index = 0;
pthread_key_t g_exit_key;

// Control records of one chunk: thread names, stack definitions (the deepest takes ~10 KiB).
size_t ControlBytes(size_t buffer_bytes) {
  size_t least = StackDefBound(format::kMaxStackDepth + kShimFrameSlack) + 1024;
  return buffer_bytes / 8 > least ? buffer_bytes / 8 : least;
}

size_t Align64(size_t n) { return (n + 63) / 64 * 64; }

// One mapping per thread: the state, stack scratch, the free cache, signal handlers' events kept
// aside (pages untouched unless a handler interrupts the shim), the columns being filled and the
// buffer a chunk is assembled (and compressed) into.
ThreadState* MapState() {
  const Options& o = GetOptions();
  size_t frames_bytes = Align64((o.max_depth + kShimFrameSlack) * sizeof(uintptr_t));
  size_t columns_bytes = o.buffer_bytes + ControlBytes(o.buffer_bytes);
  size_t out_bytes = sizeof(format::ChunkHeader) + ZSTD_compressBound(columns_bytes + 128) + 128;
  size_t total = Align64(sizeof(ThreadState)) + frames_bytes + Align64(sizeof(FreeCache)) +
                 Align64(sizeof(NestedEvents)) + Align64(columns_bytes) + out_bytes;
  long page = sysconf(_SC_PAGESIZE);
  total = (total + static_cast<size_t>(page) - 1) / static_cast<size_t>(page) * static_cast<size_t>(page);
  void* mem = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return nullptr;
  auto* t = new (mem) ThreadState{};
  auto* p = static_cast<uint8_t*>(mem) + Align64(sizeof(ThreadState));
  t->frames = reinterpret_cast<uintptr_t*>(p);
  p += frames_bytes;
  t->free_cache = new (p) FreeCache;  // fresh mmap memory is zero: empty, and untouched until used
  p += Align64(sizeof(FreeCache));
  t->nested = new (p) NestedEvents;  // zero: empty
  t->nested->blocks[0] = t->nested->first;
  p += Align64(sizeof(NestedEvents));
  t->enc.Init(p, columns_bytes, ControlBytes(o.buffer_bytes));
  p += Align64(columns_bytes);
  t->out = p;
  t->out_capacity = out_bytes;
  return t;
}

// zstd's memory comes from mmap, never from the program's allocator: a flush runs on the program's
// thread, where taking glibc's arena lock could deadlock a signal handler that interrupted it and
// allocates (the handler's malloc would wait for the lock the thread under it holds). A context
// asks for memory a few times in its life (about 700 KiB at level 1), so one mapping each is fine.
void* ZstdAlloc(void*, size_t size) {
  size_t total = size + 64;
  void* mem = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return nullptr;
  memcpy(mem, &total, sizeof(total));
  return static_cast<uint8_t*>(mem) + 64;
}

void ZstdFree(void*, void* p) {
  if (!p) return;
  uint8_t* mem = static_cast<uint8_t*>(p) - 64;
  size_t total;
  memcpy(&total, mem, sizeof(total));
  munmap(mem, total);
}

ZSTD_CCtx* CreateCompressor(int level) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx_advanced(ZSTD_customMem{ZstdAlloc, ZstdFree, nullptr});
  if (cctx) ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  return cctx;
}

// Compresses the chunk's section table and columns, in place order, without gathering them first.
// Returns the compressed size, or 0 when compression failed or did not help.
size_t CompressColumns(ZSTD_CCtx* cctx, const RecordEncoder& enc, size_t raw, uint8_t* dst, size_t cap) {
  if (ZSTD_isError(ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only)) ||
      ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(cctx, raw))) {
    return 0;
  }
  ZSTD_outBuffer out{dst, cap, 0};
  auto feed = [&](const void* data, size_t n, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{data, n, 0};
    for (;;) {
      size_t r = ZSTD_compressStream2(cctx, &out, &in, mode);
      if (ZSTD_isError(r)) return false;
      if (mode == ZSTD_e_continue ? in.pos == in.size : r == 0) return true;
      if (out.pos == out.size) return false;
    }
  };
  uint8_t table[96];
  if (!feed(table, enc.WriteTable(table), ZSTD_e_continue)) return 0;
  // Ending a block after each column gives every column its own literal and sequence tables
  // (one shared table for all columns costs ~12% in size on churn; the format is unchanged).
  for (int c = 0; c < format::kColumnCount; ++c) {
    const ColumnSpan& col = enc.column(c);
    size_t n = static_cast<size_t>(col.cursor - col.begin);
    if (n && !feed(col.begin, n, ZSTD_e_flush)) return 0;
  }
  if (!feed(nullptr, 0, ZSTD_e_end)) return 0;
  return out.pos < raw ? out.pos : 0;
}

void RefreshThreadName(ThreadState* t) {
  char name[16] = {0};
  if (prctl(PR_GET_NAME, name) != 0) return;
  if (memcmp(name, t->name, sizeof(name)) == 0) return;
  memcpy(t->name, name, sizeof(name));
  if (!t->enc.ControlRoom(32)) return;  // the next flush tries again
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
  if (t->prev)
    t->prev->next = t->next;
  else
    g_head = t->next;
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

bool RegistryLockBounded() {
  for (int i = 0; i < 20000; ++i) {
    if (pthread_mutex_trylock(&g_registry_mutex) == 0) return true;
    sched_yield();
  }
  return false;
}
void RegistryUnlock() { pthread_mutex_unlock(&g_registry_mutex); }
ThreadState* RegistryHead() { return g_head; }

void ResetChunk(ThreadState* t, uint64_t now) {
  t->covered_until = now;
  t->enc.Start(now, t->alloc_seq);
}

void FlushLocked(ThreadState* t, uint64_t now) {
  if (HasRecords(t)) {
    const RecordEncoder& enc = t->enc;
    format::ChunkHeader header{};
    header.magic = format::kChunkMagic;
    header.codec = static_cast<uint8_t>(format::Codec::kNone);
    header.header_size = sizeof(format::ChunkHeader);
    header.thread = t->index;
    header.record_count = enc.records();
    header.base_time_ns = enc.base_time();
    header.covered_until_ns = now;
    header.alloc_seq = enc.alloc_seq_start();
    size_t raw = enc.PayloadSize();
    uint8_t* payload = t->out + sizeof(format::ChunkHeader);
    size_t cap = t->out_capacity - sizeof(format::ChunkHeader);
    size_t stored = 0;
    int level = GetOptions().compression_level;
    // Small chunks (thread start, exit) are not worth a compression context; a fatal signal's
    // flush must not allocate one (nor grow one).
    if (level != 0 && raw >= 4096 && !g_signal_exit.load(std::memory_order_relaxed)) {
      if (!t->zstd) t->zstd = CreateCompressor(level);
      if (t->zstd) stored = CompressColumns(static_cast<ZSTD_CCtx*>(t->zstd), enc, raw, payload, cap);
      if (stored) header.codec = static_cast<uint8_t>(format::Codec::kZstd);
    }
    if (stored == 0) stored = enc.CopyPayload(payload);
    header.stored_size = static_cast<uint32_t>(stored);
    header.raw_size = static_cast<uint32_t>(raw);
    header.checksum = format::ChunkChecksum(header, payload, stored);
    memcpy(t->out, &header, sizeof(header));
    WriteChunks(t->out, sizeof(header) + stored);
  }
  // Only a thread that filled a real chunk starts the ticker in a forked child: a child that just
  // execs (or must stay single-threaded, e.g. to unshare) never gets a second thread from us.
  bool substantial = HasRecords(t) && t->enc.records() >= kSubstantialRecords;
  ResetChunk(t, now);
  if (t == t_local.state) {
    RefreshThreadName(t);
    if (substantial && !g_signal_exit.load(std::memory_order_relaxed)) MaybeStartTickerAfterFork();
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
  // Fully reset before the ticker can see it in the registry.
  uint64_t now = NowNs();
  t->lock.store(0, std::memory_order_relaxed);
  t->index = g_next_index++;
  t->tid = static_cast<pid_t>(gettid());
  t->first_seq = t->alloc_seq;  // a reused state's cache entries belong to the previous thread
  t->stack_lo = t->stack_hi = 0;
  t->nested->count = 0;  // a reused state's leftovers (its thread ended inside a handler) are void
  memset(t->name, 0, sizeof(t->name));
  ResetChunk(t, now);
  Link(t);
  RegistryUnlock();
  t_local.state = t;
  Lock(t);
  AnnounceThread(t, now);
  Unlock(t);
  // The main thread never runs key destructors; the exit path flushes it instead.
  if (getpid() != t->tid) {
    pthread_setspecific(g_exit_key, t);
    MaybeStartTickerAfterFork();  // a second thread exists now anyway
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
  EnterShim();
  Lock(t);
  uint64_t now = NowNs();
  if (t->enc.NeedsFlush()) FlushLocked(t, now);
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
  if (outer) LeaveShim();
}

void ResetThreadsAfterFork() {
  pthread_mutex_init(&g_registry_mutex, nullptr);
  ThreadState* self = t_local.state;
  ThreadState* t = g_head;
  g_head = nullptr;
  while (t) {
    ThreadState* next = t->next;
    if (t != self) {
      // Its buffered records are the parent's (the parent writes them).
      t->lock.store(0, std::memory_order_relaxed);
      ResetChunk(t, 0);
      t->next = g_free_list;
      g_free_list = t;
    }
    t = next;
  }
  if (self) {
    self->lock.store(0, std::memory_order_relaxed);
    Link(self);
    self->tid = static_cast<pid_t>(gettid());
    self->first_seq = self->alloc_seq;  // the parent's allocations are not in the child's trace
    uint64_t now = NowNs();
    ResetChunk(self, now);  // the buffered events are the parent's; it writes them
    memset(self->name, 0, sizeof(self->name));
    Lock(self);
    AnnounceThread(self, now);
    Unlock(self);
  }
}

}  // namespace allocprof::shim
