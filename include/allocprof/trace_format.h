// allocprof trace format: the one definition shared by the shim (writer) and the analyzer (reader).
//
// A trace is a FileHeader followed by chunks. Each chunk is a ChunkHeader and a payload, optionally
// zstd-compressed. Every chunk belongs to one writer thread; a thread's chunks appear in the file in
// the order of their events. A reader stops cleanly at a truncated tail and resynchronises after
// corruption by scanning for the next chunk magic whose checksum holds.
//
// The payload is columnar: a section table, then one section per Column. Each record puts its tag
// byte in kTags and its fields in the columns named below, so every column holds values of one
// kind and compresses far better than interleaved records would (sizes with sizes, times with
// times). All integers are LEB128 varints; "zz" is a zigzag-encoded signed delta.
//
//   payload := uvarint section_size[kColumnCount] , section[0] ... section[kColumnCount-1]
//
//   tag 0x00-0x3F  ALLOC     entry=tag&0x3F  times: dq | sizes: size | hints: hint | stacks: stack code
//                            | addresses: zz(addr - prev_alloc_addr), only when hint == 0
//   tag 0x40-0x7F  FREE      entry=tag&0x3F  times: dq | addresses: zz(addr - prev_free_addr)
//   tag 0xC0-0xFF  FREE_AGE  code=tag&0x3F   times: dq | ages: age
//   tag 0x80-0xBF  control records (RecordTag): a dq in times if timed, every other field in kControl
//
// Time: dq counts kTimeQuantumNs quanta since the previous timed record of the chunk (the first
// since ChunkHeader::base_time_ns); a record's time is base_time_ns + kTimeQuantumNs * (sum of dq).
// Times are CLOCK_MONOTONIC (or the TSC calibrated against it: shim/record/clock.h), comparable
// across the processes of one machine to within microseconds.
//
// Address compression, mirrored exactly by shim and reader:
// - FREE_AGE: the freed address is that of this thread's allocation number (next_seq - age).
//   ChunkHeader::alloc_seq is the thread's allocation counter at the chunk's start, so a reader
//   that lost a chunk knows which ages it can no longer resolve. Ages reach at most kMaxAge back.
// - FREE_AGE code: the free's entry point, or kPredictedFreeEntry when it is the entry point of
//   the chunk's previous FREE_AGE of a block of the same Family (FreeEntryPredictor): programs
//   release each family the same way, so the tag column repeats.
// - ALLOC stack code: 0 when the stack is that of the chunk's previous allocation through the same
//   entry point (StackPredictor), otherwise stack_id + 1.
// - ALLOC hint k > 0: the address is the k-th most recent address (1 = newest) freed through
//   FREE_AGE in this chunk whose allocation had the same SizeClass (allocators hand a freed block of
//   a size class back to the next request of that class). hint 0: the address follows explicitly.
//   The per-class history and the predictors restart with every chunk; prev_alloc_addr and
//   prev_free_addr start at 0.
//
// Version 3 differs only in: no ages column (ages were in the hints column, then called refs),
// hints at most 8 deep and never for blocks above 1,032 bytes, stack ids written as they are, and
// no predicted FREE_AGE codes. A reader of version 4 reads it unchanged:
// a deeper hint history finds the same k-th newest entries, since the shallower one is a prefix
// of it.
//
// Ordering contract: a free is stamped before the memory is handed back to the allocator and an
// allocation after the allocator returned it. Recording an allocation takes longer than a quantum,
// so an allocation and a free of the same block in two threads never share a quantum; sorting all
// threads' events by time, frees first on equal times, pairs every address reuse correctly.
// ChunkHeader::covered_until_ns promises that no later chunk of the same thread holds an event
// older than it, which bounds the reader's merge window.
//
// Versioning: kFormatVersion is bumped on every incompatible change (a new record tag is one: an
// older reader stops at it). Readers accept kOldestReadableVersion..kFormatVersion.
// Version 3 added kCapture, version 4 the ages column, deeper hints and predicted FREE_AGE codes
// (see above), version 5 kModuleUnload, version 6 kSuppressions; version 2 to 5 traces are read
// unchanged.
#ifndef ALLOCPROF_TRACE_FORMAT_H_
#define ALLOCPROF_TRACE_FORMAT_H_

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

