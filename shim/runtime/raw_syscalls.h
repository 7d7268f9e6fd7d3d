// File I/O the shim does on its own behalf, through raw system calls: unlike the libc wrappers
// they are not pthread cancellation points, so a program cancelling a thread that is inside an
// allocation can never unwind the shim halfway through a flush with its locks held.
#ifndef ALLOCPROF_SHIM_RAW_SYSCALLS_H_
#define ALLOCPROF_SHIM_RAW_SYSCALLS_H_

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

namespace allocprof::shim {

inline int RawOpen(const char* path, int flags, mode_t mode = 0) {
  return static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, flags, mode));
}
inline ssize_t RawRead(int fd, void* buf, size_t n) { return syscall(SYS_read, fd, buf, n); }
inline ssize_t RawWrite(int fd, const void* buf, size_t n) { return syscall(SYS_write, fd, buf, n); }
inline int RawClose(int fd) { return static_cast<int>(syscall(SYS_close, fd)); }

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_RAW_SYSCALLS_H_
