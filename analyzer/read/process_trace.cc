#include "read/process_trace.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/str_format.h"

namespace allocprof {

size_t EventMerger::QueueIndex(uint32_t thread) {
  auto [it, inserted] = index_.try_emplace(thread, queues_.size());
  if (inserted) queues_.emplace_back();
  return it->second;
}

void EventMerger::FlushEmitted() {
  if (out_count_ == 0) return;
  sink_->OnEvents(out_.get(), out_count_);
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
  if (q.batches.empty()) {
    q.slice.reset();  // an idle or ended thread keeps no slice
    return false;
  }
  if (!q.slice) q.slice.reset(new Event[kSlice]);
  q.count = q.unpacker.Next(q.slice.get(), kSlice);
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
    const Event* const ea = &a.slice[a.count];
    const Event* const eb = &b.slice[b.count];
    const Event* const sa = pa;
    const Event* const sb = pb;
    bool at_limit = false;
    // Threads often interleave event by event: take the smaller head without a branch on which.
    for (;;) {
      bool take_a = pa->time < pb->time || (pa->time == pb->time && (pa->is_free || !pb->is_free));
      const Event* e = take_a ? pa : pb;
      if (e->time >= limit) {
        at_limit = true;
        break;
      }
      Emit(*e);
      pa += take_a;
      pb += !take_a;
      if (pa == ea || pb == eb) break;
    }
    pending_ -= static_cast<size_t>((pa - sa) + (pb - sb));
    a.head = static_cast<size_t>(pa - a.slice.get());
    b.head = static_cast<size_t>(pb - b.slice.get());
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

namespace {

// One chunk, decoded: its events in order (packed, or as they are in the rare chunk whose events
// are not sorted by time), and its control records with their position among them.
struct DecodedChunk {
  uint64_t offset = 0;
  format::ChunkHeader header{};
  PackedEvents packed;
  std::vector<Event> unsorted;
  uint64_t first_time = 0, last_time = 0;  // of the first and the last event in chunk order
  bool has_events = false;
  std::vector<std::pair<size_t, Record>> controls;  // (events before it, record)
  uint64_t records = 0;
  uint64_t heap_events = 0;  // allocations and frees among the events
  std::string error;
};

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

// Producer side: decodes chunks; owns the per-thread allocation histories FREE_AGE needs.
class ChunkDecoder {
 public:
  // Decodes into a reused buffer, shows the events to the sink's order-free statistics, then packs
  // them: only the packed form (~9 of the 48 bytes per event) travels and waits to be merged.
  void Decode(const Chunk& chunk, EventSink* sink, DecodedChunk* out) {
    Decode(chunk, out);
    sink->OnEventsUnordered(events_);
    out->has_events = !events_.empty();
    out->unsorted.clear();
    out->packed.count = 0;
    if (events_.empty()) return;
    out->first_time = events_.front().time;
    out->last_time = events_.back().time;
    if (!packer_.Pack(events_.data(), events_.size(), &out->packed)) out->unsorted = events_;
  }
  const SamplingEstimate& sampling() const { return weigher_.estimate(); }

 private:
  void Decode(const Chunk& chunk, DecodedChunk* out) {
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
    while (decoder.Next(&r_)) {
      ++out->records;
      if (r_.kind == RecordKind::kAlloc || r_.kind == RecordKind::kFree) {
        events->push_back(Event{r_.time, r_.addr, r_.size, r_.stack_id, owner, r_.entry, r_.kind == RecordKind::kFree});
        if (weigher_.interval()) Weigh(events->back());
        ++out->heap_events;
        continue;
      }
      if (r_.kind == RecordKind::kSampling) weigher_.SetInterval(r_.value);
      if (EventKind kind; PoolEventKind(r_.kind, &kind)) {
        Event e{r_.time, r_.granted, r_.size, r_.stack_id, owner, format::EntryPoint::kMalloc, false};
        e.kind = kind;
        e.outcome = r_.outcome;
        e.pool = kind == EventKind::kCount ? static_cast<uint32_t>(r_.value) : r_.pool;
        events->push_back(e);
        continue;
      }
      if (r_.kind == RecordKind::kMark) {
        Event e{r_.time, 0, 0, 0, owner, format::EntryPoint::kMalloc, false};
        e.kind = EventKind::kMark;
        e.pool = marks_++;
        events->push_back(e);
      }
      if (r_.kind == RecordKind::kThreadEnd && is_thread) {
        ended_.insert(thread);
        histories_.erase(thread);
      }
      out->controls.emplace_back(events->size(), r_);
    }
    out->error = decoder.error();
  }
  void Weigh(Event& e) { e.weight = e.is_free ? 0 : weigher_.WeighAllocation(e.time, e.addr, e.size); }

  Record r_;
  std::vector<Event> events_;  // the chunk being decoded
  EventPacker packer_;
  uint32_t marks_ = 0;  // marks decoded so far: the catalog's index of the next one
  SampleWeigher weigher_;
  absl::flat_hash_set<uint32_t> ended_;
  absl::node_hash_map<uint32_t, AllocationHistory> histories_;  // live threads only
};

// A bounded hand-off of decoded chunks from the reading thread to the analysing one. A decoded
// chunk of a full buffer holds ~22,000 events, packed ~190 KB. The ordered pass works in bursts:
// while an idle thread's promise is due (every flush interval) it only queues chunks, then it
// releases the whole interval at once (churn16: ~3 M events, ~150 chunks). The reader must be able
// to run ahead through such a burst, or the threads stop overlapping. Measured on churn16
// (bench/README.md): room for 64 chunks 0.84-0.92 s, for 256 chunks or 32 MiB 0.71-0.77 s at the
// same ~70 MiB peak RSS; 16 MiB was as slow as 64 chunks. The byte bound keeps the chunks of huge
// shim buffers from holding more than the 64 unpacked chunks of earlier versions did.
class ChunkQueue {
 public:
  static constexpr size_t kCapacity = 256;
  static constexpr size_t kMaxBytes = size_t{32} << 20;
  static constexpr size_t kMaxSpare = 16;
  void Push(DecodedChunk&& c) {
    size_t bytes = Bytes(c);
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] {
      return (items_.size() < kCapacity && (bytes_ + bytes <= kMaxBytes || items_.empty())) || cancelled_;
    });
    if (cancelled_) return;
    bytes_ += bytes;
    items_.push_back(std::move(c));
    not_empty_.notify_one();
  }
  bool Pop(DecodedChunk* c) {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return !items_.empty() || closed_; });
    if (items_.empty()) return false;
    *c = std::move(items_.front());
    items_.pop_front();
    bytes_ -= Bytes(*c);
    not_full_.notify_one();
    return true;
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    not_empty_.notify_all();
  }
  // Packed-event buffers going back to the reader for reuse; a few are enough to spare it the
  // page faults of fresh ones, more would only hold memory.
  void Recycle(std::vector<uint8_t>&& v) {
    std::lock_guard<std::mutex> lock(mu_);
    if (spare_.size() < kMaxSpare) spare_.push_back(std::move(v));
  }
  void TakeSpare(std::vector<uint8_t>* out) {
    std::lock_guard<std::mutex> lock(mu_);
    if (spare_.empty()) return;
    *out = std::move(spare_.back());
    spare_.pop_back();
  }

 private:
  static size_t Bytes(const DecodedChunk& c) { return c.packed.bytes.size() + c.unsorted.size() * sizeof(Event); }

  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<DecodedChunk> items_;
  size_t bytes_ = 0;  // of the events in items_
  std::vector<std::vector<uint8_t>> spare_;
  bool closed_ = false;
  bool cancelled_ = false;
};

