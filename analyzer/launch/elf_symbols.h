// What `allocprof attach` needs to know about another process's address space without its
// symbols: the lines of /proc/PID/maps, and for a mapped ELF file (read through /proc/PID/root, so
// a process in another mount namespace or container is read as it sees its files) its header, its
// loadable segments and its exported dynamic symbols (.dynsym, default versions first).
//
// Nothing here touches the process itself; every function is safe to call from any thread.
#ifndef ALLOCPROF_ANALYZER_LAUNCH_ELF_SYMBOLS_H_
#define ALLOCPROF_ANALYZER_LAUNCH_ELF_SYMBOLS_H_

#include <stdint.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace allocprof {

// One line of /proc/PID/maps.
struct Mapping {
  uint64_t start = 0, end = 0, offset = 0;
  std::string perms;  // "r-xp"
  uint32_t dev_major = 0, dev_minor = 0;
  uint64_t inode = 0;
  std::string path;  // "" for anonymous memory; "[stack]", "[vdso]", ...; " (deleted)" kept

  bool executable() const { return perms.size() >= 3 && perms[2] == 'x'; }
  bool file_backed() const { return inode != 0 && !path.empty() && path[0] == '/'; }
  std::string basename() const;
};

// Lines that do not parse are skipped.
std::vector<Mapping> ParseMaps(const std::string& text);

// A mapped ELF file's identity and layout, and symbol lookup in its .dynsym.
class ElfImage {
 public:
  // Opens the file `mapping` maps, as process `pid` sees it (/proc/PID/root/PATH, or
  // /proc/PID/map_files/START-END when the file was deleted or replaced since), checks that it is
  // the mapped file (device and inode, else the same first page as the process's memory at
  // `header_address`, where the file's offset 0 is mapped; 0 = unknown) and reads its headers. On
  // failure says why in `*error`.
  bool Open(pid_t pid, const Mapping& mapping, uint64_t header_address, std::string* error);
  // The same from a plain path (no identity check): unit tests, /proc/PID/exe.
  bool OpenPath(const std::string& path, std::string* error);

  ~ElfImage();
  ElfImage() = default;
  ElfImage(const ElfImage&) = delete;
  ElfImage& operator=(const ElfImage&) = delete;

  int elf_class() const { return class_; }  // ELFCLASS32 or ELFCLASS64
  int machine() const { return machine_; }  // EM_X86_64, EM_386, ...
  int type() const { return type_; }        // ET_EXEC, ET_DYN
  bool has_interpreter() const { return has_interp_; }

  struct Segment {
    uint64_t vaddr, memsz, offset, filesz;
    uint32_t flags;  // PF_R | PF_W | PF_X
  };
  const std::vector<Segment>& loads() const { return loads_; }

  // The load bias (runtime address - link-time address) implied by `mappings` of this file, or
  // nullopt when no mapping matches a loadable segment.
  std::optional<uint64_t> LoadBias(const std::vector<Mapping>& mappings) const;

  // st_value of the defined function or object NAME in .dynsym, preferring its default version
  // (NAME@@V) to a hidden one (NAME@V). nullopt when it is absent, undefined, or an IFUNC.
  std::optional<uint64_t> DynamicSymbol(const std::string& name, std::string* error) const;

  // "ELF 32-bit Intel 80386"-style words for messages.
  std::string Describe() const;

 private:
  bool ReadHeaders(std::string* error);
  bool ReadAt(uint64_t offset, void* out, size_t size) const;

  int fd_ = -1;
  std::string path_;
  int class_ = 0, machine_ = 0, type_ = 0;
  bool has_interp_ = false;
  std::vector<Segment> loads_;
};

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_LAUNCH_ELF_SYMBOLS_H_
