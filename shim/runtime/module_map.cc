#include "runtime/module_map.h"

#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "allocprof/trace_format.h"
#include "record/clock.h"
#include "record/record_encoder.h"
#include "runtime/raw_syscalls.h"
#include "runtime/trace_writer.h"

namespace allocprof::shim {
namespace {

constexpr uint32_t kKnownSlots = 1u << 14;
constexpr uint64_t kRemoved = 2;               // a slot whose module was unloaded (keys are odd)
uint64_t g_known[kKnownSlots];                 // hash of (bias, path); 0 = empty
uint32_t g_known_live[kKnownSlots];            // index in g_live of the slot's module
unsigned long long g_last_generation = ~0ull;  // dlpi_adds + dlpi_subs when last scanned
pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;

// The modules recorded and not yet seen unloaded, with the path they were recorded under (the
// loader frees its copy at dlclose) and the scan that last saw them.
struct LiveModule {
  uint64_t bias;
  uint32_t slot;  // in g_known
  uint32_t path;  // offset in g_paths
  uint32_t seen;  // g_scan when last seen
  uint32_t path_len;
};
constexpr uint32_t kMaxLive = 4096;
LiveModule g_live[kMaxLive];
uint32_t g_live_count = 0;
char g_paths[1 << 20];
uint32_t g_paths_used = 0;
uint32_t g_scan = 0;

constexpr size_t kBufferSize = 256 << 10;
uint8_t g_columns[kBufferSize];
uint8_t g_scratch[sizeof(format::ChunkHeader) + kBufferSize];
RecordEncoder g_enc;
uint64_t g_base;
char g_exe[4096];
char g_mapped_path[4096];
char g_maps[16 << 10];

uint64_t Key(uintptr_t bias, const char* path) {
  uint64_t h = 0xcbf29ce484222325ull ^ bias;
  for (const char* p = path; *p; ++p) h = (h ^ static_cast<uint8_t>(*p)) * 0x100000001b3ull;
  return h | 1;
}

void AddLive(uint32_t slot, uintptr_t bias, const char* path) {
  if (g_live_count == kMaxLive) return;  // not followed further: never reported unloaded
  uint32_t len = static_cast<uint32_t>(strnlen(path, 4096));
  LiveModule& m = g_live[g_live_count];
  m = LiveModule{bias, slot, g_paths_used, g_scan, 0};
  if (g_paths_used + len <= sizeof(g_paths)) {
    memcpy(g_paths + g_paths_used, path, len);
    g_paths_used += len;
    m.path_len = len;
  }
  g_known_live[slot] = g_live_count++;
}

// True if newly inserted; either way the module counts as seen by this scan.
bool Remember(uint64_t key, uintptr_t bias, const char* path) {
  int64_t reuse = -1;
  for (uint32_t i = 0; i < kKnownSlots; ++i) {
    uint32_t index = (key + i) & (kKnownSlots - 1);
    uint64_t& slot = g_known[index];
    if (slot == key) {
      uint32_t live = g_known_live[index];
      if (live < g_live_count && g_live[live].slot == index) g_live[live].seen = g_scan;
      return false;
    }
    if (slot == kRemoved && reuse < 0) reuse = index;
    if (slot == 0) {
      if (reuse < 0) reuse = index;
      break;
    }
  }
  if (reuse < 0) return false;  // full: stop recording more modules rather than loop
  g_known[reuse] = key;
  AddLive(static_cast<uint32_t>(reuse), bias, path);
  return true;
}

bool g_encoder_ready = false;

// Caller holds g_mutex. The encoder is empty after every flush, so concurrent scans only ever add.
void FlushBuffer() {
  if (!g_encoder_ready) {
    g_enc.Init(g_columns, kBufferSize, kBufferSize - 4096);
    g_encoder_ready = true;
  } else {
    WriteProcessChunk(g_enc, g_scratch, sizeof(g_scratch));
  }
  g_base = NowNs();
  g_enc.Start(g_base, 0);
}

uint32_t FindBuildId(const struct dl_phdr_info* info, const uint8_t** id) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    auto* p = reinterpret_cast<const uint8_t*>(info->dlpi_addr + ph.p_vaddr);
    const uint8_t* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      auto* note = reinterpret_cast<const ElfW(Nhdr)*>(p);
      const uint8_t* name = p + sizeof(ElfW(Nhdr));
      const uint8_t* desc = name + ((note->n_namesz + 3) & ~3u);
      const uint8_t* next = desc + ((note->n_descsz + 3) & ~3u);
      if (next > end) break;
      if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
        *id = desc;
        return note->n_descsz <= 64 ? note->n_descsz : 64;
      }
      p = next;
    }
  }
  return 0;
}

void VisitModuleLocked(struct dl_phdr_info* info);

// Runs inside dl_iterate_phdr, that is with the loader's lock held: the module mutex is taken
// here, inside it, never around it, so the two locks are always taken in the same order.
int VisitModule(struct dl_phdr_info* info, size_t, void*) {
  pthread_mutex_lock(&g_mutex);
  VisitModuleLocked(info);
  pthread_mutex_unlock(&g_mutex);
  return 0;
}

