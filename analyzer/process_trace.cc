#include "process_trace.h"

#include <algorithm>

#include "absl/strings/str_format.h"

namespace allocprof {

void EventMerger::Emit(const Pending& p) {
  if (p.e.time < released_until_) ++out_of_order_;
  else released_until_ = p.e.time;
  sink_->OnEvent(p.e);
}

void EventMerger::Add(const Event& e) { heap_.push(Pending{e, seq_++}); }

void EventMerger::ThreadStarted(uint32_t thread, uint64_t time) {
  auto [it, inserted] = covered_.try_emplace(thread, time);
  if (!inserted) it->second = std::max(it->second, time);
}

void EventMerger::ThreadEnded(uint32_t thread) { covered_.erase(thread); }

void EventMerger::Covered(uint32_t thread, uint64_t until) {
  auto it = covered_.find(thread);
  if (it != covered_.end()) it->second = std::max(it->second, until);
}

void EventMerger::Release() {
  uint64_t watermark = UINT64_MAX;
  for (const auto& [thread, until] : covered_) watermark = std::min(watermark, until);
  while (!heap_.empty() && heap_.top().e.time < watermark) {
    Emit(heap_.top());
    heap_.pop();
  }
}

void EventMerger::Finish() {
  while (!heap_.empty()) {
    Emit(heap_.top());
    heap_.pop();
  }
}

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
    RecordDecoder decoder(chunk);
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
