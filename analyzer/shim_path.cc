#include "shim_path.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

namespace allocprof {

std::string SelfDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  std::string path(buf);
  return path.substr(0, path.rfind('/'));
}

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string FindShim() {
  if (const char* env = getenv("ALLOCPROF_SHIM"); env && *env) return env;
  std::string dir = SelfDir();
  for (const std::string& candidate : {dir + "/liballocprof.so", dir + "/../lib/allocprof/liballocprof.so"}) {
    if (IsRegularFile(candidate)) {
      char real[PATH_MAX];
      return realpath(candidate.c_str(), real) ? std::string(real) : candidate;
    }
  }
  return "";
}

}  // namespace allocprof
