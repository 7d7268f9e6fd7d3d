// vg_free_null: releasing null: free(NULL), delete and delete[] of null pointers, realloc of
// null to a size (an allocation), and a sized delete of null. None of the releases is a free.
#include <stdlib.h>

#include <new>

void* volatile g_sink;

int main() {
  for (int i = 0; i < 10; ++i) {
    g_sink = nullptr;
    free(g_sink);
    int* p = static_cast<int*>(g_sink);
    delete p;
    delete[] p;
    ::operator delete(nullptr, sizeof(int));
    ::operator delete[](nullptr, std::align_val_t{64});
    void* q = realloc(nullptr, 50);
    free(q);
  }
  return 0;
}
