#include "record/thread_state.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
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

// Offloading (EnableOffload: unset -> on; DisableOffload: ended for good) and the offload
// thread's wake-up: chunks sealed so far, and whether the thread sleeps on that count (the
// sealing thread makes the futex call only then).
enum : uint32_t { kOffloadStateUnset, kOffloadStateOn, kOffloadStateEnded };
std::atomic<uint32_t> g_offload{kOffloadStateUnset};
std::atomic<uint32_t> g_sealed_count{0};
std::atomic<bool> g_offload_sleeping{false};

// Raw futex calls: no pthread object, nothing a fork or a signal handler could find held.
void FutexWait(std::atomic<uint32_t>* word, uint32_t expected, long timeout_ms) {
  struct timespec timeout {
    timeout_ms / 1000, (timeout_ms % 1000) * 1000000
  };
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, &timeout, nullptr, 0);
}
void FutexWake(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

// Control records of one chunk: thread names, stack definitions (the deepest takes ~10 KiB).
size_t ControlBytes(size_t buffer_bytes) {
  size_t least = StackDefBound(format::kMaxStackDepth + kShimFrameSlack) + 1024;
  return buffer_bytes / 8 > least ? buffer_bytes / 8 : least;
}

size_t Align64(size_t n) { return (n + 63) / 64 * 64; }

size_t ColumnsBytes() {
  size_t buffer = GetOptions().buffer_bytes;
  return buffer + ControlBytes(buffer);
}

// One mapping per thread: the state, stack scratch, the free cache, signal handlers' events kept
// aside (pages untouched unless a handler interrupts the shim), two column buffers (the one being
// filled and the spare, which holds a sealed chunk until the offload thread has written it; its
// pages stay untouched without offloading) and the buffer a chunk is assembled (and compressed)
// into.
ThreadState* MapState() {
  const Options& o = GetOptions();
  size_t frames_bytes = Align64((o.max_depth + kShimFrameSlack) * sizeof(uintptr_t));
  size_t columns_bytes = ColumnsBytes();
  size_t out_bytes = ChunkOutBytes();
  size_t total = Align64(sizeof(ThreadState)) + frames_bytes + Align64(sizeof(FreeCache)) +
                 Align64(sizeof(NestedEvents)) + 2 * Align64(columns_bytes) + out_bytes;
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
  t->buffers[0] = p;
  t->buffers[1] = p + Align64(columns_bytes);
  t->enc.Init(t->buffers[0], columns_bytes, ControlBytes(o.buffer_bytes));
  p += 2 * Align64(columns_bytes);
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
size_t CompressColumns(ZSTD_CCtx* cctx, const ColumnSpan* cols, size_t raw, uint8_t* dst, size_t cap) {
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
  if (!feed(table, ColumnsTable(cols, table), ZSTD_e_continue)) return 0;
  // Ending a block after each column gives every column its own literal and sequence tables
  // (one shared table for all columns costs ~12% in size on churn; the format is unchanged).
  for (int c = 0; c < format::kColumnCount; ++c) {
    const ColumnSpan& col = cols[c];
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

// The header of the chunk being filled, sealed at `now`; codec, sizes and checksum come when it
// is written.
format::ChunkHeader SealHeader(const ThreadState* t, uint64_t now) {
  format::ChunkHeader header{};
  header.magic = format::kChunkMagic;
  header.header_size = sizeof(format::ChunkHeader);
  header.thread = t->index;
  header.record_count = t->enc.records();
  header.base_time_ns = t->enc.base_time();
  header.covered_until_ns = now;
  header.alloc_seq = t->enc.alloc_seq_start();
  return header;
}

// Small chunks (thread start, exit) are not worth a compression context; a fatal signal's flush
// must not allocate one (nor grow one).
bool WantsCompression(size_t raw) {
  return GetOptions().compression_level != 0 && raw >= 4096 && !g_signal_exit.load(std::memory_order_relaxed);
}

ZSTD_CCtx* OwnCompressor(ThreadState* t) {
  if (!t->zstd) t->zstd = CreateCompressor(GetOptions().compression_level);
  return static_cast<ZSTD_CCtx*>(t->zstd);
}

// Writes one chunk whose columns are `cols` (`raw` payload bytes), assembled in `out`: compressed
// with `cctx` when given and it helps, stored otherwise.
void WriteChunk(format::ChunkHeader header, const ColumnSpan* cols, size_t raw, ZSTD_CCtx* cctx, uint8_t* out,
                size_t cap) {
  uint8_t* payload = out + sizeof(format::ChunkHeader);
  size_t stored = cctx ? CompressColumns(cctx, cols, raw, payload, cap - sizeof(format::ChunkHeader)) : 0;
  header.codec = static_cast<uint8_t>(stored ? format::Codec::kZstd : format::Codec::kNone);
  if (stored == 0) stored = CopyColumnsPayload(cols, payload);
  header.stored_size = static_cast<uint32_t>(stored);
  header.raw_size = static_cast<uint32_t>(raw);
  header.checksum = format::ChunkChecksum(header, payload, stored);
  memcpy(out, &header, sizeof(header));
  WriteChunks(out, sizeof(header) + stored);
}

// The lock holder writes the thread's sealed chunk itself, or waits while the offload thread
// writes it (one chunk's compression). False if a fatal signal's flush gave up waiting.
bool WriteSealedLocked(ThreadState* t) {
  SealedChunk& s = t->sealed;
  for (int waits = 0;;) {
    uint32_t state = s.state.load(std::memory_order_acquire);
    if (state == SealedChunk::kEmpty) return true;
    if (state == SealedChunk::kSealed) {
      if (!s.state.compare_exchange_weak(state, SealedChunk::kTaken, std::memory_order_acquire)) continue;
      size_t raw = ColumnsPayloadSize(s.columns);
      WriteChunk(s.header, s.columns, raw, WantsCompression(raw) ? OwnCompressor(t) : nullptr, t->out, t->out_capacity);
      s.state.store(SealedChunk::kEmpty, std::memory_order_release);
      return true;
    }
    if (state == SealedChunk::kTaken &&
        !s.state.compare_exchange_weak(state, SealedChunk::kTakenAwaited, std::memory_order_relaxed)) {
      continue;
    }
    if (g_signal_exit.load(std::memory_order_relaxed) && ++waits > 500) return false;
    FutexWait(&s.state, SealedChunk::kTakenAwaited, 10);
  }
}

// The owner seals its full chunk for the offload thread and goes on filling its other buffer
// (free: the caller wrote the previous sealed chunk first).
void HandOver(ThreadState* t, const format::ChunkHeader& header, const ColumnSpan* cols) {
  SealedChunk& s = t->sealed;
  s.header = header;
  memcpy(s.columns, cols, sizeof(s.columns));
  uint8_t* spare = cols[0].begin == t->buffers[0] ? t->buffers[1] : t->buffers[0];
  t->enc.Init(spare, ColumnsBytes(), ControlBytes(GetOptions().buffer_bytes));
  s.state.store(SealedChunk::kSealed, std::memory_order_release);
  g_sealed_count.fetch_add(1, std::memory_order_seq_cst);
  if (g_offload_sleeping.load(std::memory_order_seq_cst)) FutexWake(&g_sealed_count);
}

}  // namespace

size_t ChunkOutBytes() { return sizeof(format::ChunkHeader) + ZSTD_compressBound(ColumnsBytes() + 128) + 128; }

void* CreateChunkCompressor() { return CreateCompressor(GetOptions().compression_level); }

void EnableOffload() {
  uint32_t unset = kOffloadStateUnset;
  g_offload.compare_exchange_strong(unset, kOffloadStateOn);
}
void DisableOffload() { g_offload.store(kOffloadStateEnded); }

uint32_t WaitForSealedChunks(uint32_t seen) {
  g_offload_sleeping.store(true, std::memory_order_seq_cst);
  if (g_sealed_count.load(std::memory_order_seq_cst) == seen) FutexWait(&g_sealed_count, seen, 1000);
  g_offload_sleeping.store(false, std::memory_order_relaxed);
  return g_sealed_count.load(std::memory_order_acquire);
}

ThreadState* TakeSealedChunk() {
  RegistryLock();
  ThreadState* found = nullptr;
  for (ThreadState* t = g_head; t && !found; t = t->next) {
    uint32_t sealed = SealedChunk::kSealed;
    if (t->sealed.state.compare_exchange_strong(sealed, SealedChunk::kTaken, std::memory_order_acquire)) found = t;
  }
  RegistryUnlock();
  return found;
}

void WriteTakenChunk(ThreadState* t, void* zstd, uint8_t* out, size_t out_capacity) {
  SealedChunk& s = t->sealed;
  WriteChunk(s.header, s.columns, ColumnsPayloadSize(s.columns), static_cast<ZSTD_CCtx*>(zstd), out, out_capacity);
  if (s.state.exchange(SealedChunk::kEmpty, std::memory_order_release) == SealedChunk::kTakenAwaited) {
    FutexWake(&s.state);
  }
}

LockKind g_lock_kind = LockKind::kExchange;

void InitThreadLocks() {
  int saved_errno = errno;
  long commands = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  bool usable = GetOptions().lock_kind == kLockMembarrier && commands > 0 &&
                (commands & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 &&
                syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
  g_lock_kind = usable ? LockKind::kMembarrier : LockKind::kExchange;
  errno = saved_errno;
}

void LockSlow(ThreadState* t) {
  do {
    while (t->lock.load(std::memory_order_relaxed) != 0) sched_yield();
  } while (!TryLock(t));
}

void SyncWithOwners() {
  // Registered in InitThreadLocks, so it cannot fail; it changes errno only when it does.
  if (g_lock_kind == LockKind::kMembarrier) syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
}

bool TryLockForeign(ThreadState* t) {
  if (!Claim(t)) return false;
  SyncWithOwners();
  if (!OwnerInside(t)) return true;
  UnlockForeign(t);
  return false;
}

bool LockBounded(ThreadState* t) {
  for (int i = 0; i < 20000; ++i) {
    // Each try costs a barrier: wait until the owner looks idle first.
    if (t->owner_busy.load(std::memory_order_relaxed) == 0 && TryLockForeign(t)) return true;
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
  MaybeCalibrateClock(now);  // a cold path every thread passes now and then
  // The thread's sealed chunk goes first: its records are older than the ones being filled.
  bool in_order = !HasSealedChunk(t) || WriteSealedLocked(t);
  if (HasRecords(t) && in_order) {
    ColumnSpan cols[format::kColumnCount];
    for (int c = 0; c < format::kColumnCount; ++c) cols[c] = t->enc.column(c);
    format::ChunkHeader header = SealHeader(t, now);
    size_t raw = ColumnsPayloadSize(cols);
    // Only the owner hands its chunks over: it alone swaps the encoder's buffers, and the flushes
    // of exit, exec and write-through must reach the file before they return.
    if (t == t_local.state && WantsCompression(raw) && g_offload.load(std::memory_order_relaxed) == kOffloadStateOn &&
        g_mode.load(std::memory_order_relaxed) != Mode::kWriteThrough) {
      HandOver(t, header, cols);
    } else {
      WriteChunk(header, cols, raw, WantsCompression(raw) ? OwnCompressor(t) : nullptr, t->out, t->out_capacity);
    }
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
  t->owner_busy.store(0, std::memory_order_relaxed);
  t->claimed_by_ticker = false;
  t->index = g_next_index++;
  t->tid = static_cast<pid_t>(gettid());
  t->errno_location = &errno;
  t->first_seq = t->alloc_seq;  // a reused state's cache entries belong to the previous thread
  t->stack_lo = t->stack_hi = 0;
  t->nested->count = 0;  // a reused state's leftovers (its thread ended inside a handler) are void
  t->sealed.state.store(SealedChunk::kEmpty, std::memory_order_relaxed);
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
  // The offload thread looks for sealed chunks among live threads only: this one leaves now.
  if (HasSealedChunk(t)) WriteSealedLocked(t);
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
  g_offload.store(kOffloadStateUnset, std::memory_order_relaxed);  // until this process's offload thread runs
  g_offload_sleeping.store(false, std::memory_order_relaxed);
  ThreadState* self = t_local.state;
  ThreadState* t = g_head;
  g_head = nullptr;
  while (t) {
    ThreadState* next = t->next;
    // Sealed chunks are the parent's too; this process has no offload thread (yet).
    t->sealed.state.store(SealedChunk::kEmpty, std::memory_order_relaxed);
    if (t != self) {
      // Its buffered records are the parent's (the parent writes them).
      t->lock.store(0, std::memory_order_relaxed);
      t->owner_busy.store(0, std::memory_order_relaxed);
      ResetChunk(t, 0);
      t->next = g_free_list;
      g_free_list = t;
    }
    t = next;
  }
  // The child is a new address space: its membarrier registration starts afresh. It has one
  // thread, outside any Lock, so the kind may change here.
  InitThreadLocks();
  if (self) {
    self->lock.store(0, std::memory_order_relaxed);
    self->owner_busy.store(0, std::memory_order_relaxed);
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
