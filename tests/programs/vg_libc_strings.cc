// vg_libc_strings: allocations made inside libc on the program's behalf: strdup, strndup, asprintf,
// vasprintf, getline and getdelim (growing their buffer), open_memstream, realpath(NULL), and
// get_current_dir_name; the last asprintf's string is leaked.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void* volatile g_sink;

namespace {
int Format(char** out, const char* format, ...) {
  va_list args;
  va_start(args, format);
  int n = vasprintf(out, format, args);
  va_end(args);
  return n;
}
}  // namespace

int main() {
  for (int i = 0; i < 20; ++i) {
    char* a = strdup("a string of some length");
    char* b = strndup("another, longer string cut short", static_cast<size_t>(i + 1));
    char* c = nullptr;
    if (asprintf(&c, "%d-%s-%s", i, a, b) < 0) return 1;
    char* d = nullptr;
    if (Format(&d, "%s/%d", c, i * 7) < 0) return 1;
    free(a);
    free(b);
    free(c);
    free(d);
  }
  // getline over an in-memory stream of growing lines: the buffer is realloc'd as lines grow.
  char text[4096];
  size_t used = 0;
  for (int line = 1; line <= 30 && used + 200 < sizeof(text); ++line) {
    memset(text + used, 'x', static_cast<size_t>(line * 4));
    used += static_cast<size_t>(line * 4);
    text[used++] = '\n';
  }
  FILE* in = fmemopen(text, used, "r");
  if (!in) return 1;
  char* buffer = nullptr;
  size_t capacity = 0;
  while (getline(&buffer, &capacity, in) > 0) g_sink = buffer;
  rewind(in);
  while (getdelim(&buffer, &capacity, 'x', in) > 0) g_sink = buffer;
  free(buffer);
  fclose(in);
  char* stream_text = nullptr;
  size_t stream_size = 0;
  FILE* out = open_memstream(&stream_text, &stream_size);
  if (!out) return 1;
  for (int i = 0; i < 500; ++i) fprintf(out, "line %d of the memory stream\n", i);
  fclose(out);
  free(stream_text);
  char* real = realpath(".", nullptr);
  free(real);
  char* cwd = get_current_dir_name();
  free(cwd);
  char* leaked = nullptr;
  if (asprintf(&leaked, "leaked %d", 42) < 0) return 1;
  g_sink = leaked;
  g_sink = nullptr;
  return 0;
}
