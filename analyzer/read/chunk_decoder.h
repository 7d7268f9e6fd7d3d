// ChunkDecoder: turns the chunks of one trace, in file order, into DecodedChunks: each chunk's
// allocation and pool events (packed, ready for the merger) and its control records (for the
// catalog).
//
// It owns what decoding needs across chunks: each thread's allocation history (FREE_AGE frees name
// their block by its age among the thread's allocations) and the sampling weigher (a sampled
// trace's allocations are weighted as they are decoded).
//
// Thread-safety: none; one decoder per read, called from one thread at a time (the reader thread,
// or the analysing thread when ALLOCPROF_READER_THREAD=0).
#ifndef ALLOCPROF_ANALYZER_CHUNK_DECODER_H_
#define ALLOCPROF_ANALYZER_CHUNK_DECODER_H_

#include <stdint.h>

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "allocprof/trace_format.h"
#include "read/event.h"
#include "read/packed_events.h"
#include "read/record_decoder.h"
#include "read/sampling.h"
#include "read/trace_file.h"

namespace allocprof {

// One chunk, decoded: its events in order (packed, or as they are in the rare chunk whose events
// are not sorted by time), and its control records.
struct DecodedChunk {
  uint64_t offset = 0;
  format::ChunkHeader header{};
  PackedEvents packed;
  std::vector<Event> unsorted;
  uint64_t first_time = 0, last_time = 0;  // of the first and the last event in chunk order
  bool has_events = false;
  // Within a chunk only the catalog cares for control records, and nothing in it depends on where
  // they sat among the events: the merger sees the whole chunk before it releases anything.
  std::vector<Record> controls;
  uint64_t records = 0;
  uint64_t heap_events = 0;  // allocations and frees among the events
  std::string error;
};

class ChunkDecoder {
 public:
  // Decodes into a reused buffer, shows the events to the sink's order-free statistics
  // (EventSink::OnEventsUnordered, on this thread), then packs them: only the packed form (~9 of
  // the 48 bytes per event) travels and waits to be merged.
  void Decode(const Chunk& chunk, EventSink* sink, DecodedChunk* out);
  // The sampling estimate of what was decoded so far (final after the last chunk).
  const SamplingEstimate& sampling() const { return weigher_.estimate(); }

 private:
  // Decodes the chunk's events into events_[0, returned count).
  size_t DecodeRecords(const Chunk& chunk, DecodedChunk* out);
  void Weigh(Event& e) { e.weight = e.is_free ? 0 : weigher_.WeighAllocation(e.time, e.addr, e.size); }

  Record r_;
  std::vector<Event> events_;  // the chunk being decoded, at its start; only grows
  EventPacker packer_;
  uint32_t marks_ = 0;  // marks decoded so far: the catalog's index of the next one
  SampleWeigher weigher_;
  absl::flat_hash_set<uint32_t> ended_;
  absl::node_hash_map<uint32_t, AllocationHistory> histories_;  // live threads only
};

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_CHUNK_DECODER_H_
