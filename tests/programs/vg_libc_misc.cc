// vg_libc_misc: libc functions that allocate internally: fopen/fprintf/fclose, opendir/readdir,
// scandir, setenv/unsetenv, qsort of a large array, regcomp/regexec/regfree, strftime after
// tzset, strerror_l-free paths. Whatever libc does inside, both tools must count it the same.
#include <dirent.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void* volatile g_sink;

namespace {
int Compare(const void* a, const void* b) {
  int x = *static_cast<const int*>(a), y = *static_cast<const int*>(b);
  return (x > y) - (x < y);
}
}  // namespace

int main(int argc, char** argv) {
  char path[] = "/tmp/vg_libc_misc_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 1;
  close(fd);
  for (int i = 0; i < 5; ++i) {
    FILE* f = fopen(path, "w");
    if (!f) return 1;
    for (int j = 0; j < 100; ++j) fprintf(f, "%d %s\n", j, argv[0]);
    fclose(f);
  }
  unlink(path);
  DIR* dir = opendir("/proc/self");
  if (!dir) return 1;
  int entries = 0;
  while (readdir(dir)) ++entries;
  closedir(dir);
  struct dirent** list = nullptr;
  int n = scandir("/proc/self", &list, nullptr, alphasort);
  for (int i = 0; i < n; ++i) free(list[i]);
  free(list);
  for (int i = 0; i < 20; ++i) {
    char name[32];
    snprintf(name, sizeof(name), "VG_LIBC_MISC_%d", i);
    setenv(name, "a value", 1);
  }
  for (int i = 0; i < 20; ++i) {
    char name[32];
    snprintf(name, sizeof(name), "VG_LIBC_MISC_%d", i);
    unsetenv(name);
  }
  const int kCount = 100000;  // qsort allocates a buffer for arrays this large
  int* numbers = static_cast<int*>(malloc(kCount * sizeof(int)));
  for (int i = 0; i < kCount; ++i) numbers[i] = (i * 7919) % kCount;
  qsort(numbers, kCount, sizeof(int), Compare);
  free(numbers);
  regex_t re;
  if (regcomp(&re, "^([a-z]+)-([0-9]{2,4})$", REG_EXTENDED) != 0) return 1;
  regmatch_t m[3];
  int matched = regexec(&re, "abc-123", 3, m, 0) == 0;
  regfree(&re);
  setenv("TZ", "UTC", 1);
  tzset();
  time_t t = 86400 * 365;
  struct tm parts;
  char when[64];
  strftime(when, sizeof(when), "%Y-%m-%d %H:%M", gmtime_r(&t, &parts));
  g_sink = when;
  return matched && entries > 0 && n > 0 ? 0 : 1;
}
