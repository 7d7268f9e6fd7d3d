// The registry of report sections: every pass the report shows, one line each.
#include <algorithm>
#include <numeric>

#include "report/section.h"

// X(Name, text_rank): the section made by NewNameSection (report/sections/name.cc).
// The list's order is the JSON document's (schema v1: docs/json-schema.md) and the order the
// sections are finished in (stacks are symbolized in it). `text_rank` orders the text report,
// which shows the sections in another order in three places (flame has no text). A new section goes at the end with
// the next free text rank: last in both.
#define ALLOCPROF_SECTIONS(X) \
  X(Totals, 30)               \
  X(Coverage, 10)             \
  X(Sampling, 20)             \
  X(EntryPoints, 40)          \
  X(SizeClasses, 50)          \
  X(Stacks, 60)               \
  X(Timeline, 70)             \
  X(Sawtooth, 80)             \
  X(Mismatches, 130)          \
  X(Gen, 90)                  \
  X(Flame, 140)               \
  X(Pools, 120)               \
  X(Marks, 100)               \
  X(Counters, 110)

namespace allocprof {

#define ALLOCPROF_DECLARE_SECTION(name, text_rank) std::unique_ptr<Section> New##name##Section(const SectionSetup&);
ALLOCPROF_SECTIONS(ALLOCPROF_DECLARE_SECTION)
#undef ALLOCPROF_DECLARE_SECTION

namespace {

struct Registration {
  std::unique_ptr<Section> (*make)(const SectionSetup&);
  int text_rank;
};

constexpr Registration kSections[] = {
#define ALLOCPROF_REGISTER_SECTION(name, text_rank) {&New##name##Section, text_rank},
    ALLOCPROF_SECTIONS(ALLOCPROF_REGISTER_SECTION)
#undef ALLOCPROF_REGISTER_SECTION
};
constexpr size_t kSectionCount = sizeof(kSections) / sizeof(kSections[0]);

}  // namespace

std::vector<std::shared_ptr<Section>> NewSections(const SectionSetup& setup) {
  std::vector<std::shared_ptr<Section>> out;
  out.reserve(kSectionCount);
  for (const Registration& r : kSections) out.push_back(r.make(setup));
  return out;
}

const std::vector<size_t>& TextOrder() {
  static const std::vector<size_t> order = [] {
    std::vector<size_t> v(kSectionCount);
    std::iota(v.begin(), v.end(), 0);
    std::stable_sort(v.begin(), v.end(),
                     [](size_t a, size_t b) { return kSections[a].text_rank < kSections[b].text_rank; });
    return v;
  }();
  return order;
}

}  // namespace allocprof
