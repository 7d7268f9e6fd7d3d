#!/usr/bin/env bash
# make demo: trace the built-in workload and show what the trace holds.
set -euo pipefail
build=${1:-build}
out=out/demo
mkdir -p "$out"
trace="$out/demo.trace"
echo "== running the demo workload under allocprof"
"$build/allocprof" run --force -o "$trace" -- "$build/examples/demo_workload"
echo
echo "== what the trace holds ($build/allocprof dump --summary $trace)"
"$build/allocprof" dump --summary "$trace"
echo
echo "== its first records ($build/allocprof dump $trace | head)"
"$build/allocprof" dump "$trace" | grep -m 12 -E ' (alloc|free|thread-start|process) ' || true
echo
echo "trace: $trace"
