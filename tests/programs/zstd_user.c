/* zstd_user: a program linked with its own libzstd, compressing and decompressing a buffer. Under
 * the shim (which carries a private copy of zstd) its ZSTD_* calls must still reach libzstd.so.1;
 * it prints the module ZSTD_compress resolved to and whether the round trip gave the input back. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

int main(void) {
  enum { kSize = 1 << 16 };
  char* in = malloc(kSize);
  char* back = malloc(kSize);
  size_t bound = ZSTD_compressBound(kSize);
  char* packed = malloc(bound);
  if (!in || !back || !packed) return 1;
  for (int i = 0; i < kSize; ++i) in[i] = (char)("allocprof"[i % 9] + i / 4096);
  size_t n = ZSTD_compress(packed, bound, in, kSize, 3);
  if (ZSTD_isError(n)) return 1;
  size_t m = ZSTD_decompress(back, kSize, packed, n);
  Dl_info info;
  const char* module = dladdr((void*)ZSTD_compress, &info) && info.dli_fname ? info.dli_fname : "?";
  const char* slash = strrchr(module, '/');
  printf("ZSTD_compress in %s\n", slash ? slash + 1 : module);
  printf("round trip %s, version %u\n", m == kSize && memcmp(in, back, kSize) == 0 ? "ok" : "FAILED",
         ZSTD_versionNumber());
  free(in);
  free(back);
  free(packed);
  return 0;
}