namespace allocprof::format {

inline constexpr char kFileMagic[8] = {'A', 'L', 'L', 'O', 'C', 'P', 'R', 'F'};
inline constexpr uint16_t kFormatVersion = 6;            // 6: kSuppressions; 5: kModuleUnload; 4: ages, ...
inline constexpr uint16_t kOldestReadableVersion = 2;    // version 1 was a row format
inline constexpr uint32_t kChunkMagic = 0x4b435041;      // "APCK" little-endian
inline constexpr uint32_t kProcessThread = 0xffffffffu;  // chunks not owned by an application thread
inline constexpr uint32_t kMaxChunkPayload = 16u << 20;  // readers reject larger claims
inline constexpr uint32_t kMaxStackDepth = 1024;
inline constexpr uint32_t kMaxStringLength = 64u << 10;
inline constexpr uint64_t kTimeQuantumNs = 16;
inline constexpr uint32_t kMaxAge = 1u << 14;    // FREE_AGE reaches this many allocations back
inline constexpr uint32_t kHintDepth = 32;       // ALLOC hints name one of the 32 newest frees (8 in v3)
inline constexpr uint32_t kSizeClassCount = 66;  // SizeClass() values are 1..65

// Size classes for the ALLOC hint: glibc's chunk sizes (request + 8, 16-byte aligned, at least 32)
// up to its thread-cache limit, divided by 16, so 2..65. Every larger block is class 1: glibc
// serves a request from the start of a larger free chunk, so those addresses return too, just not
// by exact size. (Version 3 writers gave larger blocks class 0: never hinted.)
inline constexpr uint32_t kLargeSizeClass = 1;
inline uint32_t SizeClass(uint64_t size) {
  if (size > 1032) return kLargeSizeClass;
  uint64_t chunk = (size + 8 + 15) & ~uint64_t{15};
  return static_cast<uint32_t>((chunk < 32 ? 32 : chunk) >> 4);
}

// The recent frees per size class that ALLOC hints refer to; writer and reader run the same code.
// A ring per class: a push overwrites the oldest once full, and taking the k-th newest moves only
// the k-1 newer entries (allocators mostly hand back the newest, so usually none).
struct HintHistory {
  static_assert((kHintDepth & (kHintDepth - 1)) == 0, "ring index masks need a power of two");
  static constexpr uint32_t kMask = kHintDepth - 1;
  uint64_t addr[kSizeClassCount][kHintDepth];
  uint8_t head[kSizeClassCount];   // slot the next push writes
  uint8_t count[kSizeClassCount];  // entries held, at most kHintDepth

