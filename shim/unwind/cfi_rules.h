// Frame rules for x86-64 from the DWARF call frame information (.eh_frame) of the loaded objects:
// for one code address, where the caller's frame is (the CFA), and where the return address and
// the caller's rbp were saved. Only the shapes compilers emit for ordinary frames are described;
// anything else (signal frames, expressions other than the stack-realignment one, unknown code)
// comes back kUnsupported so the caller can hand the whole stack to libunwind.
//
// Thread-safety: FindFrameRule reads only the loaded objects' read-only data and allocates nothing
// (it finds the object with glibc's lock-free _dl_find_object), so any thread may call it, also
// from inside an allocation.
#ifndef ALLOCPROF_SHIM_CFI_RULES_H_
#define ALLOCPROF_SHIM_CFI_RULES_H_

#include <stdint.h>

namespace allocprof::shim {

struct FrameRule {
  enum Cfa : uint8_t {
    kUnsupported = 0,  // libunwind must walk this frame
    kRspPlus,          // CFA = rsp + cfa_offset
    kRbpPlus,          // CFA = rbp + cfa_offset
    kLoadRbpPlus,      // CFA = *(rbp + cfa_offset) (a function that realigned its stack)
    kOutermost,        // the return address is undefined: the stack ends here (_start, clone3)
  };
  enum Rbp : uint8_t {
    kSame = 0,   // the caller's rbp is still in rbp
    kAtCfaPlus,  // saved at CFA + rbp_offset
    kAtRbpPlus,  // saved at the current rbp + rbp_offset (realigned frames)
  };
  int32_t cfa_offset;
  int16_t rbp_offset;
  Cfa cfa;
  Rbp rbp;
};
static_assert(sizeof(FrameRule) == 8);

// The rule in force at `pc` (for a return address, pass the address minus one so the lookup lands
// in the call instruction). The return address is always at CFA - 8 when the result is supported.
FrameRule FindFrameRule(uintptr_t pc);

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_CFI_RULES_H_
