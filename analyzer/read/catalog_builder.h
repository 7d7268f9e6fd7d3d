// CatalogBuilder: the analysing thread's side of a read. Takes the decoded chunks in file order,
// fills the ProcessCatalog from their control records, and hands their events to the merger with
// what it needs to release them (threads starting and ending, and their promises of coverage).
//
// Thread-safety: none; one builder per read, used by the analysing thread only.
#ifndef ALLOCPROF_ANALYZER_CATALOG_BUILDER_H_
#define ALLOCPROF_ANALYZER_CATALOG_BUILDER_H_

#include <stdint.h>

#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "read/catalog.h"
#include "read/chunk_decoder.h"
#include "read/event_merger.h"

namespace allocprof {

class CatalogBuilder {
 public:
  CatalogBuilder(ProcessCatalog* catalog, EventMerger* merger) : c_(catalog), merger_(merger) {}

  // The next chunk in file order; its events are moved to the merger, which releases what every
  // live thread has covered.
  void OnChunk(DecodedChunk& d);
  // After the last chunk, before the merger's Finish: the damage only the file's end tells (a
  // cut-off tail, threads never seen again after damage), so the last events released meet it.
  void EndOfInput(const std::vector<Diagnostic>& file_diagnostics);
  // After the merger's Finish: completes the catalog with what only the whole trace tells (a
  // trace that ends with an exec, marks in time order).
  void Finish();

 private:
  // A record's time: the catalog's first and last times cover it.
  void Seen(uint64_t t);
  void OnControl(const Record& r, uint32_t thread);
  void OnThreadEnd(const Record& r, uint32_t thread);
  void OnSampling(const Record& r);

  // Damage between two chunks, or inside one: a gap opens (read/catalog.h, DamageGap).
  void OpenGap();
  // A thread's chunk after damage bounds what that thread lost.
  void BoundGaps(uint32_t thread, uint64_t first_time, uint32_t alloc_seq);

  ProcessCatalog* c_;
  EventMerger* merger_;
  absl::flat_hash_set<uint32_t> ended_;                  // threads whose end record was read
  uint64_t first_offset_ = 0;                            // of the first chunk read
  uint64_t next_offset_ = 0;                             // where the chunk after the last one read would start
  absl::flat_hash_map<uint32_t, uint64_t> thread_last_;  // each thread's latest event time so far
  absl::flat_hash_map<uint32_t, uint64_t> covered_;      // each thread's latest chunk's covered_until_ns
  // Damage seen: a thread chunk that does not continue its thread's previous one adds a LostRange.
  void CheckContinuity(const DecodedChunk& d, bool is_new);
  struct PendingGap {
    size_t index;                        // into c_->damage_gaps
    absl::flat_hash_set<uint32_t> open;  // threads not yet seen after the damage
  };
  std::vector<PendingGap> pending_;
};

}  // namespace allocprof

#endif  // ALLOCPROF_ANALYZER_CATALOG_BUILDER_H_
