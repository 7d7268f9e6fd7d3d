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
echo "== the report ($build/allocprof analyze --top 3 --json $out/demo.json $trace)"
"$build/allocprof" analyze --top 3 --json "$out/demo.json" "$trace"
echo
echo "trace: $trace, JSON report: $out/demo.json"
