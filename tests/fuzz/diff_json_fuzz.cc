// libFuzzer target: any byte string given to diff as a JSON report ends in a side or an error
// naming the file, never a crash, a hang or unbounded recursion.
#include <stdint.h>

#include <string>

#include "report/diff.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto side = allocprof::DiffSideFromJson(text, "fuzz.json");
  if (side.ok()) {
    auto result = allocprof::Compare(*side, *side, allocprof::DefaultRules(), 10);
    (void)allocprof::RenderDiffText(result);
  }
  return 0;
}
