// Section: one pass of the analysis as the report sees it — the events it needs, what it makes of
// them once the trace is read, and how that reads in the text report and in the JSON document.
//
// A new pass is one file in report/sections/ that defines a Section and its factory
// (`std::unique_ptr<Section> NewFooSection(const SectionSetup&)`), plus its line in
// ALLOCPROF_SECTIONS (report/sections/all_sections.cc), which places it in the text and the JSON.
//
// The heap pass (passes/heap_analysis.h) is not a section: it is the core every section may read
// (totals, stacks, timeline, the Gen model, the analysis window), fed before the sections' own
// event sinks. A section that needs more than it gives keeps its own EventSink and returns it from
// events(); that sink sees the ordered events inside the analysis window only.
//
// Thread-safety: a section belongs to one process's analysis; rendering is const.
#ifndef ALLOCPROF_ANALYZER_SECTION_H_
#define ALLOCPROF_ANALYZER_SECTION_H_

#include <stdint.h>

#include <memory>
#include <string>
#include <vector>

#include "passes/heap_analysis.h"
#include "read/catalog.h"
#include "read/event.h"
#include "report/frames.h"
#include "report/report.h"
#include "util/json_writer.h"

namespace allocprof {

// What a section is made with, before the trace is read.
struct SectionSetup {
  const AnalysisOptions& options;
  const ProcessCatalog* catalog;  // filled while the trace is read
};

// What a section may read once the trace is read.
struct SectionInputs {
  const ProcessCatalog& catalog;
  const AnalysisOptions& options;
  HeapAnalysis& heap;            // finished
  StackFrames& frames;           // stack id -> symbolized frames
  const ProcessReport& process;  // the frame: origin, window, totals
  uint64_t end_ns;               // absolute end of what the report covers
  // Seconds since the process started (marks and capture changes are placed so).
  double SinceProcessStart(uint64_t t) const;
};

// Where a section's JSON goes: the root object (the first process, every key), or an entry of the
// "processes" array (a summary; most sections write nothing there).
enum class JsonPlace { kRoot, kProcessList };

class Section {
 public:
  virtual ~Section() = default;
  // The ordered events it needs beyond the heap pass, or nullptr.
  virtual EventSink* events() { return nullptr; }
  // Once, after the last event.
  virtual void Finish(const SectionInputs& in) {}
  virtual void RenderText(const ProcessReport& p, const AnalysisOptions& o, std::string& out) const {}
  // Keys of the enclosing object (the document's schema: docs/json-schema.md).
  virtual void RenderJson(const ProcessReport& p, const AnalysisOptions& o, JsonWriter& j, JsonPlace place) const {}
  // Cuts its lists of stacks to the first n (KeepTop in report.h).
  virtual void KeepTop(size_t n) {}
};

// Every registered section, new, in ALLOCPROF_SECTIONS order.
std::vector<std::shared_ptr<Section>> NewSections(const SectionSetup& setup);
// Indexes of the sections in the order the text report shows them.
const std::vector<size_t>& TextOrder();

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_SECTION_H_
