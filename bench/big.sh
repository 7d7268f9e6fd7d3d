#!/usr/bin/env bash
# The analyzer at scale: synthesizes churn-like traces of 100 million and 1 billion events with
# bench/synth_trace and analyzes each one, reporting seconds, seconds per million events and peak
# RSS, and checking that the analysis reports exactly the totals the synthesizer generated.
#
# usage: bash bench/big.sh BUILD_DIR [--events N[,N...]] [--dir DIR] [--synth-args "ARGS"]
#
# Each trace is written to DIR (default: a mktemp -d under /tmp), analyzed, then deleted before the
# next one is made; a 1G-event trace takes about 4 GB. Writes the table to bench/results/big.md.
set -euo pipefail
export LC_ALL=C
die() { echo "bench/big: $*" >&2; exit 1; }
[[ $# -ge 1 ]] || die "usage: bash bench/big.sh BUILD_DIR [--events N[,N...]] [--dir DIR] [--synth-args \"ARGS\"]"
BUILD_DIR=$(cd "$1" && pwd); shift
SIZES=100M,1G
DIR=
SYNTH_ARGS="--threads 4 --window 4096 --stacks 2000"
while [[ $# -gt 0 ]]; do
  case $1 in
    --events) SIZES=$2; shift ;;
    --dir) DIR=$2; shift ;;
    --synth-args) SYNTH_ARGS=$2; shift ;;
    *) die "unknown argument: $1" ;;
  esac
  shift
done
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ALLOCPROF=$BUILD_DIR/allocprof
SYNTH=$BUILD_DIR/bench/synth_trace
[[ -x $SYNTH ]] || die "$SYNTH not built (make $BUILD_DIR/bench/synth_trace)"
OWN_DIR=0
if [[ -z $DIR ]]; then
  DIR=$(mktemp -d)
  OWN_DIR=1
fi
mkdir -p "$DIR" "$ROOT/bench/results"
TRACE=$DIR/big.trace
cleanup() {
  rm -f "$TRACE" "$DIR/want" "$DIR/out.json" "$DIR/synth.time" "$DIR/analyze.time"
  if [[ $OWN_DIR == 1 ]]; then rm -rf "$DIR"; fi
}
trap cleanup EXIT
RESULTS=$ROOT/bench/results/big.md

rows=()
IFS=, read -r -a sizes <<<"$SIZES"
for n in "${sizes[@]}"; do
  rm -f "$TRACE"
  echo "bench/big: synthesizing $n events ($SYNTH_ARGS) into $TRACE" >&2
  # shellcheck disable=SC2086
  /usr/bin/time -f "%e" -o "$DIR/synth.time" "$SYNTH" -o "$TRACE" --events "$n" $SYNTH_ARGS > "$DIR/want"
  events=$(awk '$1 == "events" {print $2}' "$DIR/want")
  bytes=$(stat -c %s "$TRACE")
  echo "bench/big: $events events, $((bytes / 1048576)) MiB, made in $(cat "$DIR/synth.time") s; analyzing" >&2
  /usr/bin/time -f "%e %U %S %M" -o "$DIR/analyze.time" "$ALLOCPROF" analyze --json "$DIR/out.json" "$TRACE" > /dev/null
  read -r secs user sys rss_kb < "$DIR/analyze.time"
  # The analysis must report exactly what was generated.
  for key in allocations frees bytes_allocated bytes_freed peak_live_bytes leaked_allocations leaked_bytes; do
    want=$(awk -v k="$key" '$1 == k {print $2}' "$DIR/want")
    grep -q "\"$key\":$want[,}]" "$DIR/out.json" || die "$n events: analyze reports a different $key than the $want generated"
  done
  live=$(awk '$1 == "leaked_allocations" {print $2}' "$DIR/want")
  per_m=$(awk -v t="$secs" -v e="$events" 'BEGIN {printf "%.4f", t / (e / 1e6)}')
  rows+=("| $events | $((bytes / 1048576)) MiB | $live | $secs | $user + $sys | $per_m | $((rss_kb / 1024)) MiB |")
  echo "bench/big: ${rows[-1]}" >&2
  rm -f "$TRACE"
done
{
  echo "Analyzer at scale — synthesized churn-like traces ($SYNTH_ARGS), totals checked exactly"
  echo "($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); command: bash bench/big.sh ${BUILD_DIR#$ROOT/} --events $SIZES)"
  echo
  echo "| events | trace | live blocks at end | analyze s (wall) | user + sys s | s per million events | peak RSS |"
  echo "|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
} | tee "$RESULTS"
