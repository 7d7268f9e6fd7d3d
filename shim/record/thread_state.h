// Per-thread recording state: the chunk being filled, the sealed chunk waiting for the offload
// thread, and the lock that lets the ticker and the exit path flush them from another thread.
//
// Thread-safety: a ThreadState is touched only by its owner thread, except while another thread
// holds its lock (ticker, exit and exec flushes, which take it with TryLockForeign or a bounded
// spin). The lock is asymmetric, because the owner takes it on every event and the others a few
// times a second: see Lock below.
// The sealed chunk (`sealed`) belongs to whoever moved its state from kSealed to kTaken: the
// offload thread or a lock holder, which writes it before anything newer of the thread.
// The registry of live states is guarded by a mutex that only cold paths take.
#ifndef ALLOCPROF_SHIM_THREAD_STATE_H_
#define ALLOCPROF_SHIM_THREAD_STATE_H_

#include <stdint.h>
#include <sys/types.h>

#include <atomic>

#include "allocprof/trace_format.h"
#include "record/free_cache.h"
#include "record/record_encoder.h"

namespace allocprof::shim {

class RuleCache;
struct NestedEvents;

// A full chunk handed to the offload thread (compression off the program's thread). Its header is
// fixed when it is sealed (all but codec, sizes and checksum); its columns stay in the buffer the
// encoder filled until it is written, and the encoder fills the thread's other buffer meanwhile.
struct SealedChunk {
  enum : uint32_t { kEmpty, kSealed, kTaken, kTakenAwaited };  // kTakenAwaited: the owner waits (futex)
  std::atomic<uint32_t> state;
  format::ChunkHeader header;
  ColumnSpan columns[format::kColumnCount];
};

struct ThreadState {
  std::atomic<uint32_t> lock;        // held by another thread (or, without membarrier, by anyone)
  std::atomic<uint32_t> owner_busy;  // the owner is inside Lock .. Unlock (with membarrier only)
  uint32_t index;                    // ChunkHeader::thread
  pid_t tid;
  int* errno_location;  // the owner thread's &errno: the hot path keeps errno without a call
  RecordEncoder enc;    // the chunk being filled, in columns
  uint32_t alloc_seq;   // allocations recorded by this thread (FREE_AGE counts back from it)
  uint32_t first_seq;   // alloc_seq when this thread's trace began (older entries are void)
  FreeCache* free_cache;
  uint64_t covered_until;        // last promise made to the reader
  uintptr_t* frames;             // scratch for stack capture, max_depth + slack entries
  RuleCache* rule_cache;         // frame rules for stack capture, mapped on first use (kept on reuse)
  bool rule_cache_failed;        // no memory for it: libunwind walks every stack
  void* zstd;                    // ZSTD_CCtx, created on the first compressed flush (memory from mmap)
  NestedEvents* nested;          // events of signal handlers that interrupted the shim (nested_events.h)
  RuleCache* nested_rule_cache;  // stack capture for those, mapped on first use
  uint8_t* out;                  // ChunkHeader + stored payload, assembled at flush
  size_t out_capacity;
  uint8_t* buffers[2];  // the encoder's column memory and the spare (the sealed chunk's meanwhile)
  SealedChunk sealed;
  uintptr_t stack_lo, stack_hi;  // thread stack bounds for frame-pointer walks (0: unknown)
  char name[16];
  bool claimed_by_ticker;  // TickerSweep holds `lock` and has yet to look at this state
  ThreadState* prev;
  ThreadState* next;
};

struct ThreadLocal {
  ThreadState* state;
  bool in_hook;  // reentrancy guard: the shim's own allocations are not recorded
  bool exited;   // the thread's state was released; late events go out one by one
  uint8_t exit_rounds;
  // Work held back while inside the shim: fatal signals (bit per signal) and, bit 0
  // (kNestedEventsPending), signal handlers' events to merge. Handlers set bits with atomic ors.
  uint64_t deferred_signals;
  uint8_t signal_over_shim;  // a program's signal handler runs on top of the shim (nested_events.h)
  uint8_t handlers_running;  // program signal handlers on this thread's stack, through our trampoline
  bool nested_walking;       // a handler's stack is being walked (a nested handler walks none)
};

extern __thread ThreadLocal t_local __attribute__((tls_model("initial-exec")));

// runtime/fatal_signals.cc: merges the signal handlers' events and lets the fatal signals held back
// inside the shim reach this thread.
void ReleaseDeferredSignals();

// The calling thread enters or leaves the shim. The signal fences keep the compiler from moving
// the flag across the shim's work: a fatal signal handler reads it on this thread, and holds its
// signal back until LeaveShim when the thread was inside (fatal_signals.h).
inline void EnterShim() {
  t_local.in_hook = true;
  std::atomic_signal_fence(std::memory_order_seq_cst);
}
inline void LeaveShim() {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_local.in_hook = false;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (__builtin_expect(t_local.deferred_signals != 0, 0)) ReleaseDeferredSignals();
}

// The thread's lock. Its owner takes it twice an allocation and free; an atomic exchange there
// costs more than any other instruction of the event (it waits for all the program's pending
// loads and stores: ~7% of a churn run's CPU), so the owner uses plain stores instead. It marks
// itself busy, then checks that no other thread holds the lock; another thread takes `lock`, then
// makes every running thread of the process execute a full memory barrier (membarrier, private
// expedited), then checks busy. Of two threads that come at once, at least one sees the other
// and backs off (a Dekker handshake whose fast side's barrier the kernel supplies on demand).
// Where membarrier is unavailable (old kernels, seccomp, valgrind), or ALLOCPROF_TEST_LOCK=exchange,
// everyone takes `lock` with an exchange, as a spinlock. The choice is made once per process,
// before any ThreadState exists (InitThreadLocks), and again in a forked child.
enum class LockKind : uint8_t { kExchange, kMembarrier };
extern LockKind g_lock_kind __attribute__((visibility("hidden")));
void InitThreadLocks();

// The owner's side: t is the calling thread's own state, not held by it already.
inline bool TryLock(ThreadState* t) {
  if (__builtin_expect(g_lock_kind == LockKind::kMembarrier, 1)) {
    t->owner_busy.store(1, std::memory_order_relaxed);
    // Only the compiler needs stopping here: the other side's membarrier orders the CPU.
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (__builtin_expect(t->lock.load(std::memory_order_acquire) == 0, 1)) return true;
    t->owner_busy.store(0, std::memory_order_release);
    return false;
  }
  return t->lock.exchange(1, std::memory_order_acquire) == 0;
}
void LockSlow(ThreadState* t);
inline void Lock(ThreadState* t) {
  if (__builtin_expect(!TryLock(t), 0)) LockSlow(t);
}
inline void Unlock(ThreadState* t) {
  if (__builtin_expect(g_lock_kind == LockKind::kMembarrier, 1))
    t->owner_busy.store(0, std::memory_order_release);
  else
    t->lock.store(0, std::memory_order_release);
}

// Another thread's side (or the owner's from a context that may have interrupted its own Lock ..
// Unlock, such as an exit from a signal handler): false if the state is held. Costs a system call.
bool TryLockForeign(ThreadState* t);
// The same for many states at once, with one system call for all: Claim each (false: another
// thread than the owner holds it), then SyncWithOwners once, then OwnerInside tells, for each
// claimed state, whether its owner holds it too; if so, UnlockForeign it and leave it alone.
inline bool Claim(ThreadState* t) { return t->lock.exchange(1, std::memory_order_acquire) == 0; }
void SyncWithOwners();
inline bool OwnerInside(const ThreadState* t) {
  return g_lock_kind == LockKind::kMembarrier && t->owner_busy.load(std::memory_order_acquire) != 0;
}
// Spins a bounded time; false if the owner did not let go (it may be stuck in the loader).
bool LockBounded(ThreadState* t);
inline void UnlockForeign(ThreadState* t) { t->lock.store(0, std::memory_order_release); }

inline bool HasRecords(const ThreadState* t) { return t->enc.records() != 0; }
// A sealed chunk is waiting or being written: the thread's file position is behind its records.
inline bool HasSealedChunk(const ThreadState* t) {
  return t->sealed.state.load(std::memory_order_acquire) != SealedChunk::kEmpty;
}

// Creates and registers the calling thread's state (cold); null if memory is unavailable.
ThreadState* CreateThreadState();

// Starts a new empty chunk at `now`.
void ResetChunk(ThreadState* t, uint64_t now);

// Writes the thread's sealed chunk if one is pending, then seals the chunk being filled (if it has
// records) and either writes it or, on the owner's thread while offloading is on, hands it to the
// offload thread; then starts a new chunk at `now`. Caller holds t->lock.
void FlushLocked(ThreadState* t, uint64_t now);

// Offloading: turned on once the offload thread runs, unless the exit/exec flushes turned it off
// (for good) first; off in a forked child until the child's own offload thread runs.
void EnableOffload();
void DisableOffload();
// Offload thread: waits (futex) until a chunk may have been sealed since `seen`; returns the new
// count of seals.
uint32_t WaitForSealedChunks(uint32_t seen);
// Offload thread: takes one sealed chunk of a live thread (kSealed -> kTaken), or null.
ThreadState* TakeSealedChunk();
// Writes a chunk taken from `t->sealed` (compressed with `zstd`, a ZSTD_CCtx, into `out`) and
// empties the slot, waking an owner that waits for it.
void WriteTakenChunk(ThreadState* t, void* zstd, uint8_t* out, size_t out_capacity);
// Bytes an `out` buffer for WriteTakenChunk needs.
size_t ChunkOutBytes();
// A ZSTD_CCtx whose memory comes from mmap, or null.
void* CreateChunkCompressor();

// Registry walks (cold).
void RegistryLock();
void RegistryUnlock();
// Bounded wait, for paths that may run in a signal handler; false if the registry stayed busy.
bool RegistryLockBounded();
template <typename Fn>
void ForEachThreadLocked(Fn&& fn);
ThreadState* RegistryHead();

// Called by the pthread key destructor when the thread exits.
void OnThreadExit(void* state);
void InitThreadExitKey();

// After fork, in the child: forget every state but the caller's, whose buffered events belong to
// the parent.
void ResetThreadsAfterFork();

template <typename Fn>
void ForEachThreadLocked(Fn&& fn) {
  for (ThreadState* t = RegistryHead(); t; t = t->next) fn(t);
}

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_THREAD_STATE_H_
