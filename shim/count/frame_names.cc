#include "count/frame_names.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/raw_syscalls.h"

namespace allocprof::shim {
namespace {

struct ModuleQuery {
  uintptr_t pc;
  uintptr_t bias;
  const char* name;
  bool found;
};

int FindModule(struct dl_phdr_info* info, size_t, void* data) {
  auto* q = static_cast<ModuleQuery*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    if (q->pc >= lo && q->pc < lo + ph.p_memsz) {
      q->bias = info->dlpi_addr;
      q->name = info->dlpi_name;
      q->found = true;
      return 1;
    }
  }
  return 0;
}

const char* BaseName(const char* path) {
  const char* slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

using Demangle = char* (*)(const char*, char*, size_t*, int*);

// Looked up on each use (failure messages are rare): no function-local static, which the shim's
// -fno-threadsafe-statics would leave unguarded.
Demangle FindDemangler() { return reinterpret_cast<Demangle>(dlsym(RTLD_DEFAULT, "__cxa_demangle")); }

// Whether the function `name` is in `scope` ("testing::"): its qualified name, after a return
// type if the demangler wrote one ("void testing::internal::f<...>(...)"), starts with it.
bool InScope(const char* name, const char* scope) {
  size_t n = strlen(scope);
  const char* args = strchr(name, '(');
  for (const char* p = name; p && (!args || p < args); p = strchr(p, ' ')) {
    while (*p == ' ') ++p;
    if (strncmp(p, scope, n) == 0) return true;
  }
  return false;
}

}  // namespace

void AppendHex(options::TextBuffer& out, uint64_t v) {
  char digits[19] = "0x";
  int n = 0;
  char rev[16];
  do {
    rev[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  for (int i = 0; i < n; ++i) digits[2 + i] = rev[n - 1 - i];
  digits[2 + n] = '\0';
  out.Add(digits);
}

FrameNamer::~FrameNamer() { Unmap(); }

void FrameNamer::Unmap() {
  if (file_) munmap(const_cast<uint8_t*>(file_), file_size_);
  file_ = nullptr;
  file_size_ = 0;
  path_[0] = '\0';
}

bool FrameNamer::Map(const char* path) {
  if (file_ && strcmp(path, path_) == 0) return true;
  Unmap();
  int fd = RawOpen(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  if (fstat(fd, &st) == 0 && st.st_size >= static_cast<off_t>(sizeof(Elf64_Ehdr))) {
    void* p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
      file_ = static_cast<const uint8_t*>(p);
      file_size_ = static_cast<size_t>(st.st_size);
      strncpy(path_, path, sizeof(path_) - 1);
    }
  }
  RawClose(fd);
  return file_ != nullptr;
}

const char* FrameNamer::FunctionAt(uint64_t offset, uint64_t* start) {
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(file_);
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
      eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff > file_size_ ||
      (file_size_ - eh->e_shoff) / sizeof(Elf64_Shdr) < eh->e_shnum) {
    return nullptr;
  }
  const auto* sections = reinterpret_cast<const Elf64_Shdr*>(file_ + eh->e_shoff);
  auto in_file = [&](uint64_t off, uint64_t size) { return off <= file_size_ && size <= file_size_ - off; };
  // The full symbol table when the file has one, else the dynamic one.
  const uint32_t kWanted[] = {SHT_SYMTAB, SHT_DYNSYM};
  for (uint32_t wanted : kWanted) {
    for (uint16_t i = 0; i < eh->e_shnum; ++i) {
      const Elf64_Shdr& sym = sections[i];
      if (sym.sh_type != wanted || sym.sh_entsize != sizeof(Elf64_Sym) || sym.sh_link >= eh->e_shnum) continue;
      const Elf64_Shdr& str = sections[sym.sh_link];
      if (!in_file(sym.sh_offset, sym.sh_size) || !in_file(str.sh_offset, str.sh_size) || str.sh_size == 0) continue;
      const auto* syms = reinterpret_cast<const Elf64_Sym*>(file_ + sym.sh_offset);
      const char* strings = reinterpret_cast<const char*>(file_ + str.sh_offset);
      if (strings[str.sh_size - 1] != '\0') continue;
      for (uint64_t k = 0; k < sym.sh_size / sizeof(Elf64_Sym); ++k) {
        const Elf64_Sym& s = syms[k];
        int type = ELF64_ST_TYPE(s.st_info);
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s.st_shndx == SHN_UNDEF || s.st_size == 0) continue;
        if (offset < s.st_value || offset - s.st_value >= s.st_size || s.st_name >= str.sh_size) continue;
        *start = s.st_value;
        return strings + s.st_name;
      }
    }
  }
  return nullptr;
}

bool FrameNamer::Append(uintptr_t pc, const char* stop_at, options::TextBuffer& out) {
  // A return address: the call is the byte before it.
  uintptr_t at = pc ? pc - 1 : 0;
  ModuleQuery q{at, 0, nullptr, false};
  dl_iterate_phdr(FindModule, &q);
  const char* path = q.found && q.name && q.name[0] ? q.name : "/proc/self/exe";
  char exe[512];
  if (q.found && (!q.name || !q.name[0])) {
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
    if (n > 0) path = exe;
  }
  uint64_t offset = at - q.bias;
  uint64_t start = 0;
  const char* symbol = q.found && Map(path) ? FunctionAt(offset, &start) : nullptr;
  char* demangled = nullptr;
  if (symbol && symbol[0] == '_' && symbol[1] == 'Z') {
    int status = -1;
    if (Demangle demangle = FindDemangler()) demangled = demangle(symbol, nullptr, nullptr, &status);
    if (status != 0 && demangled) {
      free(demangled);
      demangled = nullptr;
    }
  }
  const char* name = demangled ? demangled : symbol;
  bool keep = !(name && stop_at && stop_at[0] && InScope(name, stop_at));
  if (keep) {
    if (name) {
      out.Add(name, 400).Add(strlen(name) > 400 ? "..." : "").Add("+");
      AppendHex(out, offset - start + 1);
    } else {
      out.Add("?");
    }
    out.Add(" (").Add(q.found ? BaseName(path) : "?").Add("+");
    AppendHex(out, offset + 1);
    out.Add(")");
  }
  free(demangled);
  return keep;
}

}  // namespace allocprof::shim
