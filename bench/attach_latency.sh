#!/usr/bin/env bash
# Attach latency: how long `allocprof attach` takes to return, from its start to "recording", on a
# fresh alloc_loop (tests/programs/alloc_loop.cc: one thread allocating in a loop) each time.
#
# usage: bench/attach_latency.sh [ALLOCPROF [ROUNDS [TARGET ARGS...]]]
#   ALLOCPROF  the allocprof binary (default build/allocprof); its shim is found next to it
#   ROUNDS     attaches to time (default 10); prints each, then the median
#   TARGET     the program to attach to (default build/tests/programs/alloc_loop)
# Example: bench/attach_latency.sh build/allocprof 10
#   attach 1: 23.1 ms ... median of 10: 24.0 ms
set -euo pipefail
allocprof=${1:-build/allocprof}
rounds=${2:-10}
shift $(( $# > 2 ? 2 : $# ))
target=("$@")
[ ${#target[@]} -gt 0 ] || target=(build/tests/programs/alloc_loop)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
trap "" PIPE  # a target that died must not take the script with it
times=()
for i in $(seq 1 "$rounds"); do
  mkfifo "$work/in"
  "${target[@]}" <"$work/in" >"$work/out" 2>&1 &
  pid=$!
  exec 3>"$work/in"
  until grep -q ready "$work/out" 2>/dev/null; do sleep 0.01; done
  start=$(date +%s%N)
  "$allocprof" attach -q -o "$work/t$i.trace" "$pid" || echo "attach $i: allocprof exited with $?"
  end=$(date +%s%N)
  echo stop >&3 2>/dev/null || true  # (the target may have died)
  exec 3>&-
  status=0
  wait "$pid" || status=$?
  rm -f "$work/in"
  ms=$(awk -v ns=$((end - start)) 'BEGIN { printf "%.1f", ns / 1e6 }')
  if [ "$status" -ne 0 ] || ! grep -q "every round correct" "$work/out"; then
    echo "attach $i: $ms ms, but the target then failed (exit $status): $(tail -c 200 "$work/out")"
  else
    echo "attach $i: $ms ms"
  fi
  times+=("$ms")
done
printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END {
  m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
  printf "median of %d: %.1f ms (min %.1f, max %.1f)\n", NR, m, v[1], v[NR] }'
