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
                const std::function<void(DecodedChunk&)>& consume, const std::function<void()>& finish) {
  Chunk chunk;
  DecodedChunk decoded;
  while (file.Next(&chunk)) {
    merger.TakeSpare(&decoded.packed.bytes);
    decoder.Decode(chunk, sink, &decoded);
    consume(decoded);
  }
  finish();
}

// Reading and decoding (decompression included) on their own thread, the rest on the caller's: on
// two cores the two halves overlap (measured in bench/README.md).
void DecodeOnReaderThread(TraceFile& file, EventSink* sink, ChunkDecoder& decoder, EventMerger& merger,
                          const std::function<void(DecodedChunk&)>& consume, const std::function<void()>& finish,
                          const ReaderWork* work) {
  ChunkQueue queue;
  std::thread reader([&] {
    Chunk chunk;
    while (file.Next(&chunk)) {
      DecodedChunk decoded;
      queue.TakeSpare(&decoded.packed.bytes);
      decoder.Decode(chunk, sink, &decoded);
      if (work && work->controls && !decoded.controls.empty()) work->controls(decoded.controls);
      queue.Push(std::move(decoded));
    }
    queue.Close();
    if (work && work->decoded) work->decoded();
  });
  DecodedChunk decoded;
  std::vector<uint8_t> spare;
  while (queue.Pop(&decoded)) {
    consume(decoded);
    while (merger.TakeSpare(&spare)) queue.Recycle(std::move(spare));
  }
  // The reader has decoded the last chunk (it closed the queue): while this thread finishes the
  // merge, the reader does its after-work, which stops once this thread is done.
  finish();
  if (work && work->stop) work->stop();
  reader.join();
}

}  // namespace

absl::Status ReadProcessTrace(const std::string& path, EventSink* sink, ProcessCatalog* catalog,
                              const ProgressFn& progress, const ReaderWork* work) {
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
  // After the last chunk was decoded: nothing touches the decoder any more.
  auto finish = [&] {
    if (progress) progress(file_size, file_size);
    if (decoder.sampling().sampled()) catalog->sampling = decoder.sampling();
    builder.EndOfInput((*file)->diagnostics());  // the last events released meet the file's end damage
    merger.Finish();
  };
  const char* threads = getenv("ALLOCPROF_READER_THREAD");
  if (threads && strcmp(threads, "0") == 0) {
    DecodeHere(**file, sink, decoder, merger, consume, finish);
  } else {
    DecodeOnReaderThread(**file, sink, decoder, merger, consume, finish, work);
  }
  builder.Finish();
  return absl::OkStatus();
}

}  // namespace allocprof
