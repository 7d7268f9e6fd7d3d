// Writes a valid allocprof trace of any length without running a program: the analyzer's scale
// benchmark needs traces of a billion events, which a traced run would take many minutes to make.
//
// The pattern follows bench/churn: each of --threads threads keeps --window live blocks and, once
// they are all live, frees one of them (picked at random, so ages vary and some frees go beyond
// FREE_AGE's reach) and allocates a new one, with churn's size and entry-point mix. Addresses come
// from per-thread, per-size-class free lists, so freed blocks are handed out again the way glibc's
// thread cache does and ALLOC hints apply. Threads take turns in short runs, so their chunks overlap
// in time as a real multi-threaded trace's do; --stacks distinct stacks are used with a skewed
// popularity. The live blocks at the end stay live (the analyzer reports them as leaks).
//
// Records are encoded by the shim's own RecordEncoder (shim/record/record_encoder.h): one definition of
// the format. Chunks are zstd-compressed like the shim's (level 1 unless --zstd-level).
//
// At the end it prints the totals the analyzer must report, one "key value" per line on stdout:
// events, allocations, frees, bytes_allocated, bytes_freed, peak_live_bytes, leaked_allocations,
// leaked_bytes. Deterministic for a given set of options (--seed).
//
// usage: synth_trace -o PATH [--events N] [--threads N] [--window N] [--stacks N] [--seed N]
//                    [--buffer BYTES] [--zstd-level N]
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include <memory>
#include <string>
#include <vector>

#include "allocprof/trace_format.h"
#include "record/record_encoder.h"

namespace {

using allocprof::shim::RecordEncoder;
namespace format = allocprof::format;
using format::EntryPoint;

[[noreturn]] void Die(const std::string& message) {
  fprintf(stderr, "synth_trace: %s\n", message.c_str());
  exit(2);
}

struct Options {
  std::string output;
  uint64_t events = 1000000;
  uint32_t threads = 4;
  uint32_t window = 4096;  // live blocks per thread
  uint32_t stacks = 2000;
  uint64_t seed = 42;
  uint32_t buffer = 128u << 10;  // the shim's default per-thread buffer
  int zstd_level = 1;
};

// splitmix64, as in bench/churn.cc.
struct Rng {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return Next() % n; }
};

class TraceOut {
 public:
  explicit TraceOut(const std::string& path, int level) : level_(level) {
    file_ = fopen(path.c_str(), "wbx");
    if (!file_) Die("cannot create " + path + ": " + strerror(errno));
    setvbuf(file_, nullptr, _IOFBF, 4 << 20);
    format::FileHeader header{};
    memcpy(header.magic, format::kFileMagic, sizeof(header.magic));
    header.version = format::kFormatVersion;
    header.header_size = sizeof(header);
    Write(&header, sizeof(header));
    cctx_ = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cctx_, ZSTD_c_compressionLevel, level_);
  }
  ~TraceOut() { ZSTD_freeCCtx(cctx_); }

  // Writes the encoder's records as one chunk of `thread` (format::kProcessThread for process chunks).
  void Chunk(const RecordEncoder& enc, uint32_t thread, uint64_t covered_until) {
    if (enc.records() == 0) return;
    size_t raw_size = enc.PayloadSize();
    raw_.resize(raw_size);
    enc.CopyPayload(raw_.data());
    format::ChunkHeader header{};
    header.magic = format::kChunkMagic;
    header.codec = static_cast<uint8_t>(format::Codec::kNone);
    header.header_size = sizeof(header);
    header.thread = thread;
    header.record_count = enc.records();
    header.base_time_ns = enc.base_time();
    header.covered_until_ns = covered_until;
    header.alloc_seq = enc.alloc_seq_start();
    header.raw_size = static_cast<uint32_t>(raw_size);
    const uint8_t* stored = raw_.data();
    size_t stored_size = raw_size;
    if (level_ != 0 && raw_size >= 4096) {  // as the shim: small chunks stay raw
      packed_.resize(ZSTD_compressBound(raw_size));
      size_t n = ZSTD_compress2(cctx_, packed_.data(), packed_.size(), raw_.data(), raw_size);
      if (!ZSTD_isError(n) && n < raw_size) {
        header.codec = static_cast<uint8_t>(format::Codec::kZstd);
        stored = packed_.data();
        stored_size = n;
      }
    }
    header.stored_size = static_cast<uint32_t>(stored_size);
    header.checksum = format::ChunkChecksum(header, stored, stored_size);
    Write(&header, sizeof(header));
    Write(stored, stored_size);
  }

  void Close() {
    if (fclose(file_) != 0) Die(std::string("cannot write the trace: ") + strerror(errno));
    file_ = nullptr;
  }

 private:
  void Write(const void* data, size_t n) {
    if (fwrite(data, 1, n, file_) != n) Die(std::string("cannot write the trace: ") + strerror(errno));
  }

  FILE* file_;
  int level_;
  ZSTD_CCtx* cctx_;
  std::vector<uint8_t> raw_, packed_;
};

