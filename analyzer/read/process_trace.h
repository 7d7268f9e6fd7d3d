// Reads one process's trace into a time-ordered stream of allocation events (to an EventSink) plus
// a catalog of everything else the trace describes (read/catalog.h).
//
// The read is a pipeline of four parts, one file each:
//   TraceFile (trace_file.h)          validating chunk reader, decompression
//   ChunkDecoder (chunk_decoder.h)    records -> events (packed) and control records, on the reader thread
//   ChunkQueue (chunk_queue.h)        bounded hand-off from the reader thread to the analysing thread
//   CatalogBuilder (catalog_builder.h) control records -> ProcessCatalog; events -> EventMerger
//   EventMerger (event_merger.h)      per-thread streams -> one time order -> the sink
// Thread-safety: ReadProcessTrace may run on any thread; it starts one reader thread of its own and
// calls the sink's OnEventsUnordered there, everything else on the calling thread.
#ifndef ALLOCPROF_ANALYZER_PROCESS_TRACE_H_
#define ALLOCPROF_ANALYZER_PROCESS_TRACE_H_

#include <stdint.h>

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "read/catalog.h"
#include "read/event.h"

namespace allocprof {

// Progress: bytes of the file read so far, and its size. Called now and then from the caller's thread.
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

// Reads `path` completely. Fails only when the file cannot be used at all (not a trace, newer
// version); damage found along the way is reported in catalog->diagnostics. Decoding runs on a
// second thread unless the environment sets ALLOCPROF_READER_THREAD=0 (for measuring what that
// thread gains; see bench/README.md).
absl::Status ReadProcessTrace(const std::string& path, EventSink* sink, ProcessCatalog* catalog,
                              const ProgressFn& progress = nullptr);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_PROCESS_TRACE_H_
