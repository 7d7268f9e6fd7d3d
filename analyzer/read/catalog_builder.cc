#include "read/catalog_builder.h"

#include <algorithm>

#include "absl/strings/str_format.h"

namespace allocprof {

void CatalogBuilder::OpenGap() {
  // Any live thread may have lost events after its latest one read so far.
  uint64_t start = UINT64_MAX;
  PendingGap gap{c_->damage_gaps.size(), {}};
  for (const auto& [thread, last] : thread_last_) {
    if (ended_.contains(thread)) continue;
    start = std::min(start, last);
    gap.open.insert(thread);
  }
  if (start == UINT64_MAX) start = c_->first_time;
  c_->damage_gaps.push_back({start, start});
  pending_.push_back(std::move(gap));
}

void CatalogBuilder::BoundGaps(uint32_t thread, uint64_t first_time, uint32_t alloc_seq) {
  bool is_new = !thread_last_.contains(thread);
  // A thread first seen after damage that had allocated already lost its first chunk to the
  // latest damage (even one no known thread was pending on).
  if (is_new && alloc_seq != 0 && !c_->damage_gaps.empty()) {
    auto& gap = c_->damage_gaps.back();
    gap.start_ns = std::min(gap.start_ns, c_->first_time);
    gap.end_ns = std::max(gap.end_ns, first_time);
  }
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto& gap = c_->damage_gaps[it->index];
    // A thread first seen after the damage may have lost its own first chunk: it bounds it too,
    // and when it had allocated before this chunk, those allocations may be of any time since
    // the start.
    if (it->open.erase(thread) || is_new) gap.end_ns = std::max(gap.end_ns, first_time);
    it = it->open.empty() ? pending_.erase(it) : it + 1;
  }
}

int ModuleIndexAt(const std::vector<ModuleInfo>& modules, uint64_t address, uint64_t time) {
  int mapped = -1, later = -1, latest = -1;
  for (size_t i = 0; i < modules.size(); ++i) {
    const ModuleInfo& m = modules[i];
    bool holds = false;
    for (const Segment& s : m.segments) {
      uint64_t start = m.load_bias + s.vaddr;
      holds = holds || (address >= start && address - start < s.memsz);
    }
    if (!holds) continue;
    int index = static_cast<int>(i);
    latest = index;
    if (m.time <= time && (m.unload_time == 0 || time < m.unload_time)) {
      mapped = index;
    } else if (m.time > time && (later < 0 || m.time < modules[later].time)) {
      later = index;
    }
  }
  return mapped >= 0 ? mapped : later >= 0 ? later : latest;
}

void CatalogBuilder::OnChunk(DecodedChunk& d) {
  uint32_t thread = d.header.thread;
  bool is_thread = thread != format::kProcessThread;
  // Bytes skipped since the last chunk (the reader resynchronised): events were lost there.
  if (next_offset_ && d.offset != next_offset_) OpenGap();
  if (!next_offset_) first_offset_ = d.offset;
  next_offset_ = d.offset + d.header.header_size + d.header.stored_size;
  if (is_thread) {
    uint64_t first = d.has_events ? d.first_time : d.header.base_time_ns;
    if (!c_->damage_gaps.empty()) {
      CheckContinuity(d, !thread_last_.contains(thread));
      BoundGaps(thread, first, d.header.alloc_seq);
    }
    covered_[thread] = d.header.covered_until_ns;
    uint64_t& last = thread_last_[thread];
    last = std::max(last, d.has_events ? d.last_time : d.header.base_time_ns);
  }
  if (is_thread && !c_->threads.contains(thread) && !ended_.contains(thread)) {
    c_->threads[thread].start_time = d.header.base_time_ns;
    merger_->ThreadStarted(thread, d.header.base_time_ns);
  }
  uint32_t owner = is_thread ? thread : kLateThread;
  c_->records += d.records;
  c_->events += d.heap_events;
  for (const Record& record : d.controls) OnControl(record, owner);
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
    OpenGap();  // the rest of the chunk is lost
    if (is_thread) {
      c_->lost_ranges.push_back({thread, d.has_events ? d.last_time : d.header.base_time_ns,
                                 std::max(d.header.covered_until_ns, d.last_time)});
    }
    c_->diagnostics.push_back({Diagnostic::Kind::kCorrupt, d.offset,
                               absl::StrFormat("%s: %s; the rest of that chunk was skipped", c_->path, d.error), 0});
  }
  if (is_thread && !ended_.contains(thread)) merger_->Covered(thread, d.header.covered_until_ns);
  merger_->Release();
}