// Consumer side: builds the catalog and feeds events to the merger, in file order.
class CatalogBuilder {
 public:
  CatalogBuilder(ProcessCatalog* catalog, EventMerger* merger) : c_(catalog), merger_(merger) {}

  void OnChunk(DecodedChunk& d) {
    uint32_t thread = d.header.thread;
    bool is_thread = thread != format::kProcessThread;
    if (is_thread && !c_->threads.contains(thread) && !ended_.contains(thread)) {
      c_->threads[thread].start_time = d.header.base_time_ns;
      merger_->ThreadStarted(thread, d.header.base_time_ns);
    }
    uint32_t owner = is_thread ? thread : kLateThread;
    c_->records += d.records;
    c_->events += d.heap_events;
    // Within a chunk only the catalog cares where a control record sat among the events, and
    // nothing in it depends on that; the merger sees the whole chunk before it releases anything.
    for (const auto& [position, record] : d.controls) OnControl(record, owner);
    if (d.has_events) {
      Seen(d.first_time);
      Seen(d.last_time);
      if (d.unsorted.empty()) {
        merger_->AddPacked(merger_->QueueIndex(owner), std::move(d.packed));
      } else {
        merger_->AddBatch(merger_->QueueIndex(owner), std::move(d.unsorted));
      }
    }
    if (!d.error.empty()) {
      c_->diagnostics.push_back({Diagnostic::Kind::kCorrupt, d.offset,
                                 absl::StrFormat("%s: %s; the rest of that chunk was skipped", c_->path, d.error)});
    }
    if (is_thread && !ended_.contains(thread)) merger_->Covered(thread, d.header.covered_until_ns);
    merger_->Release();
  }

 private:
  void Seen(uint64_t t) {
    if (t == 0) return;
    if (c_->first_time == 0 || t < c_->first_time) c_->first_time = t;
    c_->last_time = std::max(c_->last_time, t);
  }

