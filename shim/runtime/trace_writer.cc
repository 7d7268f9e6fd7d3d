#include "runtime/trace_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "allocprof/trace_format.h"
#include "record/clock.h"
#include "record/record_encoder.h"
#include "runtime/options.h"
#include "runtime/process_record.h"
#include "runtime/process_state.h"
#include "runtime/raw_syscalls.h"
#include "runtime/stderr_log.h"

namespace allocprof::shim {
namespace {

int g_fd = -1;
dev_t g_dev;
ino_t g_ino;
char g_path[PATH_MAX + 32];
std::atomic<uint64_t> g_bytes_written{0};

void AppendStr(char* out, size_t cap, const char* s) {
  size_t n = strlen(out);
  size_t len = strlen(s);
  if (n + len + 1 > cap) len = cap - n - 1;
  memcpy(out + n, s, len);
  out[n + len] = '\0';
}

// Candidate names: the root process takes the plain name; any other process (a forked or exec'd
// child) takes NAME.PID; an image that replaced another in the same pid (exec without fork)
// finds those taken and moves on to NAME.PID.2, NAME.PID.3, ...
void CandidateName(int attempt, char* out, size_t cap) {
  const Options& o = GetOptions();
  char num[24];
  out[0] = '\0';
  pid_t pid = getpid();
  if (o.output[0]) {
    AppendStr(out, cap, o.output);
  } else {
    AppendStr(out, cap, "allocprof.");
    AppendStr(out, cap, FormatUnsigned(static_cast<uint64_t>(pid), num));
    AppendStr(out, cap, ".trace");
  }
  bool is_root = o.output[0] && (o.root_pid == 0 || o.root_pid == pid);
  int index = is_root ? attempt : attempt + 1;  // index 0 = plain name, 1 = .PID, k = .PID.k
  if (index >= 1 && o.output[0]) {
    AppendStr(out, cap, ".");
    AppendStr(out, cap, FormatUnsigned(static_cast<uint64_t>(pid), num));
  }
  if (index >= 2) {
    AppendStr(out, cap, ".");
    AppendStr(out, cap, FormatUnsigned(static_cast<uint64_t>(index), num));
  }
}

bool WriteAll(const void* data, size_t size) {
  const Options& o = GetOptions();
  if (o.fail_write_after && g_bytes_written.load(std::memory_order_relaxed) + size > o.fail_write_after) {
    errno = ENOSPC;
    return false;
  }
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = RawWrite(g_fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) {
      errno = ENOSPC;
      return false;
    }
    p += n;
    size -= static_cast<size_t>(n);
    g_bytes_written.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
  }
  return true;
}

// The program may close our descriptor (daemons close every fd) and reuse its number for a file
// of its own; never write trace bytes into that file.
pthread_mutex_t g_reopen_mutex = PTHREAD_MUTEX_INITIALIZER;

bool DescriptorStillOurs() {
  struct stat st;
  if (fstat(g_fd, &st) == 0 && st.st_dev == g_dev && st.st_ino == g_ino) return true;
  // Several threads may notice at once: one reopens, the others find its descriptor.
  pthread_mutex_lock(&g_reopen_mutex);
  bool ok = fstat(g_fd, &st) == 0 && st.st_dev == g_dev && st.st_ino == g_ino;
  if (!ok) {
    int fd = RawOpen(g_path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == g_dev && st.st_ino == g_ino) {
      int high = fcntl(fd, F_DUPFD_CLOEXEC, 512);
      if (high >= 0) {
        RawClose(fd);
        fd = high;
      }
      g_fd = fd;
      ok = true;
    } else if (fd >= 0) {
      RawClose(fd);
    }
  }
  pthread_mutex_unlock(&g_reopen_mutex);
  return ok;
}

// The program may chdir (daemons do) before a reopen needs the path: keep it absolute.
void MakeAbsolute(char* path, size_t cap) {
  if (path[0] == '/') return;
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof(cwd))) return;
  char joined[PATH_MAX + 32];
  joined[0] = '\0';
  AppendStr(joined, sizeof(joined), cwd);
  AppendStr(joined, sizeof(joined), "/");
  AppendStr(joined, sizeof(joined), path);
  if (strlen(joined) < cap) memcpy(path, joined, strlen(joined) + 1);
}

}  // namespace

const char* TracePath() { return g_path; }

bool OpenTraceFile(uint64_t now) {
  int fd = -1;
  int err = 0;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    CandidateName(attempt, g_path, sizeof(g_path));
    MakeAbsolute(g_path, sizeof(g_path));
    fd = RawOpen(g_path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0 || errno != EEXIST) break;
  }
  if (fd < 0) {
    err = errno;
    LogError3("cannot create trace file ", g_path, "; this process is not traced");
    LogError3("reason: ", ErrnoName(err), nullptr);
    return false;
  }
  // Keep clear of the low descriptor numbers programs manage themselves.
  int high = fcntl(fd, F_DUPFD_CLOEXEC, 512);
  if (high >= 0) {
    RawClose(fd);
    fd = high;
  }
  struct stat st;
  fstat(fd, &st);
  g_fd = fd;
  g_dev = st.st_dev;
  g_ino = st.st_ino;
  g_bytes_written.store(0, std::memory_order_relaxed);

  format::FileHeader header;
  memcpy(header.magic, format::kFileMagic, sizeof(header.magic));
  header.version = format::kFormatVersion;
  header.header_size = sizeof(header);
  header.flags = 0;
  if (!WriteAll(&header, sizeof(header))) {
    StopTracing("cannot write the trace header", errno);
    return false;
  }
  WriteProcessRecord(now);
  return true;
}

void WriteChunks(const void* data, size_t size) {
  if (g_fd < 0) return;
  int saved = errno;
  if (!DescriptorStillOurs()) {
    StopTracing("the trace file's descriptor was closed by the program", EBADF);
  } else if (!WriteAll(data, size)) {
    StopTracing("cannot write the trace", errno);
  }
  errno = saved;
}

void WriteProcessChunk(const RecordEncoder& enc, uint8_t* scratch, size_t scratch_bytes) {
  if (enc.records() == 0 || sizeof(format::ChunkHeader) + enc.PayloadSize() > scratch_bytes) return;
  auto* header = reinterpret_cast<format::ChunkHeader*>(scratch);
  uint8_t* payload = scratch + sizeof(format::ChunkHeader);
  auto size = static_cast<uint32_t>(enc.CopyPayload(payload));
  *header = format::ChunkHeader{};
  header->magic = format::kChunkMagic;
  header->codec = static_cast<uint8_t>(format::Codec::kNone);
  header->header_size = sizeof(format::ChunkHeader);
  header->stored_size = size;
  header->raw_size = size;
  header->thread = format::kProcessThread;
  header->record_count = enc.records();
  header->base_time_ns = enc.base_time();
  header->covered_until_ns = 0;
  header->checksum = format::ChunkChecksum(*header, payload, size);
  WriteChunks(scratch, sizeof(format::ChunkHeader) + size);
}

void CloseTraceFileInChild() {
  if (g_fd >= 0) RawClose(g_fd);
  g_fd = -1;
}

}  // namespace allocprof::shim