void CatalogBuilder::CheckContinuity(const DecodedChunk& d, bool is_new) {
  uint32_t thread = d.header.thread;
  uint64_t first = d.has_events ? d.first_time : d.header.base_time_ns;
  if (!is_new) {
    // The shim starts each chunk where the thread's previous one ended (its covered_until_ns).
    uint64_t covered = covered_[thread];
    if (d.header.base_time_ns != covered) c_->lost_ranges.push_back({thread, covered, std::max(covered, first)});
    return;
  }
  // A thread first seen after damage without its start record lost its first chunks: when they
  // began is unknown, so from the damage on.
  for (const Record& r : d.controls) {
    if (r.kind == RecordKind::kThreadStart) return;
  }
  c_->lost_ranges.push_back({thread, std::min(c_->damage_gaps.back().start_ns, first), first});
}

void CatalogBuilder::EndOfInput(const std::vector<Diagnostic>& file_diagnostics) {
  bool tail_lost = false;
  for (const auto& d : file_diagnostics) {
    c_->diagnostics.push_back(d);
    // Damage after the last chunk read (a cut-off tail, or no valid chunk after it) or before the
    // first: nothing bounds what it hid.
    if (d.kind != Diagnostic::Kind::kNote && (d.offset >= next_offset_ || d.offset < first_offset_)) {
      OpenGap();
      c_->damage_gaps.back().end_ns = UINT64_MAX;
      tail_lost = tail_lost || d.offset >= next_offset_;
    }
  }
  // Damage no later chunk of some thread bounded: that thread's events may be lost to the end.
  absl::flat_hash_set<uint32_t> to_the_end;
  for (const auto& p : pending_) {
    c_->damage_gaps[p.index].end_ns = UINT64_MAX;
    to_the_end.insert(p.open.begin(), p.open.end());
  }
  pending_.clear();
  if (tail_lost) {
    for (const auto& [thread, covered] : covered_) {
      if (!ended_.contains(thread)) to_the_end.insert(thread);
    }
  }
  for (uint32_t thread : to_the_end) {
    auto it = covered_.find(thread);
    c_->lost_ranges.push_back({thread, it == covered_.end() ? c_->first_time : it->second, UINT64_MAX});
  }
}

void CatalogBuilder::Finish() {
  // A process that exec'd ends its trace with the exec record (its new image writes another
  // trace): nothing after it means the image was replaced, not killed.
  if (!c_->ended_cleanly && !c_->execs.empty() && c_->last_exec_time >= c_->last_time) c_->ended_cleanly = true;
  std::stable_sort(c_->marks.begin(), c_->marks.end(),
                   [](const ProcessCatalog::Mark& a, const ProcessCatalog::Mark& b) { return a.time < b.time; });
  std::stable_sort(c_->captures.begin(), c_->captures.end(),
                   [](const ProcessCatalog::Capture& a, const ProcessCatalog::Capture& b) { return a.time < b.time; });
  c_->out_of_order_events = merger_->out_of_order();
  if (!c_->has_process) {
    c_->diagnostics.push_back(
        {Diagnostic::Kind::kCorrupt, 16, absl::StrFormat("%s: the process record is missing", c_->path), 0});
  }
}

void CatalogBuilder::Seen(uint64_t t) {
  if (t == 0) return;
  if (c_->first_time == 0 || t < c_->first_time) c_->first_time = t;
  c_->last_time = std::max(c_->last_time, t);
}