  void OnControl(const Record& r_, uint32_t thread) {
    switch (r_.kind) {
      case RecordKind::kAlloc:
      case RecordKind::kFree:
        break;
      case RecordKind::kStackDef:
        c_->stacks[r_.stack_id] = r_.frames;
        break;
      case RecordKind::kThreadStart: {
        ThreadInfo& t = c_->threads[thread];
        t.tid = r_.value;
        t.start_time = r_.time;
        Seen(r_.time);
        break;
      }
      case RecordKind::kThreadName:
        c_->threads[thread].name = r_.text;
        break;
      case RecordKind::kThreadEnd: {
        ThreadInfo& t = c_->threads[thread];
        t.ended = true;
        t.end_time = r_.time;
        ended_.insert({thread, true});
        merger_->ThreadEnded(thread);
        Seen(r_.time);
        break;
      }
      case RecordKind::kModule:
        c_->modules.push_back(ModuleInfo{r_.time, r_.value, r_.text, r_.build_id, r_.segments});
        break;
      case RecordKind::kProcess:
        if (!c_->has_process) {
          c_->has_process = true;
          c_->process = r_.process;
          Seen(r_.process.start_monotonic_ns);
        }
        break;
      case RecordKind::kExec:
        c_->execs.push_back(r_.text);
        c_->last_exec_time = r_.time;
        Seen(r_.time);
        break;
      case RecordKind::kFork:
        Seen(r_.time);
        break;
      case RecordKind::kWarning:
        c_->shim_warnings.push_back(r_.text);
        break;
      case RecordKind::kEnd:
        c_->ended_cleanly = true;
        Seen(r_.time);
        break;
      case RecordKind::kPoolRegister:
        c_->pools[r_.pool] = PoolInfo{r_.text, r_.size, r_.value};
        break;
      case RecordKind::kCounterName:
        c_->counters[static_cast<uint32_t>(r_.value)] = r_.text;
        break;
      case RecordKind::kMark:
        c_->marks.push_back({r_.time, r_.text, thread});
        Seen(r_.time);
        break;
      case RecordKind::kCapture:
        c_->captures.push_back({r_.time, static_cast<format::CaptureState>(r_.outcome), r_.text});
        Seen(r_.time);
        break;
      case RecordKind::kSampling:
        // Before any event of the trace reaches the passes (the process chunk comes first).
        c_->sampling.interval_bytes = r_.value;
        if (c_->events) {
          c_->diagnostics.push_back({Diagnostic::Kind::kCorrupt, 0,
                                     absl::StrFormat("%s: the sampling record follows %d events, which were "
                                                     "counted unweighted",
                                                     c_->path, c_->events)});
        }
        break;
      case RecordKind::kRentBegin:
      case RecordKind::kRentEnd:
      case RecordKind::kPoolReturn:
      case RecordKind::kCount:
        break;  // events: they go through the merger
      case RecordKind::kQuiet:
        // The flush thread's "nothing new" is the process still alive: a killed process's duration
        // runs to its last one, not to its last allocation.
        Seen(r_.time);
        if (!ended_.contains(static_cast<uint32_t>(r_.value))) {
          merger_->Covered(static_cast<uint32_t>(r_.value), r_.time);
        }
        break;
    }
  }

  ProcessCatalog* c_;
  EventMerger* merger_;
  absl::flat_hash_map<uint32_t, bool> ended_;
};

}  // namespace

// Reading and decoding (decompression included) run on their own thread, analysis on the caller's:
// on two cores the two halves overlap (measured in bench/README.md).
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
    Chunk chunk;
    DecodedChunk decoded;
    while ((*file)->Next(&chunk)) {
      merger.TakeSpare(&decoded.packed.bytes);
      decoder.Decode(chunk, sink, &decoded);
      consume(decoded);
    }
  } else {
    ChunkQueue queue;
    std::thread reader([&] {
      Chunk chunk;
      while ((*file)->Next(&chunk)) {
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
  if (progress) progress(file_size, file_size);
  if (decoder.sampling().sampled()) catalog->sampling = decoder.sampling();
  merger.Finish();
  // A process that exec'd ends its trace with the exec record (its new image writes another
  // trace): nothing after it means the image was replaced, not killed.
  if (!catalog->ended_cleanly && !catalog->execs.empty() && catalog->last_exec_time >= catalog->last_time) {
    catalog->ended_cleanly = true;
  }
  std::stable_sort(catalog->marks.begin(), catalog->marks.end(),
                   [](const ProcessCatalog::Mark& a, const ProcessCatalog::Mark& b) { return a.time < b.time; });
  std::stable_sort(catalog->captures.begin(), catalog->captures.end(),
                   [](const ProcessCatalog::Capture& a, const ProcessCatalog::Capture& b) { return a.time < b.time; });
  catalog->out_of_order_events = merger.out_of_order();
  for (const auto& d : (*file)->diagnostics()) catalog->diagnostics.push_back(d);
  if (!catalog->has_process) {
    catalog->diagnostics.push_back(
        {Diagnostic::Kind::kCorrupt, 16, absl::StrFormat("%s: the process record is missing", path)});
  }
  return absl::OkStatus();
}

}  // namespace allocprof
