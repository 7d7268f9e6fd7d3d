#include "runtime/stderr_log.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "runtime/raw_syscalls.h"

namespace allocprof::shim {
namespace {
bool g_quiet = false;
}

void SetLogQuiet(bool quiet) { g_quiet = quiet; }

void LogError3(const char* a, const char* b, const char* c) {
  if (g_quiet) return;
  char line[1024];
  size_t n = 0;
  auto append = [&](const char* s) {
    if (!s) return;
    size_t len = strlen(s);
    if (len > sizeof(line) - 2 - n) len = sizeof(line) - 2 - n;
    memcpy(line + n, s, len);
    n += len;
  };
  append("allocprof: ");
  append(a);
  append(b);
  append(c);
  line[n++] = '\n';
  int saved = errno;
  ssize_t ignored = RawWrite(STDERR_FILENO, line, n);
  (void)ignored;
  errno = saved;
}

void LogError(const char* text) { LogError3(text, nullptr, nullptr); }

const char* ErrnoName(int err) {
  switch (err) {
    case ENOSPC:
      return "ENOSPC (no space left on device)";
    case EDQUOT:
      return "EDQUOT (disk quota exceeded)";
    case EACCES:
      return "EACCES (permission denied)";
    case EPERM:
      return "EPERM (operation not permitted)";
    case EEXIST:
      return "EEXIST (file exists)";
    case ELOOP:
      return "ELOOP (path is a symbolic link)";
    case ENOENT:
      return "ENOENT (no such file or directory)";
    case EROFS:
      return "EROFS (read-only file system)";
    case EIO:
      return "EIO (input/output error)";
    case EFBIG:
      return "EFBIG (file too large)";
    case ENOMEM:
      return "ENOMEM (out of memory)";
    case EISDIR:
      return "EISDIR (is a directory)";
    case ENOTDIR:
      return "ENOTDIR (not a directory)";
    case EBADF:
      return "EBADF (bad file descriptor)";
    default:
      return "I/O error";
  }
}

char* FormatUnsigned(uint64_t v, char* buf) {
  char tmp[21];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  for (int i = 0; i < n; ++i) buf[i] = tmp[n - 1 - i];
  buf[n] = '\0';
  return buf;
}

}  // namespace allocprof::shim
