#!/usr/bin/env bash
# Instructions per allocation+free pair on the program's thread and on the shim's compression
# thread, from callgrind --separate-threads=yes (repeatable on a loaded machine).
#
# usage: bench/offload_split.sh BUILD_DIR [CHURN_ARGS...]   (default churn args: --large-permille 0)
#
# Runs one churn worker at N = 200,000 and 400,000 pairs with the same shim twice:
# ALLOCPROF_TEST_OFFLOAD=off (every chunk compressed on the thread that filled it, as
# bench/stages.sh measures) and on (the compression thread compresses full chunks). The flush
# interval is 60 s: under valgrind a chunk takes longer than the default 200 ms to fill, and the
# ticker's idle flushes would compress on the ticker instead. Prints, per setting, the marginal
# instructions per pair ((count at 400,000 - count at 200,000) / 200,000) of the program's
# worker thread and of the compression thread, and their totals at 400,000. Valgrind runs one
# thread at a time, so now and then the worker fills its next buffer before the compression thread
# has run and compresses the waiting chunk itself (as designed): compare the totals, too.
set -euo pipefail
export LC_ALL=C
[[ $# -ge 1 ]] || { echo "usage: bench/offload_split.sh BUILD_DIR [CHURN_ARGS...]" >&2; exit 2; }
B=$(cd "$1" && pwd); shift
ARGS=("$@"); [[ ${#ARGS[@]} -gt 0 ]] || ARGS=(--large-permille 0)
for f in "$B/bench/churn" "$B/liballocprof.so"; do
  [[ -e $f ]] || { echo "bench/offload_split.sh: $f missing (make all $B/bench/churn)" >&2; exit 1; }
done
command -v valgrind >/dev/null || { echo "bench/offload_split.sh: valgrind not installed" >&2; exit 1; }
W=$(mktemp -d); [[ -n ${SPLIT_KEEP:-} ]] && echo "keeping $W" >&2 || trap 'rm -rf "$W"' EXIT
N1=200000 N2=400000

total() { callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(/,/, "", $1); print $1; exit }'; }
# The thread files of one run: the compression thread is the one that ran OffloadMain; the worker
# is the busiest of the others.
threads() {  # threads MODE N: prints "WORKER_COUNT OFFLOAD_COUNT"
  local worker=0 offload=0 f n
  for f in "$W/cg.$1.$2"-*; do
    n=$(total "$f")
    if callgrind_annotate --inclusive=yes "$f" 2>/dev/null | grep 'OffloadMain' >/dev/null; then  # no -q: pipefail and SIGPIPE
      offload=$n
    elif ((n > worker)); then
      worker=$n
    fi
  done
  echo "$worker $offload"
}

for mode in off on; do
  for n in $N1 $N2; do
    env LD_PRELOAD="$B/liballocprof.so" ALLOCPROF_OUTPUT="$W/t.$mode.$n.trace" ALLOCPROF_FLUSH_MS=60000 \
      ALLOCPROF_TEST_OFFLOAD=$mode valgrind --tool=callgrind --separate-threads=yes \
      --callgrind-out-file="$W/cg.$mode.$n" "$B/bench/churn" "${ARGS[@]}" --threads 1 --allocs "$n" \
      >/dev/null 2>"$W/err.$mode.$n"
  done
  read -r w1 o1 <<<"$(threads $mode $N1)"
  read -r w2 o2 <<<"$(threads $mode $N2)"
  awk -v m=$mode -v w1="$w1" -v w2="$w2" -v o1="$o1" -v o2="$o2" -v n=$((N2 - N1)) 'BEGIN {
    printf "offload %-3s  worker %5.0f per pair (%.1f M at 400,000)  compression thread %4.0f per pair (%.1f M)\n",
      m, (w2 - w1) / n, w2 / 1e6, (o2 - o1) / n, o2 / 1e6 }'
done
