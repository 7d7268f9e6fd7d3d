// vg_new_delete: every operator new and delete form (plain, array, nothrow, sized, aligned and
// their combinations), through expressions and direct calls, and arrays of objects with
// destructors (an array cookie); one block of new and one of new[] are leaked.
#include <stdlib.h>

#include <new>

void* volatile g_sink;

struct alignas(128) Wide {
  char bytes[200];
};
struct Counted {
  int value = 7;
  ~Counted() { g_sink = this; }
};

int main() {
  constexpr std::align_val_t kAlign{64};
  for (int i = 0; i < 10; ++i) {
    size_t n = 100 + static_cast<size_t>(i);
    void* p = ::operator new(n);
    ::operator delete(p);
    p = ::operator new(n);
    ::operator delete(p, n);
    p = ::operator new[](n);
    ::operator delete[](p);
    p = ::operator new[](n);
    ::operator delete[](p, n);
    p = ::operator new(n, std::nothrow);
    ::operator delete(p, std::nothrow);
    p = ::operator new[](n, std::nothrow);
    ::operator delete[](p, std::nothrow);
    p = ::operator new(n, kAlign);
    ::operator delete(p, kAlign);
    p = ::operator new(n, kAlign);
    ::operator delete(p, n, kAlign);
    p = ::operator new[](n, kAlign);
    ::operator delete[](p, kAlign);
    p = ::operator new[](n, kAlign);
    ::operator delete[](p, n, kAlign);
    p = ::operator new(n, kAlign, std::nothrow);
    ::operator delete(p, kAlign, std::nothrow);
    p = ::operator new[](n, kAlign, std::nothrow);
    ::operator delete[](p, kAlign, std::nothrow);
    // Expressions: the compiler picks the sized and aligned forms.
    Wide* w = new Wide;
    g_sink = w;
    delete w;
    Wide* ws = new Wide[3];
    g_sink = ws;
    delete[] ws;
    Counted* c = new Counted[5];  // with a cookie: delete[] is given the size
    g_sink = c;
    delete[] c;
    int* x = new (std::nothrow) int(i);
    g_sink = x;
    delete x;
  }
  g_sink = new int[4];  // leaked
  g_sink = new Wide;    // leaked
  g_sink = nullptr;
  return 0;
}