// The file mapped at `addr` as the kernel names it (absolute, symlinks resolved), from
// /proc/self/maps; null when none is. Reads with raw system calls into static buffers.
const char* MappedPath(uintptr_t addr) {
  int fd = RawOpen("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  const char* found = nullptr;
  size_t have = 0;
  bool eof = false;
  while (!found && !(eof && have == 0)) {
    if (!eof && have < sizeof(g_maps)) {
      ssize_t n = RawRead(fd, g_maps + have, sizeof(g_maps) - have);
      if (n <= 0) eof = true;
      if (n > 0) have += static_cast<size_t>(n);
    }
    char* end = static_cast<char*>(memchr(g_maps, '\n', have));
    if (!end) {
      if (eof || have == sizeof(g_maps)) break;  // a line longer than the buffer: give up
      continue;
    }
    *end = '\0';
    // start-end perms offset dev inode   path
    char* p = g_maps;
    uintptr_t start = strtoul(p, &p, 16);
    uintptr_t stop = *p == '-' ? strtoul(p + 1, &p, 16) : 0;
    if (addr >= start && addr < stop) {
      for (int field = 0; field < 4 && *p; ++field) {
        while (*p == ' ') ++p;
        while (*p && *p != ' ') ++p;
      }
      while (*p == ' ') ++p;
      if (*p == '/') {
        size_t len = strnlen(p, sizeof(g_mapped_path) - 1);
        memcpy(g_mapped_path, p, len);
        g_mapped_path[len] = '\0';
        found = g_mapped_path;
      } else {
        break;
      }
    }
    size_t used = static_cast<size_t>(end + 1 - g_maps);
    memmove(g_maps, end + 1, have - used);
    have -= used;
  }
  RawClose(fd);
  return found;
}

void VisitModuleLocked(struct dl_phdr_info* info) {
  const char* path = info->dlpi_name;
  if (!path || !path[0]) {
    // The main executable has no name here.
    if (!g_exe[0]) {
      ssize_t n = readlink("/proc/self/exe", g_exe, sizeof(g_exe) - 1);
      g_exe[n > 0 ? n : 0] = '\0';
    }
    path = g_exe;
  } else if (path[0] != '/' && strchr(path, '/')) {
    // dlopen("./lib.so") keeps the name as given, relative to the directory the program ran in:
    // record the file the loader actually mapped.
    for (int i = 0; i < info->dlpi_phnum; ++i) {
      if (info->dlpi_phdr[i].p_type != PT_LOAD) continue;
      if (const char* mapped = MappedPath(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr)) path = mapped;
      break;
    }
  }
  if (!Remember(Key(info->dlpi_addr, path), info->dlpi_addr, path)) return;
  uint32_t segments = 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) segments += info->dlpi_phdr[i].p_type == PT_LOAD;
  size_t need = 64 + strnlen(path, 4096) + 64 + segments * 30;
  if (!g_enc.ControlRoom(need)) FlushBuffer();
  const uint8_t* build_id = nullptr;
  uint32_t build_id_len = FindBuildId(info, &build_id);
  g_enc.Tag(format::RecordTag::kModule);
  g_enc.Time(g_base);
  g_enc.Uint(info->dlpi_addr);
  g_enc.String(path, 4096);
  g_enc.Bytes(build_id, build_id_len);
  g_enc.Uint(segments);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    g_enc.Uint(ph.p_vaddr);
    g_enc.Uint(ph.p_memsz);
    g_enc.Uint(ph.p_flags);
  }
}

int ReadGeneration(struct dl_phdr_info* info, size_t size, void* out) {
  if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
    *static_cast<unsigned long long*>(out) = info->dlpi_adds + info->dlpi_subs;
  }
  return 1;  // the counters are the same in every entry: one is enough
}

// Caller holds g_mutex, after a scan that saw every loaded module: the modules it did not see
// were unloaded. Returns how many.
uint32_t RecordUnloadsLocked() {
  uint32_t unloaded = 0;
  for (uint32_t i = 0; i < g_live_count;) {
    LiveModule& m = g_live[i];
    if (m.seen == g_scan) {
      ++i;
      continue;
    }
    if (!g_enc.ControlRoom(64 + m.path_len)) FlushBuffer();
    g_enc.Tag(format::RecordTag::kModuleUnload);
    g_enc.Time(NowNs());
    g_enc.Uint(m.bias);
    g_enc.Bytes(g_paths + m.path, m.path_len);
    g_known[m.slot] = kRemoved;
    ++unloaded;
    // Swap-remove; the moved module's slot follows it.
    m = g_live[--g_live_count];
    if (i < g_live_count) g_known_live[m.slot] = i;
  }
  return unloaded;
}

}  // namespace

std::atomic<uint32_t> g_module_epoch{0};

void RecordNewModules() {
  unsigned long long generation = 0;
  dl_iterate_phdr(ReadGeneration, &generation);
  pthread_mutex_lock(&g_mutex);
  bool changed = generation != g_last_generation || generation == 0;
  if (changed) g_last_generation = generation;
  if (!g_encoder_ready) FlushBuffer();
  uint32_t scan = changed ? ++g_scan : 0;
  pthread_mutex_unlock(&g_mutex);
  if (!changed) return;
  dl_iterate_phdr(VisitModule, nullptr);
  pthread_mutex_lock(&g_mutex);
  // Modules this scan did not see were unloaded; when another scan started meanwhile, that one
  // decides (it marks what it saw with its own number).
  if (scan == g_scan && RecordUnloadsLocked() > 0) {
    // Stacks interned from now on are new ones (stack_table.cc): their addresses may belong to a
    // module mapped where an unloaded one was.
    g_module_epoch.fetch_add(1, std::memory_order_release);
  }
  FlushBuffer();
  pthread_mutex_unlock(&g_mutex);
}

void ForgetModulesAfterFork() {
  pthread_mutex_init(&g_mutex, nullptr);
  g_encoder_ready = false;  // whatever the parent had buffered is the parent's
  memset(g_known, 0, sizeof(g_known));
  g_live_count = 0;
  g_paths_used = 0;
  g_last_generation = ~0ull;
}

}  // namespace allocprof::shim
