// Captures the calling program's stack (return addresses, leaf first), without the shim's own
// frames. libunwind's unw_backtrace with a per-thread cache by default; frame-pointer walking on
// request (far cheaper, correct only where the code keeps frame pointers).
#ifndef ALLOCPROF_SHIM_STACK_CAPTURE_H_
#define ALLOCPROF_SHIM_STACK_CAPTURE_H_

#include <stdint.h>

#include "thread_state.h"

namespace allocprof::shim {

// Extra frames captured beyond max_depth to make room for the shim's own.
inline constexpr uint32_t kShimFrameSlack = 16;

void InitStackCapture();

// Fills t->frames with up to max_depth program frames; returns how many.
uint32_t CaptureStack(ThreadState* t);

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_STACK_CAPTURE_H_
