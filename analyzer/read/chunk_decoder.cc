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
  size_t n = DecodeRecords(chunk, out);
  const Event* events = events_.data();
  sink->OnEventsUnordered(events, n);
  out->has_events = n != 0;
  out->unsorted.clear();
  out->packed.count = 0;
  if (n == 0) return;
  out->first_time = events[0].time;
  out->last_time = events[n - 1].time;
  if (!packer_.Pack(events, n, &out->packed)) out->unsorted.assign(events, events + n);
}

size_t ChunkDecoder::DecodeRecords(const Chunk& chunk, DecodedChunk* out) {
  out->offset = chunk.offset;
  out->header = chunk.header;
  out->controls.clear();
  out->records = 0;
  out->heap_events = 0;
  out->error.clear();
  uint32_t thread = chunk.header.thread;
  bool is_thread = thread != format::kProcessThread;
  AllocationHistory* history = is_thread && !ended_.contains(thread) ? &histories_[thread] : nullptr;
  uint32_t owner = is_thread ? thread : kLateThread;
  RecordDecoder decoder(chunk, history);
  // Every record has a tag byte: the tags column bounds the events (record_count is only the
  // writer's claim). Decoded in place, so the buffer only grows.
  // One more than that: the slot the end is looked for in.
  if (events_.size() <= decoder.MaxRecordsLeft()) events_.resize(decoder.MaxRecordsLeft() + 1);
  Event* const events = events_.data();
  size_t n = 0;
  // Stack definitions waiting for the time of the event that follows them (their first use).
  size_t undated_defs = 0;
  auto date_defs = [&](uint64_t t) {
    for (size_t i = out->controls.size() - undated_defs; i < out->controls.size(); ++i) {
      if (out->controls[i].kind == RecordKind::kStackDef) out->controls[i].time = t;
    }
    undated_defs = 0;
  };
  for (;;) {
    Event& slot = events[n];
    RecordDecoder::Decoded got = decoder.NextEvent(&slot, &r_);
    if (got == RecordDecoder::Decoded::kEnd) break;
    ++out->records;
    if (got == RecordDecoder::Decoded::kEvent) {
      if (__builtin_expect(undated_defs != 0, 0)) date_defs(slot.time);
      slot.thread = owner;
      slot.kind = EventKind::kHeap;
      slot.outcome = 0;
      slot.pool = 0;
      slot.weight = 1;
      if (weigher_.interval()) Weigh(slot);
      ++n;
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
      events[n++] = e;
      continue;
    }
    if (r_.kind == RecordKind::kMark) {
      if (undated_defs) date_defs(r_.time);
      Event e{r_.time, 0, 0, 0, owner, format::EntryPoint::kMalloc, false};
      e.kind = EventKind::kMark;
      e.pool = marks_++;
      events[n++] = e;
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
  return n;
}

}  // namespace allocprof
