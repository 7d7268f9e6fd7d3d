// pprof profiles (`allocprof export --format pprof`): the gzip-compressed perftools.profiles.Profile
// protobuf that pprof, Pyroscope, Parca and Grafana read (schema: tests/data/profile.proto).
//
// What the profile holds:
// - sample types, in this order: alloc_objects/count, alloc_space/bytes, inuse_objects/count,
//   inuse_space/bytes ("inuse" = still allocated at the end of the trace), the names Go's heap
//   profiles use, so `pprof -sample_index=inuse_space` works as there;
// - one sample per recorded stack with those four values; its locations leaf first;
// - one location per distinct return address. Its address is return address - 1 (inside the call
//   instruction, as the format allows for non-leaf frames), so a tool that symbolizes the profile
//   itself finds the calling line. Symbolized, a location has one line per function, innermost
//   (inlined) first; an address nothing is known about gets a function named module+0xOFFSET as in
//   the folded export. With --no-symbols locations carry no lines and mappings say so, and
//   pprof can symbolize them from the binaries;
// - functions deduplicated by (name, file); one mapping per module of the trace (its loaded
//   segments: memory_start .. memory_limit, file offset 0 at the first segment, filename, build-id
//   in hex), the main executable first;
// - period_type alloc_objects/count, period 1 (every allocation is recorded, nothing is sampled),
//   time_nanos (process start, wall clock), duration_nanos, comments naming the trace.
//
// The protobuf wire format is written by hand (varints and length-delimited fields, packed
// repeated scalars). Compression: a gzip member of stored deflate blocks (GzipStored): valid for
// every gzip reader, not smaller; zlib's deflate can replace it where the build links zlib.
#ifndef ALLOCPROF_ANALYZER_EXPORT_PPROF_H_
#define ALLOCPROF_ANALYZER_EXPORT_PPROF_H_

#include <stdint.h>

#include <string>
#include <string_view>
#include <vector>

#include "export/export_folded.h"
#include "read/process_trace.h"

namespace allocprof {

struct PprofOptions {
  std::string default_sample_type = "alloc_objects";  // one of the four sample types
  int64_t time_nanos = 0;                             // wall-clock start, ns since the epoch (0 = unknown)
  int64_t duration_nanos = 0;
  std::vector<std::string> comments;
};

// The uncompressed Profile message.
std::string EncodePprof(const ProcessCatalog& catalog, const ExportStacks& stacks, FrameSource& frames,
                        const PprofOptions& options);

// A gzip file (RFC 1952) holding `data` in stored (uncompressed) deflate blocks.
std::string GzipStored(std::string_view data);
// A gzip member compressed with zlib (what pprof files are); GzipStored if zlib fails.
std::string Gzip(std::string_view data);

// CRC-32 as gzip uses it (polynomial 0xEDB88320, reflected).
uint32_t Crc32(std::string_view data);

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_EXPORT_PPROF_H_
