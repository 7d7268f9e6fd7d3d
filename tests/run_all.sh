#!/usr/bin/env bash
# Runs every test suite and ends with one summary line, "N passed, N failed".
set -u
build=${1:-build}
passed=0
failed=0
status=0

run_gtest() {
  local name=$1
  shift
  local log
  log=$(mktemp)
  echo "== $name"
  "$@" --gtest_brief=1 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local p f
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
  if [ "$rc" -ne 0 ]; then
    status=1
    [ -z "$f" ] && failed=$((failed + 1))
  fi
  rm -f "$log"
}

run_gtest unit "$build/tests/unit_tests"
run_gtest integration "$build/tests/integration_tests"

# The report package (reports/): Debian's matplotlib and pytest live under /usr/bin/python3. Counts
# come from pytest's closing line ("2 failed, 114 passed, 1 error in 9.8s").
echo "== reports (pytest)"
log=$(mktemp)
(cd "$(dirname "$0")/.." && /usr/bin/python3 -m pytest -q reports/tests) 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
summary=$(grep -E '[0-9]+ (passed|failed|errors?)' "$log" | tail -1)
p=$(grep -oE '[0-9]+ passed' <<<"$summary" | grep -oE '[0-9]+')
f=$(grep -oE '[0-9]+ failed' <<<"$summary" | grep -oE '[0-9]+')
e=$(grep -oE '[0-9]+ errors?' <<<"$summary" | grep -oE '[0-9]+')
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-0} + ${e:-0}))
if [ "$rc" -ne 0 ]; then
  status=1
  [ -z "$f$e" ] && failed=$((failed + 1))
fi
rm -f "$log"

# Real programs under the shim, short sizes (make stress runs the full matrix and rewrites
# docs/reliability.md; this one writes its table into the build directory).
echo "== stress (real programs, short)"
if bash tests/stress/run.sh "$build" --short > "$build/stress-short.log" 2>&1; then
  tail -1 "$build/stress-short.log"
  passed=$((passed + 1))
else
  cat "$build/stress-short.log"
  failed=$((failed + 1))
  status=1
fi

# A short, seeded libFuzzer pass over the reader (the full one is `make fuzz`).
echo "== fuzz (trace reader and diff JSON input, short)"
if make --no-print-directory fuzz-smoke BUILD="$build" > "$build/fuzz-smoke.log" 2>&1; then
  tail -2 "$build/fuzz-smoke.log"
  passed=$((passed + 1))
else
  cat "$build/fuzz-smoke.log"
  failed=$((failed + 1))
  status=1
fi

echo "$passed passed, $failed failed"
exit $status