void CatalogBuilder::OnThreadEnd(const Record& r, uint32_t thread) {
  ThreadInfo& t = c_->threads[thread];
  t.ended = true;
  t.end_time = r.time;
  ended_.insert(thread);
  merger_->ThreadEnded(thread);
  Seen(r.time);
}

void CatalogBuilder::OnSampling(const Record& r) {
  // Before any event of the trace reaches the passes (the process chunk comes first).
  c_->sampling.interval_bytes = r.value;
  if (c_->events) {
    c_->diagnostics.push_back(
        {Diagnostic::Kind::kCorrupt, 0,
         absl::StrFormat("%s: the sampling record follows %d events, which were counted unweighted", c_->path,
                         c_->events),
         0});
  }
}

void CatalogBuilder::OnControl(const Record& r, uint32_t thread) {
  switch (r.kind) {
    case RecordKind::kAlloc:
    case RecordKind::kFree:
    case RecordKind::kRentBegin:
    case RecordKind::kRentEnd:
    case RecordKind::kPoolReturn:
    case RecordKind::kCount:
      break;  // events: they go through the merger
    case RecordKind::kStackDef:
      c_->stacks[r.stack_id] = r.frames;
      c_->stack_times[r.stack_id] = r.time;
      break;
    case RecordKind::kThreadStart: {
      ThreadInfo& t = c_->threads[thread];
      t.tid = r.value;
      t.start_time = r.time;
      Seen(r.time);
      break;
    }
    case RecordKind::kThreadName:
      c_->threads[thread].name = r.text;
      break;
    case RecordKind::kThreadEnd:
      OnThreadEnd(r, thread);
      break;
    case RecordKind::kModule:
      c_->modules.push_back(ModuleInfo{r.time, r.value, r.text, r.build_id, r.segments});
      break;
    case RecordKind::kModuleUnload:
      // The latest still-mapped record of that module (bias and path name it).
      for (auto it = c_->modules.rbegin(); it != c_->modules.rend(); ++it) {
        if (it->unload_time == 0 && it->load_bias == r.value && it->path == r.text) {
          it->unload_time = r.time ? r.time : 1;
          c_->has_unloads = true;
          break;
        }
      }
      break;
    case RecordKind::kProcess:
      if (!c_->has_process) {
        c_->has_process = true;
        c_->process = r.process;
        Seen(r.process.start_monotonic_ns);
      }
      break;
    case RecordKind::kExec:
      c_->execs.push_back(r.text);
      c_->last_exec_time = r.time;
      Seen(r.time);
      break;
    case RecordKind::kFork:
      Seen(r.time);
      break;
    case RecordKind::kWarning:
      c_->shim_warnings.push_back(r.text);
      break;
    case RecordKind::kSuppressions:
      c_->embedded_suppressions = r.text;  // a fork child's copy repeats it: the last one counts
      break;
    case RecordKind::kEnd:
      c_->ended_cleanly = true;
      Seen(r.time);
      break;
    case RecordKind::kPoolRegister:
      c_->pools[r.pool] = PoolInfo{r.text, r.size, r.value};
      break;
    case RecordKind::kCounterName:
      c_->counters[static_cast<uint32_t>(r.value)] = r.text;
      break;
    case RecordKind::kMark:
      c_->marks.push_back({r.time, r.text, thread});
      Seen(r.time);
      break;
    case RecordKind::kCapture:
      c_->captures.push_back({r.time, static_cast<format::CaptureState>(r.outcome), r.text});
      Seen(r.time);
      break;
    case RecordKind::kSampling:
      OnSampling(r);
      break;
    case RecordKind::kQuiet:
      // The flush thread's "nothing new" is the process still alive: a killed process's duration
      // runs to its last one, not to its last allocation.
      Seen(r.time);
      if (!ended_.contains(static_cast<uint32_t>(r.value))) merger_->Covered(static_cast<uint32_t>(r.value), r.time);
      break;
  }
}

}  // namespace allocprof
