// A library that allocates in its constructor (7 × 12345 bytes, kept) and on request.
#include <stdlib.h>

namespace {
void* g_kept[7];
}

__attribute__((constructor)) static void PluginInit() {
  for (auto& p : g_kept) p = malloc(12345);
}

__attribute__((destructor)) static void PluginFini() {
  for (auto& p : g_kept) free(p);
}

extern "C" void* plugin_allocate(size_t n) { return malloc(n); }
