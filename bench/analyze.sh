#!/usr/bin/env bash
# Measures the analyzer against heaptrack_print on the same workload.
#
# usage: bench/analyze.sh BUILD_DIR [--quick] [--rounds N]
#
# Records the churn workload once under allocprof and once under heaptrack, then times, in
# interleaved rounds, `allocprof analyze` (full report, symbolized) on the allocprof trace,
# `heaptrack_print` (its default report) on the heaptrack file, and `allocprof diff` of two such
# traces. Prints seconds per million events (events = allocations + frees, counted by allocprof)
# and peak RSS, medians over the rounds, and writes the table to bench/results/analyze[-quick].md.
set -euo pipefail
export LC_ALL=C
die() { echo "bench/analyze: $*" >&2; exit 1; }
[[ $# -ge 1 ]] || die "usage: bench/analyze.sh BUILD_DIR [--quick] [--rounds N]"
BUILD_DIR=$(cd "$1" && pwd); shift
QUICK=0; ROUNDS=5
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1; ROUNDS=1 ;;
    --rounds) ROUNDS=$2; shift ;;
    *) die "unknown argument: $1" ;;
  esac
  shift
done
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ALLOCPROF=$BUILD_DIR/allocprof
CHURN=$BUILD_DIR/bench/churn
command -v heaptrack >/dev/null && command -v heaptrack_print >/dev/null || die "heaptrack not installed"
ALLOCS=$([[ $QUICK == 1 ]] && echo 800000 || echo 8000000)
RESULTS=$ROOT/bench/results/analyze.md
[[ $QUICK == 1 ]] && RESULTS=$ROOT/bench/results/analyze-quick.md
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
CHURN_ARGS=(--threads 2 --allocs "$ALLOCS" --large-permille 0 --seed 42)

"$ALLOCPROF" run -q -o "$WORK/churn.trace" -- "$CHURN" "${CHURN_ARGS[@]}" >/dev/null
(cd "$WORK" && heaptrack -o "$WORK/churn.heaptrack" "$CHURN" "${CHURN_ARGS[@]}" >/dev/null 2>&1)
HT=$(compgen -G "$WORK/churn.heaptrack*.[gz][zs]*" | head -1 || true)
[[ -n $HT ]] || die "heaptrack wrote no file"
EVENTS=$("$ALLOCPROF" dump --summary "$WORK/churn.trace" | awk '$1 == "events" {print $2}')

measure() {  # prints "seconds max_rss_kb"
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; die "failed: $*"; }
  cat "$WORK/time"
}
# The diff's second side: the same workload with another seed (a different trace, same size).
"$ALLOCPROF" run -q -o "$WORK/churn2.trace" -- "$CHURN" --threads 2 --allocs "$ALLOCS" --large-permille 0 --seed 7 >/dev/null
declare -a A_T A_M H_T H_M D_T N_T S_T S_M
for ((r = 0; r < ROUNDS; r++)); do
  read -r t m < <(measure "$ALLOCPROF" analyze "$WORK/churn.trace"); A_T+=("$t"); A_M+=("$m")
  read -r t m < <(measure heaptrack_print "$HT"); H_T+=("$t"); H_M+=("$m")
  read -r t m < <(measure "$ALLOCPROF" analyze --no-symbols "$WORK/churn.trace"); N_T+=("$t")
  # The same analysis with decoding on the analysing thread: what the reader thread gains.
  read -r t m < <(ALLOCPROF_READER_THREAD=0 measure "$ALLOCPROF" analyze "$WORK/churn.trace"); S_T+=("$t"); S_M+=("$m")
  read -r t m < <(measure "$ALLOCPROF" diff --fail-if 'allocations>100x' "$WORK/churn.trace" "$WORK/churn2.trace"); D_T+=("$t")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
at=$(median "${A_T[@]}"); am=$(median "${A_M[@]}"); ht=$(median "${H_T[@]}"); hm=$(median "${H_M[@]}")
nt=$(median "${N_T[@]}"); dt=$(median "${D_T[@]}"); st=$(median "${S_T[@]}"); sm=$(median "${S_M[@]}")
per_m() { awk -v t="$1" -v e="$EVENTS" 'BEGIN {printf "%.3f", t / (e / 1e6)}'; }
{
  echo "Analyzer vs heaptrack_print — churn (--large-permille 0), $EVENTS events, $ROUNDS interleaved rounds, medians"
  echo "($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores; command: bash bench/analyze.sh ${BUILD_DIR#$ROOT/}$([[ $QUICK == 1 ]] && echo ' --quick' || true))"
  echo
  echo "| analyzer | seconds | s per million events | peak RSS | trace file |"
  echo "|---|---:|---:|---:|---:|"
  echo "| allocprof analyze (symbolized) | $at | $(per_m "$at") | $((am / 1024)) MiB | $(( $(stat -c %s "$WORK/churn.trace") / 1048576 )) MiB |"
  echo "| allocprof analyze --no-symbols | $nt | $(per_m "$nt") | | |"
  echo "| allocprof analyze, one thread (ALLOCPROF_READER_THREAD=0) | $st | $(per_m "$st") | $((sm / 1024)) MiB | |"
  echo "| heaptrack_print | $ht | $(per_m "$ht") | $((hm / 1024)) MiB | $(( $(stat -c %s "$HT") / 1048576 )) MiB |"
  echo "| allocprof diff (two such traces) | $dt | | | |"
  echo
  awk -v d="$dt" -v a="$at" 'BEGIN {printf "diff of two traces / analyzing one: %.2fx (target < 2x of analyzing both = < 4x of one)\n", d / a}'
  awk -v a="$at" -v h="$ht" 'BEGIN {printf "heaptrack_print time / allocprof analyze time: %.2fx\n", h / a}'
  awk -v a="$at" -v s="$st" 'BEGIN {printf "one thread / with the reader thread: %.2fx\n", s / a}'
} | tee "$RESULTS"
