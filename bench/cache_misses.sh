#!/usr/bin/env bash
# Cache misses per allocation+free pair on churn, from callgrind's cache simulation: what the shim
# costs that instruction counts do not show. The machines have no hardware counters, so the caches
# are simulated, with sizes pinned here rather than read from the host (the figures must not
# change with the machine): L1d 48 KiB 12-way, last level 2 MiB 16-way (the per-core L2 of the
# Xeons these benchmarks ran on; their L3 is shared by both cores and every other process).
#
# usage: bench/cache_misses.sh BUILD_DIR [CHURN_ARGS...]   (default: --large-permille 0)
#
# One churn worker, uninstrumented and under the full trace, at N = 200,000 and 400,000 pairs; the
# marginal cost per pair cancels start-up. Misses are split into the program's side (churn's own
# code and the allocator it calls: the same functions run uninstrumented) and the shim's (its
# hooks, encoder, stack walk, zstd). Valgrind runs the compression thread on the same simulated
# cache as the program's, which is how they share a core when the program keeps both busy.
set -euo pipefail
export LC_ALL=C
[[ $# -ge 1 ]] || { echo "usage: bench/cache_misses.sh BUILD_DIR [CHURN_ARGS...]" >&2; exit 2; }
B=$(cd "$1" && pwd); shift
ARGS=("$@"); [[ ${#ARGS[@]} -gt 0 ]] || ARGS=(--large-permille 0)
for f in "$B/bench/churn" "$B/liballocprof.so"; do
  [[ -e $f ]] || { echo "bench/cache_misses.sh: $f missing (make all $B/bench/churn)" >&2; exit 1; }
done
command -v valgrind >/dev/null || { echo "bench/cache_misses.sh: valgrind not installed" >&2; exit 1; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
N1=200000 N2=400000
CACHES=(--cache-sim=yes --D1=49152,12,64 --LL=2097152,16,64)

cg() {  # cg TAG N [ENV...]: per-function exclusive costs in $W/TAG.N.txt
  local tag=$1 n=$2; shift 2
  (env "$@" valgrind --tool=callgrind "${CACHES[@]}" --callgrind-out-file="$W/$tag.$n" \
    "$B/bench/churn" "${ARGS[@]}" --threads 1 --seed 42 --allocs "$n" >/dev/null 2>"$W/$tag.$n.err")
  callgrind_annotate --show=Ir,D1mr,D1mw,DLmr,DLmw --threshold=100 --auto=no "$W/$tag.$n" >"$W/$tag.$n.txt" 2>/dev/null
}
# The program's side: churn's code (and the C++ headers inlined into it) and glibc's allocator and
# memset. Everything else that the full trace adds is the shim's.
PROGRAM_RE='bench/churn\.cc:|/usr/include/c\+\+/.*(release|acquire|_M_run)|malloc\.c:|memset'
# Sums WHICH (all | program) of column COL (1 Ir, 2 D1mr, 3 D1mw, 4 DLmr, 5 DLmw) in TAG.N. A cell
# is a count ("." for none) followed by its share in parentheses, which may hold a space.
sum() {
  awk -v which="$3" -v col="$4" -v re="$PROGRAM_RE" '
    function cell(   i, n, v) {
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^\(/ || $i ~ /%\)$/) continue
        if (++n == col) { v = $i; gsub(/,/, "", v); return v == "." ? 0 : v + 0 }
      }
      return 0
    }
    /PROGRAM TOTALS/ { if (which == "all") { print cell(); exit } listed = 1; next }
    listed && /^ *[0-9,.]+ / && $0 ~ re { s += cell() }
    END { if (which == "program") print s + 0 }' "$W/$1.$2.txt"
}
per_pair() { awk -v a="$1" -v b="$2" -v n=$((N2 - N1)) 'BEGIN { printf "%.2f", (b - a) / n }'; }
cell() { per_pair "$(sum "$1" $N1 "$2" "$3")" "$(sum "$1" $N2 "$2" "$3")"; }

TRACE=(LD_PRELOAD="$B/liballocprof.so" ALLOCPROF_OUTPUT="$W/t.trace")
for n in $N1 $N2; do
  cg base $n
  cg full $n "${TRACE[@]}"
done
echo "churn ${ARGS[*]}, one worker; per allocation+free pair (marginal, $N1 -> $N2 pairs);"
echo "simulated L1d 48 KiB, last level 2 MiB"
echo
echo "| | instructions | L1d read misses | L1d write misses | LL read misses | LL write misses |"
echo "|---|---:|---:|---:|---:|---:|"
row() {  # row LABEL VALUES...
  local label=$1; shift
  printf '| %s |' "$label"; printf ' %s |' "$@"; echo
}
base=() full=() prog=()
for col in 1 2 3 4 5; do
  base+=("$(cell base all $col)")
  full+=("$(cell full all $col)")
  prog+=("$(per_pair 0 "$(awk -v f="$(sum full $N2 program $col)" -v b="$(sum base $N2 program $col)" \
    -v f1="$(sum full $N1 program $col)" -v b1="$(sum base $N1 program $col)" 'BEGIN { print (f - b) - (f1 - b1) }')")")
done
added=() shim=()
for i in 0 1 2 3 4; do
  added+=("$(awk -v f="${full[$i]}" -v b="${base[$i]}" 'BEGIN { printf "%.2f", f - b }')")
  shim+=("$(awk -v a="${added[$i]}" -v p="${prog[$i]}" 'BEGIN { printf "%.2f", a - p }')")
done
row "uninstrumented" "${base[@]}"
row "full trace" "${full[@]}"
row "added by the full trace" "${added[@]}"
row "… in the program's own code (churn, the allocator, memset)" "${prog[@]}"
row "… in the shim's code (hooks, encoder, walk, zstd, and the rest)" "${shim[@]}"