  void Reset() {
    memset(head, 0, sizeof(head));
    memset(count, 0, sizeof(count));
  }
  void Push(uint32_t cls, uint64_t a) {
    uint32_t h = head[cls];
    addr[cls][h] = a;
    head[cls] = static_cast<uint8_t>((h + 1) & kMask);
    if (count[cls] < kHintDepth) ++count[cls];
  }
  // 1-based position of `a` among the class's recent frees (1 = newest), 0 when absent.
  uint32_t Find(uint32_t cls, uint64_t a) const {
    uint32_t h = head[cls];
    for (uint32_t k = 1; k <= count[cls]; ++k) {
      if (addr[cls][(h - k) & kMask] == a) return k;
    }
    return 0;
  }
  // Takes entry `hint` (1-based, must be <= count) out: that block is allocated again.
  uint64_t Take(uint32_t cls, uint32_t hint) {
    uint32_t h = head[cls];
    uint64_t a = addr[cls][(h - hint) & kMask];
    for (uint32_t k = hint; k > 1; --k) addr[cls][(h - k) & kMask] = addr[cls][(h - k + 1) & kMask];
    head[cls] = static_cast<uint8_t>((h - 1) & kMask);
    --count[cls];
    return a;
  }
};

// Sections in payload order. Every column before kControl takes event fields.
enum class Column : uint8_t { kTags, kTimes, kSizes, kAddresses, kHints, kStacks, kAges, kControl, kCount };
inline constexpr int kColumnCount = static_cast<int>(Column::kCount);

// The first version with the ages column, stack codes and predicted FREE_AGE codes.
inline constexpr uint16_t kFirstVersionWithAges = 4;
// The sections of a payload written in `version`, in order. Before kFirstVersionWithAges there was
// no ages section (kHints also held the ages).
struct PayloadLayout {
  const Column* columns;
  int count;
};
inline PayloadLayout PayloadLayoutOf(uint16_t version) {
  static constexpr Column kV3[] = {Column::kTags,  Column::kTimes,  Column::kSizes,  Column::kAddresses,
                                   Column::kHints, Column::kStacks, Column::kControl};
  static constexpr Column kV4[] = {Column::kTags,  Column::kTimes,  Column::kSizes, Column::kAddresses,
                                   Column::kHints, Column::kStacks, Column::kAges,  Column::kControl};
  static_assert(sizeof(kV4) / sizeof(kV4[0]) == kColumnCount);
  if (version < kFirstVersionWithAges) return {kV3, static_cast<int>(sizeof(kV3) / sizeof(kV3[0]))};
  return {kV4, kColumnCount};
}

struct FileHeader {
  char magic[8];
  uint16_t version;
  uint16_t header_size;  // sizeof(FileHeader); lets a later minor version append fields
  uint32_t flags;        // reserved, 0
};
static_assert(sizeof(FileHeader) == 16);

enum class Codec : uint8_t { kNone = 0, kZstd = 1 };

struct ChunkHeader {
  uint32_t magic;             // kChunkMagic
  uint8_t codec;              // Codec
  uint8_t flags;              // reserved, 0
  uint16_t header_size;       // sizeof(ChunkHeader)
  uint32_t stored_size;       // payload bytes that follow the header in the file
  uint32_t raw_size;          // payload bytes after decompression
  uint32_t thread;            // writer thread index within the process, or kProcessThread
  uint32_t record_count;      // records in the payload
  uint64_t base_time_ns;      // time origin of the payload's first dt
  uint64_t covered_until_ns;  // the thread has no event before this in any later chunk
  uint32_t checksum;          // ChunkChecksum(header with checksum = 0, stored payload)
  uint32_t alloc_seq;         // the thread's allocation counter at the chunk's start (mod 2^32)
};
static_assert(sizeof(ChunkHeader) == 48);

// Entry points, listed once. THE ORDER IS THE ON-DISK ENCODING (an entry point's index is the low
// six bits of its ALLOC/FREE tags): the table only grows at the end, never reorders or removes.
// X(enumerator, name, family, kind, symbol, releases, shim)
//   family: how the memory must be released (mismatched frees compare families).
//   kind: whether the entry point's event allocates or frees.
//   The rest is the shim's (shim/hooks/interposed.h derives its tables from it):
//   symbol: the function the shim defines for it (mangled for the C++ operators; size_t is 'm'
//     on x86-64); empty for realloc's release half, which has none of its own.
//   releases: whether the function can release memory; `allocprof attach` redirects all of these
//     before anything that only allocates.
//   shim: how the shim defines the function. kLookUp: a wrapper written by hand (hooks_malloc.cc)
//     that forwards to the next definition of the symbol, which the real-function table looks up;
//     kByHand: a wrapper written by hand that forwards elsewhere; kNone: no function; the kNew* and
//     kDelete* signatures: the uniform operator wrapper of that signature, which hooks_new.cc
//     generates from this table.
// Adding an entry point: a line at the end, and its wrapper when it is written by hand.
// clang-format off
#define ALLOCPROF_ENTRY_POINTS(X) \
  X(kMalloc,                    "malloc",                           kMallocFamily,   kAlloc,   malloc,                              false, kLookUp)                \
  X(kCalloc,                    "calloc",                           kMallocFamily,   kAlloc,   calloc,                              false, kLookUp)                \
  X(kRealloc,                   "realloc",                          kMallocFamily,   kAlloc,   realloc,                             true,  kLookUp)                \
  X(kReallocarray,              "reallocarray",                     kMallocFamily,   kAlloc,   reallocarray,                        true,  kLookUp)                \
  X(kPosixMemalign,             "posix_memalign",                   kMallocFamily,   kAlloc,   posix_memalign,                      false, kLookUp)                \
  X(kAlignedAlloc,              "aligned_alloc",                    kMallocFamily,   kAlloc,   aligned_alloc,                       false, kLookUp)                \
  X(kMemalign,                  "memalign",                         kMallocFamily,   kAlloc,   memalign,                            false, kLookUp)                \
  X(kValloc,                    "valloc",                           kMallocFamily,   kAlloc,   valloc,                              false, kLookUp)                \
  X(kPvalloc,                   "pvalloc",                          kMallocFamily,   kAlloc,   pvalloc,                             false, kLookUp)                \
  X(kNew,                       "operator new",                     kNewFamily,      kAlloc,   _Znwm,                               false, kNew)                   \
  X(kNewArray,                  "operator new[]",                   kNewArrayFamily, kAlloc,   _Znam,                               false, kNew)                   \
  X(kNewNothrow,                "operator new(nothrow)",            kNewFamily,      kAlloc,   _ZnwmRKSt9nothrow_t,                 false, kNewNothrow)            \
  X(kNewArrayNothrow,           "operator new[](nothrow)",          kNewArrayFamily, kAlloc,   _ZnamRKSt9nothrow_t,                 false, kNewNothrow)            \
  X(kNewAligned,                "operator new(align)",              kNewFamily,      kAlloc,   _ZnwmSt11align_val_t,                false, kNewAligned)            \
  X(kNewArrayAligned,           "operator new[](align)",            kNewArrayFamily, kAlloc,   _ZnamSt11align_val_t,                false, kNewAligned)            \
  X(kNewAlignedNothrow,         "operator new(align,nothrow)",      kNewFamily,      kAlloc,   _ZnwmSt11align_val_tRKSt9nothrow_t,  false, kNewAlignedNothrow)     \
  X(kNewArrayAlignedNothrow,    "operator new[](align,nothrow)",    kNewArrayFamily, kAlloc,   _ZnamSt11align_val_tRKSt9nothrow_t,  false, kNewAlignedNothrow)     \
  X(kFree,                      "free",                             kMallocFamily,   kRelease, free,                                true,  kLookUp)                \
  X(kFreeSized,                 "free_sized",                       kMallocFamily,   kRelease, free_sized,                          true,  kByHand)                \
  X(kFreeAlignedSized,          "free_aligned_sized",               kMallocFamily,   kRelease, free_aligned_sized,                  true,  kByHand)                \
  X(kReallocFree,               "realloc(free)",                    kMallocFamily,   kRelease, ,                                    true,  kNone)                  \
  X(kDelete,                    "operator delete",                  kNewFamily,      kRelease, _ZdlPv,                              true,  kDelete)                \
  X(kDeleteArray,               "operator delete[]",                kNewArrayFamily, kRelease, _ZdaPv,                              true,  kDelete)                \
  X(kDeleteSized,               "operator delete(sized)",           kNewFamily,      kRelease, _ZdlPvm,                             true,  kDeleteSized)           \
  X(kDeleteArraySized,          "operator delete[](sized)",         kNewArrayFamily, kRelease, _ZdaPvm,                             true,  kDeleteSized)           \
  X(kDeleteNothrow,             "operator delete(nothrow)",         kNewFamily,      kRelease, _ZdlPvRKSt9nothrow_t,                true,  kDeleteNothrow)         \
  X(kDeleteArrayNothrow,        "operator delete[](nothrow)",       kNewArrayFamily, kRelease, _ZdaPvRKSt9nothrow_t,                true,  kDeleteNothrow)         \
  X(kDeleteAligned,             "operator delete(align)",           kNewFamily,      kRelease, _ZdlPvSt11align_val_t,               true,  kDeleteAligned)         \
  X(kDeleteArrayAligned,        "operator delete[](align)",         kNewArrayFamily, kRelease, _ZdaPvSt11align_val_t,               true,  kDeleteAligned)         \
  X(kDeleteSizedAligned,        "operator delete(sized,align)",     kNewFamily,      kRelease, _ZdlPvmSt11align_val_t,              true,  kDeleteSizedAligned)    \
  X(kDeleteArraySizedAligned,   "operator delete[](sized,align)",   kNewArrayFamily, kRelease, _ZdaPvmSt11align_val_t,              true,  kDeleteSizedAligned)    \
  X(kDeleteAlignedNothrow,      "operator delete(align,nothrow)",   kNewFamily,      kRelease, _ZdlPvSt11align_val_tRKSt9nothrow_t, true,  kDeleteAlignedNothrow)  \
  X(kDeleteArrayAlignedNothrow, "operator delete[](align,nothrow)", kNewArrayFamily, kRelease, _ZdaPvSt11align_val_tRKSt9nothrow_t, true,  kDeleteAlignedNothrow)
// clang-format on

enum class EntryPoint : uint8_t {
#define ALLOCPROF_ENUMERATOR(e, ...) e,
  ALLOCPROF_ENTRY_POINTS(ALLOCPROF_ENUMERATOR)
#undef ALLOCPROF_ENUMERATOR
      kCount
};
static_assert(static_cast<int>(EntryPoint::kCount) <= 64, "entry point must fit the tag's low 6 bits");

enum class Family : uint8_t { kMallocFamily, kNewFamily, kNewArrayFamily };
inline constexpr int kFamilyCount = 3;
enum class EntryKind : uint8_t { kAlloc, kRelease };

struct EntryPointInfo {
  const char* name;
  Family family;
  EntryKind kind;
};

inline constexpr EntryPointInfo kEntryPoints[] = {
#define ALLOCPROF_INFO(e, name, family, kind, ...) {name, Family::family, EntryKind::kind},
    ALLOCPROF_ENTRY_POINTS(ALLOCPROF_INFO)
#undef ALLOCPROF_INFO
};

inline Family FamilyOf(EntryPoint e) { return kEntryPoints[static_cast<int>(e)].family; }

// FREE_AGE code meaning "the entry point of the chunk's previous FREE_AGE of this family".
inline constexpr uint8_t kPredictedFreeEntry = 0x3f;
static_assert(static_cast<int>(EntryPoint::kCount) < kPredictedFreeEntry);

// The entry point each family was last released through in this chunk; writer and reader run the
// same code. kUnknownEntry: not yet in this chunk.
struct FreeEntryPredictor {
  static constexpr uint8_t kUnknownEntry = 0xff;
  uint8_t last[kFamilyCount];

