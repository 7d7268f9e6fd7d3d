// Builds synthetic traces in memory for reader tests, with the shim's own record encoder.
#ifndef ALLOCPROF_TESTS_UNIT_TRACE_BUILDER_H_
#define ALLOCPROF_TESTS_UNIT_TRACE_BUILDER_H_

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include <functional>
#include <string>
#include <vector>

#include "allocprof/trace_format.h"
#include "record/record_encoder.h"

namespace allocprof::testing {

class TraceBuilder {
 public:
  TraceBuilder() {
    format::FileHeader h{};
    memcpy(h.magic, format::kFileMagic, 8);
    h.version = format::kFormatVersion;
    h.header_size = sizeof(h);
    data_.append(reinterpret_cast<const char*>(&h), sizeof(h));
  }

  // Appends one chunk; `fill` writes its records. Returns the chunk's file offset.
  size_t Chunk(uint32_t thread, uint64_t base, uint64_t covered, const std::function<void(shim::RecordEncoder&)>& fill,
               bool compress = false, uint32_t alloc_seq = 0) {
    std::vector<uint8_t> columns(1 << 20);
    shim::RecordEncoder enc;
    enc.Init(columns.data(), columns.size(), 1 << 16);
    enc.Start(base, alloc_seq);
    fill(enc);
    std::vector<uint8_t> payload(enc.PayloadSize());
    size_t raw = enc.CopyPayload(payload.data());
    format::ChunkHeader h{};
    h.magic = format::kChunkMagic;
    h.header_size = sizeof(h);
    h.thread = thread;
    h.record_count = enc.records();
    h.alloc_seq = alloc_seq;
    h.base_time_ns = base;
    h.covered_until_ns = covered;
    h.raw_size = static_cast<uint32_t>(raw);
    std::vector<uint8_t> stored = payload;
    if (compress) {
      stored.resize(ZSTD_compressBound(raw));
      stored.resize(ZSTD_compress(stored.data(), stored.size(), payload.data(), raw, 1));
      h.codec = static_cast<uint8_t>(format::Codec::kZstd);
    }
    h.stored_size = static_cast<uint32_t>(stored.size());
    h.checksum = format::ChunkChecksum(h, stored.data(), stored.size());
    size_t offset = data_.size();
    data_.append(reinterpret_cast<const char*>(&h), sizeof(h));
    data_.append(reinterpret_cast<const char*>(stored.data()), stored.size());
    return offset;
  }

  // A process chunk with a minimal process record.
  size_t Process(uint64_t start, uint64_t pid = 42) {
    return Chunk(format::kProcessThread, start, 0, [&](shim::RecordEncoder& e) {
      e.Tag(format::RecordTag::kProcess);
      for (uint64_t v : {pid, uint64_t{1}, uint64_t{0}, start, uint64_t{0}, uint64_t{4096}, uint64_t{1} << 25,
                         uint64_t{2}, uint64_t{64}}) {
        e.Uint(v);
      }
      e.String("/bin/test", 100);
      e.String("test", 100);
      e.String("unit", 100);
    });
  }

  std::string& data() { return data_; }

  std::string WriteTemp() const {
    char path[] = "/tmp/allocprof-unit-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) abort();
    if (write(fd, data_.data(), data_.size()) != static_cast<ssize_t>(data_.size())) abort();
    close(fd);
    return path;
  }

 private:
  std::string data_;
};

}  // namespace allocprof::testing

#endif  // ALLOCPROF_TESTS_UNIT_TRACE_BUILDER_H_
