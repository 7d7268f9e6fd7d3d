// Analysis windows (--from / --to): the part of a run a report covers, bounded by marks the program
// recorded (allocprof_mark) or by times since the process started.
//
// WindowGate resolves the bounds while the events stream by in time order, so a window bounded by
// marks needs no second pass over the trace: a mark event opens or closes the window at its own
// time. Thread-safety: one gate per process pass.
#ifndef ALLOCPROF_ANALYZER_ANALYSIS_WINDOW_H_
#define ALLOCPROF_ANALYZER_ANALYSIS_WINDOW_H_

#include <stdint.h>

#include <string>

#include "absl/status/status.h"
#include "read/catalog.h"
#include "read/event.h"

namespace allocprof {

struct WindowBound {
  enum class Kind : uint8_t { kNone, kTime, kMark };
  Kind kind = Kind::kNone;
  uint64_t ns = 0;   // kTime: since the process started
  std::string mark;  // kMark: the first occurrence (for --to: the first after the window opened)
  bool set() const { return kind != Kind::kNone; }
  // "mark NAME", "12.5 s", or `unset_text`.
  std::string Describe(const char* unset_text) const;
};

struct WindowSpec {
  WindowBound from, to;
  bool active() const { return from.set() || to.set(); }
};

// Parses a --from/--to value: a duration ("12.5s", "500ms") or a mark name. A value that could be
// either is a time; "mark:NAME" forces a mark.
absl::Status ParseWindowBound(const std::string& text, const char* flag, WindowBound* out);

enum class WindowPhase : uint8_t { kBefore, kInside, kAfter };

class WindowGate {
 public:
  WindowGate(const WindowSpec& spec, const ProcessCatalog* catalog) : spec_(spec), catalog_(catalog) {}
  bool active() const { return spec_.active(); }
  // The phase of an event, seen in time order. A mark event that opens the window is inside it; one
  // that closes it is after.
  WindowPhase Observe(const Event& e);
  bool opened() const { return phase_ != WindowPhase::kBefore; }
  bool closed() const { return phase_ == WindowPhase::kAfter; }
  uint64_t open_ns() const { return open_ns_; }    // absolute; valid once opened
  uint64_t close_ns() const { return close_ns_; }  // absolute; valid once closed
  const WindowSpec& spec() const { return spec_; }

 private:
  void Start(const Event& e);
  bool Reached(const WindowBound& b, const Event& e) const;

  WindowSpec spec_;
  const ProcessCatalog* catalog_;
  WindowPhase phase_ = WindowPhase::kBefore;
  bool have_origin_ = false;
  uint64_t origin_ = 0, open_ns_ = 0, close_ns_ = 0;
};

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_ANALYSIS_WINDOW_H_
