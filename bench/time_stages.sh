#!/usr/bin/env bash
# CPU time per allocation+free pair by stage of the shim, measured: perf's cpu-clock samples (the
# machines have no hardware counters, so no cycles) of the two-thread churn, uninstrumented, under
# the no-op interposer and under the full trace, interleaved over ROUNDS rounds and summed. Where
# bench/stages.sh counts instructions, this shows what they cost, including what instructions do
# not show: cache misses in the program's own code, page faults, and the compression thread's share
# of the two cores. The TSC clock's reads are inlined into the hooks and counted there; the "clock"
# stage is the vDSO's (every sample in it, named or not), which serves only before calibration or
# where the TSC may not (a host whose kernel clocksource is not "tsc", such as kvm-clock).
#
# usage: bench/time_stages.sh BUILD_DIR [ROUNDS] [CHURN_ARGS...]
#   (defaults: 3 rounds; --threads 2 --allocs 4000000 --window 4096 --seed 42 --large-permille 0)
#
# A sample is attributed by the symbol it landed in. Code the compiler inlined is counted where it
# landed: the free's encoding and the free cache are inlined into the hooks (MallocSlow, FreeSlow,
# ...), so "hooks" holds them. "program" is everything outside the shim, the clock and the
# compression thread, minus the same in the uninstrumented run: what the shim makes the program's
# own code and the allocator cost (cache and TLB misses, page faults). Needs an idle machine:
# another process's cache traffic shows up as "program".
set -euo pipefail
export LC_ALL=C
[[ $# -ge 1 ]] || { echo "usage: bench/time_stages.sh BUILD_DIR [ROUNDS] [CHURN_ARGS...]" >&2; exit 2; }
B=$(cd "$1" && pwd); shift
ROUNDS=${1:-3}; [[ $# -ge 1 ]] && shift
ARGS=("$@")
[[ ${#ARGS[@]} -gt 0 ]] || ARGS=(--threads 2 --allocs 4000000 --window 4096 --seed 42 --large-permille 0)
command -v perf >/dev/null || { echo "bench/time_stages.sh: perf missing (scripts/install-deps.sh installs linux-perf)" >&2; exit 1; }
for f in "$B/bench/churn" "$B/bench/libnoop_interposer.so" "$B/liballocprof.so"; do
  [[ -e $f ]] || { echo "bench/time_stages.sh: $f missing (make all $B/bench/churn $B/bench/libnoop_interposer.so)" >&2; exit 1; }
done
# Pairs per run: --threads times --allocs.
threads=1 allocs=0
for ((i = 0; i < ${#ARGS[@]} - 1; i++)); do
  [[ ${ARGS[i]} == --threads ]] && threads=${ARGS[i + 1]}
  [[ ${ARGS[i]} == --allocs ]] && allocs=${ARGS[i + 1]}
done
pairs=$((threads * allocs))
[[ $pairs -gt 0 ]] || { echo "bench/time_stages.sh: CHURN_ARGS need --allocs" >&2; exit 2; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT

run() {  # run TAG ROUND [ENV...]: perf samples of one churn run, as "thread<TAB>dso<TAB>symbol<TAB>samples" lines
  local tag=$1 round=$2; shift 2
  env "$@" perf record -q -e cpu-clock -F 4000 -o "$W/$tag.$round.data" "$B/bench/churn" "${ARGS[@]}" >/dev/null 2>"$W/$tag.err" ||
    { echo "bench/time_stages.sh: $tag failed:" >&2; tail -5 "$W/$tag.err" >&2; exit 1; }
  # cpu-clock's period is in ns: each line's period is the CPU time its samples stand for.
  perf report -i "$W/$tag.$round.data" --stdio -g none -t $'\t' -F period,comm,dso,sym 2>/dev/null |
    awk -F'\t' '!/^#/ && NF >= 4 { for (i = 1; i <= 4; i++) gsub(/^ +| +$/, "", $i); sub(/^\[.\] /, "", $4)
                                   print $2 "\t" $3 "\t" $4 "\t" $1 }' >>"$W/$tag.samples"
}
for ((r = 1; r <= ROUNDS; r++)); do
  run base $r
  run noop $r LD_PRELOAD="$B/bench/libnoop_interposer.so"
  run full $r LD_PRELOAD="$B/liballocprof.so" ALLOCPROF_OUTPUT="$W/t.trace"
done

# stage THREAD DSO SYMBOL: the stage a sample belongs to.
classify='
function stage(comm, dso, sym) {
  if (comm == "allocprof-zstd") return "compression thread";
  # The vDSO: perf names only its entry symbols; samples inside the read of the clock source (kvm-clock,
  # hyperv) land at bare [vdso] addresses, and the vDSO serves nothing else on these paths.
  if (sym ~ /clock_gettime/ || dso == "[vdso]") return "clock";
  if (sym ~ /^(ZSTD_|HUF_|FSE_|HIST_)/) return "compression on the program thread";
  if (dso ~ /liballocprof/) {
    if (sym ~ /CfiBacktrace|WalkMemo|unw_|_ULx86/) return "stack walk";
    if (sym ~ /InternStack|StackTable/) return "dedup";
    if (sym ~ /RecordEncoder|EncodeAlloc|HintHistory/) return "encode (allocations)";
    return "hooks (guard, lock, free cache, free encoding, dispatch)";
  }
  if (dso ~ /libnoop_interposer/) return "hooks (guard, lock, free cache, free encoding, dispatch)";
  if (dso ~ /kernel/) return "kernel (page faults, syscalls)";
  return "program (its code and the allocator)";
}'
tally() {  # tally TAG: "stage<TAB>ns per pair", the summed periods over pairs × rounds
  awk -F'\t' -v n="$((pairs * ROUNDS))" "$classify"' { s[stage($1, $2, $3)] += $4 } END { for (k in s) printf "%s\t%.1f\n", k, s[k] / n }' \
    "$W/$1.samples" | sort
}
tally base >"$W/base.t"; tally noop >"$W/noop.t"; tally full >"$W/full.t"
total() { awk -F'\t' '{ s += $2 } END { printf "%.1f", s }' "$W/$1.t"; }
get() { awk -F'\t' -v k="$2" '$1 == k { v = $2 } END { printf "%.1f", v + 0 }' "$W/$1.t"; }

echo "churn ${ARGS[*]}: CPU time per allocation+free pair, all threads (perf cpu-clock, 4 kHz), $ROUNDS interleaved rounds"
echo
echo "| run | ns per pair | added |"
echo "|---|---:|---:|"
b=$(total base)
for t in base noop full; do
  label=$([[ $t == base ]] && echo uninstrumented || ([[ $t == noop ]] && echo "no-op interposer" || echo "allocprof (full trace)"))
  echo "| $label | $(total $t) | $(awk -v a="$(total $t)" -v b="$b" 'BEGIN { printf "%+.1f", a - b }') |"
done
echo
echo "| stage of the full trace | ns per pair | share of the added time |"
echo "|---|---:|---:|"
added=$(awk -v a="$(total full)" -v b="$b" 'BEGIN { printf "%.1f", a - b }')
for s in "hooks (guard, lock, free cache, free encoding, dispatch)" "stack walk" "dedup" "encode (allocations)" "clock" \
         "compression on the program thread" "compression thread" "kernel (page faults, syscalls)" \
         "program (its code and the allocator)"; do
  v=$(awk -v f="$(get full "$s")" -v b="$(get base "$s")" 'BEGIN { printf "%.1f", f - b }')
  share=$(awk -v v="$v" -v a="$added" 'BEGIN { printf "%.0f%%", (a > 0 ? 100 * v / a : 0) }')
  note=""
  [[ $s == kernel* || $s == program* ]] && note=" (minus the uninstrumented run's)"
  echo "| $s$note | $v | $share |"
done
