// The trace file: creation (0600, never through a symlink, never over an existing file), and
// whole-chunk writes.
//
// Thread-safety: every chunk goes out in one write(2) on an O_APPEND descriptor, which the kernel
// applies atomically for regular files, so threads never interleave and need no lock.
#ifndef ALLOCPROF_SHIM_TRACE_WRITER_H_
#define ALLOCPROF_SHIM_TRACE_WRITER_H_

#include <stddef.h>
#include <stdint.h>

namespace allocprof::shim {

// Creates this process's trace file and writes the file header and the process record. Returns
// false (after a message) if no file could be created.
bool OpenTraceFile(uint64_t now);

// Writes bytes that form whole chunks. On failure tracing stops with one message.
void WriteChunks(const void* data, size_t size);

class RecordEncoder;

// Writes the records of `enc` as a chunk not owned by an application thread (process records,
// modules, late events), assembled in `scratch` (at least ChunkHeader + enc.PayloadSize() bytes).
void WriteProcessChunk(const RecordEncoder& enc, uint8_t* scratch, size_t scratch_bytes);

// Path of the trace, for messages.
const char* TracePath();

// Closes the parent's descriptor in a forked child before it opens its own.
void CloseTraceFileInChild();

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_TRACE_WRITER_H_
