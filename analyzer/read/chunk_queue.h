// ChunkQueue: the bounded hand-off of decoded chunks from the reader thread (which reads,
// decompresses and decodes) to the analysing thread (which builds the catalog, merges and runs the
// passes), and of emptied packed-event buffers back to the reader for reuse.
//
// A decoded chunk of a full buffer holds ~22,000 events, packed ~205 KB. The ordered pass works in
// bursts: while an idle thread's promise is due (every flush interval) it only queues chunks, then
// it releases the whole interval at once (churn16: ~3 M events, ~150 chunks). The reader must be
// able to run ahead through such a burst, or the threads stop overlapping. Measured on churn16
// (bench/HISTORY.md): room for 64 chunks 0.84-0.92 s, for 256 chunks or 32 MiB 0.71-0.77 s at the
// same ~70 MiB peak RSS; 16 MiB was as slow as 64 chunks. The byte bound keeps the chunks of huge
// shim buffers from holding more than the 64 unpacked chunks of earlier versions did.
//
// Thread-safety: one producer (Push, TakeSpare, Close) and one consumer (Pop, Recycle), on any
// threads; every member takes the queue's mutex.
#ifndef ALLOCPROF_ANALYZER_CHUNK_QUEUE_H_
#define ALLOCPROF_ANALYZER_CHUNK_QUEUE_H_

#include <stddef.h>
#include <stdint.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

#include "read/chunk_decoder.h"

namespace allocprof {

class ChunkQueue {
 public:
  static constexpr size_t kCapacity = 256;
  static constexpr size_t kMaxBytes = size_t{32} << 20;
  static constexpr size_t kMaxSpare = 16;
  // Waits while the queue is full (kCapacity chunks or kMaxBytes of events; one chunk always fits).
  void Push(DecodedChunk&& c);
  // Waits for a chunk; false once the queue is closed and empty.
  bool Pop(DecodedChunk* c);
  // No more chunks will be pushed.
  void Close();
  // Packed-event buffers going back to the reader for reuse; a few are enough to spare it the
  // page faults of fresh ones, more would only hold memory.
  void Recycle(std::vector<uint8_t>&& v);
  // A recycled buffer into *out, if there is one (else *out is left alone).
  void TakeSpare(std::vector<uint8_t>* out);

 private:
  static size_t Bytes(const DecodedChunk& c) { return c.packed.bytes.size() + c.unsorted.size() * sizeof(Event); }

  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<DecodedChunk> items_;
  size_t bytes_ = 0;  // of the events in items_
  std::vector<std::vector<uint8_t>> spare_;
  bool closed_ = false;
};

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_CHUNK_QUEUE_H_