  void Reset() { memset(last, kUnknownEntry, sizeof(last)); }
  // The code the writer puts in the FREE_AGE tag for a release through `entry` of a block of
  // `family`; remembers `entry`.
  uint8_t Encode(Family family, EntryPoint entry) {
    uint8_t& l = last[static_cast<int>(family)];
    uint8_t e = static_cast<uint8_t>(entry);
    uint8_t code = l == e ? kPredictedFreeEntry : e;
    l = e;
    return code;
  }
  // The entry point `code` stands for (kUnknownEntry for a prediction with nothing to predict
  // from: a malformed chunk); remembers it.
  uint8_t Decode(Family family, uint8_t code) {
    uint8_t& l = last[static_cast<int>(family)];
    if (code != kPredictedFreeEntry) l = code;
    return l;
  }
};

// The stack of each entry point's previous allocation in the chunk; writer and reader run the same
// code. A call site allocates through one entry point, often several times in a row, so the
// stacks column mostly repeats code 0. Codes: 0 = that stack again, otherwise stack_id + 1.
struct StackPredictor {
  uint32_t last[static_cast<int>(EntryPoint::kCount)];

  void Reset() { memset(last, 0, sizeof(last)); }
  uint64_t Encode(EntryPoint entry, uint32_t stack_id) {
    uint32_t& l = last[static_cast<int>(entry)];
    uint64_t code = l == stack_id ? 0 : uint64_t{stack_id} + 1;
    l = stack_id;
    return code;
  }
  // False for a code that names no stack id.
  bool Decode(EntryPoint entry, uint64_t code, uint32_t* stack_id) {
    uint32_t& l = last[static_cast<int>(entry)];
    if (code > uint64_t{UINT32_MAX} + 1) return false;
    if (code) l = static_cast<uint32_t>(code - 1);
    *stack_id = l;
    return true;
  }
};

inline constexpr uint8_t kAllocTagBase = 0x00;
inline constexpr uint8_t kFreeTagBase = 0x40;
inline constexpr uint8_t kControlTagBase = 0x80;
inline constexpr uint8_t kFreeAgeTagBase = 0xc0;

// Control records. "t" is a dq in the times column; every other field, in order, is in the control
// column; "str" is uvarint length + bytes.
enum class RecordTag : uint8_t {
  // id | depth | frame[0] | zz(frame[i] - frame[i-1])...   frames are return addresses, leaf first
  kStackDef = 0x80,
  // t | os_tid
  kThreadStart = 0x81,
  // str name (the thread's name as of this point)
  kThreadName = 0x82,
  // t (the thread exited; no further chunk of it follows)
  kThreadEnd = 0x83,
  // t | load_bias | str path | str build_id (raw bytes) | n | n × (vaddr | memsz | flags)
  kModule = 0x84,
  // pid | ppid | exec_generation | start_monotonic_ns | start_realtime_ns | page_size |
  // llc_bytes | unwind_mode | max_depth | str exe | str command_line (args joined by NUL) | str shim_version
  // [| flags (kProcess* bits)]. The record is always alone in its chunk, so a reader takes control
  // bytes left after shim_version as the optional flags; traces written before flags existed end
  // there (flags 0), and older readers ignore them. start_monotonic_ns is when tracing began: the
  // attach time when kProcessAttached is set.
  kProcess = 0x85,
  // t | str path (the process is about to exec this path; its trace ends here if exec succeeds)
  kExec = 0x86,
  // t | child_pid
  kFork = 0x87,
  // t | str text (a condition the shim wants the user to see, e.g. a module loaded with RTLD_DEEPBIND)
  kWarning = 0x88,
  // t (the process finished tracing cleanly; absence means it was cut short)
  kEnd = 0x89,
  // t | thread (in a process chunk: that thread has no event older than t in any later chunk;
  // written for idle threads so the reader's merge window keeps moving)
  kQuiet = 0x8a,
  // pool | str name | max_block | slots_per_bucket   (include/allocprof/pool.h; process chunks)
  kPoolRegister = 0x8b,
  // t | pool | requested | stack_id   (allocations of this thread until kRentEnd are the pool's)
  kRentBegin = 0x8c,
  // t | pool | requested | granted | outcome (allocprof_rent_outcome)
  kRentEnd = 0x8d,
  // t | pool | size | outcome (allocprof_return_outcome) | stack_id (0 unless dropped)
  kPoolReturn = 0x8e,
  // counter | str unit   (process chunks)
  kCounterName = 0x8f,
  // t | counter | n
  kCount = 0x90,
  // t | str name   (allocprof_mark: a point in time the program names)
  kMark = 0x91,
  // t | state (CaptureState) | str reason   (process chunks: capture started, paused or ended;
  // written only when capture control is used; a trace without it recorded the whole run)
  kCapture = 0x92,
  // interval_bytes   (process chunks, next to kProcess; absent: every allocation is recorded)
  // Sampled trace: an allocation of `size` bytes was recorded with probability SampleProbability
  // below, independently of every other; a free is recorded only when its allocation was (see
  // docs/trace-format.md, "Sampled traces").
  kSampling = 0x93,
  // t | load_bias | str path   (process chunks: the module recorded by kModule with this bias and
  // path was unmapped by dlclose at t; another module may be mapped at its addresses afterwards.
  // The shim defines new stacks after it, so every stack id's frames lie in the modules mapped
  // when it was defined, and the analyzer resolves a stack against the modules of its time.)
  kModuleUnload = 0x94,
  // str text   (process chunks: what the program's `__lsan_default_suppressions()` returned,
  // LeakSanitizer's format, "leak:PATTERN" a line; written once the shim found it, again in a
  // forked child's trace. A reader applies it like --suppressions; the last one read counts.)
  kSuppressions = 0x95,
};

// Capture states (kCapture). While paused the shim records frees only (of blocks it may have
// recorded), so the live set stays exact across a pause; once ended it records nothing more.
enum class CaptureState : uint8_t { kPaused = 0, kRecording = 1, kEnded = 2 };

// kProcess flags.
// The shim was loaded into a running process (`allocprof attach`): blocks allocated before that are
// unknown, so frees of addresses the trace never saw allocated are expected, not errors.
inline constexpr uint64_t kProcessAttached = 1;
// The trace was started in a forked child, whose heap is a copy of its parent's: frees of blocks the
// parent allocated before the fork are expected ("inherited at fork"), not errors. An image the
// child then execs starts a fresh heap and a trace without this flag.
inline constexpr uint64_t kProcessForked = 2;

// Probability that a sampled trace holds an allocation of `size` bytes: the chance that a Poisson
// process over allocated bytes with mean interval `interval` has a point within it. Size 0 counts
// as 1 byte, so empty allocations can be sampled too; sizes >= interval are always recorded.
inline double SampleProbability(uint64_t size, uint64_t interval) {
  uint64_t bytes = size ? size : 1;
  if (interval == 0 || bytes >= interval) return 1.0;
  return -expm1(-static_cast<double>(bytes) / static_cast<double>(interval));
}

enum class UnwindMode : uint8_t { kNone = 0, kFramePointer = 1, kLibunwind = 2 };

// ---- varint primitives (shared by encoder and decoder) ----

inline uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
inline int64_t UnZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

// Writes v at p, returns one past the last byte written (at most 10 bytes).
inline uint8_t* PutVarint(uint8_t* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v) | 0x80;
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return p;
}

