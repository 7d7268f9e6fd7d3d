#include "attach/caller_runpath.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <initializer_list>

namespace allocprof::shim {
namespace {

// dir + "/" + name into out; false if it does not fit.
bool Join(const char* dir, size_t dir_len, const char* origin, const char* name, char* out, size_t cap) {
  size_t n = 0;
  auto put = [&](const char* s, size_t len) {
    if (n + len >= cap) return false;
    memcpy(out + n, s, len);
    n += len;
    return true;
  };
  for (const char* prefix : {"$ORIGIN", "${ORIGIN}"}) {
    size_t plen = strlen(prefix);
    if (dir_len >= plen && memcmp(dir, prefix, plen) == 0 && (dir_len == plen || dir[plen] == '/')) {
      if (!put(origin, strlen(origin))) return false;
      dir += plen;
      dir_len -= plen;
      break;
    }
  }
  if (!put(dir, dir_len) || !put("/", 1) || !put(name, strlen(name))) return false;
  out[n] = '\0';
  return true;
}

// Searches a colon-separated list; empty entries are skipped.
bool Search(const char* list, const char* origin, const char* name, char* out, size_t cap) {
  for (const char* p = list; p && *p;) {
    size_t len = strcspn(p, ":");
    if (len && Join(p, len, origin, name, out, cap) && access(out, F_OK) == 0) return true;
    p += len;
    if (*p == ':') ++p;
  }
  return false;
}

// The loader answers a name that a loaded object was opened under without searching: so do we.
int MatchLoaded(struct dl_phdr_info* info, size_t, void* name) {
  const char* path = info->dlpi_name;
  if (!path || !path[0]) return 0;
  const char* slash = strrchr(path, '/');
  return strcmp(slash ? slash + 1 : path, static_cast<const char*>(name)) == 0;
}

}  // namespace

bool FindInCallerSearchPath(const void* caller, const char* name, char* out, size_t cap) {
  if (!name || strchr(name, '/')) return false;
  Dl_info info;
  struct link_map* map = nullptr;
  if (!dladdr1(caller, &info, reinterpret_cast<void**>(&map), RTLD_DL_LINKMAP) || !map || !map->l_ld) return false;
  const char* strtab = nullptr;
  ElfW(Xword) runpath = 0, rpath = 0;
  bool has_runpath = false, has_rpath = false;
  for (const ElfW(Dyn)* d = map->l_ld; d->d_tag != DT_NULL; ++d) {
    if (d->d_tag == DT_STRTAB) {
      uintptr_t v = d->d_un.d_ptr;
      strtab = reinterpret_cast<const char*>(v < map->l_addr ? v + map->l_addr : v);
    } else if (d->d_tag == DT_RUNPATH) {
      runpath = d->d_un.d_val;
      has_runpath = true;
    } else if (d->d_tag == DT_RPATH) {
      rpath = d->d_un.d_val;
      has_rpath = true;
    }
  }
  if (!strtab || (!has_runpath && !has_rpath)) return false;
  if (dl_iterate_phdr(MatchLoaded, const_cast<char*>(name))) return false;
  // $ORIGIN: the caller's directory (the main program has no name in the link map).
  char origin[4096];
  if (map->l_name && map->l_name[0]) {
    size_t len = strlen(map->l_name);
    if (len >= sizeof(origin)) return false;
    memcpy(origin, map->l_name, len + 1);
  } else {
    ssize_t n = readlink("/proc/self/exe", origin, sizeof(origin) - 1);
    if (n <= 0) return false;
    origin[n] = '\0';
  }
  char* slash = strrchr(origin, '/');
  if (!slash) return false;
  *slash = '\0';
  if (has_runpath) {
    if (Search(getenv("LD_LIBRARY_PATH"), origin, name, out, cap)) return false;  // glibc's choice stands
    return Search(strtab + runpath, origin, name, out, cap);
  }
  return Search(strtab + rpath, origin, name, out, cap);
}

}  // namespace allocprof::shim
