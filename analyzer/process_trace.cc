#include "process_trace.h"

#include <algorithm>

#include "absl/container/node_hash_map.h"
#include "absl/strings/str_format.h"

namespace allocprof {

EventMerger::Queue& EventMerger::QueueFor(uint32_t thread) {
  auto [it, inserted] = index_.try_emplace(thread, queues_.size());
  if (inserted) queues_.emplace_back();
  return queues_[it->second];
}

void EventMerger::Emit(const Event& e) {
  if (e.time < released_until_) ++out_of_order_;
  else released_until_ = e.time;
  sink_->OnEvent(e);
}

void EventMerger::Add(const Event& e) {
  Queue& q = QueueFor(e.thread);
  // Late events (written one by one after their thread's exit) may interleave with each other.
  if (!q.events.empty() && e.time < q.events.back().time) {
    auto pos = std::upper_bound(q.events.begin(), q.events.end(), e.time,
                                [](uint64_t t, const Event& x) { return t < x.time; });
    q.events.insert(pos, e);
  } else {
    q.events.push_back(e);
  }
  ++pending_;
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

void EventMerger::Drain(uint64_t limit) {
  // Heads of the non-empty queues, smallest (time, free-first) on top.
  auto later = [this](size_t a, size_t b) {
    const Event& x = queues_[a].events.front();
    const Event& y = queues_[b].events.front();
    if (x.time != y.time) return x.time > y.time;
    if (x.is_free != y.is_free) return !x.is_free;
    return a > b;
  };
  std::vector<size_t> heap;
  for (size_t i = 0; i < queues_.size(); ++i) {
    if (!queues_[i].events.empty() && queues_[i].events.front().time < limit) heap.push_back(i);
  }
  std::make_heap(heap.begin(), heap.end(), later);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    size_t i = heap.back();
    Queue& q = queues_[i];
    Emit(q.events.front());
    q.events.pop_front();
    --pending_;
    if (!q.events.empty() && q.events.front().time < limit) {
      std::push_heap(heap.begin(), heap.end(), later);
    } else {
      heap.pop_back();
    }
  }
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

class CatalogBuilder {
 public:
  CatalogBuilder(ProcessCatalog* catalog, EventMerger* merger) : c_(catalog), merger_(merger) {}

  void OnChunk(const Chunk& chunk) {
    uint32_t thread = chunk.header.thread;
    bool is_thread = thread != format::kProcessThread;
    if (is_thread && !c_->threads.contains(thread) && !ended_.contains(thread)) {
      c_->threads[thread].start_time = chunk.header.base_time_ns;
      merger_->ThreadStarted(thread, chunk.header.base_time_ns);
    }
    RecordDecoder decoder(chunk, is_thread && !ended_.contains(thread) ? &histories_[thread] : nullptr);
    while (decoder.Next(&r_)) {
      ++c_->records;
      OnRecord(is_thread ? thread : kLateThread);
    }
    if (!decoder.error().empty()) {
      c_->diagnostics.push_back({Diagnostic::Kind::kCorrupt, chunk.offset,
                                 absl::StrFormat("%s: %s; the rest of that chunk was skipped", c_->path,
                                                 decoder.error())});
    }
    if (is_thread && !ended_.contains(thread)) merger_->Covered(thread, chunk.header.covered_until_ns);
    merger_->Release();
  }

 private:
  void Seen(uint64_t t) {
    if (t == 0) return;
    if (c_->first_time == 0 || t < c_->first_time) c_->first_time = t;
    c_->last_time = std::max(c_->last_time, t);
  }

  void OnRecord(uint32_t thread) {
    switch (r_.kind) {
      case RecordKind::kAlloc:
      case RecordKind::kFree:
        ++c_->events;
        Seen(r_.time);
        merger_->Add(Event{r_.time, r_.addr, r_.size, r_.stack_id, thread, r_.entry, r_.kind == RecordKind::kFree});
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
        histories_.erase(thread);
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
      case RecordKind::kQuiet:
        if (!ended_.contains(static_cast<uint32_t>(r_.value))) {
          merger_->Covered(static_cast<uint32_t>(r_.value), r_.time);
        }
        break;
    }
  }

  ProcessCatalog* c_;
  EventMerger* merger_;
  Record r_;
  absl::flat_hash_map<uint32_t, bool> ended_;
  absl::node_hash_map<uint32_t, AllocationHistory> histories_;  // live threads only
};

}  // namespace

absl::Status ReadProcessTrace(const std::string& path, EventSink* sink, ProcessCatalog* catalog) {
  catalog->path = path;
  auto file = TraceFile::Open(path);
  if (!file.ok()) return file.status();
  EventMerger merger(sink);
  CatalogBuilder builder(catalog, &merger);
  Chunk chunk;
  while ((*file)->Next(&chunk)) {
    ++catalog->chunks;
    builder.OnChunk(chunk);
  }
  merger.Finish();
  catalog->out_of_order_events = merger.out_of_order();
  for (const auto& d : (*file)->diagnostics()) catalog->diagnostics.push_back(d);
  if (!catalog->has_process) {
    catalog->diagnostics.push_back({Diagnostic::Kind::kCorrupt, 16,
                                    absl::StrFormat("%s: the process record is missing", path)});
  }
  return absl::OkStatus();
}

}  // namespace allocprof
