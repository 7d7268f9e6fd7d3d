#!/usr/bin/env bash
# make demo: the motivating case, end to end. The demo producer runs under allocprof twice — its
# per-connection pool capped at 1 MiB arrays and 8 slots a bucket, then at 4 MiB and 32 — each as
# a stress run of a few seconds at a bounded rate (400K messages/s, as the motivating stress tool
# sent), and the two traces are analyzed (pool sections, sizing advisor, the live heap's sawtooth,
# the simulated collections) and compared, with a CI verdict; then the PR report is written with
# flame graphs and report.html.
set -euo pipefail
build=${1:-build}
out=out/demo
mkdir -p "$out"
ap="$build/allocprof"
producer="$build/examples/producer"

# A stress run: 400K messages/s of 512 bytes for SECONDS (DEMO_SECONDS, default 4) per configuration.
seconds=${DEMO_SECONDS:-4}
stress=(--acks all --messages 1000000000 --message-size 512 --rate 400000 --duration "${seconds}s")
echo "== the producer under allocprof, ${seconds} s at 400K messages/s each: pool 1 MiB / 8 slots (the regression), then 4 MiB / 32"
"$ap" run --force -o "$out/pool-1MiB-8.trace" -- "$producer" "${stress[@]}" --pool-max 1MiB --pool-slots 8
"$ap" run --force -o "$out/pool-4MiB-32.trace" -- "$producer" "${stress[@]}" --pool-max 4MiB --pool-slots 32

for config in 1MiB-8 4MiB-32; do
  echo
  echo "== pool report, $config ($ap analyze --top 3 $out/pool-$config.trace, pool section)"
  "$ap" analyze --top 3 --json "$out/pool-$config.json" "$out/pool-$config.trace" > "$out/pool-$config.txt"
  sed -n '/^Per messages/,/^Mismatched\|^$/p; /^Pool "/,/fall-through stack #2/p' "$out/pool-$config.txt" | sed '/fall-through stack #2/d'
  echo "-- the live heap and the simulated collector, $config:"
  grep -E '^Live heap: |^  collections |^  heap ' "$out/pool-$config.txt" || true
done

echo
echo "== 1 MiB / 8 against 4 MiB / 32 ($ap diff --markdown BEFORE AFTER)"
set +e
"$ap" diff --markdown --fail-if 'allocations>1.10x' --fail-if 'bytes_allocated>1.10x' \
  --fail-if 'pool:producer:fallthrough_oversize>0' \
  "$out/pool-4MiB-32.json" "$out/pool-1MiB-8.json" | tee "$out/diff.md"
verdict=${PIPESTATUS[0]}
set -e
echo
echo "diff exit status $verdict (1 = the regression is caught)"
echo
echo "== the PR-ready report ($ap report --windows 1000 $out/pool-1MiB-8.trace --baseline $out/pool-4MiB-32.trace -o $out/report)"
# 1000 timeline windows (4 ms each): fine enough to show the sawtooth's teeth and to select a time range.
"$ap" report --windows 1000 "$out/pool-1MiB-8.trace" --baseline "$out/pool-4MiB-32.trace" -o "$out/report"
echo "reports in $out/; the pull-request report: $out/report/report.md; interactive: $out/report/report.html"
