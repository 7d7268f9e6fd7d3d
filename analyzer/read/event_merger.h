// EventMerger: restores one global time order from the per-thread event streams of a trace.
//
// Threads write their chunks independently, so the file holds each thread's events in order but
// interleaves threads arbitrarily. The merger holds events until every live thread has promised
// (ChunkHeader::covered_until_ns, kQuiet) that nothing older can follow, then releases them oldest
// first, frees before allocations at equal times. Memory stays bounded by the shim's flush
// interval, not by the trace's length.
//
// Thread-safety: none; one merger per read, used by the analysing thread only (the sink is called
// on that thread).
#ifndef ALLOCPROF_ANALYZER_EVENT_MERGER_H_
#define ALLOCPROF_ANALYZER_EVENT_MERGER_H_

#include <stdint.h>

#include <deque>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "read/event.h"
#include "read/packed_events.h"

namespace allocprof {

// Merges the per-thread event streams into one time order. Each thread's events arrive already
// sorted, so this is a k-way merge over thread queues, not a heap of events. Waiting events are
// held packed (packed_events.h, ~9 bytes each) and unpacked a slice at a time as the merge reaches
// them: the merge window, not the trace, bounds memory, and packing makes it ~5x smaller.
class EventMerger {
 public:
  explicit EventMerger(EventSink* sink) : sink_(sink), out_(new Event[kEmitBatch]) {}
  void Add(const Event& e) { AddBatch(QueueIndex(e.thread), {e}); }
  size_t QueueIndex(uint32_t thread);
  // Appends a run of one thread's events (a decoded chunk); they need not be sorted.
  void AddBatch(size_t queue, std::vector<Event>&& events);
  // The same, already packed (so sorted by time), without copying.
  void AddPacked(size_t queue, PackedEvents&& events);
  void ThreadStarted(uint32_t thread, uint64_t time);
  void ThreadEnded(uint32_t thread);
  void Covered(uint32_t thread, uint64_t until);
  // Releases what every live thread has covered.
  void Release();
  // End of input: releases everything.
  void Finish();
  uint64_t out_of_order() const { return out_of_order_; }
  // The buffer of a batch the merger has emitted, emptied but with its memory, for the decoder to
  // pack the next chunk into (fresh buffers cost page faults); false when there is none.
  bool TakeSpare(std::vector<uint8_t>* out) {
    if (spare_.empty()) return false;
    *out = std::move(spare_.back());
    spare_.pop_back();
    return true;
  }
  size_t pending() const { return pending_; }
  // Bytes of packed events held, for tests and measurements.
  size_t pending_bytes() const { return pending_bytes_; }

 private:
  // Events are unpacked this many at a time: the slices of a few queues and out_ stay in L1/L2.
  static constexpr size_t kSlice = 256;
  struct Queue {
    std::deque<PackedEvents> batches;  // not yet unpacked completely; front() is being unpacked
    EventUnpacker unpacker;            // reads batches.front()
    std::unique_ptr<Event[]> slice;    // slice[head, count): the next events, unpacked
    size_t head = 0, count = 0;
    bool slice_has_others = false;  // the slice holds events other than kHeap ones
    uint64_t covered = 0;
    uint64_t last_time = 0;  // of the newest pending event
    bool live = false;
    bool empty() const { return head == count; }
    const Event& front() const { return slice[head]; }
  };
  Queue& QueueFor(uint32_t thread) { return queues_[QueueIndex(thread)]; }
  // Unpacks q's next slice after the current one ran out; false (and the slice freed) when q is empty.
  bool Refill(Queue& q);
  // Re-sorts q's pending events with `events` (late events that interleave), as one batch.
  void MergeInto(Queue& q, std::vector<Event>&& events);
  // Emits queued events older than `limit`, oldest first (frees first on equal times).
  void Drain(uint64_t limit);
  // The same for two queues (a's index below b's, so a wins full ties) until one of them runs out
  // of events or neither has one older than `limit`.
  void DrainTwo(Queue& a, Queue& b, uint64_t limit);
  void Emit(const Event& e) {
    if (e.time < released_until_)
      ++out_of_order_;
    else
      released_until_ = e.time;
    out_[out_count_++] = e;
    if (out_count_ == kEmitBatch) FlushEmitted();
  }
  void FlushEmitted();

  // Released events are handed on in runs of this many: small enough to stay in L1, long enough
  // for the sink's look-ahead.
  static constexpr size_t kEmitBatch = 256;
  // Emptied buffers larger than this are freed, not kept for the decoder: a packed chunk of the
  // largest shim buffer (8 MiB) stays below it.
  static constexpr size_t kMaxSpareBytes = size_t{32} << 20;

  EventSink* sink_;
  std::unique_ptr<Event[]> out_;             // released, not yet handed to the sink
  std::vector<std::vector<uint8_t>> spare_;  // emptied packed buffers, for TakeSpare
  EventPacker packer_;                       // for AddBatch
  size_t out_count_ = 0;
  // Some event emitted since the last flush may be other than kHeap (set when such a slice is
  // unpacked, kept while one is current): runs flushed without it go to OnHeapEvents.
  bool others_ = false;
  absl::flat_hash_map<uint32_t, size_t> index_;  // thread -> queues_ slot
  std::vector<Queue> queues_;
  size_t live_threads_ = 0;
  size_t pending_ = 0;
  size_t pending_bytes_ = 0;
  uint64_t released_until_ = 0;
  uint64_t out_of_order_ = 0;
};

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_EVENT_MERGER_H_
