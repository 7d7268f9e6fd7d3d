#include "runtime/process_record.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "allocprof/trace_format.h"
#include "attach/attach.h"
#include "record/clock.h"
#include "record/record_encoder.h"
#include "runtime/embedded_suppressions.h"
#include "runtime/options.h"
#include "runtime/process_state.h"
#include "runtime/raw_syscalls.h"
#include "runtime/trace_writer.h"

#ifndef ALLOCPROF_VERSION
#define ALLOCPROF_VERSION "dev"
#endif

namespace allocprof::shim {
namespace {

constexpr size_t kMaxCommandLine = 16 << 10;
// Only used at process start and in a fresh fork child, when no other thread writes it.
// Plain static storage (no constructor): this runs before the shim's own static initialisers.
constexpr size_t kProcessRecordBytes = 3 * kMaxCommandLine + 16384;
uint8_t g_process_columns[kProcessRecordBytes];
RecordEncoder g_process_record;
uint8_t g_process_scratch[sizeof(format::ChunkHeader) + kProcessRecordBytes];
char g_text[kMaxCommandLine];

size_t ReadSmallFile(const char* path, char* out, size_t cap) {
  int fd = RawOpen(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  size_t n = 0;
  while (n < cap) {
    ssize_t r = RawRead(fd, out + n, cap - n);
    if (r <= 0) break;
    n += static_cast<size_t>(r);
  }
  RawClose(fd);
  return n;
}

// Size of the last-level cache: the Gen model's budgets derive from it.
uint64_t LastLevelCacheBytes() {
  uint64_t best = 0;
  char path[96];
  char text[64];
  for (int index = 0; index < 8; ++index) {
    memcpy(path, "/sys/devices/system/cpu/cpu0/cache/index", 40);
    path[40] = static_cast<char>('0' + index);
    memcpy(path + 41, "/size", 6);
    size_t n = ReadSmallFile(path, text, sizeof(text) - 1);
    if (n == 0) continue;
    text[n] = '\0';
    uint64_t v = 0;
    char* p = text;
    for (; *p >= '0' && *p <= '9'; ++p) v = v * 10 + static_cast<uint64_t>(*p - '0');
    if (*p == 'K')
      v <<= 10;
    else if (*p == 'M')
      v <<= 20;
    if (v > best) best = v;
  }
  return best;
}

template <size_t kBytes>
void WriteSmall(SmallEncoder<kBytes>& small) {
  uint8_t scratch[sizeof(format::ChunkHeader) + kBytes];
  WriteProcessChunk(small.enc, scratch, sizeof(scratch));
}

// One timed record in a chunk of its own: tag, time, then what `fields` writes (within kBytes).
template <size_t kBytes, typename Fields>
void WriteTimed(format::RecordTag tag, uint64_t time, Fields&& fields) {
  SmallEncoder<kBytes> small(time);
  small.enc.Tag(tag);
  small.enc.Time(time);
  fields(small.enc);
  WriteSmall(small);
}

}  // namespace

void WriteProcessRecord(uint64_t now) {
  const Options& o = GetOptions();
  RecordEncoder& enc = g_process_record;
  enc.Init(g_process_columns, kProcessRecordBytes, kProcessRecordBytes - 4096);
  enc.Start(now, 0);
  enc.Tag(format::RecordTag::kProcess);
  enc.Uint(static_cast<uint64_t>(getpid()));
  enc.Uint(static_cast<uint64_t>(getppid()));
  enc.Uint(0);  // exec generation: reserved
  enc.Uint(now);
  enc.Uint(RealtimeNs());
  enc.Uint(static_cast<uint64_t>(sysconf(_SC_PAGESIZE)));
  enc.Uint(LastLevelCacheBytes());
  enc.Uint(static_cast<uint64_t>(o.unwind));
  enc.Uint(o.max_depth);
  ssize_t n = readlink("/proc/self/exe", g_text, sizeof(g_text) - 1);
  enc.Bytes(g_text, n > 0 ? static_cast<uint32_t>(n) : 0);
  size_t len = ReadSmallFile("/proc/self/cmdline", g_text, sizeof(g_text));
  while (len > 0 && g_text[len - 1] == '\0') --len;  // keep NUL separators, drop the final one
  enc.Bytes(g_text, static_cast<uint32_t>(len));
  enc.String(ALLOCPROF_VERSION, 64);
  // Optional trailing field: keep the process record alone in its chunk. g_generation counts this
  // image's forks, so it is non-zero exactly in a forked child.
  uint64_t flags = ProcessFlags() | (g_generation.load() ? format::kProcessForked : 0);
  enc.Uint(flags);
  WriteProcessChunk(enc, g_process_scratch, sizeof(g_process_scratch));
  // Right after it, before any allocation: a reader knows the interval before it weighs an event.
  if (o.sample_bytes) {
    SmallEncoder<64> small(now);
    small.enc.Tag(format::RecordTag::kSampling);
    small.enc.Uint(o.sample_bytes);
    WriteSmall(small);
  }
  WriteEmbeddedSuppressions();  // a forked child's (or a late start's) copy; none before the constructor
}

void WriteWarning(const char* text) {
  WriteTimed<4096>(format::RecordTag::kWarning, NowNs(), [&](RecordEncoder& enc) { enc.String(text, 1024); });
}

void WriteExecRecord(const char* path) {
  WriteTimed<12288>(format::RecordTag::kExec, NowNs(), [&](RecordEncoder& enc) { enc.String(path ? path : "", 4096); });
}

void WriteEndRecord() {
  WriteTimed<1024>(format::RecordTag::kEnd, NowNs(), [](RecordEncoder&) {});
}

void WriteCaptureRecord(uint8_t state, const char* reason) { WriteCaptureRecordAt(NowNs(), state, reason); }

void WriteCaptureRecordAt(uint64_t time, uint8_t state, const char* reason) {
  WriteTimed<1024>(format::RecordTag::kCapture, time, [&](RecordEncoder& enc) {
    enc.Uint(state);
    enc.String(reason ? reason : "", 256);
  });
}

void WriteMarkRecord(const char* name) {
  WriteTimed<1024>(format::RecordTag::kMark, NowNs(), [&](RecordEncoder& enc) { enc.String(name, 256); });
}

}  // namespace allocprof::shim
