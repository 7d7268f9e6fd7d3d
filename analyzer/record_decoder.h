// Decodes the records of one chunk's payload (see include/allocprof/trace_format.h).
//
// Every length and count is checked against the payload's end and the format's limits before use,
// so a malformed payload yields an error naming the record, never an out-of-bounds read or a huge
// allocation.
#ifndef ALLOCPROF_ANALYZER_RECORD_DECODER_H_
#define ALLOCPROF_ANALYZER_RECORD_DECODER_H_

#include <stdint.h>

#include <string>
#include <vector>

#include "allocprof/trace_format.h"
#include "trace_file.h"

namespace allocprof {

enum class RecordKind : uint8_t {
  kAlloc,
  kFree,
  kStackDef,
  kThreadStart,
  kThreadName,
  kThreadEnd,
  kModule,
  kProcess,
  kExec,
  kFork,
  kWarning,
  kEnd,
  kQuiet,
};

const char* RecordKindName(RecordKind kind);

struct Segment {
  uint64_t vaddr, memsz, flags;
};

struct ProcessInfo {
  uint64_t pid = 0, ppid = 0, exec_generation = 0;
  uint64_t start_monotonic_ns = 0, start_realtime_ns = 0;
  uint64_t page_size = 0, llc_bytes = 0;
  uint64_t unwind_mode = 0, max_depth = 0;
  std::string exe, command_line, shim_version;
};

struct Record {
  RecordKind kind;
  format::EntryPoint entry;  // kAlloc, kFree
  uint64_t time = 0;         // timed records
  uint64_t addr = 0;
  uint64_t size = 0;
  uint32_t stack_id = 0;     // kAlloc, kStackDef
  uint64_t value = 0;        // kThreadStart: tid; kFork: child pid; kQuiet: thread; kModule: load bias
  std::vector<uint64_t> frames;   // kStackDef
  std::string text;               // thread name, module path, exec path, warning
  std::string build_id;           // kModule, raw bytes
  std::vector<Segment> segments;  // kModule
  ProcessInfo process;            // kProcess
};

class RecordDecoder {
 public:
  explicit RecordDecoder(const Chunk& chunk);
  // False at the end of the payload or on a malformed record (then error() is set).
  bool Next(Record* r);
  const std::string& error() const { return error_; }
  uint32_t index() const { return index_; }

 private:
  bool Fail(const char* what);
  bool Uint(uint64_t* v);
  bool Time(uint64_t* t);
  bool Addr(uint64_t* a);
  bool Bytes(std::string* out);

  const Chunk& chunk_;
  const uint8_t* begin_;
  const uint8_t* p_;
  const uint8_t* end_;
  uint64_t last_time_;
  uint64_t prev_addr_ = 0;
  uint32_t index_ = 0;
  std::string error_;
};

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_RECORD_DECODER_H_
