// vg_huge [throw] [realloc]: allocations that fail (ENOMEM, or a size overflow): malloc, calloc,
// aligned_alloc, posix_memalign, memalign, valloc and a nothrow new, 5 times each. None made a
// block: none is an allocation. Two cases valgrind cannot compare, on request: "throw", 5 throwing
// new[] that fail (valgrind aborts the program: it cannot throw bad_alloc), and "realloc", 5
// failing reallocs of a live block (which stays valid, then freed): valgrind counts each as an
// allocation and a free (its counters move before it tries), allocprof as nothing, since nothing
// was allocated or freed.
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <new>

void* volatile g_sink;

namespace {
int Null(void* p) {
  g_sink = p;
  return p == nullptr;
}
bool Flag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], name)) return true;
  }
  return false;
}
}  // namespace

int main(int argc, char** argv) {
  const size_t kHuge = static_cast<size_t>(1) << 62;
  volatile size_t half = static_cast<size_t>(1) << 33;  // calloc(half, half) overflows
  int failed = 0;
  for (int i = 0; i < 5; ++i) {
    void* p = nullptr;
    failed += Null(malloc(kHuge));
    failed += Null(calloc(half, half));
    failed += Null(aligned_alloc(64, kHuge));
    failed += posix_memalign(&p, 64, kHuge) == ENOMEM;
    failed += Null(memalign(4096, kHuge));
    failed += Null(valloc(kHuge));
    failed += Null(::operator new(kHuge, std::nothrow));
  }
  if (Flag(argc, argv, "throw")) {
    for (int i = 0; i < 5; ++i) {
      try {
        g_sink = ::operator new[](kHuge);
        return 1;
      } catch (const std::bad_alloc&) {
        ++failed;
      }
    }
  }
  if (Flag(argc, argv, "realloc")) {
    char* block = static_cast<char*>(malloc(100));
    for (int i = 0; i < 5; ++i) failed += Null(realloc(block, kHuge));
    block[99] = 1;
    free(block);
  }
  g_sink = malloc(10);  // one that succeeds, leaked
  return failed >= 35 ? 0 : 1;
}
