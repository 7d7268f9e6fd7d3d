#include "read/trace_file.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>

#include "absl/strings/str_format.h"

namespace allocprof {

using format::ChunkHeader;

absl::StatusOr<std::unique_ptr<TraceFile>> TraceFile::Open(const std::string& path) {
  FILE* f = fopen(path.c_str(), "rb");
  if (!f) return absl::NotFoundError(absl::StrFormat("%s: cannot open: %s", path, strerror(errno)));
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(f);
    return absl::InvalidArgumentError(absl::StrFormat("%s: not a regular file", path));
  }
  auto size = static_cast<uint64_t>(st.st_size);
  format::FileHeader header;
  if (size < sizeof(header) || fread(&header, sizeof(header), 1, f) != 1) {
    fclose(f);
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: not an allocprof trace: %d bytes, shorter than the %d-byte file header", path, size, sizeof(header)));
  }
  if (memcmp(header.magic, format::kFileMagic, sizeof(header.magic)) != 0) {
    fclose(f);
    return absl::InvalidArgumentError(absl::StrFormat("%s: not an allocprof trace (bad magic at offset 0)", path));
  }
  if (header.version < format::kOldestReadableVersion || header.version > format::kFormatVersion) {
    fclose(f);
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: trace format version %d at offset 8 is not supported (this allocprof reads versions %d to %d%s)", path,
        header.version, format::kOldestReadableVersion, format::kFormatVersion,
        header.version > format::kFormatVersion ? "; upgrade allocprof" : ""));
  }
  if (header.header_size < sizeof(header) || header.header_size > size) {
    fclose(f);
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: corrupt file header: header_size %d at offset 10", path, header.header_size));
  }
  if (size == header.header_size) {
    fclose(f);
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: empty trace: the program wrote no data (only the %d-byte file header: it was killed or stopped before "
        "its first write, or is still starting)",
        path, size));
  }
  auto file = std::unique_ptr<TraceFile>(new TraceFile(path, f, size));
  file->pos_ = header.header_size;
  file->version_ = header.version;
  return file;
}

TraceFile::TraceFile(std::string path, FILE* file, uint64_t size)
    : path_(std::move(path)), file_(file), size_(size), pos_(0) {}

TraceFile::~TraceFile() {
  if (file_) fclose(file_);
  if (dctx_) ZSTD_freeDCtx(static_cast<ZSTD_DCtx*>(dctx_));
}

bool TraceFile::damaged() const {
  return std::any_of(diagnostics_.begin(), diagnostics_.end(),
                     [](const Diagnostic& d) { return d.kind != Diagnostic::Kind::kNote; });
}

