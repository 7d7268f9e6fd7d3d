// Built into libminidebug.so, stripped, then given a .gnu_debugdata section (MiniDebugInfo, as
// Fedora ships its libraries): only the section's compressed .symtab names the local functions.
#include <stdlib.h>

namespace {

// Local: in .symtab only, so stripped it has no name unless MiniDebugInfo gives it one.
__attribute__((noinline)) void* MinidebugHiddenAlloc(size_t n) {
  void* p = malloc(n);
  __asm__ volatile("" : : "r"(p) : "memory");
  return p;
}

}  // namespace

extern "C" __attribute__((noinline)) void* minidebug_entry(size_t n) {
  void* p = MinidebugHiddenAlloc(n);
  __asm__ volatile("" : : "r"(p) : "memory");
  return p;
}
