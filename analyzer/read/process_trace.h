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
#include <vector>

#include "absl/status/status.h"
#include "read/catalog.h"
#include "read/event.h"
#include "read/record_decoder.h"

namespace allocprof {

// Progress: bytes of the file read so far, and its size. Called now and then from the caller's thread.
using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;

// Work for the reader thread once it has decoded the last chunk, while the analysing thread still
// merges and runs the passes over what is queued (on two cores the reader would otherwise sit idle
// then). `controls` sees each chunk's control records as they are decoded and `decoded` runs after
// the last chunk, both on the reader thread; `stop` is called on the calling thread when it has
// finished the merge and is about to wait for the reader: `decoded` should return soon after.
// Not called when decoding runs on the calling thread (ALLOCPROF_READER_THREAD=0): there it
// would only add work.
struct ReaderWork {
  std::function<void(const std::vector<Record>& controls)> controls;
  std::function<void()> decoded;
  std::function<void()> stop;
};

// Reads `path` completely. Fails only when the file cannot be used at all (not a trace, newer
// version); damage found along the way is reported in catalog->diagnostics. Decoding runs on a
// second thread unless the environment sets ALLOCPROF_READER_THREAD=0 (for measuring what that
// thread gains; see bench/README.md).
absl::Status ReadProcessTrace(const std::string& path, EventSink* sink, ProcessCatalog* catalog,
                              const ProgressFn& progress = nullptr, const ReaderWork* work = nullptr);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_PROCESS_TRACE_H_
