#include "attach/got_patch.h"

#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

namespace allocprof::shim {
namespace {

pthread_mutex_t g_patch_mutex = PTHREAD_MUTEX_INITIALIZER;

struct Walk {
  const GotTarget* targets;
  size_t count;
  uintptr_t skip;
  GotPatchResult result;
};

// The tables an object's dynamic section points to. On x86-64 glibc relocates these pointers in
// place; an object whose dynamic section is read-only keeps them relative to its load bias.
struct DynamicTables {
  const ElfW(Sym) * symtab = nullptr;
  const char* strtab = nullptr;
  size_t strsz = 0;
  uintptr_t jmprel = 0, jmprel_size = 0;
  bool jmprel_is_rela = true;
  uintptr_t rela = 0, rela_size = 0;
  uintptr_t rel = 0, rel_size = 0;
};

bool ReadDynamic(const ElfW(Dyn) * dyn, uintptr_t bias, DynamicTables* t) {
  auto addr = [bias](uintptr_t v) { return v < bias ? v + bias : v; };
  for (; dyn->d_tag != DT_NULL; ++dyn) {
    switch (dyn->d_tag) {
      case DT_SYMTAB:
        t->symtab = reinterpret_cast<const ElfW(Sym)*>(addr(dyn->d_un.d_ptr));
        break;
      case DT_STRTAB:
        t->strtab = reinterpret_cast<const char*>(addr(dyn->d_un.d_ptr));
        break;
      case DT_STRSZ:
        t->strsz = dyn->d_un.d_val;
        break;
      case DT_JMPREL:
        t->jmprel = addr(dyn->d_un.d_ptr);
        break;
      case DT_PLTRELSZ:
        t->jmprel_size = dyn->d_un.d_val;
        break;
      case DT_PLTREL:
        t->jmprel_is_rela = dyn->d_un.d_val == DT_RELA;
        break;
      case DT_RELA:
        t->rela = addr(dyn->d_un.d_ptr);
        break;
      case DT_RELASZ:
        t->rela_size = dyn->d_un.d_val;
        break;
      case DT_REL:
        t->rel = addr(dyn->d_un.d_ptr);
        break;
      case DT_RELSZ:
        t->rel_size = dyn->d_un.d_val;
        break;
      default:
        break;
    }
  }
  return t->symtab && t->strtab && t->strsz;
}

const char* BaseName(const char* path) {
  const char* slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

bool StartsWith(const char* s, const char* prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

// The loader's own GOT holds its private allocator pointers, and the vDSO has no relocations.
bool IsLoaderOrVdso(const char* name) {
  const char* base = BaseName(name);
  return StartsWith(base, "ld-linux") || StartsWith(base, "ld64.so") || StartsWith(base, "ld.so") ||
         StartsWith(base, "linux-vdso") || StartsWith(base, "linux-gate");
}

bool Contains(const struct dl_phdr_info* info, uintptr_t address) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD && address >= start && address - start < ph.p_memsz) return true;
  }
  return false;
}

class ObjectPatcher {
 public:
  ObjectPatcher(const struct dl_phdr_info* info, Walk* walk) : info_(info), walk_(walk) {
    for (int i = 0; i < info->dlpi_phnum; ++i) {
      const ElfW(Phdr)& ph = info->dlpi_phdr[i];
      if (ph.p_type == PT_GNU_RELRO) {
        // The loader seals whole pages only, from the start's page up to the page the end falls in.
        uintptr_t page_mask = ~(static_cast<uintptr_t>(getpagesize()) - 1);
        relro_start_ = (info->dlpi_addr + ph.p_vaddr) & page_mask;
        relro_end_ = (info->dlpi_addr + ph.p_vaddr + ph.p_memsz) & page_mask;
      } else if (ph.p_type == PT_DYNAMIC) {
        dynamic_ = reinterpret_cast<const ElfW(Dyn)*>(info->dlpi_addr + ph.p_vaddr);
      }
    }
  }

  void Run() {
    if (!dynamic_ || !ReadDynamic(dynamic_, info_->dlpi_addr, &tables_)) return;
    if (tables_.jmprel_is_rela) {
      ScanRela(tables_.jmprel, tables_.jmprel_size);
    } else {
      ScanRel(tables_.jmprel, tables_.jmprel_size);
    }
    ScanRela(tables_.rela, tables_.rela_size);
    ScanRel(tables_.rel, tables_.rel_size);
  }

 private:
  void ScanRela(uintptr_t table, size_t bytes) {
    if (!table) return;
    auto* r = reinterpret_cast<const ElfW(Rela)*>(table);
    for (size_t i = 0; i < bytes / sizeof(ElfW(Rela)); ++i) Consider(r[i].r_offset, r[i].r_info);
  }
  void ScanRel(uintptr_t table, size_t bytes) {
    if (!table) return;
    auto* r = reinterpret_cast<const ElfW(Rel)*>(table);
    for (size_t i = 0; i < bytes / sizeof(ElfW(Rel)); ++i) Consider(r[i].r_offset, r[i].r_info);
  }

  void Consider(ElfW(Addr) offset, ElfW(Xword) info) {
    uint32_t type = ELF64_R_TYPE(info);
    if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) return;
    uint32_t sym = ELF64_R_SYM(info);
    if (sym == 0) return;
    size_t name_offset = tables_.symtab[sym].st_name;
    if (name_offset >= tables_.strsz) return;
    const char* name = tables_.strtab + name_offset;
    for (size_t k = 0; k < walk_->count; ++k) {
      const GotTarget& t = walk_->targets[k];
      if (t.replacement && name[0] == t.symbol[0] && strcmp(name, t.symbol) == 0) {
        Write(info_->dlpi_addr + offset, t.replacement);
        return;
      }
    }
  }

  void Write(uintptr_t slot_address, void* replacement) {
    auto* slot = reinterpret_cast<void**>(slot_address);
    if (__atomic_load_n(slot, __ATOMIC_RELAXED) == replacement) return;
    bool sealed = slot_address >= relro_start_ && slot_address < relro_end_;
    uintptr_t page = slot_address & ~(static_cast<uintptr_t>(getpagesize()) - 1);
    size_t page_size = static_cast<size_t>(getpagesize());
    if (sealed && mprotect(reinterpret_cast<void*>(page), page_size, PROT_READ | PROT_WRITE) != 0) {
      ++walk_->result.failures;
      return;
    }
    __atomic_store_n(slot, replacement, __ATOMIC_RELEASE);
    ++walk_->result.slots;
    if (sealed) mprotect(reinterpret_cast<void*>(page), page_size, PROT_READ);
  }

  const struct dl_phdr_info* info_;
  Walk* walk_;
  const ElfW(Dyn) * dynamic_ = nullptr;
  uintptr_t relro_start_ = 0, relro_end_ = 0;
  DynamicTables tables_;
};

int VisitObject(struct dl_phdr_info* info, size_t, void* data) {
  auto* walk = static_cast<Walk*>(data);
  const char* name = info->dlpi_name ? info->dlpi_name : "";
  if (IsLoaderOrVdso(name) || Contains(info, walk->skip)) return 0;
  ObjectPatcher(info, walk).Run();
  return 0;
}

}  // namespace

GotPatchResult PatchLoadedObjects(const GotTarget* targets, size_t count, const void* skip_address) {
  Walk walk{targets, count, reinterpret_cast<uintptr_t>(skip_address), {}};
  pthread_mutex_lock(&g_patch_mutex);
  dl_iterate_phdr(VisitObject, &walk);
  pthread_mutex_unlock(&g_patch_mutex);
  return walk.result;
}

}  // namespace allocprof::shim
