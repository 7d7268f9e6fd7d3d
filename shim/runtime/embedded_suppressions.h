// The leak suppressions a program embeds for LeakSanitizer (`const char* __lsan_default_suppressions()`
// returning "leak:foo\nleak:bar\n"): found and called once at a safe point (the shim's constructor,
// never on a hook's path), kept in static storage and written as a kSuppressions record, so the
// analyzer applies them like --suppressions.
//
// Thread-safety: FindEmbeddedSuppressions runs once from the constructor; the writes run at process
// start and in a fresh fork child, when no other thread writes the static encoder.
#ifndef ALLOCPROF_SHIM_EMBEDDED_SUPPRESSIONS_H_
#define ALLOCPROF_SHIM_EMBEDDED_SUPPRESSIONS_H_

namespace allocprof::shim {

// Looks up __lsan_default_suppressions (exported, else in the executable's .symtab), calls it and
// keeps a copy of its text. Returns whether the program has one.
bool FindEmbeddedSuppressions();

// Writes the kept text as a kSuppressions record in its own chunk; nothing when there is none.
void WriteEmbeddedSuppressions();

}  // namespace allocprof::shim

#endif  // ALLOCPROF_SHIM_EMBEDDED_SUPPRESSIONS_H_
