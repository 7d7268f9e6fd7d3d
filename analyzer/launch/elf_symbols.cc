#include "launch/elf_symbols.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace allocprof {

std::string Mapping::basename() const {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::vector<Mapping> ParseMaps(const std::string& text) {
  std::vector<Mapping> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    // start-end perms offset major:minor inode [path]; the path may contain spaces.
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits(' ', 5));
    if (f.size() < 5) continue;
    Mapping m;
    std::vector<absl::string_view> range = absl::StrSplit(f[0], '-');
    std::vector<absl::string_view> dev = absl::StrSplit(f[3], ':');
    if (range.size() != 2 || dev.size() != 2 || !absl::SimpleHexAtoi(range[0], &m.start) ||
        !absl::SimpleHexAtoi(range[1], &m.end) || !absl::SimpleHexAtoi(f[2], &m.offset) ||
        !absl::SimpleHexAtoi(dev[0], &m.dev_major) || !absl::SimpleHexAtoi(dev[1], &m.dev_minor)) {
      continue;
    }
    if (!absl::SimpleAtoi(f[4], &m.inode)) continue;
    m.perms = std::string(f[1]);
    // The path follows spaces that pad it to a column.
    if (f.size() > 5) m.path = std::string(absl::StripLeadingAsciiWhitespace(f[5]));
    out.push_back(std::move(m));
  }
  return out;
}

ElfImage::~ElfImage() {
  if (fd_ >= 0) close(fd_);
}

