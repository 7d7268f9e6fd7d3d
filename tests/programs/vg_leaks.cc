// vg_leaks: blocks left allocated at exit in each of valgrind's kinds: definitely lost (no
// pointer), indirectly lost (pointed to only by a lost block), possibly lost (only an interior
// pointer) and still reachable (a global points to it). allocprof has one kind, "live at end":
// the four together, 4 + 4 + 2 + 5 = 15 blocks.
#include <stdint.h>
#include <stdlib.h>

namespace {
struct Node {
  Node* next;
  char payload[40];
};
void* g_reachable[5];
char* volatile g_interior[2];
void* volatile g_sink;
}  // namespace

__attribute__((noinline)) void Lose() {
  for (int i = 0; i < 3; ++i) g_sink = malloc(64);  // definitely lost (g_sink is overwritten)
  // A lost list: the head is definitely lost, the 4 nodes behind it indirectly.
  Node* head = nullptr;
  for (int i = 0; i < 5; ++i) {
    Node* n = static_cast<Node*>(malloc(sizeof(Node)));
    n->next = head;
    head = n;
  }
  g_sink = head;
  g_sink = nullptr;
}

int main() {
  Lose();                                                               // 1 + 3 definitely lost, 4 indirectly
  for (auto& p : g_interior) p = static_cast<char*>(malloc(100)) + 10;  // possibly lost
  for (auto& p : g_reachable) p = malloc(32);                           // still reachable
  return 0;
}
