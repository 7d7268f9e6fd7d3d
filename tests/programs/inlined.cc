// inlined: two allocations whose call stacks the symbolizer tests resolve. 4242 bytes are allocated
// by an always_inline function inside AllocateThroughInline, 4343 directly by DirectAllocation. The
// "line:" comments mark the lines the tests expect; they search for them instead of hardcoding.
#include <stdlib.h>

namespace {

// Storing the result keeps the calls from becoming tail calls, which would drop their frames.
void* volatile g_sink;

__attribute__((always_inline)) inline void* InlinedAllocate() {
  return malloc(4242);  // line: inlined-malloc
}

}  // namespace

__attribute__((noinline)) void AllocateThroughInline() {
  g_sink = InlinedAllocate();  // line: inline-call-site
}

__attribute__((noinline)) void DirectAllocation() {
  g_sink = malloc(4343);  // line: direct-malloc
}

int main() {
  AllocateThroughInline();  // line: main-calls-inline
  free(g_sink);
  DirectAllocation();  // line: main-calls-direct
  free(g_sink);
  return 0;
}
