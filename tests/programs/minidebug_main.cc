// minidebug_main: leaks 4321 bytes through libminidebug.so (stripped, with MiniDebugInfo), whose
// local function MinidebugHiddenAlloc makes the allocation.
#include <stdio.h>
#include <stdlib.h>

extern "C" void* minidebug_entry(size_t n);

int main() {
  void* p = minidebug_entry(4321);
  printf("leaked %p\n", p);
  return 0;
}
