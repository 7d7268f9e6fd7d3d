#include "read/event_merger.h"

#include <algorithm>

namespace allocprof {

size_t EventMerger::QueueIndex(uint32_t thread) {
  auto [it, inserted] = index_.try_emplace(thread, queues_.size());
  if (inserted) queues_.emplace_back();
  return it->second;
}

void EventMerger::FlushEmitted() {
  if (out_count_ == 0) return;
  if (others_) {
    sink_->OnEvents(out_.get(), out_count_);
    others_ = false;
    for (const Queue& q : queues_) others_ = others_ || q.slice_has_others;
  } else {
    sink_->OnHeapEvents(out_.get(), out_count_);
  }
  out_count_ = 0;
}

void EventMerger::AddBatch(size_t queue, std::vector<Event>&& events) {
  if (events.empty()) return;
  Queue& q = queues_[queue];
  if (q.empty() || q.last_time <= events.front().time) {
    PackedEvents packed;
    if (packer_.Pack(events.data(), events.size(), &packed)) {
      AddPacked(queue, std::move(packed));
      return;
    }
  }
  pending_ += events.size();
  MergeInto(q, std::move(events));
}

void EventMerger::AddPacked(size_t queue, PackedEvents&& events) {
  if (events.empty()) return;
  Queue& q = queues_[queue];
  if (!q.empty() && q.last_time > events.first_time) {
    // Late events interleave with what is queued: rare, so unpacked and re-sorted.
    std::vector<Event> all(events.count);
    EventUnpacker unpacker;
    unpacker.Reset(events);
    unpacker.Next(all.data(), all.size());
    pending_ += all.size();
    MergeInto(q, std::move(all));
    return;
  }
  pending_ += events.count;
  pending_bytes_ += events.bytes.size();
  q.last_time = events.last_time;
  q.batches.push_back(std::move(events));
  if (q.batches.size() == 1) q.unpacker.Reset(q.batches.front());
  if (q.empty()) Refill(q);
}

void EventMerger::MergeInto(Queue& q, std::vector<Event>&& events) {
  std::vector<Event> all;
  while (!q.empty()) {
    all.insert(all.end(), &q.slice[q.head], &q.slice[q.count]);
    q.head = q.count;
    Refill(q);
  }
  all.insert(all.end(), events.begin(), events.end());
  std::stable_sort(all.begin(), all.end(), [](const Event& a, const Event& b) { return a.time < b.time; });
  PackedEvents packed;
  packer_.Pack(all.data(), all.size(), &packed);
  pending_bytes_ += packed.bytes.size();
  q.last_time = packed.last_time;
  q.batches.push_back(std::move(packed));
  q.unpacker.Reset(q.batches.front());
  Refill(q);
}

bool EventMerger::Refill(Queue& q) {
  q.head = q.count = 0;
  q.slice_has_others = false;
  if (q.batches.empty()) {
    q.slice.reset();  // an idle or ended thread keeps no slice
    return false;
  }
  if (!q.slice) q.slice.reset(new Event[kSlice]);
  size_t others = 0;
  q.count = q.unpacker.Next(q.slice.get(), kSlice, &others);
  q.slice_has_others = others != 0;
  others_ = others_ || q.slice_has_others;
  if (q.unpacker.remaining() == 0) {
    std::vector<uint8_t>& bytes = q.batches.front().bytes;
    pending_bytes_ -= bytes.size();
    // Kept for the decoder unless it is one of the rare huge ones (a merged late-event batch).
    if (spare_.size() < 4 && bytes.capacity() <= kMaxSpareBytes) {
      spare_.push_back(std::move(bytes));
      spare_.back().clear();
    }
    q.batches.pop_front();
    if (!q.batches.empty()) q.unpacker.Reset(q.batches.front());
  }
  return true;
}

void EventMerger::ThreadStarted(uint32_t thread, uint64_t time) {
  Queue& q = QueueFor(thread);
  if (!q.live) {
    q.live = true;
    ++live_threads_;
  }
  q.covered = std::max(q.covered, time);
}

void EventMerger::ThreadEnded(uint32_t thread) {
  Queue& q = QueueFor(thread);
  if (q.live) {
    q.live = false;
    --live_threads_;
  }
}

void EventMerger::Covered(uint32_t thread, uint64_t until) {
  Queue& q = QueueFor(thread);
  if (q.live) q.covered = std::max(q.covered, until);
}

void EventMerger::DrainTwo(Queue& a, Queue& b, uint64_t limit) {
  for (;;) {
    const Event* pa = &a.slice[a.head];
    const Event* pb = &b.slice[b.head];
    const Event* const sa = pa;
    const Event* const sb = pb;
    // Every step takes one event of a or b: this many overrun neither slice nor out_, so the loop
    // tests one count instead of three ends.
    const size_t steps = std::min({a.count - a.head, b.count - b.head, kEmitBatch - out_count_});
    Event* const first = out_.get() + out_count_;
    Event* o = first;
    bool at_limit = false;
    // Threads often interleave event by event: take the smaller head without a branch on which.
    for (size_t k = 0; k < steps; ++k) {
      bool take_a = pa->time < pb->time || (pa->time == pb->time && (pa->is_free || !pb->is_free));
      const Event* e = take_a ? pa : pb;
      if (e->time >= limit) {
        at_limit = true;
        break;
      }
      *o++ = *e;
      pa += take_a;
      pb += !take_a;
    }
    if (o != first) {
      // What Emit() counts, for the run at once: the run's times never decrease, so only a prefix
      // older than what was released before (late events) is out of order.
      if (__builtin_expect(first->time < released_until_, 0)) {
        for (const Event* e = first; e != o && e->time < released_until_; ++e) ++out_of_order_;
      }
      released_until_ = std::max(released_until_, o[-1].time);
      out_count_ = static_cast<size_t>(o - out_.get());
    }
    pending_ -= static_cast<size_t>((pa - sa) + (pb - sb));
    a.head = static_cast<size_t>(pa - a.slice.get());
    b.head = static_cast<size_t>(pb - b.slice.get());
    if (out_count_ == kEmitBatch) FlushEmitted();
    if (at_limit) return;
    if (a.empty() && !Refill(a)) return;
    if (b.empty() && !Refill(b)) return;
  }
}

void EventMerger::Drain(uint64_t limit) {
  // Heads of the non-empty queues, smallest (time, free-first) on top.
  auto later = [this](size_t a, size_t b) {
    const Event& x = queues_[a].front();
    const Event& y = queues_[b].front();
    if (x.time != y.time) return x.time > y.time;
    if (x.is_free != y.is_free) return !x.is_free;
    return a > b;
  };
  auto ready = [this, limit](size_t i) { return !queues_[i].empty() && queues_[i].front().time < limit; };
  std::vector<size_t> heap;
  for (size_t i = 0; i < queues_.size(); ++i) {
    if (ready(i)) heap.push_back(i);
  }
  // A few busy threads (the usual case) interleave in short runs: there a scan of the heads costs
  // less than keeping a heap, and two are merged head to head. The set only shrinks during a
  // drain, so once it is small it stays so.
  constexpr size_t kScanAtMost = 4;
  std::make_heap(heap.begin(), heap.end(), later);
  while (!heap.empty()) {
    size_t rival = SIZE_MAX;
    if (heap.size() <= kScanAtMost) {
      size_t best = 0;
      for (size_t k = 1; k < heap.size(); ++k) {
        if (later(heap[best], heap[k])) best = k;
      }
      std::swap(heap[best], heap.back());
      size_t rival_at = 0;
      for (size_t k = 0; k + 1 < heap.size(); ++k) {
        if (rival == SIZE_MAX || later(rival, heap[k])) rival = heap[rival_at = k];
      }
      if (rival != SIZE_MAX) {
        // The two smallest heads merge head to head until the others' smallest time: threads
        // often interleave event by event, where runs would be one event long. Equal times to
        // that bound fall through to the run below, which breaks ties among all the heads.
        uint64_t bound = limit;
        for (size_t k = 0; k + 1 < heap.size(); ++k) {
          if (k != rival_at) bound = std::min(bound, queues_[heap[k]].front().time);
        }
        if (queues_[heap.back()].front().time < bound) {
          size_t i = heap.back();
          DrainTwo(queues_[std::min(i, rival)], queues_[std::max(i, rival)], bound);
          heap.erase(std::remove_if(heap.begin(), heap.end(), [&](size_t k) { return !ready(k); }), heap.end());
          continue;
        }
      }
    } else {
      std::pop_heap(heap.begin(), heap.end(), later);
      rival = heap.front();
    }
    size_t i = heap.back();
    Queue& q = queues_[i];
    // Emit the best queue's run until another queue's head (the rival) comes first: threads
    // interleave in runs, so most events cost no heap operation, and a run is emitted straight
    // from its slice with one comparison per event.
    uint64_t rival_time = limit;
    bool rival_free = false;
    if (rival != SIZE_MAX) {
      const Event& r = queues_[rival].front();
      rival_time = r.time;
      rival_free = r.is_free;
    }
    // On equal times: frees first, then the lower queue index (the heap's order).
    bool wins_ties = rival != SIZE_MAX && i < rival;
    for (;;) {
      const Event* slice = q.slice.get();
      const size_t n = q.count;
      size_t h = q.head;
      while (h < n) {
        const Event& e = slice[h];
        if (e.time >= rival_time &&
            (e.time != rival_time || rival == SIZE_MAX || (e.is_free != rival_free ? !e.is_free : !wins_ties))) {
          break;
        }
        Emit(e);
        ++h;
      }
      pending_ -= h - q.head;
      q.head = h;
      if (h < n || !Refill(q)) break;
    }
    if (!ready(i)) {
      heap.pop_back();
    } else if (heap.size() > kScanAtMost) {
      std::push_heap(heap.begin(), heap.end(), later);
    }
  }
  FlushEmitted();
}

void EventMerger::Release() {
  if (pending_ == 0) return;
  uint64_t watermark = UINT64_MAX;
  for (const Queue& q : queues_) {
    if (q.live) watermark = std::min(watermark, q.covered);
  }
  Drain(watermark);
}

void EventMerger::Finish() { Drain(UINT64_MAX); }

}  // namespace allocprof