// Reads a varint from [*p, end). Returns false (leaving *p unspecified) on a truncated or
// over-long encoding, so corrupt input can never read past end.
inline bool GetVarint(const uint8_t** p, const uint8_t* end, uint64_t* out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*p >= end) return false;
    uint8_t b = *(*p)++;
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false;
}

// Checksum of a chunk: header (with its checksum field zeroed) then stored payload. A
// multiply-xorshift hash over 8-byte words: cheap enough to run on every flush, strong enough to
// tell a real chunk from bytes that happen to contain the magic.
inline uint64_t ChecksumUpdate(uint64_t h, const void* data, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  constexpr uint64_t kMul = 0x9e3779b97f4a7c15ull;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  if (n) memcpy(&tail, p, n);  // p may be null for an empty payload
  h = (h ^ tail ^ (static_cast<uint64_t>(n) << 56)) * kMul;
  return h ^ (h >> 32);
}

inline uint32_t ChunkChecksum(const ChunkHeader& header, const void* payload, size_t stored_size) {
  ChunkHeader copy = header;
  copy.checksum = 0;
  uint64_t h = ChecksumUpdate(0x243f6a8885a308d3ull, &copy, sizeof(copy));
  return static_cast<uint32_t>(ChecksumUpdate(h, payload, stored_size));
}

}  // namespace allocprof::format

#endif  // ALLOCPROF_TRACE_FORMAT_H_
