// entry_points KEY COUNT: calls one allocation entry point (and its matching release) exactly COUNT
// times, so a test can compare the trace of COUNT=N against COUNT=0.
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <new>

extern "C" void free_sized(void*, size_t) __attribute__((weak));
extern "C" void free_aligned_sized(void*, size_t, size_t) __attribute__((weak));

namespace {

// Keeps the compiler from eliding allocation/release pairs.
void* volatile g_sink;
void Use(void* p) {
  g_sink = p;
  if (p) memset(p, 0xab, 1);
}

constexpr size_t kSize = 1000;
constexpr std::align_val_t kAlign{64};

bool Step(const char* key) {
  if (!strcmp(key, "malloc")) {
    void* p = malloc(kSize);
    Use(p);
    free(p);
  } else if (!strcmp(key, "calloc")) {
    void* p = calloc(10, 100);
    Use(p);
    free(p);
  } else if (!strcmp(key, "realloc")) {
    void* p = realloc(nullptr, kSize);  // allocation through realloc
    Use(p);
    p = realloc(p, 4 * kSize);  // move or grow: old block released, new one allocated
    Use(p);
    free(p);
  } else if (!strcmp(key, "reallocarray")) {
    void* p = reallocarray(nullptr, 10, 100);
    Use(p);
    free(p);
  } else if (!strcmp(key, "posix_memalign")) {
    void* p = nullptr;
    if (posix_memalign(&p, 64, kSize)) return false;
    Use(p);
    free(p);
  } else if (!strcmp(key, "aligned_alloc")) {
    void* p = aligned_alloc(64, 1024);
    Use(p);
    free(p);
  } else if (!strcmp(key, "memalign")) {
    void* p = memalign(64, kSize);
    Use(p);
    free(p);
  } else if (!strcmp(key, "valloc")) {
    void* p = valloc(kSize);
    Use(p);
    free(p);
  } else if (!strcmp(key, "pvalloc")) {
    void* p = pvalloc(kSize);
    Use(p);
    free(p);
  } else if (!strcmp(key, "free_sized")) {
    if (!free_sized) return false;
    void* p = malloc(kSize);
    Use(p);
    free_sized(p, kSize);
  } else if (!strcmp(key, "free_aligned_sized")) {
    if (!free_aligned_sized) return false;
    void* p = aligned_alloc(64, 1024);
    Use(p);
    free_aligned_sized(p, 64, 1024);
  } else if (!strcmp(key, "malloc_usable_size")) {
    void* p = malloc(kSize);
    Use(p);
    if (malloc_usable_size(p) < kSize) return false;
    free(p);
  } else if (!strcmp(key, "new")) {
    void* p = ::operator new(kSize);
    Use(p);
    ::operator delete(p);
  } else if (!strcmp(key, "new[]")) {
    void* p = ::operator new[](kSize);
    Use(p);
    ::operator delete[](p);
  } else if (!strcmp(key, "new_nothrow")) {
    void* p = ::operator new(kSize, std::nothrow);
    Use(p);
    ::operator delete(p, std::nothrow);
  } else if (!strcmp(key, "new[]_nothrow")) {
    void* p = ::operator new[](kSize, std::nothrow);
    Use(p);
    ::operator delete[](p, std::nothrow);
  } else if (!strcmp(key, "new_aligned")) {
    void* p = ::operator new(kSize, kAlign);
    Use(p);
    ::operator delete(p, kAlign);
  } else if (!strcmp(key, "new[]_aligned")) {
    void* p = ::operator new[](kSize, kAlign);
    Use(p);
    ::operator delete[](p, kAlign);
  } else if (!strcmp(key, "new_aligned_nothrow")) {
    void* p = ::operator new(kSize, kAlign, std::nothrow);
    Use(p);
    ::operator delete(p, kAlign, std::nothrow);
  } else if (!strcmp(key, "new[]_aligned_nothrow")) {
    void* p = ::operator new[](kSize, kAlign, std::nothrow);
    Use(p);
    ::operator delete[](p, kAlign, std::nothrow);
  } else if (!strcmp(key, "delete_sized")) {
    void* p = ::operator new(kSize);
    Use(p);
    ::operator delete(p, kSize);
  } else if (!strcmp(key, "delete[]_sized")) {
    void* p = ::operator new[](kSize);
    Use(p);
    ::operator delete[](p, kSize);
  } else if (!strcmp(key, "delete_sized_aligned")) {
    void* p = ::operator new(kSize, kAlign);
    Use(p);
    ::operator delete(p, kSize, kAlign);
  } else if (!strcmp(key, "delete[]_sized_aligned")) {
    void* p = ::operator new[](kSize, kAlign);
    Use(p);
    ::operator delete[](p, kSize, kAlign);
  } else if (!strcmp(key, "mismatch")) {
    // Released through the wrong family: works with glibc for a char array, and is what the
    // analyzer's mismatched-free report is for.
    char* p = new char[kSize];
    Use(p);
    free(p);
  } else if (!strcmp(key, "nothrow_handler")) {
    // A failing nothrow new calls the new_handler like the throwing form, and returns null when
    // the handler gives up (here it removes itself on its second call), or when it throws.
    static int calls;
    calls = 0;
    std::set_new_handler([] {
      if (++calls == 2) std::set_new_handler(nullptr);
    });
    void* p = ::operator new(static_cast<size_t>(1) << 62, std::nothrow);
    if (p || calls != 2) return false;
    std::set_new_handler([] { throw std::bad_alloc(); });
    p = ::operator new[](static_cast<size_t>(1) << 62, std::align_val_t{64}, std::nothrow);
    std::set_new_handler(nullptr);
    if (p) return false;
    p = ::operator new(kSize, std::nothrow);  // and a nothrow new that succeeds, recorded once
    Use(p);
    ::operator delete(p);
  } else if (!strcmp(key, "new_fail")) {
    // The throwing form must still throw std::bad_alloc through the shim.
    try {
      void* p = ::operator new(static_cast<size_t>(1) << 62);
      Use(p);
      return false;
    } catch (const std::bad_alloc&) {
    }
  } else
    return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: entry_points KEY COUNT\n");
    return 2;
  }
  long count = atol(argv[2]);
  for (long i = 0; i < count; ++i) {
    if (!Step(argv[1])) {
      fprintf(stderr, "entry_points: %s failed or unknown\n", argv[1]);
      return 1;
    }
  }
  printf("ok %s %ld\n", argv[1], count);
  return 0;
}
