#!/usr/bin/env bash
# Runs every test suite and ends with one summary line, "N passed, N failed".
set -u
build=${1:-build}
passed=0
failed=0
status=0

# Counts tests, not binaries: failed = ran - passed - skipped, read from GoogleTest's closing lines.
# A binary that dies before them (a crash, an abort) counts every test it lists as failed.
run_gtest() {
  local name=$1
  shift
  local log
  log=$(mktemp)
  echo "== $name"
  "$@" --gtest_brief=1 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local ran p s
  ran=$(sed -n 's/^\[==========\] \([0-9]*\) tests\{0,1\} from .* ran\..*/\1/p' "$log" | tail -1)
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) tests\{0,1\}\..*/\1/p' "$log" | tail -1)
  s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) tests\{0,1\}.*/\1/p' "$log" | tail -1)
  if [ -z "$ran" ]; then
    ran=$("$@" --gtest_list_tests 2>/dev/null | grep -c '^  ')
    echo "$name: the test binary ended before its summary (exit $rc); counting its $ran tests as failed"
    p=0 s=0
    [ "$ran" -gt 0 ] || ran=1
  fi
  local f=$((ran - ${p:-0} - ${s:-0}))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "$name: every test passed but the binary exited $rc (a crash at exit?); counted as one failure"
    f=1
  fi
  passed=$((passed + ${p:-0}))
  failed=$((failed + f))
  [ "$f" -eq 0 ] || status=1
  rm -f "$log"
}

run_gtest unit "$build/tests/unit_tests"
run_gtest integration "$build/tests/integration_tests"

# The same tests again in an environment unlike a developer's, to catch hidden assumptions: one
# CPU, a TMPDIR with a space in it, every shim option exported with a non-default value (tests
# must run their programs with the options they choose, so the harness keeps these from them),
# the analyzer's single-threaded reader (which must not change a figure), another time zone.
foreign_tmp="$(cd "$build" && pwd)/tmp/foreign env"
mkdir -p "$foreign_tmp"
foreign=(env TMPDIR="$foreign_tmp" TZ=Pacific/Chatham LC_ALL=C.UTF-8 ALLOCPROF_READER_THREAD=0
         ALLOCPROF_OUTPUT=/nonexistent/dir/x.trace ALLOCPROF_SAMPLE=64KiB ALLOCPROF_UNWIND=none ALLOCPROF_DEPTH=2
         ALLOCPROF_FOLLOW=0 ALLOCPROF_QUIET=1 ALLOCPROF_START_PAUSED=1 ALLOCPROF_FLUSH_MS=7 taskset -c 0)
run_gtest "unit (foreign environment)" "${foreign[@]}" "$build/tests/unit_tests"
run_gtest "integration (foreign environment)" "${foreign[@]}" "$build/tests/integration_tests"

# Every include follows the layer rules (README, "Architecture"); violations are printed with
# their file and line.
echo "== layers"
if /usr/bin/python3 "$(dirname "$0")/../scripts/check_layers.py"; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  status=1
fi

# Commit subjects fit on one line of `git log --oneline` (72 characters).
echo "== commit subjects"
if bash "$(dirname "$0")/../scripts/check_commit_subjects.sh"; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
  status=1
fi

# Every C++ file formatted as .clang-format says (`make format` fixes it).
echo "== format"
if make --no-print-directory -C "$(dirname "$0")/.." format-check; then
  echo "every C++ file is formatted"
  passed=$((passed + 1))
else
  echo "format: the files above differ from .clang-format's style; run 'make format'"
  failed=$((failed + 1))
  status=1
fi

# The report package (reports/) and the tools' own tests: Debian's matplotlib and pytest live under
# /usr/bin/python3. Counts come from pytest's closing line ("2 failed, 114 passed, 1 error in 9.8s").
echo "== reports and tools (pytest)"
log=$(mktemp)
(cd "$(dirname "$0")/.." && /usr/bin/python3 -m pytest -q reports/tests tests/tools) 2>&1 | tee "$log"
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

# report.html in Debian's chromium, headless, driven by puppeteer-core (tests/browser/); counts come
# from node's test runner ("# pass 6", "# fail 0").
echo "== report.html in a browser (node --test tests/browser/)"
log=$(mktemp)
(cd "$(dirname "$0")/.." && BUILD="$build" node --test tests/browser/) > "$log" 2>&1
rc=$?
grep -E '^(not ok|ok) ' "$log"
p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -1)
f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -1)
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-0}))
if [ "$rc" -ne 0 ]; then
  status=1
  grep -A30 '^not ok' "$log" | head -120
  [ "${f:-0}" -eq 0 ] && failed=$((failed + 1))
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
