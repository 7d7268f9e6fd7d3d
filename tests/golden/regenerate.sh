#!/usr/bin/env bash
# Re-records the golden traces and their expected analyzer output. Run it on purpose, when the
# trace format or the analyzer's output changes, and review the diff before committing:
#   make test-programs && bash tests/golden/regenerate.sh build             # traces and outputs
#   bash tests/golden/regenerate.sh build --outputs-only                     # outputs of the same traces
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if [ "${2:-}" != "--outputs-only" ]; then
run() {
  local name=$1
  shift
  rm -f "$name.trace" "$name.trace".*
  "$build/allocprof" run -q -o "$name.trace" -- "$@" >/dev/null || true  # exit codes are the programs'
  rm -f "$name.trace".*  # child processes, if any, are not part of the goldens
}
# v3_*.trace are kept as recorded by a version-3 shim (not re-recorded here): their reports check
# that this reader still reads the older format.
run new_array "$build/tests/programs/entry_points" "new[]" 100
run realloc "$build/tests/programs/entry_points" realloc 50
run mismatch "$build/tests/programs/entry_points" mismatch 20
run threads "$build/tests/programs/xthread_free" 2 2000
run exit_early "$build/tests/programs/exits" _exit 40
# A producer killed mid-write: the same trace cut inside its last chunk.
head -c $(( $(stat -c %s threads.trace) - 100 )) threads.trace > truncated.trace
fi
for trace in *.trace; do
  name=${trace%.trace}
  "$build/allocprof" analyze --no-symbols --json "$name.json" "$trace" > "$name.txt"
done
echo "regenerated: $(ls *.trace | tr '\n' ' ')"