// A small encoder for process chunks and thread announcements.
struct SmallChunk {
  std::vector<uint8_t> memory = std::vector<uint8_t>(64 << 10);
  RecordEncoder enc;
  explicit SmallChunk(uint64_t base_time) {
    enc.Init(memory.data(), memory.size(), memory.size() / 2);
    enc.Start(base_time, 0);
  }
};

struct Block {
  uint64_t addr;
  uint64_t size;
  uint32_t seq;  // the thread's allocation number
  uint32_t stack_id;
  EntryPoint entry;
};

constexpr uint32_t kLargeBuckets = 17;  // class-0 (over 1032 B) blocks, by 4 KiB pages up to 64 KiB

struct ThreadSim {
  uint32_t index = 0;
  std::vector<uint8_t> columns;
  RecordEncoder enc;
  bool announced = false;
  bool next_is_free = false;
  uint32_t alloc_seq = 0;
  uint64_t next_fresh = 0;  // bump pointer of this thread's arena
  std::vector<Block> live;
  std::vector<uint64_t> free_small[format::kSizeClassCount];
  std::vector<uint64_t> free_large[kLargeBuckets];
};

class Synthesizer {
 public:
  explicit Synthesizer(const Options& o) : o_(o), out_(o.output, o.zstd_level), rng_{o.seed} {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now_ = static_cast<uint64_t>(ts.tv_sec) * 1000000000 + static_cast<uint64_t>(ts.tv_nsec);
    start_ = now_;
    WriteProcessRecord();
    threads_.resize(o.threads);
    size_t control = o.buffer / 8 > 16384 ? o.buffer / 8 : 16384;
    for (uint32_t i = 0; i < o.threads; ++i) {
      ThreadSim& t = threads_[i];
      t.index = i;
      t.columns.resize(o.buffer + control);
      t.enc.Init(t.columns.data(), t.columns.size(), control);
      t.next_fresh = (uint64_t{i} + 1) << 44;  // 16 TiB apart: arenas never meet
      t.live.reserve(o.window);
    }
    defined_.assign(o.stacks + 1, false);
  }

  void Run() {
    ThreadSim* t = nullptr;
    uint64_t run_left = 0;
    for (uint64_t n = 0; n < o_.events; ++n) {
      // Threads take turns in runs of 1..16 events.
      if (run_left == 0) {
        t = &threads_[rng_.Below(o_.threads)];
        run_left = 1 + rng_.Below(16);
      }
      --run_left;
      now_ += format::kTimeQuantumNs * (1 + rng_.Below(4));  // strictly increasing: no ties
      Step(*t);
    }
    for (ThreadSim& thread : threads_) {
      if (!thread.announced) continue;
      if (!thread.enc.ControlRoom(32)) Flush(thread);
      thread.enc.Tag(format::RecordTag::kThreadEnd);
      thread.enc.Time(now_);
      Flush(thread);
    }
    SmallChunk end(now_);
    end.enc.Tag(format::RecordTag::kEnd);
    end.enc.Time(now_);
    out_.Chunk(end.enc, format::kProcessThread, 0);
    out_.Close();
  }

