#include "read/process_trace.h"

#include <cstdlib>
#include <cstring>
#include <thread>

#include "read/catalog_builder.h"
#include "read/chunk_decoder.h"
#include "read/chunk_queue.h"
#include "read/event_merger.h"
#include "read/trace_file.h"

namespace allocprof {
namespace {

// Everything on the calling thread (ALLOCPROF_READER_THREAD=0).
void DecodeHere(TraceFile& file, EventSink* sink, ChunkDecoder& decoder, EventMerger& merger,
                const std::function<void(DecodedChunk&)>& consume) {
  Chunk chunk;
  DecodedChunk decoded;
  while (file.Next(&chunk)) {
    merger.TakeSpare(&decoded.packed.bytes);
    decoder.Decode(chunk, sink, &decoded);
    consume(decoded);
  }
}

// Reading and decoding (decompression included) on their own thread, the rest on the caller's: on
// two cores the two halves overlap (measured in bench/README.md).
void DecodeOnReaderThread(TraceFile& file, EventSink* sink, ChunkDecoder& decoder, EventMerger& merger,
                          const std::function<void(DecodedChunk&)>& consume) {
  ChunkQueue queue;
  std::thread reader([&] {
    Chunk chunk;
    while (file.Next(&chunk)) {
      DecodedChunk decoded;
      queue.TakeSpare(&decoded.packed.bytes);
      decoder.Decode(chunk, sink, &decoded);
      queue.Push(std::move(decoded));
    }
    queue.Close();
  });
  DecodedChunk decoded;
  std::vector<uint8_t> spare;
  while (queue.Pop(&decoded)) {
    consume(decoded);
    while (merger.TakeSpare(&spare)) queue.Recycle(std::move(spare));
  }
  reader.join();
}

}  // namespace

absl::Status ReadProcessTrace(const std::string& path, EventSink* sink, ProcessCatalog* catalog,
                              const ProgressFn& progress) {
  catalog->path = path;
  auto file = TraceFile::Open(path);
  if (!file.ok()) return file.status();
  EventMerger merger(sink);
  CatalogBuilder builder(catalog, &merger);
  ChunkDecoder decoder;  // its sampling estimate is read after the last chunk
  uint64_t file_size = (*file)->size();
  auto consume = [&](DecodedChunk& decoded) {
    ++catalog->chunks;
    builder.OnChunk(decoded);
    if (progress && (catalog->chunks & 63) == 0) progress(decoded.offset, file_size);
  };
  const char* threads = getenv("ALLOCPROF_READER_THREAD");
  if (threads && strcmp(threads, "0") == 0) {
    DecodeHere(**file, sink, decoder, merger, consume);
  } else {
    DecodeOnReaderThread(**file, sink, decoder, merger, consume);
  }
  if (progress) progress(file_size, file_size);
  if (decoder.sampling().sampled()) catalog->sampling = decoder.sampling();
  merger.Finish();
  builder.Finish((*file)->diagnostics());
  return absl::OkStatus();
}

}  // namespace allocprof
