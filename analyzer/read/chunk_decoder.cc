#include "read/chunk_decoder.h"

#include <algorithm>

namespace allocprof {
namespace {

bool PoolEventKind(RecordKind kind, EventKind* out) {
  switch (kind) {
    case RecordKind::kRentBegin:
      *out = EventKind::kRentBegin;
      return true;
    case RecordKind::kRentEnd:
      *out = EventKind::kRentEnd;
      return true;
    case RecordKind::kPoolReturn:
      *out = EventKind::kPoolReturn;
      return true;
    case RecordKind::kCount:
      *out = EventKind::kCount;
      return true;
    default:
      return false;
  }
}

}  // namespace

void ChunkDecoder::Decode(const Chunk& chunk, EventSink* sink, DecodedChunk* out) {
  DecodeRecords(chunk, out);
  sink->OnEventsUnordered(events_);
  out->has_events = !events_.empty();
  out->unsorted.clear();
  out->packed.count = 0;
  if (events_.empty()) return;
  out->first_time = events_.front().time;
  out->last_time = events_.back().time;
  if (!packer_.Pack(events_.data(), events_.size(), &out->packed)) out->unsorted = events_;
}

void ChunkDecoder::DecodeRecords(const Chunk& chunk, DecodedChunk* out) {
  out->offset = chunk.offset;
  out->header = chunk.header;
  std::vector<Event>* events = &events_;
  events->clear();
  out->controls.clear();
  out->records = 0;
  out->heap_events = 0;
  out->error.clear();
  uint32_t thread = chunk.header.thread;
  bool is_thread = thread != format::kProcessThread;
  AllocationHistory* history = is_thread && !ended_.contains(thread) ? &histories_[thread] : nullptr;
  uint32_t owner = is_thread ? thread : kLateThread;
  // record_count is the writer's claim: trust it only as far as the payload can hold records.
  events->reserve(std::min<size_t>(chunk.header.record_count, chunk.payload.size()));
  RecordDecoder decoder(chunk, history);
  // Stack definitions waiting for the time of the event that follows them (their first use).
  size_t undated_defs = 0;
  auto date_defs = [&](uint64_t t) {
    for (size_t i = out->controls.size() - undated_defs; i < out->controls.size(); ++i) {
      if (out->controls[i].kind == RecordKind::kStackDef) out->controls[i].time = t;
    }
    undated_defs = 0;
  };
  while (decoder.Next(&r_)) {
    ++out->records;
    if (r_.kind == RecordKind::kAlloc || r_.kind == RecordKind::kFree) {
      if (__builtin_expect(undated_defs != 0, 0)) date_defs(r_.time);
      events->push_back(Event{r_.time, r_.addr, r_.size, r_.stack_id, owner, r_.entry, r_.kind == RecordKind::kFree});
      if (weigher_.interval()) Weigh(events->back());
      ++out->heap_events;
      continue;
    }
    if (r_.kind == RecordKind::kSampling) weigher_.SetInterval(r_.value);
    if (EventKind kind; PoolEventKind(r_.kind, &kind)) {
      if (undated_defs) date_defs(r_.time);
      Event e{r_.time, r_.granted, r_.size, r_.stack_id, owner, format::EntryPoint::kMalloc, false};
      e.kind = kind;
      e.outcome = r_.outcome;
      e.pool = kind == EventKind::kCount ? static_cast<uint32_t>(r_.value) : r_.pool;
      events->push_back(e);
      continue;
    }
    if (r_.kind == RecordKind::kMark) {
      if (undated_defs) date_defs(r_.time);
      Event e{r_.time, 0, 0, 0, owner, format::EntryPoint::kMalloc, false};
      e.kind = EventKind::kMark;
      e.pool = marks_++;
      events->push_back(e);
    }
    if (r_.kind == RecordKind::kThreadEnd && is_thread) {
      ended_.insert(thread);
      histories_.erase(thread);
    }
    out->controls.push_back(r_);
    if (r_.kind == RecordKind::kStackDef) {
      out->controls.back().time = 0;
      ++undated_defs;
    } else if (undated_defs) {
      ++undated_defs;  // keeps the count an offset from the end
    }
  }
  // Defined last in the chunk: its use is in the next chunk, no earlier than this one's coverage.
  if (undated_defs) date_defs(std::max(chunk.header.covered_until_ns, chunk.header.base_time_ns));
  out->error = decoder.error();
}

}  // namespace allocprof