  void PrintTotals() const {
    uint64_t leaked = 0, leaked_bytes = 0;
    for (const ThreadSim& t : threads_) {
      leaked += t.live.size();
      for (const Block& b : t.live) leaked_bytes += b.size;
    }
    printf("events %llu\n", static_cast<unsigned long long>(allocations_ + frees_));
    printf("allocations %llu\n", static_cast<unsigned long long>(allocations_));
    printf("frees %llu\n", static_cast<unsigned long long>(frees_));
    printf("bytes_allocated %llu\n", static_cast<unsigned long long>(bytes_allocated_));
    printf("bytes_freed %llu\n", static_cast<unsigned long long>(bytes_freed_));
    printf("peak_live_bytes %llu\n", static_cast<unsigned long long>(peak_live_));
    printf("leaked_allocations %llu\n", static_cast<unsigned long long>(leaked));
    printf("leaked_bytes %llu\n", static_cast<unsigned long long>(leaked_bytes));
    printf("duration_ns %llu\n", static_cast<unsigned long long>(now_ - start_));
  }

 private:
  void WriteProcessRecord() {
    SmallChunk c(now_);
    RecordEncoder& e = c.enc;
    e.Tag(format::RecordTag::kProcess);
    e.Uint(static_cast<uint64_t>(getpid()));
    e.Uint(static_cast<uint64_t>(getppid()));
    e.Uint(0);
    e.Uint(now_);
    e.Uint(static_cast<uint64_t>(time(nullptr)) * 1000000000);
    e.Uint(4096);
    e.Uint(32u << 20);  // llc_bytes: fixed, so the Gen model's results do not depend on the machine
    e.Uint(static_cast<uint64_t>(format::UnwindMode::kFramePointer));
    e.Uint(64);
    std::string exe = "synth_trace";
    e.Bytes(exe.data(), static_cast<uint32_t>(exe.size()));
    std::string command = "synth_trace";
    e.Bytes(command.data(), static_cast<uint32_t>(command.size()));
    e.String("synth", 64);
    out_.Chunk(e, format::kProcessThread, 0);
  }

  void Flush(ThreadSim& t) {
    // Promise: nothing this thread writes later is older than now_ (the next event's time).
    out_.Chunk(t.enc, t.index, now_);
    t.enc.Start(now_, t.alloc_seq);
  }

  // The shim announces a thread in a chunk of its own at once, so the reader waits for it.
  void Announce(ThreadSim& t) {
    t.enc.Start(now_, t.alloc_seq);
    t.enc.Tag(format::RecordTag::kThreadStart);
    t.enc.Time(now_);
    t.enc.Uint(100000 + t.index);
    Flush(t);
    t.announced = true;
  }

  // A stack's frames: return addresses in a made-up text segment, depth 6..21, shared callers.
  void DefineStack(ThreadSim& t, uint32_t id) {
    uintptr_t frames[32];
    uint32_t depth = 6 + id % 16;
    for (uint32_t i = 0; i < depth; ++i) frames[i] = 0x400000 + (id * 7919u + i * 104729u) % 0x100000 * 16 + 5;
    if (!t.enc.ControlRoom(allocprof::shim::StackDefBound(depth))) Flush(t);
    t.enc.StackDef(id, frames, depth);
    defined_[id] = true;
  }

  void Step(ThreadSim& t) {
    if (!t.announced) Announce(t);
    if (t.enc.NeedsFlush()) Flush(t);
    if (t.next_is_free) {
      Free(t);
    } else {
      Alloc(t);
    }
    t.next_is_free = t.live.size() == o_.window;
  }

  static uint32_t LargeBucket(uint64_t size) { return static_cast<uint32_t>((size + 4095) / 4096); }

  void Alloc(ThreadSim& t) {
    // churn's mix: ~90% 16..512 B, ~10% 4..64 KiB; malloc 70%, new[] 25%, calloc 5%.
    uint64_t r = rng_.Below(1000);
    uint64_t size = r < 900 ? 16 + rng_.Below(497) : 4096 + rng_.Below(60 * 1024 + 1);
    uint64_t e = rng_.Below(100);
    EntryPoint entry = e < 70 ? EntryPoint::kMalloc : e < 95 ? EntryPoint::kNewArray : EntryPoint::kCalloc;
    // Skewed popularity: a few stacks make most allocations.
    double u = static_cast<double>(rng_.Next() >> 11) / 9007199254740992.0;
    uint32_t stack_id = 1 + static_cast<uint32_t>(u * u * u * o_.stacks);
    if (stack_id > o_.stacks) stack_id = o_.stacks;
    if (!defined_[stack_id]) DefineStack(t, stack_id);

    uint32_t cls = format::SizeClass(size);
    bool small = cls != format::kLargeSizeClass;
    std::vector<uint64_t>& list = small ? t.free_small[cls] : t.free_large[LargeBucket(size)];
    uint64_t addr;
    if (!list.empty()) {
      addr = list.back();
      list.pop_back();
    } else {
      addr = t.next_fresh;
      t.next_fresh += small ? uint64_t{cls} * 16 : LargeBucket(size) * 4096 + 16;
    }
    t.enc.Alloc(entry, now_, addr, size, stack_id);
    t.live.push_back(Block{addr, size, t.alloc_seq, stack_id, entry});
    ++t.alloc_seq;
    ++allocations_;
    bytes_allocated_ += size;
    live_bytes_ += size;
    if (live_bytes_ > peak_live_) peak_live_ = live_bytes_;
  }

