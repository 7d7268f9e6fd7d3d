#!/usr/bin/env bash
# Measures allocprof's overhead against the uninstrumented program and heaptrack.
#
# usage: bench/run.sh BUILD_DIR [--quick] [--rounds N]
#   --quick      one round at ~1/10 the sizes (smoke run); results go to bench/results/latest-quick.md
#   --rounds N   number of interleaved rounds (default 5; --quick: 1)
# environment:
#   BENCH_ALLOCPROF_ARGS   extra options for `allocprof run` (e.g. "--zstd-level 3 --buffer 1MiB")
#   BENCH_TIMEOUT          seconds after which one run counts as hung and the benchmark fails (default 600)
#
# Every round runs every configuration of every workload once, so slow drifts of the machine hit all
# configurations alike; the overhead ratio of a run is its wall time divided by the uninstrumented
# run of the same workload in the same round, and the table reports medians over the rounds.
# See bench/README.md.
set -euo pipefail
export LC_ALL=C

die() { echo "bench: $*" >&2; exit 1; }

INVOCATION="bash bench/run.sh $*"
[[ $# -ge 1 ]] || die "usage: bench/run.sh BUILD_DIR [--quick] [--rounds N]"
BUILD_DIR=$1; shift
QUICK=0
ROUNDS=
while [[ $# -gt 0 ]]; do
    case $1 in
        --quick) QUICK=1 ;;
        --rounds) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || die "--rounds needs a positive number"; ROUNDS=$2; shift ;;
        *) die "unknown argument: $1" ;;
    esac
    shift
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ -d $BUILD_DIR ]] || die "no build directory $BUILD_DIR"
BUILD_DIR=$(cd "$BUILD_DIR" && pwd)
ALLOCPROF=$BUILD_DIR/allocprof
CHURN=$BUILD_DIR/bench/churn
NOOP=$BUILD_DIR/bench/libnoop_interposer.so
[[ -x $ALLOCPROF ]] || die "$ALLOCPROF missing (run make)"
[[ -f $BUILD_DIR/liballocprof.so ]] || die "$BUILD_DIR/liballocprof.so missing (run make)"
[[ -x $CHURN ]] || die "$CHURN missing (run make $BUILD_DIR/bench/churn)"
[[ -f $NOOP ]] || die "$NOOP missing (run make $NOOP)"
for tool in kcat heaptrack heaptrack_print zstd timeout /usr/bin/time; do
    command -v "$tool" >/dev/null || die "$tool not found on PATH"
done
read -r -a EXTRA_ARGS <<<"${BENCH_ALLOCPROF_ARGS:-}"
RUN_TIMEOUT=${BENCH_TIMEOUT:-600}
[[ $RUN_TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "BENCH_TIMEOUT must be a positive number of seconds"

if [[ $QUICK == 1 ]]; then
    ROUNDS=${ROUNDS:-1}
    CHURN_ALLOCS=800000
    KCAT_MSGS=200000
    RESULTS=$ROOT/bench/results/latest-quick.md
else
    ROUNDS=${ROUNDS:-5}
    CHURN_ALLOCS=8000000
    KCAT_MSGS=2000000
    RESULTS=$ROOT/bench/results/latest.md
fi
CHURN_ARGS=(--threads 2 --allocs "$CHURN_ALLOCS" --window 4096 --seed 42)
source "$ROOT/bench/kcat_workload.sh"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/allocprof-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

write_kcat_messages "$KCAT_MSGS" "$TMP/messages"

# Workloads and their configurations. A configuration is WORKLOAD:TOOL where TOOL is one of
# base (uninstrumented), ap (allocprof, libunwind stacks), ap-fp (allocprof --unwind fp), ap-s512
# (allocprof --sample 512KiB, libunwind stacks), ap-count (allocprof test: counting mode, no trace),
# noop (the no-op interposer: the floor of any preloaded tracer), heaptrack.
WORKLOADS=(churn churn-nolarge churn-small kcat)
declare -A CONFIGS=(
    [churn]="base ap ap-fp ap-s512 ap-count heaptrack"
    [churn-nolarge]="base noop ap ap-fp ap-s512 ap-count heaptrack"
    # No heaptrack: its heaptrack_interpret grows without bound on churn-small (past 3 GB and
    # std::bad_alloc at 100,000 allocations; bench/README.md), which would take the machine down.
    [churn-small]="base noop ap ap-fp ap-s512"
    [kcat]="base noop ap ap-s512 ap-count heaptrack"
)
declare -A TOOL_LABEL=(
    [base]="uninstrumented"
    [noop]="no-op interposer"
    [ap]="allocprof (libunwind)"
    [ap-fp]="allocprof --unwind fp"
    [ap-s512]="allocprof --sample 512KiB"
    [ap-count]="allocprof test (counting)"
    [heaptrack]="heaptrack"
)

# workload_cmd WORKLOAD: sets CMD (argv) and INPUT (stdin file) for the workload.
workload_cmd() {
    INPUT=/dev/null
    case $1 in
        churn) CMD=("$CHURN" "${CHURN_ARGS[@]}") ;;
        churn-nolarge) CMD=("$CHURN" "${CHURN_ARGS[@]}" --large-permille 0) ;;
        churn-small) CMD=("$CHURN" "${CHURN_ARGS[@]}" --small) ;;
        kcat) CMD=(kcat "${KCAT_ARGS[@]}"); INPUT=$TMP/messages ;;
        *) die "internal: unknown workload $1" ;;
    esac
}

