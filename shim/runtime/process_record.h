// The process description at the head of every trace (pid, command line, clock origin, cache size,
// capture settings), and the immediate chunks for records that cannot wait for a thread's buffer.
#ifndef ALLOCPROF_SHIM_PROCESS_RECORD_H_
#define ALLOCPROF_SHIM_PROCESS_RECORD_H_

#include <stdint.h>

namespace allocprof::shim {

void WriteProcessRecord(uint64_t now);

// One kWarning record in its own chunk.
void WriteWarning(const char* text);

// kExec and kEnd records, each in its own chunk.
void WriteExecRecord(const char* path);
void WriteEndRecord();
// kCapture (state is a format::CaptureState) and kMark records written by the shim itself (capture
// control, `allocprof ctl PID mark NAME`), in their own chunk.
void WriteCaptureRecord(uint8_t state, const char* reason);
void WriteCaptureRecordAt(uint64_t time, uint8_t state, const char* reason);
void WriteMarkRecord(const char* name);

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_PROCESS_RECORD_H_
