#include "runtime/module_map.h"

#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "allocprof/trace_format.h"
#include "record/clock.h"
#include "record/record_encoder.h"
#include "runtime/trace_writer.h"

namespace allocprof::shim {
namespace {

constexpr uint32_t kKnownSlots = 1u << 14;
uint64_t g_known[kKnownSlots];                 // hash of (bias, path); 0 = empty
unsigned long long g_last_generation = ~0ull;  // dlpi_adds + dlpi_subs when last scanned
pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;

constexpr size_t kBufferSize = 256 << 10;
uint8_t g_columns[kBufferSize];
uint8_t g_scratch[sizeof(format::ChunkHeader) + kBufferSize];
RecordEncoder g_enc;
uint64_t g_base;
char g_exe[4096];

uint64_t Key(uintptr_t bias, const char* path) {
  uint64_t h = 0xcbf29ce484222325ull ^ bias;
  for (const char* p = path; *p; ++p) h = (h ^ static_cast<uint8_t>(*p)) * 0x100000001b3ull;
  return h | 1;
}

// True if newly inserted.
bool Remember(uint64_t key) {
  for (uint32_t i = 0; i < kKnownSlots; ++i) {
    uint64_t& slot = g_known[(key + i) & (kKnownSlots - 1)];
    if (slot == key) return false;
    if (slot == 0) {
      slot = key;
      return true;
    }
  }
  return false;  // full: stop recording more modules rather than loop
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

void VisitModuleLocked(struct dl_phdr_info* info) {
  const char* path = info->dlpi_name;
  if (!path || !path[0]) {
    // The main executable has no name here.
    if (!g_exe[0]) {
      ssize_t n = readlink("/proc/self/exe", g_exe, sizeof(g_exe) - 1);
      g_exe[n > 0 ? n : 0] = '\0';
    }
    path = g_exe;
  }
  if (!Remember(Key(info->dlpi_addr, path))) return;
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

}  // namespace

void RecordNewModules() {
  unsigned long long generation = 0;
  dl_iterate_phdr(ReadGeneration, &generation);
  pthread_mutex_lock(&g_mutex);
  bool changed = generation != g_last_generation || generation == 0;
  if (changed) g_last_generation = generation;
  if (!g_encoder_ready) FlushBuffer();
  pthread_mutex_unlock(&g_mutex);
  if (!changed) return;
  dl_iterate_phdr(VisitModule, nullptr);
  pthread_mutex_lock(&g_mutex);
  FlushBuffer();
  pthread_mutex_unlock(&g_mutex);
}

void ForgetModulesAfterFork() {
  pthread_mutex_init(&g_mutex, nullptr);
  g_encoder_ready = false;  // whatever the parent had buffered is the parent's
  memset(g_known, 0, sizeof(g_known));
  g_last_generation = ~0ull;
}

}  // namespace allocprof::shim
