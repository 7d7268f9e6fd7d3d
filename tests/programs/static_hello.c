/* A statically linked program: allocprof run and allocprof attach must refuse it with a clear
 * message. With an argument it says "ready" and waits for a line on stdin (something to attach to). */
#include <stdio.h>
int main(int argc, char** argv) {
  (void)argv;
  puts(argc > 1 ? "ready" : "static hello");
  if (argc > 1) {
    fflush(stdout);
    while (getchar() != '\n' && !feof(stdin)) {
    }
  }
  return 0;
}
