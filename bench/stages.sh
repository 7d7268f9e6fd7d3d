#!/usr/bin/env bash
# Instructions per allocation+free pair, by stage of the shim, from callgrind (repeatable on a
# loaded machine; the machine has no hardware counters).
#
# usage: bench/stages.sh BUILD_DIR [CHURN_ARGS...]   (default churn args: --small)
#
# Runs one churn worker under callgrind at N = 200,000 and 400,000 pairs: uninstrumented, under the
# no-op interposer (bench/noop_interposer.cc, the floor of any preloaded tracer), the full trace and
# the 512 KiB sampled trace. The marginal cost per pair, (count at 400,000 − count at 200,000) /
# 200,000, cancels start-up. The full trace's cost is split by the inclusive cost of the functions
# of each stage; "entry" is the rest (the hooks, guard, errno, lock, free cache, mode dispatch).
# The flush thread is off (ALLOCPROF_FLUSH_MS=0): chunks are compressed and written on the
# program's thread when they fill, so "compress" and "flush" are the whole of that work.
set -euo pipefail
export LC_ALL=C
[[ $# -ge 1 ]] || { echo "usage: bench/stages.sh BUILD_DIR [CHURN_ARGS...]" >&2; exit 2; }
B=$(cd "$1" && pwd); shift
ARGS=("$@"); [[ ${#ARGS[@]} -gt 0 ]] || ARGS=(--small)
for f in "$B/bench/churn" "$B/bench/libnoop_interposer.so" "$B/liballocprof.so"; do
  [[ -e $f ]] || { echo "bench/stages.sh: $f missing (make all $B/bench/churn $B/bench/libnoop_interposer.so)" >&2; exit 1; }
done
command -v valgrind >/dev/null || { echo "bench/stages.sh: valgrind not installed" >&2; exit 1; }
W=$(mktemp -d); [[ -n ${STAGES_KEEP:-} ]] && echo "bench/stages.sh: keeping $W" >&2 || trap 'rm -rf "$W"' EXIT
N1=200000 N2=400000

cg() {  # cg TAG N [ENV...]: callgrind output file $W/TAG.N
  local tag=$1 n=$2; shift 2
  (env "$@" valgrind --tool=callgrind --callgrind-out-file="$W/$tag.$n" \
    "$B/bench/churn" "${ARGS[@]}" --threads 1 --allocs "$n" >/dev/null 2>"$W/$tag.$n.err")
  callgrind_annotate --inclusive=yes --threshold=100 "$W/$tag.$n" >"$W/$tag.$n.txt" 2>/dev/null
  callgrind_annotate --threshold=100 "$W/$tag.$n" >"$W/$tag.$n.self" 2>/dev/null
}
total() { awk '/PROGRAM TOTALS/ { gsub(/,/, "", $1); print $1; exit }' "$W/$1.$2.txt"; }
# Inclusive cost of the function whose name matches $3. callgrind_annotate lists a function once per
# source file its inlined code came from; the largest of those entries is the whole function.
fn() {
  awk -v re="$3" '/^ *[0-9,]+ \(/ && $0 ~ re { gsub(/,/, "", $1); if ($1 + 0 > m) m = $1 + 0 } END { print m + 0 }' \
    "$W/$1.$2.txt"
}
# Self cost of the lines whose source file and function match $3 (code inlined into a function is
# listed once per source file it came from).
lines() {
  awk -v re="$3" '/^ *[0-9,]+ \(/ && $0 ~ re { gsub(/,/, "", $1); s += $1 } END { print s + 0 }' "$W/$1.$2.self"
}
per_pair() { awk -v a="$1" -v b="$2" -v n=$((N2 - N1)) 'BEGIN { printf "%.0f", (b - a) / n }'; }

TRACE=(LD_PRELOAD="$B/liballocprof.so" ALLOCPROF_FLUSH_MS=0 ALLOCPROF_OUTPUT="$W/t.trace")
for n in $N1 $N2; do
  cg base $n
  cg noop $n LD_PRELOAD="$B/bench/libnoop_interposer.so"
  cg full $n "${TRACE[@]}"
  cg s512 $n "${TRACE[@]}" ALLOCPROF_SAMPLE=512KiB ALLOCPROF_SAMPLE_SEED=1
done
base=$(per_pair "$(total base $N1)" "$(total base $N2)")
noop=$(per_pair "$(total noop $N1)" "$(total noop $N2)")
full=$(per_pair "$(total full $N1)" "$(total full $N2)")
s512=$(per_pair "$(total s512 $N1)" "$(total s512 $N2)")
stage() { per_pair "$(fn full $N1 "$1")" "$(fn full $N2 "$1")"; }
walk=$(stage ':allocprof::shim::CfiBacktrace\\(')
dedup=$(stage ':allocprof::shim::InternStack\\(')
# A free's encoding (EncodeFree: the free cache's lookup and the encoder) is inlined into the free
# hooks; an older shim called it out of line.
free_re='(record_encoder|trace_format|free_cache)\\.h:\\(anonymous namespace\\)::(FreeSlow|ReleaseRecorded)\\('
free_encode=$(per_pair "$(lines full $N1 "$free_re")" "$(lines full $N2 "$free_re")")
encode=$(( $(stage ':allocprof::shim::RecordEncoder::Alloc\\(') + $(stage ':allocprof::shim::EncodeFree\\(') + free_encode ))
clock=$(stage ':clock_gettime')
flush=$(stage ':allocprof::shim::FlushLocked\\(')
zstd=$(stage ':ZSTD_compressStream2')
added=$((full - base))
entry=$((added - walk - dedup - encode - clock - flush))
echo "churn ${ARGS[*]}, one worker; instructions per allocation+free pair (marginal, $N1 -> $N2 pairs)"
echo
echo "| run | per pair | added to uninstrumented |"
echo "|---|---:|---:|"
echo "| uninstrumented | $base | — |"
echo "| no-op interposer | $noop | $((noop - base)) |"
echo "| allocprof --sample 512KiB | $s512 | $((s512 - base)) |"
echo "| allocprof (full trace) | $full | $added |"
echo
echo "| stage of the full trace | instructions per pair |"
echo "|---|---:|"
echo "| entry (hooks, guard, errno, lock, free cache, dispatch; includes the no-op floor $((noop - base))) | $entry |"
echo "| stack walk (CfiBacktrace) | $walk |"
echo "| dedup (InternStack) | $dedup |"
echo "| encode (RecordEncoder::Alloc, EncodeFree) | $encode |"
echo "| clock (clock_gettime, 2 per pair) | $clock |"
echo "| flush (FlushLocked), of which zstd | $flush ($zstd) |"
