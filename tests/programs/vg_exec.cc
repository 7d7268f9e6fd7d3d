// vg_exec [image]: run by its path, allocates (leaking 3 blocks), then execs itself with "image"; the new image
// allocates 40 blocks of its own and leaks 6. valgrind (--trace-children=yes) summarizes only the
// image that exits; allocprof writes one trace per image.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void* volatile g_sink;

int main(int argc, char** argv) {
  bool image = argc > 1 && !strcmp(argv[1], "image");
  int count = image ? 40 : 10, leaked = image ? 6 : 3;
  for (int i = 0; i < count; ++i) {
    void* p = malloc(image ? 4444 : 1111);
    g_sink = p;
    if (i >= leaked) free(p);
  }
  if (!image) {
    char arg[] = "image";
    char* args[] = {argv[0], arg, nullptr};
    execv(argv[0], args);  // argv[0] is a path (under valgrind /proc/self/exe is valgrind's)
    return 1;
  }
  return 0;
}
