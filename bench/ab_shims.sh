#!/usr/bin/env bash
# Two builds of the shim against each other, in the same interleaved rounds: churn-nolarge and
# kcat, full trace and `--sample 512KiB`, with the uninstrumented run in every round. For a change
# to the shim, this is the comparison that survives a machine whose baseline drifts between runs.
#
# usage: bench/ab_shims.sh BUILD_DIR OLD.so NEW.so [ROUNDS]   (default 7 rounds; ~17 s a round)
set -euo pipefail
export LC_ALL=C
[[ $# -ge 3 ]] || { echo "usage: bench/ab_shims.sh BUILD_DIR OLD.so NEW.so [ROUNDS]" >&2; exit 2; }
B=$(cd "$1" && pwd) OLD=$(realpath "$2") NEW=$(realpath "$3") ROUNDS=${4:-7}
command -v kcat >/dev/null || { echo "bench/ab_shims.sh: kcat not installed" >&2; exit 1; }
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/kcat_workload.sh"
write_kcat_messages 2000000 "$W/messages"
CHURN=("$B/bench/churn" --threads 2 --allocs 8000000 --window 4096 --large-permille 0 --seed 42)
one() {  # one WORKLOAD CONFIG
  local w=$1 c=$2 cmd=("${CHURN[@]}") in=/dev/null env=(X=1)
  [[ $w == kcat ]] && { cmd=(kcat "${KCAT_ARGS[@]}"); in=$W/messages; }
  case $c in
    old) env=(LD_PRELOAD="$OLD") ;;
    new) env=(LD_PRELOAD="$NEW") ;;
    old-s) env=(LD_PRELOAD="$OLD" ALLOCPROF_SAMPLE=512KiB) ;;
    new-s) env=(LD_PRELOAD="$NEW" ALLOCPROF_SAMPLE=512KiB) ;;
  esac
  (cd "$W" && /usr/bin/time -a -o "$W/$w.$c.txt" -f "%e %U %S" \
    env "${env[@]}" ALLOCPROF_OUTPUT="$W/t.trace" "${cmd[@]}" <"$in" >/dev/null 2>/dev/null)
  rm -f "$W"/t.trace*
}
CONFIGS=(base old new old-s new-s)
for r in $(seq "$ROUNDS"); do
  k=$((r % ${#CONFIGS[@]}))
  for w in churn-nolarge kcat; do
    for c in "${CONFIGS[@]:k}" "${CONFIGS[@]:0:k}"; do one $w $c; done
  done
done
med() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
echo "| workload | configuration | median wall s | median CPU s | median ratio |"
echo "|---|---|---:|---:|---:|"
for w in churn-nolarge kcat; do
  for c in "${CONFIGS[@]}"; do
    f=$W/$w.$c.txt
    printf '| %s | %s | %.2f | %.2f | %.2fx |\n' "$w" "$c" "$(awk '{ print $1 }' "$f" | med)" \
      "$(awk '{ print $2 + $3 }' "$f" | med)" "$(paste "$f" "$W/$w.base.txt" | awk '{ print $1 / $4 }' | med)"
  done
done
