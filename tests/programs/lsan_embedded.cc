// lsan_embedded: leaks 3 blocks of 777 bytes in LeakQuietly, which the program's own
// __lsan_default_suppressions() suppresses, and 1 block of 1337 bytes in LeakLoudly, which it does
// not. Built without -rdynamic, as LeakSanitizer users build: the function is not exported.
#include <stdio.h>
#include <stdlib.h>

extern "C" const char* __lsan_default_suppressions() {
  return "# the program's own\n"
         "leak:LeakQuietly\n"
         "interceptor_via_fun:NotALeakRule\n";
}

__attribute__((noinline)) void* LeakQuietly() {
  void* p = malloc(777);
  __asm__ volatile("" : : "r"(p) : "memory");
  return p;
}

__attribute__((noinline)) void* LeakLoudly() {
  void* p = malloc(1337);
  __asm__ volatile("" : : "r"(p) : "memory");
  return p;
}

int main() {
  for (int i = 0; i < 3; ++i) LeakQuietly();
  LeakLoudly();
  puts("leaked");
  return 0;
}
