#include "passes/stack_windows.h"

#include <algorithm>

namespace allocprof {

void StackWindows::Add(uint64_t time, uint32_t stack_id, uint64_t calls, uint64_t bytes) {
  if (calls == 0 && bytes == 0) return;
  if (!started_) {
    started_ = true;
    origin_ = time;
  }
  // Events arrive in time order; one slightly earlier (a merge tie) joins the window it falls in.
  uint64_t rel = time > origin_ ? time - origin_ : 0;
  uint64_t fine = rel / width_;
  while (fine >= kMaxFine) {
    Coarsen();
    fine = rel / width_;
  }
  std::vector<Entry>* list = last_list_;
  if (list == nullptr || stack_id != last_stack_) {
    list = &by_stack_[stack_id];  // may rehash: the cached pointer is taken again here
    last_stack_ = stack_id;
    last_list_ = list;
  }
  if (list->empty() || list->back().fine < fine) {
    list->push_back(Entry{static_cast<uint32_t>(fine), 0, 0});
  }
  Entry* e = &list->back();
  if (e->fine != fine) {  // an earlier window than the last one: find (or insert) it
    auto it = std::lower_bound(list->begin(), list->end(), fine, [](const Entry& a, uint64_t f) { return a.fine < f; });
    if (it == list->end() || it->fine != fine) it = list->insert(it, Entry{static_cast<uint32_t>(fine), 0, 0});
    e = &*it;
  }
  e->calls += calls;
  e->bytes += bytes;
}

void StackWindows::Coarsen() {
  width_ *= 2;
  for (auto& [id, list] : by_stack_) {
    size_t out = 0;
    for (size_t i = 0; i < list.size(); ++i) {
      uint32_t fine = list[i].fine / 2;
      if (out > 0 && list[out - 1].fine == fine) {
        list[out - 1].calls += list[i].calls;
        list[out - 1].bytes += list[i].bytes;
      } else {
        list[out++] = Entry{fine, list[i].calls, list[i].bytes};
      }
    }
    list.resize(out);
  }
}

std::vector<StackWindowCell> StackWindows::Cells(uint64_t origin_ns, const std::vector<TimeWindow>& windows) const {
  std::vector<StackWindowCell> out;
  if (windows.empty()) return out;
  std::vector<uint64_t> starts;
  for (const TimeWindow& w : windows) starts.push_back(w.start_ns);
  std::vector<uint32_t> ids;
  for (const auto& [id, list] : by_stack_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (uint32_t id : ids) {
    const std::vector<Entry>& list = by_stack_.at(id);
    size_t first = out.size();
    for (const Entry& e : list) {
      // The fine window's start, relative to the report's origin (which may be earlier or later).
      uint64_t abs = origin_ + static_cast<uint64_t>(e.fine) * width_;
      uint64_t rel = abs > origin_ns ? abs - origin_ns : 0;
      size_t w = static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), rel) - starts.begin());
      w = w == 0 ? 0 : w - 1;
      if (out.size() > first && out.back().window == w) {
        out.back().calls += e.calls;
        out.back().bytes += e.bytes;
      } else {
        out.push_back(StackWindowCell{id, static_cast<uint32_t>(w), e.calls, e.bytes});
      }
    }
  }
  return out;
}

}  // namespace allocprof
