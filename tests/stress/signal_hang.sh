#!/usr/bin/env bash
# tests/stress/signal_hang.sh BUILD_DIR [RUNS] [THREADS] [ROUNDS]
#
# Issue 17's hang, run in a loop: tests/programs/signal_alloc (signal handlers that allocate on
# every thread, the thread under them allocating too) under `allocprof run`, RUNS times (default
# 100), each under `timeout` (TIMEOUT seconds, default 60; a run takes about a second). A run
# that times out is a hang (the shim once held glibc's arena lock for zstd on the program's
# thread while a handler's malloc waited for it); each run's trace must also match the program's
# own tally of the handlers' allocations. Prints one line per bad run and "N runs, H hung,
# F failed" at the end; exits 1 if any run hung or failed. ALLOCPROF_SHIM=PATH runs another shim.
set -u
if [[ $# -lt 1 || ! -d "$1" ]]; then
  echo "usage: $0 BUILD_DIR [RUNS] [THREADS] [ROUNDS]" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd)
RUNS=${2:-100}
THREADS=${3:-4}
ROUNDS=${4:-60000}
WORK=$(mktemp -d /tmp/allocprof-sighang.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
hung=0
failed=0
for ((i = 1; i <= RUNS; i++)); do
  rm -f "$WORK/t.trace"
  timeout -s KILL "${TIMEOUT:-60}" "$BUILD/allocprof" run -q -o "$WORK/t.trace" -- \
    "$BUILD/tests/programs/signal_alloc" "$THREADS" "$ROUNDS" >"$WORK/out" 2>"$WORK/err"
  rc=$?
  if [[ $rc == 137 || $rc == 124 ]]; then
    hung=$((hung + 1))
    echo "run $i: hung (killed after ${TIMEOUT:-60} s)"   # timeout kills its whole process group
    continue
  fi
  if [[ $rc != 0 ]]; then
    failed=$((failed + 1))
    echo "run $i: exit $rc: $(head -c 300 "$WORK/err")"
    continue
  fi
  want=$(sed -n 's/^handler allocations //p' "$WORK/out")
  got=$("$BUILD/allocprof" dump "$WORK/t.trace" 2>/dev/null | grep -cE '^.*alloc.* size=(2047|3001)( |$)' || true)
  if [[ "$got" != "$want" ]]; then
    failed=$((failed + 1))
    echo "run $i: trace has $got handler allocations, the program counted $want"
  fi
done
echo "$RUNS runs, $hung hung, $((failed)) failed"
[[ $hung == 0 && $failed == 0 ]]
