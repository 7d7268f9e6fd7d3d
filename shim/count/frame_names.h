// Names the return addresses of this process for a budget's failure message, in-process and
// without allocating through the hooks: the module that holds the address (dl_iterate_phdr), the
// function from that module's own symbol table (.symtab, read from the file; .dynsym when the
// file is stripped), demangled by the program's __cxa_demangle when it has one.
//
// Thread-safety: one FrameNamer per call; it maps at most one module file at a time.
#ifndef ALLOCPROF_SHIM_COUNT_FRAME_NAMES_H_
#define ALLOCPROF_SHIM_COUNT_FRAME_NAMES_H_

#include <stddef.h>
#include <stdint.h>

#include "allocprof/options.h"

namespace allocprof::shim {

class FrameNamer {
 public:
  FrameNamer() = default;
  ~FrameNamer();
  FrameNamer(const FrameNamer&) = delete;
  FrameNamer& operator=(const FrameNamer&) = delete;

  // Appends "function+0xN (module+0xM)" for the return address `pc` to `out` ("?" for a function
  // without a symbol). Returns false, appending nothing, when the function's qualified name
  // starts with `stop_at` (e.g. "testing::", also after a return type).
  bool Append(uintptr_t pc, const char* stop_at, options::TextBuffer& out);

 private:
  bool Map(const char* path);
  void Unmap();
  // The function symbol that holds `offset` in the mapped file, or null.
  const char* FunctionAt(uint64_t offset, uint64_t* start);

  char path_[512] = {0};
  const uint8_t* file_ = nullptr;
  size_t file_size_ = 0;
};

// "0x" and lowercase hex digits.
void AppendHex(options::TextBuffer& out, uint64_t v);

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_COUNT_FRAME_NAMES_H_