bool ElfImage::ReadAt(uint64_t offset, void* out, size_t size) const {
  size_t done = 0;
  while (done < size) {
    ssize_t n = pread(fd_, static_cast<char*>(out) + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

bool ElfImage::OpenPath(const std::string& path, std::string* error) {
  fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  path_ = path;
  if (fd_ < 0) {
    *error = absl::StrCat("cannot open ", path, ": ", strerror(errno));
    return false;
  }
  return ReadHeaders(error);
}

namespace {

// The first page of the file at `fd` equals process `pid`'s memory at `address` (where the file's
// offset 0 is mapped). For overlay filesystems, whose files /proc/PID/maps may name by the inode of
// the layer below (kernels before 6.x), so that device and inode do not match what fstat sees.
bool SameFirstPage(int fd, pid_t pid, uint64_t address) {
  char file[4096], memory[4096];
  ssize_t n = pread(fd, file, sizeof(file), 0);
  if (n < 64) return false;
  int mem = open(absl::StrCat("/proc/", pid, "/mem").c_str(), O_RDONLY | O_CLOEXEC);
  if (mem < 0) return false;
  ssize_t m = pread(mem, memory, static_cast<size_t>(n), static_cast<off_t>(address));
  close(mem);
  return m == n && memcmp(file, memory, static_cast<size_t>(n)) == 0;
}

}  // namespace

bool ElfImage::Open(pid_t pid, const Mapping& mapping, uint64_t header_address, std::string* error) {
  std::string name = mapping.path;
  const std::string kDeleted = " (deleted)";
  bool deleted = absl::EndsWith(name, kDeleted);
  if (deleted) name.resize(name.size() - kDeleted.size());
  auto same_file = [&](int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 && st.st_ino == mapping.inode && major(st.st_dev) == mapping.dev_major &&
           minor(st.st_dev) == mapping.dev_minor;
  };
  std::string tried;
  int by_name = -1;
  if (!deleted) {
    std::string path = absl::StrCat("/proc/", pid, "/root", name);
    by_name = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (by_name >= 0 && same_file(by_name)) {
      fd_ = by_name;
      path_ = name;
      return ReadHeaders(error);
    }
    tried = by_name >= 0 ? absl::StrCat(path, " is not the file mapped (another device or inode)")
                         : absl::StrCat("cannot open ", path, ": ", strerror(errno));
  } else {
    tried = absl::StrCat(name, " was deleted since it was loaded");
  }
  // The mapped file itself, whatever became of its name (needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE).
  std::string path = absl::StrFormat("/proc/%d/map_files/%x-%x", pid, mapping.start, mapping.end);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (by_name >= 0) close(by_name);
    fd_ = fd;
    path_ = name;
    return ReadHeaders(error);
  }
  if (by_name >= 0 && header_address != 0 && SameFirstPage(by_name, pid, header_address)) {
    fd_ = by_name;
    path_ = name;
    return ReadHeaders(error);
  }
  if (by_name >= 0) close(by_name);
  *error = absl::StrCat(tried, "; and cannot open ", path, ": ", strerror(errno));
  return false;
}

bool ElfImage::ReadHeaders(std::string* error) {
  unsigned char ident[EI_NIDENT];
  Elf64_Ehdr eh;
  if (!ReadAt(0, ident, sizeof(ident)) || memcmp(ident, ELFMAG, SELFMAG) != 0) {
    *error = absl::StrCat(path_, " is not an ELF file");
    return false;
  }
  class_ = ident[EI_CLASS];
  // e_type and e_machine sit at the same offsets in both classes.
  uint16_t type_machine[2];
  if (!ReadAt(EI_NIDENT, type_machine, sizeof(type_machine))) {
    *error = absl::StrCat(path_, ": truncated ELF header");
    return false;
  }
  type_ = type_machine[0];
  machine_ = type_machine[1];
  if (class_ != ELFCLASS64 || ident[EI_DATA] != ELFDATA2LSB) return true;  // identified, not read further
  if (!ReadAt(0, &eh, sizeof(eh)) || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 4096) {
    *error = absl::StrCat(path_, ": bad ELF header");
    return false;
  }
  std::vector<Elf64_Phdr> ph(eh.e_phnum);
  if (!ReadAt(eh.e_phoff, ph.data(), ph.size() * sizeof(Elf64_Phdr))) {
    *error = absl::StrCat(path_, ": cannot read the program headers at offset ", eh.e_phoff);
    return false;
  }
  for (const Elf64_Phdr& p : ph) {
    if (p.p_type == PT_INTERP) has_interp_ = true;
    if (p.p_type == PT_LOAD) loads_.push_back({p.p_vaddr, p.p_memsz, p.p_offset, p.p_filesz, p.p_flags});
  }
  return true;
}

std::optional<uint64_t> ElfImage::LoadBias(const std::vector<Mapping>& mappings) const {
  constexpr uint64_t kPage = 4096;
  for (const Mapping& m : mappings) {
    for (const Segment& s : loads_) {
      // The kernel maps a segment from its page-aligned file offset at its page-aligned address.
      if ((s.offset & ~(kPage - 1)) == m.offset && (s.vaddr & (kPage - 1)) == (s.offset & (kPage - 1))) {
        return m.start - (s.vaddr & ~(kPage - 1));
      }
    }
  }
  return std::nullopt;
}

std::optional<uint64_t> ElfImage::DynamicSymbol(const std::string& name, std::string* error) const {
  if (class_ != ELFCLASS64) return std::nullopt;
  Elf64_Ehdr eh;
  if (!ReadAt(0, &eh, sizeof(eh)) || eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shnum == 0 || eh.e_shnum > 65280) {
    *error = absl::StrCat(path_, " has no section headers to find its dynamic symbols in");
    return std::nullopt;
  }
  std::vector<Elf64_Shdr> sh(eh.e_shnum);
  if (!ReadAt(eh.e_shoff, sh.data(), sh.size() * sizeof(Elf64_Shdr))) {
    *error = absl::StrCat(path_, ": cannot read the section headers at offset ", eh.e_shoff);
    return std::nullopt;
  }
  const Elf64_Shdr* dynsym = nullptr;
  const Elf64_Shdr* versym = nullptr;
  for (const Elf64_Shdr& s : sh) {
    if (s.sh_type == SHT_DYNSYM) dynsym = &s;
    if (s.sh_type == SHT_GNU_versym) versym = &s;
  }
  if (!dynsym || dynsym->sh_link >= sh.size() || dynsym->sh_entsize != sizeof(Elf64_Sym)) {
    *error = absl::StrCat(path_, " has no .dynsym section");
    return std::nullopt;
  }
  const Elf64_Shdr& strtab = sh[dynsym->sh_link];
  size_t count = dynsym->sh_size / sizeof(Elf64_Sym);
  if (count > (1u << 24) || strtab.sh_size > (1u << 28)) {
    *error = absl::StrCat(path_, ": implausible .dynsym size");
    return std::nullopt;
  }
  std::vector<Elf64_Sym> syms(count);
  std::string strings(strtab.sh_size, '\0');
  std::vector<uint16_t> versions;
  if (!ReadAt(dynsym->sh_offset, syms.data(), count * sizeof(Elf64_Sym)) ||
      !ReadAt(strtab.sh_offset, strings.data(), strings.size())) {
    *error = absl::StrCat(path_, ": cannot read .dynsym at offset ", dynsym->sh_offset);
    return std::nullopt;
  }
  if (versym && versym->sh_size == count * sizeof(uint16_t)) {
    versions.resize(count);
    if (!ReadAt(versym->sh_offset, versions.data(), count * sizeof(uint16_t))) versions.clear();
  }
  std::optional<uint64_t> hidden;
  for (size_t i = 1; i < count; ++i) {
    const Elf64_Sym& s = syms[i];
    if (s.st_name >= strings.size() || s.st_shndx == SHN_UNDEF) continue;
    int type = ELF64_ST_TYPE(s.st_info);
    if (type != STT_FUNC && type != STT_OBJECT) continue;
    if (strcmp(strings.c_str() + s.st_name, name.c_str()) != 0) continue;
    bool is_hidden = !versions.empty() && (versions[i] & 0x8000) != 0;
    if (!is_hidden) return s.st_value;
    if (!hidden) hidden = s.st_value;
  }
  return hidden;
}

std::string ElfImage::Describe() const {
  std::string bits = class_ == ELFCLASS64 ? "64-bit" : class_ == ELFCLASS32 ? "32-bit" : "unknown-class";
  std::string arch;
  switch (machine_) {
    case EM_X86_64:
      arch = class_ == ELFCLASS32 ? "x32 (x86-64 with 32-bit pointers)" : "x86-64";
      break;
    case EM_386:
      arch = "i386";
      break;
    case EM_AARCH64:
      arch = "AArch64";
      break;
    case EM_ARM:
      arch = "ARM";
      break;
    case EM_RISCV:
      arch = "RISC-V";
      break;
    case EM_PPC64:
      arch = "PowerPC 64";
      break;
    case EM_S390:
      arch = "s390";
      break;
    default:
      arch = absl::StrCat("machine ", machine_);
  }
  return absl::StrCat(bits, " ", arch);
}

}  // namespace allocprof