# Results, keyed by "workload:tool:round".
declare -A WALL CPU RSS EVENTS TRACE_BYTES ANALYZE
declare -A EXPECTED_OUTPUT

# summary_field FILE KEY: the value of a "KEY value" line of `allocprof dump --summary`.
summary_field() { awk -v k="$2" '$1 == k { print $2; exit }' "$1"; }

fail_run() {  # fail_run DESCRIPTION LOGPREFIX
    echo "bench: FAILED: $1" >&2
    for f in "$2.out" "$2.err"; do
        [[ -s $f ]] && { echo "--- last lines of $(basename "$f"):" >&2; tail -n 20 "$f" >&2; }
    done
    exit 1
}

# run_one WORKLOAD TOOL ROUND: runs one configuration once and records time and trace statistics.
run_one() {
    local w=$1 tool=$2 r=$3 key="$1:$2:$3"
    local log=$TMP/log.$w.$tool trace=$TMP/trace.$w.$tool ht=$TMP/ht.$w.$tool
    workload_cmd "$w"
    local -a full
    case $tool in
        base) full=("${CMD[@]}") ;;
        noop) full=(env LD_PRELOAD="$NOOP" "${CMD[@]}") ;;
        ap) full=("$ALLOCPROF" run -q -o "$trace" --force "${EXTRA_ARGS[@]}" -- "${CMD[@]}") ;;
        ap-fp) full=("$ALLOCPROF" run -q -o "$trace" --force --unwind fp "${EXTRA_ARGS[@]}" -- "${CMD[@]}") ;;
        ap-s512) full=("$ALLOCPROF" run -q -o "$trace" --force --sample 512KiB "${EXTRA_ARGS[@]}" -- "${CMD[@]}") ;;
        ap-count) full=("$ALLOCPROF" test -q -- "${CMD[@]}") ;;  # no trace: the run options do not apply
        heaptrack) rm -f "$ht".*; full=(heaptrack -o "$ht" "${CMD[@]}") ;;
    esac
    rm -f "$trace"
    local t0 t1 rc=0
    t0=$EPOCHREALTIME
    # timeout runs the command in its own process group and kills all of it (heaptrack's helpers too).
    timeout -k 10 "$RUN_TIMEOUT" /usr/bin/time -f '%U %S %M' -o "$log.time" "${full[@]}" \
        <"$INPUT" >"$log.out" 2>"$log.err" || rc=$?
    t1=$EPOCHREALTIME
    local desc="round $r, $w, ${TOOL_LABEL[$tool]}: ${full[*]} <$INPUT"
    [[ $rc != 124 && $rc != 137 ]] || fail_run "$desc (hung: killed after ${RUN_TIMEOUT}s)" "$log"
    [[ $rc == 0 ]] || fail_run "$desc (exit status $rc)" "$log"
    WALL[$key]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    CPU[$key]=$(awk 'NF == 3 { printf "%.2f", $1 + $2 }' "$log.time")
    RSS[$key]=$(awk 'NF == 3 { printf "%.1f", $3 / 1024 }' "$log.time")  # peak of the largest process

    # The workload's own output must not change under a profiler (churn prints a checksum).
    local out
    out=$(grep -E '^churn: ' "$log.out" || true)
    if [[ $w == churn* ]]; then
        [[ -n $out ]] || fail_run "$desc (no checksum line)" "$log"
        if [[ -z ${EXPECTED_OUTPUT[$w]:-} ]]; then EXPECTED_OUTPUT[$w]=$out
        elif [[ ${EXPECTED_OUTPUT[$w]} != "$out" ]]; then
            fail_run "$desc (output '$out' differs from '${EXPECTED_OUTPUT[$w]}')" "$log"
        fi
    fi

    case $tool in
        ap | ap-fp | ap-s512)
            [[ -s $trace ]] || fail_run "$desc (no trace written)" "$log"
            "$ALLOCPROF" dump --summary "$trace" >"$log.summary" 2>"$log.summary.err" ||
                fail_run "dump --summary $trace failed" "$log.summary"
            EVENTS[$key]=$(summary_field "$log.summary" events)
            TRACE_BYTES[$key]=$(stat -c %s "$trace")
            [[ ${EVENTS[$key]} =~ ^[0-9]+$ && ${EVENTS[$key]} -gt 0 ]] ||
                fail_run "$desc (no event count in dump --summary)" "$log.summary"
            # The analyzer on this trace, once (first round): symbolized report, wall seconds.
            if [[ $r == 1 ]]; then ANALYZE[$w:$tool]=$(time_analysis "$desc" "$log" "$ALLOCPROF" analyze "$trace"); fi
            rm -f "$trace" "$trace".*
            ;;
        heaptrack)
            local f
            f=$(ls "$ht".zst "$ht".gz 2>/dev/null | head -n 1 || true)
            [[ -n $f && -s $f ]] || fail_run "$desc (no heaptrack output file)" "$log"
            # heaptrack's own statistics (printed by the heaptrack script after the run): every
            # allocation is one event and every allocation that was not leaked was freed once more.
            local allocs leaked
            allocs=$(awk -F'\t' '/^[[:space:]]*allocations:/ { gsub(/[^0-9]/, "", $NF); print $NF; exit }' "$log.out" "$log.err")
            leaked=$(awk -F'\t' '/^[[:space:]]*leaked allocations:/ { gsub(/[^0-9]/, "", $NF); print $NF; exit }' "$log.out" "$log.err")
            [[ $allocs =~ ^[0-9]+$ && $leaked =~ ^[0-9]+$ ]] ||
                fail_run "$desc (heaptrack printed no allocation statistics)" "$log"
            EVENTS[$key]=$((2 * allocs - leaked))
            TRACE_BYTES[$key]=$(stat -c %s "$f")
            if [[ $r == 1 ]]; then ANALYZE[$w:$tool]=$(time_analysis "$desc" "$log" heaptrack_print "$f"); fi
            rm -f "$ht".*
            ;;
    esac
    printf '  %-14s %-22s %8ss  cpu %6ss%s\n' "$w" "${TOOL_LABEL[$tool]}" "${WALL[$key]}" "${CPU[$key]}" \
        "${EVENTS[$key]:+  events ${EVENTS[$key]}  trace ${TRACE_BYTES[$key]} B}" >&2
}

