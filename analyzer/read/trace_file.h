// Reads a trace file chunk by chunk, validating everything it reads.
//
// A damaged file never crashes the reader and never makes it allocate more than
// format::kMaxChunkPayload per chunk: a chunk whose claimed sizes are out of range or whose checksum
// fails is skipped by scanning for the next valid chunk (the skipped byte range is reported), and a
// chunk cut short by the end of the file ends the read with a "truncated" diagnostic.
//
// Thread-safety: one TraceFile per thread.
#ifndef ALLOCPROF_ANALYZER_TRACE_FILE_H_
#define ALLOCPROF_ANALYZER_TRACE_FILE_H_

#include <stdint.h>
#include <stdio.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "allocprof/trace_format.h"

namespace allocprof {

struct Chunk {
  uint64_t offset = 0;                               // file offset of the chunk header
  uint16_t format_version = format::kFormatVersion;  // the file's: payload layouts differ by version
  format::ChunkHeader header{};
  std::vector<uint8_t> payload;  // decompressed
};

struct Diagnostic {
  enum class Kind { kTruncated, kCorrupt, kNote };
  Kind kind;
  uint64_t offset;
  std::string message;  // complete sentence naming the file and offset
  uint64_t bytes = 0;   // how many bytes of the file could not be read (0: not known, or a note)
};

class TraceFile {
 public:
  // Fails (with a message naming the file) when the file cannot be read, is not a trace, or has a
  // newer format version.
  static absl::StatusOr<std::unique_ptr<TraceFile>> Open(const std::string& path);
  ~TraceFile();

  // Reads the next valid chunk. Returns false at the end of the usable data.
  bool Next(Chunk* chunk);

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  uint64_t position() const { return pos_; }
  uint16_t format_version() const { return version_; }
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }
  bool damaged() const;
  uint64_t chunks_read() const { return chunks_read_; }

 private:
  TraceFile(std::string path, FILE* file, uint64_t size);
  enum class Probe { kOk, kBad, kTruncated };
  Probe ReadChunkAt(uint64_t offset, Chunk* chunk, std::string* why);
  bool ReadExact(uint64_t offset, void* out, size_t n);
  // Finds the next offset > from where a valid chunk starts; false at end of file.
  bool Resync(uint64_t from, uint64_t* found);

  std::string path_;
  FILE* file_;
  uint64_t size_;
  uint64_t pos_;
  uint16_t version_ = format::kFormatVersion;
  uint64_t chunks_read_ = 0;
  bool done_ = false;
  std::vector<uint8_t> stored_;
  std::vector<uint8_t> resync_window_;
  void* dctx_ = nullptr;
  std::vector<Diagnostic> diagnostics_;
};

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_TRACE_FILE_H_
