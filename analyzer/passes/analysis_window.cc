#include "passes/analysis_window.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "allocprof/units.h"

namespace allocprof {

std::string WindowBound::Describe(const char* unset_text) const {
  switch (kind) {
    case Kind::kNone:
      return unset_text;
    case Kind::kTime:
      return absl::StrFormat("%.3f s", static_cast<double>(ns) / 1e9);
    case Kind::kMark:
      return absl::StrCat("mark \"", mark, "\"");
  }
  return unset_text;
}

absl::Status ParseWindowBound(const std::string& text, const char* flag, WindowBound* out) {
  if (text.empty())
    return absl::InvalidArgumentError(absl::StrCat(flag, ": empty (a mark name or a time such as 12.5s)"));
  if (absl::StartsWith(text, "mark:")) {
    if (text.size() == 5) return absl::InvalidArgumentError(absl::StrCat(flag, ": 'mark:' needs a name"));
    *out = WindowBound{WindowBound::Kind::kMark, 0, text.substr(5)};
    return absl::OkStatus();
  }
  uint64_t ns;
  if (units::ParseDuration(text.c_str(), &ns)) {
    *out = WindowBound{WindowBound::Kind::kTime, ns, ""};
    return absl::OkStatus();
  }
  *out = WindowBound{WindowBound::Kind::kMark, 0, text};
  return absl::OkStatus();
}

bool WindowGate::Reached(const WindowBound& b, const Event& e) const {
  switch (b.kind) {
    case WindowBound::Kind::kNone:
      return false;
    case WindowBound::Kind::kTime:
      return e.time >= origin_ + b.ns;
    case WindowBound::Kind::kMark:
      return e.kind == EventKind::kMark && e.pool < catalog_->marks.size() && catalog_->marks[e.pool].name == b.mark;
  }
  return false;
}

void WindowGate::Start(const Event& e) {
  phase_ = WindowPhase::kInside;
  open_ns_ = spec_.from.kind == WindowBound::Kind::kTime ? origin_ + spec_.from.ns : e.time;
  if (!spec_.from.set()) open_ns_ = std::min(origin_, e.time);
}

WindowPhase WindowGate::Observe(const Event& e) {
  if (!have_origin_) {
    // The process record comes first in a trace, so the catalog has it before any event.
    origin_ = catalog_ && catalog_->has_process ? catalog_->process.start_monotonic_ns : e.time;
    have_origin_ = true;
  }
  if (phase_ == WindowPhase::kBefore) {
    if (spec_.from.set() && !Reached(spec_.from, e)) return phase_;
    Start(e);
    // A mark cannot both open and close the window.
    if (e.kind == EventKind::kMark) return phase_;
  }
  if (phase_ == WindowPhase::kInside && Reached(spec_.to, e)) {
    phase_ = WindowPhase::kAfter;
    close_ns_ = spec_.to.kind == WindowBound::Kind::kTime ? origin_ + spec_.to.ns : e.time;
  }
  return phase_;
}

}  // namespace allocprof