time_analysis() {  # time_analysis DESC LOGPREFIX COMMAND...: wall seconds of COMMAND (output dropped)
    local desc=$1 log=$2 t0 t1
    shift 2
    t0=$EPOCHREALTIME
    timeout -k 10 "$RUN_TIMEOUT" "$@" >/dev/null 2>"$log.analyze.err" || fail_run "$desc (analysis: $*)" "$log.analyze"
    t1=$EPOCHREALTIME
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

median() {  # median VALUES...: prints the median (mean of the middle two for an even count)
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) exit 1
        if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

CPU_MODEL=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "bench: $ROUNDS round(s); churn ${CHURN_ARGS[*]}; kcat $KCAT_MSGS messages of 100 B;" \
     "$(nproc) CPUs ($CPU_MODEL)" >&2

for ((r = 1; r <= ROUNDS; r++)); do
    echo "bench: round $r/$ROUNDS" >&2
    for w in "${WORKLOADS[@]}"; do
        read -r -a tools <<<"${CONFIGS[$w]}"
        # Rotate the order from round to round so that no configuration always runs first.
        n=${#tools[@]}
        for ((i = 0; i < n; i++)); do
            run_one "$w" "${tools[$(((i + r - 1) % n))]}" "$r"
        done
    done
done

# The table.
{
    echo "| Workload | Configuration | Median wall s | Median ratio | Overhead / heaptrack's | Median CPU s | Peak RSS MiB | Events | Trace bytes | Bytes/event | Analysis s per M events |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for w in "${WORKLOADS[@]}"; do
        read -r -a tools <<<"${CONFIGS[$w]}"
        for tool in "${tools[@]}"; do
            walls=() cpus=() rss=() ratios=() ht_ratios=() events=() bytes=() bpe=()
            for ((r = 1; r <= ROUNDS; r++)); do
                k="$w:$tool:$r"
                walls+=("${WALL[$k]}")
                cpus+=("${CPU[$k]}")
                rss+=("${RSS[$k]}")
                [[ -n ${WALL[$w:heaptrack:$r]:-} ]] && ht_ratios+=("$(awk -v a="${WALL[$w:heaptrack:$r]}" -v b="${WALL[$w:base:$r]}" 'BEGIN { printf "%.4f", a / b }')")
                ratios+=("$(awk -v a="${WALL[$k]}" -v b="${WALL[$w:base:$r]}" 'BEGIN { printf "%.4f", a / b }')")
                if [[ -n ${EVENTS[$k]:-} ]]; then
                    events+=("${EVENTS[$k]}")
                    bytes+=("${TRACE_BYTES[$k]}")
                    bpe+=("$(awk -v a="${TRACE_BYTES[$k]}" -v b="${EVENTS[$k]}" 'BEGIN { printf "%.4f", a / b }')")
                fi
            done
            share="—"
            if [[ $tool == base ]]; then
                ratio="1.00"
            else
                ratio=$(awk -v m="$(median "${ratios[@]}")" 'BEGIN { printf "%.2fx", m }')
                # Our overhead (ratio - 1) as a share of heaptrack's, from the medians of the ratios.
                if [[ $tool != heaptrack && ${#ht_ratios[@]} -gt 0 ]]; then
                    share=$(awk -v m="$(median "${ratios[@]}")" -v h="$(median "${ht_ratios[@]}")" \
                        'BEGIN { if (h > 1) printf "%.0f%%", 100 * (m - 1) / (h - 1); else print "—" }')
                fi
            fi
            if [[ ${#events[@]} -gt 0 ]]; then
                ev=$(median "${events[@]}" | awk '{ printf "%d", $1 }')
                by=$(median "${bytes[@]}" | awk '{ printf "%d", $1 }')
                bp=$(median "${bpe[@]}" | awk '{ printf "%.3f", $1 }')
            else
                ev="—" by="—" bp="—"
            fi
            an="—"
            if [[ -n ${ANALYZE[$w:$tool]:-} ]]; then
                an=$(awk -v t="${ANALYZE[$w:$tool]}" -v e="$ev" 'BEGIN { printf "%.3f", t / (e / 1e6) }')
            fi
            printf '| %s | %s | %.2f | %s | %s | %.2f | %.0f | %s | %s | %s | %s |\n' "$w" "${TOOL_LABEL[$tool]}" \
                "$(median "${walls[@]}")" "$ratio" "$share" "$(median "${cpus[@]}")" "$(median "${rss[@]}")" \
                "$ev" "$by" "$bp" "$an"
        done
    done
} >"$TMP/table.md"

{
    echo "## allocprof benchmark results"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "- command: \`$INVOCATION\` (${ROUNDS} interleaved round(s))"
    echo "- machine: $(nproc) CPUs, $CPU_MODEL, $(uname -sr)"
    echo "- allocprof $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '(no git revision)')${BENCH_ALLOCPROF_ARGS:+, extra run options: $BENCH_ALLOCPROF_ARGS};" \
         "$(heaptrack --version 2>/dev/null | head -n 1); kcat $(kcat -V 2>/dev/null | sed -nE 's/^Version ([^ ]+) .*librdkafka ([0-9.]+).*/\1 (librdkafka \2)/p')"
    echo "- churn: \`churn ${CHURN_ARGS[*]}\` (churn-nolarge adds \`--large-permille 0\`, churn-small \`--small\`);" \
         "kcat: $KCAT_MSGS messages of 100 B into the in-process mock cluster (\`kcat ${KCAT_ARGS[*]}\`)"
    echo
    cat "$TMP/table.md"
    echo
    echo "Ratio: median over rounds of (wall time / uninstrumented wall time of the same workload in the same round)."
    echo "Overhead / heaptrack's: (ratio − 1) / (heaptrack's ratio − 1) of the same workload, medians over rounds."
    echo "CPU: user + system time of the whole command, including heaptrack's interpreter and compressor."
    echo "Peak RSS: GNU time's maximum resident set of the command or any of its waited-for children (MiB)."
    echo "Analysis: wall seconds of \`allocprof analyze TRACE\` (symbolized) or \`heaptrack_print FILE\` on the first"
    echo "round's trace, per million events."
    echo "Events: allocprof: \`allocprof dump --summary\` events; heaptrack: allocations + (allocations − leaked"
    echo "allocations), from the statistics heaptrack prints after the run. Trace bytes: the trace file (allocprof)"
    echo "or heaptrack's compressed output file."
} >"$TMP/results.md"

mkdir -p "$(dirname "$RESULTS")"
cp "$TMP/results.md" "$RESULTS"
cat "$TMP/results.md"
echo "bench: results written to ${RESULTS#"$ROOT"/}" >&2