// Chunks are read with one pread each (header, then payload): no stdio buffer to invalidate when
// resynchronising, and no copy.
bool TraceFile::ReadExact(uint64_t offset, void* out, size_t n) {
  auto* p = static_cast<char*>(out);
  while (n > 0) {
    ssize_t got = pread(fileno(file_), p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    n -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
  return true;
}

TraceFile::Probe TraceFile::ReadChunkAt(uint64_t offset, Chunk* chunk, std::string* why) {
  ChunkHeader h;
  if (offset + sizeof(h) > size_) {
    *why = absl::StrFormat("%d bytes of a %d-byte chunk header", size_ - offset, sizeof(h));
    return Probe::kTruncated;
  }
  if (!ReadExact(offset, &h, sizeof(h))) {
    *why = "read error";
    return Probe::kTruncated;
  }
  if (h.magic != format::kChunkMagic) {
    *why = "no chunk magic";
    return Probe::kBad;
  }
  if (h.header_size < sizeof(h) || h.header_size > 4096) {
    *why = absl::StrFormat("chunk header_size %d out of range", h.header_size);
    return Probe::kBad;
  }
  if (h.codec > static_cast<uint8_t>(format::Codec::kZstd)) {
    *why = absl::StrFormat("unknown codec %d", h.codec);
    return Probe::kBad;
  }
  if (h.stored_size > format::kMaxChunkPayload || h.raw_size > format::kMaxChunkPayload) {
    *why = absl::StrFormat("claimed payload size %d/%d exceeds the %d-byte limit", h.stored_size, h.raw_size,
                           format::kMaxChunkPayload);
    return Probe::kBad;
  }
  if (h.codec == static_cast<uint8_t>(format::Codec::kNone) && h.stored_size != h.raw_size) {
    *why = "uncompressed chunk with differing stored and raw sizes";
    return Probe::kBad;
  }
  uint64_t payload_at = offset + h.header_size;
  if (payload_at + h.stored_size > size_) {
    *why = absl::StrFormat("chunk claims %d payload bytes, %d remain", h.stored_size,
                           size_ > payload_at ? size_ - payload_at : 0);
    return Probe::kTruncated;
  }
  stored_.resize(h.stored_size);
  if (h.stored_size && !ReadExact(payload_at, stored_.data(), h.stored_size)) {
    *why = "read error";
    return Probe::kTruncated;
  }
  if (format::ChunkChecksum(h, stored_.data(), h.stored_size) != h.checksum) {
    *why = "checksum mismatch";
    return Probe::kBad;
  }
  chunk->offset = offset;
  chunk->format_version = version_;
  chunk->header = h;
  if (h.codec == static_cast<uint8_t>(format::Codec::kNone)) {
    chunk->payload.swap(stored_);
  } else {
    if (!dctx_) dctx_ = ZSTD_createDCtx();
    chunk->payload.resize(h.raw_size);
    size_t n = ZSTD_decompressDCtx(static_cast<ZSTD_DCtx*>(dctx_), chunk->payload.data(), h.raw_size, stored_.data(),
                                   h.stored_size);
    if (ZSTD_isError(n) || n != h.raw_size) {
      *why = absl::StrFormat("zstd payload does not decompress to %d bytes", h.raw_size);
      return Probe::kBad;
    }
  }
  pos_ = payload_at + h.stored_size;
  return Probe::kOk;
}

bool TraceFile::Resync(uint64_t from, uint64_t* found) {
  std::vector<uint8_t>& window = resync_window_;
  window.resize(64 << 10);
  uint64_t at = from;
  Chunk scratch;
  std::string why;
  while (at + sizeof(ChunkHeader) <= size_) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(window.size(), size_ - at));
    if (!ReadExact(at, window.data(), n)) return false;
    for (size_t i = 0; i + 4 <= n; ++i) {
      uint32_t magic;
      memcpy(&magic, &window[i], 4);
      if (magic != format::kChunkMagic) continue;
      uint64_t candidate = at + i;
      if (ReadChunkAt(candidate, &scratch, &why) == Probe::kOk) {
        *found = candidate;
        return true;
      }
    }
    if (n < 4) break;
    at += n - 3;
  }
  return false;
}

bool TraceFile::Next(Chunk* chunk) {
  if (done_) return false;
  if (pos_ >= size_) {
    done_ = true;
    return false;
  }
  std::string why;
  Probe probe = ReadChunkAt(pos_, chunk, &why);
  if (probe == Probe::kOk) {
    ++chunks_read_;
    return true;
  }
  if (probe == Probe::kTruncated) {
    diagnostics_.push_back({Diagnostic::Kind::kTruncated, pos_,
                            absl::StrFormat("%s: trace truncated at offset %d (%s); %d bytes lost, "
                                            "everything before that offset was read",
                                            path_, pos_, why, size_ - pos_),
                            size_ - pos_});
    done_ = true;
    return false;
  }
  uint64_t bad_at = pos_;
  uint64_t next;
  if (!Resync(bad_at + 1, &next)) {
    diagnostics_.push_back({Diagnostic::Kind::kCorrupt, bad_at,
                            absl::StrFormat("%s: corrupt data at offset %d (%s); no valid chunk follows, "
                                            "%d bytes skipped",
                                            path_, bad_at, why, size_ - bad_at),
                            size_ - bad_at});
    done_ = true;
    return false;
  }
  diagnostics_.push_back({Diagnostic::Kind::kCorrupt, bad_at,
                          absl::StrFormat("%s: corrupt data at offset %d (%s); resynchronised at offset %d, "
                                          "%d bytes skipped",
                                          path_, bad_at, why, next, next - bad_at),
                          next - bad_at});
  probe = ReadChunkAt(next, chunk, &why);
  ++chunks_read_;
  return probe == Probe::kOk;
}

}  // namespace allocprof
