#include "runtime/embedded_suppressions.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "allocprof/trace_format.h"
#include "record/clock.h"
#include "record/record_encoder.h"
#include "runtime/raw_syscalls.h"
#include "runtime/trace_writer.h"

namespace allocprof::shim {
namespace {

constexpr char kSymbol[] = "__lsan_default_suppressions";
constexpr size_t kMaxText = 8 << 10;  // longer texts are cut at their last whole line
char g_text[kMaxText + 1];
size_t g_text_len = 0;
// Plain static storage: written only at start and in a fresh fork child (see the header).
constexpr size_t kRecordBytes = 2 * kMaxText + 256;
uint8_t g_columns[kRecordBytes];
uint8_t g_scratch[sizeof(format::ChunkHeader) + kRecordBytes];
RecordEncoder g_record;

using Suppressions = const char* (*)();

int FirstModuleBias(struct dl_phdr_info* info, size_t, void* data) {
  *static_cast<uintptr_t*>(data) = info->dlpi_addr;
  return 1;  // the first is the executable
}

// The executable's own definition when it does not export it (linked without -rdynamic, as usual:
// LeakSanitizer's runtime is linked into the executable and needs no export), from its .symtab.
Suppressions FromExecutableSymtab() {
  int fd = RawOpen("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st;
  const uint8_t* file = nullptr;
  size_t size = 0;
  if (fstat(fd, &st) == 0 && st.st_size >= static_cast<off_t>(sizeof(Elf64_Ehdr))) {
    void* p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
      file = static_cast<const uint8_t*>(p);
      size = static_cast<size_t>(st.st_size);
    }
  }
  RawClose(fd);
  if (!file) return nullptr;
  uint64_t value = 0;
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(file);
  auto in_file = [&](uint64_t off, uint64_t n) { return off <= size && n <= size - off; };
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64 &&
      eh->e_shentsize == sizeof(Elf64_Shdr) && eh->e_shoff <= size &&
      (size - eh->e_shoff) / sizeof(Elf64_Shdr) >= eh->e_shnum) {
    const auto* sections = reinterpret_cast<const Elf64_Shdr*>(file + eh->e_shoff);
    for (uint16_t i = 0; i < eh->e_shnum && !value; ++i) {
      const Elf64_Shdr& sym = sections[i];
      if (sym.sh_type != SHT_SYMTAB || sym.sh_entsize != sizeof(Elf64_Sym) || sym.sh_link >= eh->e_shnum) continue;
      const Elf64_Shdr& str = sections[sym.sh_link];
      if (!in_file(sym.sh_offset, sym.sh_size) || !in_file(str.sh_offset, str.sh_size)) continue;
      const auto* syms = reinterpret_cast<const Elf64_Sym*>(file + sym.sh_offset);
      const char* strings = reinterpret_cast<const char*>(file + str.sh_offset);
      for (uint64_t k = 0; k < sym.sh_size / sizeof(Elf64_Sym); ++k) {
        const Elf64_Sym& s = syms[k];
        if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || s.st_shndx == SHN_UNDEF || s.st_value == 0) continue;
        if (s.st_name >= str.sh_size || str.sh_size - s.st_name < sizeof(kSymbol)) continue;
        if (memcmp(strings + s.st_name, kSymbol, sizeof(kSymbol)) == 0) {
          value = s.st_value;
          break;
        }
      }
    }
  }
  munmap(const_cast<uint8_t*>(file), size);
  if (!value) return nullptr;
  uintptr_t bias = 0;
  dl_iterate_phdr(FirstModuleBias, &bias);
  return reinterpret_cast<Suppressions>(bias + value);
}

}  // namespace

bool FindEmbeddedSuppressions() {
  auto fn = reinterpret_cast<Suppressions>(dlsym(RTLD_DEFAULT, kSymbol));
  if (!fn) {
    // A failed dlsym leaves its error (two blocks) for the thread's next dlerror, which the
    // program would free: read and release it here, so the shim's blocks are freed by the shim.
    dlerror();
    dlerror();
    fn = FromExecutableSymtab();
  }
  const char* text = fn ? fn() : nullptr;
  if (!text) return false;
  size_t n = strnlen(text, kMaxText + 1);
  if (n > kMaxText) {
    n = kMaxText;
    while (n > 0 && text[n - 1] != '\n') --n;
  }
  memcpy(g_text, text, n);
  g_text[n] = '\0';
  g_text_len = n;
  return n > 0;
}

void WriteEmbeddedSuppressions() {
  if (g_text_len == 0) return;
  RecordEncoder& enc = g_record;
  enc.Init(g_columns, kRecordBytes, kRecordBytes - 64);
  enc.Start(NowNs(), 0);
  enc.Tag(format::RecordTag::kSuppressions);
  enc.Bytes(g_text, static_cast<uint32_t>(g_text_len));
  WriteProcessChunk(enc, g_scratch, sizeof(g_scratch));
}

}  // namespace allocprof::shim