  void Free(ThreadSim& t) {
    size_t slot = rng_.Below(t.live.size());
    Block b = t.live[slot];
    t.live[slot] = t.live.back();
    t.live.pop_back();
    EntryPoint entry = b.entry == EntryPoint::kNewArray ? EntryPoint::kDeleteArray : EntryPoint::kFree;
    uint32_t cls = format::SizeClass(b.size);
    uint32_t age = t.alloc_seq - b.seq;
    // As the shim's EncodeFree: by age when the allocation is recent enough.
    if (age <= format::kMaxAge) {
      t.enc.FreeAge(entry, now_, age, cls, format::FamilyOf(b.entry), b.addr);
    } else {
      t.enc.Free(entry, now_, b.addr);
    }
    (cls != format::kLargeSizeClass ? t.free_small[cls] : t.free_large[LargeBucket(b.size)]).push_back(b.addr);
    ++frees_;
    bytes_freed_ += b.size;
    live_bytes_ -= b.size;
  }

  Options o_;
  TraceOut out_;
  Rng rng_;
  uint64_t now_ = 0, start_ = 0;
  std::vector<ThreadSim> threads_;
  std::vector<bool> defined_;
  uint64_t allocations_ = 0, frees_ = 0, bytes_allocated_ = 0, bytes_freed_ = 0;
  uint64_t live_bytes_ = 0, peak_live_ = 0;
};

uint64_t ParseNumber(const char* flag, const char* text) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno || end == text) Die(std::string(flag) + ": not a number: " + text);
  // Suffixes for large counts: 1e9 is easier to read as 1G.
  switch (*end) {
    case 'k':
    case 'K':
      v *= 1000;
      ++end;
      break;
    case 'm':
    case 'M':
      v *= 1000000;
      ++end;
      break;
    case 'g':
    case 'G':
      v *= 1000000000;
      ++end;
      break;
    default:
      break;
  }
  if (*end) Die(std::string(flag) + ": not a number: " + text);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "-o")
      o.output = value();
    else if (a == "--events")
      o.events = ParseNumber("--events", value());
    else if (a == "--threads")
      o.threads = static_cast<uint32_t>(ParseNumber("--threads", value()));
    else if (a == "--window")
      o.window = static_cast<uint32_t>(ParseNumber("--window", value()));
    else if (a == "--stacks")
      o.stacks = static_cast<uint32_t>(ParseNumber("--stacks", value()));
    else if (a == "--seed")
      o.seed = ParseNumber("--seed", value());
    else if (a == "--buffer")
      o.buffer = static_cast<uint32_t>(ParseNumber("--buffer", value()));
    else if (a == "--zstd-level")
      o.zstd_level = static_cast<int>(ParseNumber("--zstd-level", value()));
    else
      Die("unknown argument: " + a +
          " (usage: synth_trace -o PATH [--events N] [--threads N] [--window N] "
          "[--stacks N] [--seed N] [--buffer BYTES] [--zstd-level N])");
  }
  if (o.output.empty()) Die("-o PATH is required");
  if (o.threads == 0 || o.threads > 4096) Die("--threads must be 1..4096");
  if (o.window == 0 || o.window > (1u << 24)) Die("--window must be 1..16M");
  if (o.stacks == 0 || o.stacks > (1u << 20)) Die("--stacks must be 1..1M");
  if (o.buffer < (16u << 10) || o.buffer > (8u << 20)) Die("--buffer must be 16 KiB..8 MiB");
  Synthesizer s(o);
  s.Run();
  s.PrintTotals();
  return 0;
}
