#!/usr/bin/env bash
# tests/stress/run.sh BUILD_DIR [--short]
#
# Reliability stress: runs real, unmodified programs with and without allocprof's shim, compares
# their stdout, stderr and exit code, and checks that every trace they wrote (one per process)
# analyzes cleanly: `allocprof analyze` exits 0, reports no warnings (the "no end record" warning is
# allowed only where a program is killed on purpose) and frees_of_unknown == 0.
# Prints "PASS name: details" / "FAIL name: why" per case and "N passed, N failed" at the end; exits
# non-zero on any failure. Regenerates docs/reliability.md from the results.
#   --short   smaller sizes (about a minute on 2 cores); default: full sizes (a few minutes)
set -u

if [[ $# -lt 1 || ! -d "$1" ]]; then
  echo "usage: $0 BUILD_DIR [--short]" >&2
  exit 2
fi
BUILD=$(cd "$1" && pwd)
SHORT=0
[[ "${2:-}" == "--short" ]] && SHORT=1
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
AP=$BUILD/allocprof
PY=/usr/bin/python3          # the helper parsing JSON is never traced
WORK=$(mktemp -d /tmp/allocprof-stress.XXXXXX)
[[ -n "${KEEP:-}" ]] || trap 'rm -rf "$WORK"' EXIT   # KEEP=1 keeps the traces for a look
RESULTS=$WORK/results.tsv
: >"$RESULTS"
PASSED=0
FAILED=0
EXEC_BUG_CASES=""
ulimit -c 0                  # the SIGSEGV/SIGABRT cases must not leave core files

if [[ $SHORT == 1 ]]; then
  VARIANT="short"
  SQLITE_ROWS=20000; KCAT_MSGS=50000; THROW_ITERS=5000; CHURN_PER_THREAD=50000
  CRASH_ALLOCS=100000; ENOSPC_ALLOCS=400000; PY_ITEMS=20000
else
  VARIANT="full"
  SQLITE_ROWS=100000; KCAT_MSGS=200000; THROW_ITERS=20000; CHURN_PER_THREAD=2000000
  CRASH_ALLOCS=500000; ENOSPC_ALLOCS=2000000; PY_ITEMS=100000
fi
DLOPEN_ROUNDS=1000

for f in "$AP" "$BUILD/liballocprof.so" "$BUILD/bench/churn" "$BUILD/tests/programs/dlopen_main" \
         "$BUILD/tests/programs/libplugin.so"; do
  if [[ ! -e "$f" ]]; then echo "missing $f (run: make all test-programs $BUILD/bench/churn)" >&2; exit 2; fi
done

# ---------------------------------------------------------------------------------------------
# helpers

# run_cmd PREFIX CWD STDIN CMD...: runs CMD in CWD; PREFIX.out/.err/.rc/.time (seconds).
run_cmd() {
  local pre=$1 cwd=$2 in=$3
  shift 3
  local t0=$EPOCHREALTIME
  { (cd "$cwd" && exec "$@") <"$in" >"$pre.out" 2>"$pre.err"; echo $? >"$pre.rc"; } 2>/dev/null
  local t1=$EPOCHREALTIME
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }' >"$pre.time"
}

# analyze_dir DIR ALLOW_NO_END: analyzes every trace file DIR/t, DIR/t.* (one per process) and
# writes DIR/summary: "files allocations frees events frees_of_unknown leaked failed_analyses
# bad_warnings no_end_warnings", plus DIR/problems (one line per problem).
analyze_dir() {
  local dir=$1 allow=$2
  ls "$dir" | grep -E '^t(\.[0-9]+){0,2}$' | sed "s|^|$dir/|" |
    xargs -r -P 2 -I{} sh -c '"$0" analyze --no-symbols --json - "$1" >"$1.json" 2>"$1.aerr"; echo $? >"$1.arc"' "$AP" {}
  "$PY" - "$dir" "$allow" <<'EOF'
import glob, json, os, re, sys
d, allow = sys.argv[1], sys.argv[2] == "1"
files = sorted(f for f in os.listdir(d) if re.fullmatch(r"t(\.[0-9]+)?(\.[0-9]+)?", f))
tot = dict(allocations=0, frees=0, events=0, frees_of_unknown=0, leaked_allocations=0)
failed = bad = noend = execbug = forked_unknown = 0
problems = []
reports = {}
for f in files:
    p = os.path.join(d, f)
    rc = int(open(p + ".arc").read().strip() or 1)
    if rc != 0:
        failed += 1
        problems.append(f"{f}: analyze exit {rc}: {open(p + '.aerr').read().strip()[:300]}")
        continue
    try:
        reports[f] = json.load(open(p + ".json"))
    except Exception as e:
        failed += 1
        problems.append(f"{f}: bad JSON: {e}")
images = {}
for f, j in reports.items():
    pr = j.get("process", {})
    images.setdefault(pr.get("pid"), []).append((pr.get("exe"), pr.get("command_line")))
for f, j in sorted(reports.items()):
    t, pr = j["totals"], j.get("process", {})
    # A forked copy (same image as its traced parent, before any exec) inherits the parent's heap;
    # its trace starts empty, so its frees of inherited blocks cannot pair: not meaningful there.
    forked_copy = re.fullmatch(r"t\.[0-9]+", f) is not None and \
        (pr.get("exe"), pr.get("command_line")) in images.get(pr.get("ppid"), [])
    pre_exec = bool(pr.get("execs")) and not pr.get("ended_cleanly", True)
    for k in tot:
        tot[k] += int(t.get(k, 0))
    fou = int(t.get("frees_of_unknown", 0))
    if fou and forked_copy:
        forked_unknown += fou
    elif fou:
        problems.append(f"{f}: frees_of_unknown={fou}")
    for w in j.get("warnings", []):
        text = w if isinstance(w, str) else json.dumps(w)
        if "frees of addresses the trace never saw allocated" in text and forked_copy:
            continue
        if "no end record" in text:
            noend += 1
            if allow:
                continue
            if pre_exec:
                execbug += 1
                problems.append(f"{f}: ALLOCPROF BUG: trace of an image that exec'd {pr.get('execs')} warns: {text[:200]}")
                continue
        bad += 1
        problems.append(f"{f}: warning: {text[:300]}")
tot["frees_of_unknown"] -= forked_unknown
with open(os.path.join(d, "summary"), "w") as out:
    print(len(files), tot["allocations"], tot["frees"], tot["events"], tot["frees_of_unknown"],
          tot["leaked_allocations"], failed, bad, noend, execbug, forked_unknown, file=out)
with open(os.path.join(d, "problems"), "w") as out:
    for p in problems:
        print(p, file=out)
EOF
}

# record NAME DESC RESULT EVENTS PLAIN_S TRACED_S DETAILS
record() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS"
  if [[ $3 == PASS ]]; then
    PASSED=$((PASSED + 1))
    echo "PASS $1: $7 (plain ${5}s, traced ${6}s)"
  else
    FAILED=$((FAILED + 1))
    echo "FAIL $1: $7 (plain ${5}s, traced ${6}s)"
  fi
}

# compare_case NAME DESC STDIN MIN_ALLOCS CMD...: plain vs traced, same stdout/stderr/exit code,
# every trace analyzes cleanly. Each run gets its own empty working directory.
compare_case() {
  local name=$1 desc=$2 in=$3 min=$4
  shift 4
  local c=$WORK/$name
  mkdir -p "$c/plain" "$c/traced" "$c/trace"
  run_cmd "$c/p" "$c/plain" "$in" "$@"
  run_cmd "$c/r" "$c/traced" "$in" "$AP" run -q -o "$c/trace/t" -- "$@"
  check_compare "$name" "$desc" "$min" 0
}

# check_compare NAME DESC MIN_ALLOCS ALLOW_NO_END [EXTRA_WHY...]: the checks of compare_case on
# $WORK/NAME/{p,r}.* and $WORK/NAME/trace.
check_compare() {
  local name=$1 desc=$2 min=$3 allow=$4
  local c=$WORK/$name why=()
  local prc rrc
  prc=$(cat "$c/p.rc"); rrc=$(cat "$c/r.rc")
  [[ $prc == "$rrc" ]] || why+=("exit code $rrc traced vs $prc plain")
  cmp -s "$c/p.out" "$c/r.out" || why+=("stdout differs ($(wc -c <"$c/r.out") vs $(wc -c <"$c/p.out") bytes)")
  cmp -s "$c/p.err" "$c/r.err" || why+=("stderr differs: $(diff "$c/p.err" "$c/r.err" | head -4 | tr '\n' ' ' | cut -c1-300)")
  analyze_dir "$c/trace" "$allow"
  local files allocs frees events fou leaked failed bad noend
  read -r files allocs frees events fou leaked failed bad noend execbug forked_unknown <"$c/trace/summary"
  [[ $files -gt 0 ]] || why+=("no trace written")
  [[ $failed == 0 ]] || why+=("$failed trace(s) failed to analyze")
  [[ $bad == 0 ]] || why+=("$bad unexpected warning(s)")
  [[ $execbug == 0 ]] || why+=("ALLOCPROF BUG (not a stress-script problem): $execbug trace(s) of a process image that exec'd another program end with an exec record but no end record, and analyze warns \"no end record: the process was killed or is still running\"")
  [[ $fou == 0 ]] || why+=("frees_of_unknown=$fou")
  [[ $allocs -ge $min ]] || why+=("only $allocs allocations traced (expected >= $min)")
  if grep -qv 'ALLOCPROF BUG' "$c/trace/problems"; then
    why+=("[$(grep -v 'ALLOCPROF BUG' "$c/trace/problems" | head -3 | tr '\n' ';' | cut -c1-400)]")
  fi
  [[ $execbug == 0 ]] || EXEC_BUG_CASES+=" $name"
  CASE_EVENTS=$events CASE_ALLOCS=$allocs CASE_FILES=$files CASE_NOEND=$noend
  local details="exit $rrc, $files trace file(s), $allocs allocations, $events events"
  [[ $forked_unknown == 0 ]] || details+=", $forked_unknown frees of inherited blocks in forked copies (not counted)"
  if [[ ${#why[@]} == 0 ]]; then
    record "$name" "$desc" PASS "$events" "$(cat "$c/p.time")" "$(cat "$c/r.time")" "$details"
  else
    local IFS='; '
    record "$name" "$desc" FAIL "$events" "$(cat "$c/p.time")" "$(cat "$c/r.time")" "${why[*]}"
  fi
}

NULL_IN=/dev/null
echo "allocprof stress ($VARIANT): $AP, work dir $WORK"

# ---------------------------------------------------------------------------------------------
# 1. python3 with threads and a subprocess
cat >"$WORK/script.py" <<EOF
import json, threading, subprocess, hashlib
data = [{'k': i, 'v': str(i) * 3, 'l': list(range(i % 7))} for i in range($PY_ITEMS)]
out = []
lock = threading.Lock()
def work(n):
    s = json.dumps(data[n::8])
    h = hashlib.sha256(s.encode()).hexdigest()[:16]
    back = json.loads(s)
    with lock:
        out.append((n, len(s), len(back), h))
ts = [threading.Thread(target=work, args=(n,)) for n in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
child = subprocess.run(['sh', '-c', 'echo child; ls / | wc -l'], capture_output=True, text=True)
print(sorted(out))
print(child.returncode, child.stdout.split())
EOF
compare_case python "python3: 8 threads json/sha256 over ${PY_ITEMS} dicts + a subprocess (sh, ls, wc)" \
  "$NULL_IN" 1000 /usr/bin/python3 "$WORK/script.py"

# 2. git: clone this repository, log --stat, gc
compare_case git "git clone -q of this repository, git log --stat -n 50, git gc -q (every git child traced)" \
  "$NULL_IN" 1000 bash -c 'git clone -q "$0" clone && git -C clone log --stat -n 50 && git -C clone gc -q && git -C clone fsck --no-progress && echo ok' "$ROOT"

# 3. sqlite3
cat >"$WORK/sqlite.sql" <<EOF
create table t(id integer primary key, name text, v real);
with recursive n(i) as (select 1 union all select i + 1 from n where i < $SQLITE_ROWS)
  insert into t select i, 'name' || i, i * 0.5 from n;
create index t_name on t(name);
select count(*), sum(v), max(name) from t;
select name from t where id % 5000 = 0 order by name;
update t set v = v * 2 where id % 3 = 0;
delete from t where id % 10 = 0;
select count(*), sum(v) from t;
EOF
compare_case sqlite "sqlite3 :memory: ${SQLITE_ROWS}-row insert, index, select, update, delete" \
  "$WORK/sqlite.sql" 300 sqlite3 :memory:

# 4. kcat to librdkafka's mock cluster, idempotent producer
awk -v n="$KCAT_MSGS" 'BEGIN { for (i = 0; i < n; i++) printf "message-%d-payload-payload-payload\n", i }' >"$WORK/kcat.in"
compare_case kcat "kcat -P idempotent (acks=all) to librdkafka's mock cluster, ${KCAT_MSGS} messages" \
  "$WORK/kcat.in" 10000 kcat -P -b localhost:9092 -t t -X test.mock.num.brokers=1 -X log_level=4 \
  -X enable.idempotence=true -X acks=all

# 4b. the same kcat run recorded only inside a capture window (--start-after, --stop-after): output
# unchanged, the trace analyzes cleanly (frees of blocks allocated before the window are counted
# apart, not as unknown), and it says when recording started.
kcat_capture_case() {
  local c=$WORK/kcat-capture
  mkdir -p "$c/plain" "$c/traced" "$c/trace"
  local cmd=(kcat -P -b localhost:9092 -t t -X test.mock.num.brokers=1 -X log_level=4 -X enable.idempotence=true -X acks=all)
  run_cmd "$c/p" "$c/plain" "$WORK/kcat.in" "${cmd[@]}"
  run_cmd "$c/r" "$c/traced" "$WORK/kcat.in" "$AP" run -q -o "$c/trace/t" --start-after 5ms --stop-after 60s -- "${cmd[@]}"
  check_compare kcat-capture "kcat as in case 4, recorded from 5 ms on (run --start-after 5ms --stop-after 60s)" 1 0
  if ! grep -q '"state":"recording","reason":"start-after"' "$c/trace/t.json"; then
    record kcat-capture-record "the capture window is in the kcat trace" FAIL 0 0 0 "no start-after capture record in $c/trace/t.json"
  fi
}
kcat_capture_case

# 5. bash pipeline with many fork/exec
compare_case pipeline "bash: find /usr/include -name '*.h' | xargs -n 50 grep -l define | sort | wc -l" \
  "$NULL_IN" 100 bash -c "find /usr/include -name '*.h' | xargs -n 50 grep -l define | sort | wc -l"

# 6. C++ threads throwing and catching exceptions while allocating
mkdir -p "$BUILD/stress"
if g++ -O1 -pthread -o "$BUILD/stress/throwing_threads" "$ROOT/tests/stress/throwing_threads.cc" 2>"$WORK/gxx.err"; then
  compare_case exceptions "C++: 8 threads x ${THROW_ITERS} iterations throwing/catching exceptions while allocating" \
    "$NULL_IN" $((8 * THROW_ITERS)) "$BUILD/stress/throwing_threads" "$THROW_ITERS"
else
  record exceptions "C++ throwing threads" FAIL 0 0 0 "g++ failed: $(head -3 "$WORK/gxx.err" | tr '\n' ' ')"
fi

# 7. dlopen/dlclose 1000 times
compare_case dlopen "dlopen_main: dlopen, allocate through the plugin, dlclose; ${DLOPEN_ROUNDS} rounds" \
  "$NULL_IN" "$DLOPEN_ROUNDS" "$BUILD/tests/programs/dlopen_main" "$BUILD/tests/programs/libplugin.so" nodeep "$DLOPEN_ROUNDS"

# 8. make -j2 building a small project (gcc, cc1, as, ld all traced)
proj=$WORK/make-src
mkdir -p "$proj"
for i in $(seq 0 9); do
  cat >"$proj/f$i.c" <<EOF
#include <stdlib.h>
#include <string.h>
int f$i(int x) { char* p = malloc(64 + x); memset(p, $i, 64 + x); int s = p[x] * $((i + 1)); free(p); return s + x; }
EOF
done
{
  echo '#include <stdio.h>'
  for i in $(seq 0 9); do echo "int f$i(int);"; done
  echo 'int main(void) { int s = 0;'
  for i in $(seq 0 9); do echo "  s += f$i($i);"; done
  echo '  printf("sum %d\n", s); return 0; }'
} >"$proj/main.c"
cat >"$proj/Makefile" <<'EOF'
OBJS := main.o $(patsubst %.c,%.o,$(wildcard f*.c))
run: prog
	./prog
prog: $(OBJS)
	$(CC) -o $@ $^
%.o: %.c
	$(CC) -O1 -c -o $@ $<
EOF
mkdir -p "$WORK/make"
cp -r "$proj" "$WORK/make/plain-src"; cp -r "$proj" "$WORK/make/traced-src"
compare_make() {
  local c=$WORK/make
  mkdir -p "$c/trace"
  run_cmd "$c/p" "$c/plain-src" "$NULL_IN" make -s -j2
  run_cmd "$c/r" "$c/traced-src" "$NULL_IN" "$AP" run -q -o "$c/trace/t" -- make -s -j2
  check_compare make "make -s -j2: 11 C files compiled and linked by gcc (make, gcc, cc1, as, collect2, ld traced)" 100 0
}
compare_make

# 9. load: churn, 8 threads; exact event accounting against a zero-allocation baseline; RSS
churn_case() {
  local c=$WORK/churn n=$((8 * CHURN_PER_THREAD)) why=()
  mkdir -p "$c/trace" "$c/base"
  local args=(--threads 8 --large-permille 0)
  run_cmd "$c/p" "$c" "$NULL_IN" /usr/bin/time -f '%M' -o "$c/p.rss" "$BUILD/bench/churn" "${args[@]}" --allocs "$n"
  run_cmd "$c/r" "$c" "$NULL_IN" /usr/bin/time -f '%M' -o "$c/r.rss" "$AP" run -q -o "$c/trace/t" -- "$BUILD/bench/churn" "${args[@]}" --allocs "$n"
  run_cmd "$c/b" "$c" "$NULL_IN" "$AP" run -q -o "$c/base/t" -- "$BUILD/bench/churn" "${args[@]}" --allocs 0
  [[ $(cat "$c/p.rc") == 0 && $(cat "$c/r.rc") == 0 ]] || why+=("exit code $(cat "$c/r.rc") traced vs $(cat "$c/p.rc") plain")
  cmp -s "$c/p.out" "$c/r.out" || why+=("stdout differs")
  analyze_dir "$c/trace" 0
  analyze_dir "$c/base" 0
  local f a fr e fou lk fail bad ne bf ba bfr be bfou blk bfail bbad bne
  read -r f a fr e fou lk fail bad ne _ _ <"$c/trace/summary"
  read -r bf ba bfr be bfou blk bfail bbad bne _ _ <"$c/base/summary"
  [[ $fail == 0 && $bfail == 0 ]] || why+=("analyze failed")
  [[ $bad == 0 && $bbad == 0 ]] || why+=("warnings: $(cat "$c/trace/problems" "$c/base/problems" | head -2 | tr '\n' ' ')")
  [[ $fou == 0 ]] || why+=("frees_of_unknown=$fou")
  [[ $((a - ba)) == "$n" ]] || why+=("workload allocations $((a - ba)) != $n")
  [[ $((fr - bfr)) == "$n" ]] || why+=("workload frees $((fr - bfr)) != $n")
  [[ $((e - be)) == $((2 * n)) ]] || why+=("workload events $((e - be)) != 2 x $n")
  [[ $((a - fr)) == "$lk" ]] || why+=("allocations - frees = $((a - fr)) != leaked $lk")
  local prss rrss
  prss=$(tail -1 "$c/p.rss"); rrss=$(tail -1 "$c/r.rss")
  local details="8 x ${CHURN_PER_THREAD}: $e events = 2 x $n + baseline $be; peak RSS plain $((prss / 1024)) MiB, traced $((rrss / 1024)) MiB (x$(awk -v a="$rrss" -v b="$prss" 'BEGIN { printf "%.2f", a / b }'))"
  CHURN_RSS="$((prss / 1024)) MiB plain, $((rrss / 1024)) MiB traced"
  if [[ ${#why[@]} == 0 ]]; then
    record churn "bench/churn: 8 threads x ${CHURN_PER_THREAD} allocations (malloc/calloc/new[]), exact event count, RSS overhead" PASS "$e" "$(cat "$c/p.time")" "$(cat "$c/r.time")" "$details"
  else
    local IFS='; '
    record churn "bench/churn 8 threads" FAIL "$e" "$(cat "$c/p.time")" "$(cat "$c/r.time")" "${why[*]}; $details"
  fi
}
churn_case

# 9a. sampled load: the same 8 threads at --sample 4KiB; recorded frees must pair with recorded
# allocations across threads (no false leaks) and the estimate must land within 4 reported sigma.
sampled_case() {
  local c=$WORK/sampled n=$((8 * CHURN_PER_THREAD)) why=()
  mkdir -p "$c/trace"
  local args=(--threads 8 --large-permille 0 --allocs "$n")
  run_cmd "$c/p" "$c" "$NULL_IN" "$BUILD/bench/churn" "${args[@]}"
  run_cmd "$c/r" "$c" "$NULL_IN" "$AP" run -q -o "$c/trace/t" --sample 4KiB -- "$BUILD/bench/churn" "${args[@]}"
  [[ $(cat "$c/p.rc") == 0 && $(cat "$c/r.rc") == 0 ]] || why+=("exit code $(cat "$c/r.rc") traced vs $(cat "$c/p.rc") plain")
  cmp -s "$c/p.out" "$c/r.out" || why+=("stdout differs")
  analyze_dir "$c/trace" 0
  local f a fr e fou lk fail bad
  read -r f a fr e fou lk fail bad _ _ _ <"$c/trace/summary"
  [[ $fail == 0 && $bad == 0 ]] || why+=("analyze: $(head -2 "$c/trace/problems" | tr '\n' ' ')")
  local verdict
  verdict=$("$PY" - "$c/trace/t.json" "$n" <<'EOF2'
import json, sys
j = json.load(open(sys.argv[1])); n = int(sys.argv[2]); t = j["totals"]; s = j.get("sampling") or {}
sigma = s.get("allocations_rel_error", 0) * t["allocations"]
problems = []
if not s.get("estimated"): problems.append("report does not say it is sampled")
if abs(t["allocations"] - n) > 4 * sigma + 100: problems.append(f"estimate {t['allocations']} vs {n} (1 sigma {sigma:.0f})")
if t["leaked_bytes"] > t["bytes_allocated"] / 1000: problems.append(f"leaked {t['leaked_bytes']} B: frees lost")
print("ok" if not problems else "; ".join(problems), f"| {s.get('samples')} samples, estimate {t['allocations']} of {n} (1 sigma {sigma:.0f}), leaked {t['leaked_bytes']} B")
EOF2
)
  [[ $verdict == ok* ]] || why+=("${verdict%%|*}")
  local details="8 x ${CHURN_PER_THREAD} at --sample 4KiB: $e events; ${verdict#*| }"
  if [[ ${#why[@]} == 0 ]]; then
    record sampled "bench/churn 8 threads at --sample 4KiB: frees pair across threads, estimate within 4 sigma" PASS "$e" "$(cat "$c/p.time")" "$(cat "$c/r.time")" "$details"
  else
    local IFS='; '
    record sampled "bench/churn 8 threads sampled" FAIL "$e" "$(cat "$c/p.time")" "$(cat "$c/r.time")" "${why[*]}; $details"
  fi
}
sampled_case

# 9b. sustained load (full run only): 8 threads for at least 30 s under the shim; the program
# prints how many allocations it made, and the trace must hold exactly that many (plus baseline).
load30_case() {
  local c=$WORK/load30 why=()
  mkdir -p "$c/trace" "$c/base"
  local args=(--threads 8 --large-permille 0 --allocs $((8 * CHURN_PER_THREAD)))
  run_cmd "$c/r" "$c" "$NULL_IN" /usr/bin/time -f '%M' -o "$c/r.rss" "$AP" run -q -o "$c/trace/t" -- \
    "$BUILD/bench/churn" "${args[@]}" --min-seconds 30
  run_cmd "$c/b" "$c" "$NULL_IN" "$AP" run -q -o "$c/base/t" -- "$BUILD/bench/churn" --threads 8 --allocs 0
  [[ $(cat "$c/r.rc") == 0 ]] || why+=("exit code $(cat "$c/r.rc")")
  local n
  n=$(sed -n 's/.*allocs=\([0-9]*\).*/\1/p' "$c/r.out")
  analyze_dir "$c/trace" 0
  analyze_dir "$c/base" 0
  local f a fr e fou lk fail bad ne bf ba bfr be bfou blk bfail bbad bne
  read -r f a fr e fou lk fail bad ne _ _ <"$c/trace/summary"
  read -r bf ba bfr be bfou blk bfail bbad bne _ _ <"$c/base/summary"
  [[ $fail == 0 && $bad == 0 ]] || why+=("analyze: $(head -2 "$c/trace/problems" | tr '\n' ' ')")
  [[ $fou == 0 ]] || why+=("frees_of_unknown=$fou")
  [[ -n $n && $((e - be)) == $((2 * n)) ]] || why+=("workload events $((e - be)) != 2 x ${n:-?}")
  local rrss details
  rrss=$(tail -1 "$c/r.rss")
  details="${n:-?} allocations in $(cat "$c/r.time")s traced: $e events = 2 x $n + baseline $be; peak RSS $((rrss / 1024)) MiB"
  if [[ ${#why[@]} == 0 ]]; then
    record load30 "bench/churn --min-seconds 30: 8 threads allocating for at least 30 s, exact event count" PASS "$e" "-" "$(cat "$c/r.time")" "$details"
  else
    local IFS='; '
    record load30 "bench/churn 8 threads for 30 s" FAIL "$e" "-" "$(cat "$c/r.time")" "${why[*]}; $details"
  fi
}
[[ $SHORT == 1 ]] || load30_case

# 10. faults: killed by SIGKILL, SIGSEGV, SIGABRT mid-run; disk full
if g++ -O1 -o "$BUILD/stress/crasher" "$ROOT/tests/stress/crasher.cc" 2>"$WORK/gxx2.err"; then
  for sig in KILL SEGV ABRT; do
    name=crash-$sig
    c=$WORK/$name
    mkdir -p "$c/plain" "$c/traced" "$c/trace"
    run_cmd "$c/p" "$c/plain" "$NULL_IN" "$BUILD/stress/crasher" "$sig" "$CRASH_ALLOCS"
    run_cmd "$c/r" "$c/traced" "$NULL_IN" "$AP" run -q -o "$c/trace/t" -- "$BUILD/stress/crasher" "$sig" "$CRASH_ALLOCS"
    if [[ $sig == KILL ]]; then
      check_compare "$name" "crasher: ${CRASH_ALLOCS} allocations, then raise(SIGKILL); trace must analyze with \"no end record\"" 1 1
      # SIGKILL cannot be caught: the trace must say it was cut short.
      if [[ $CASE_NOEND -lt 1 && $(tail -1 "$RESULTS" | cut -f3) == PASS ]]; then
        sed -i '$ d' "$RESULTS"; PASSED=$((PASSED - 1))
        echo "  (re-recorded: no \"no end record\" warning)"
        record "$name" "crasher SIG$sig" FAIL "$CASE_EVENTS" "$(cat "$c/p.time")" "$(cat "$c/r.time")" "trace has no \"no end record\" warning"
      fi
    else
      # The shim's handler flushes every buffer and writes the end record before the signal acts:
      # no warning allowed, the same exit status (allocprof run dies of the same signal).
      check_compare "$name" "crasher: ${CRASH_ALLOCS} allocations, then raise(SIG$sig); the trace must end with its end record (no warning)" 1 0
    fi
  done
else
  record crash "crasher" FAIL 0 0 0 "g++ failed: $(head -3 "$WORK/gxx2.err" | tr '\n' ' ')"
fi

enospc_case() {
  local c=$WORK/enospc n=$ENOSPC_ALLOCS why=()
  mkdir -p "$c/trace"
  local cmd=("$BUILD/bench/churn" --threads 8 --allocs "$n" --large-permille 0)
  run_cmd "$c/p" "$c" "$NULL_IN" "${cmd[@]}"
  run_cmd "$c/r" "$c" "$NULL_IN" env ALLOCPROF_TEST_ENOSPC_AFTER=100000 "$AP" run -o "$c/trace/t" -- "${cmd[@]}"
  [[ $(cat "$c/p.rc") == "$(cat "$c/r.rc")" ]] || why+=("exit code $(cat "$c/r.rc") traced vs $(cat "$c/p.rc") plain")
  cmp -s "$c/p.out" "$c/r.out" || why+=("stdout differs")
  local stopped
  stopped=$(grep -c 'tracing stopped' "$c/r.err")
  [[ $stopped == 1 ]] || why+=("$stopped \"tracing stopped\" lines on stderr (expected 1)")
  grep -v '^allocprof: ' "$c/r.err" >"$c/r.err.prog"
  cmp -s "$c/p.err" "$c/r.err.prog" || why+=("program's stderr differs")
  local arc
  "$AP" analyze --no-symbols --json - "$c/trace/t" >"$c/a.json" 2>/dev/null; arc=$?
  local details="exit $(cat "$c/r.rc"), output unchanged, $stopped \"tracing stopped\" line; cut trace: analyze exit $arc"
  if [[ ${#why[@]} == 0 ]]; then
    record enospc "churn ${n} allocations with ALLOCPROF_TEST_ENOSPC_AFTER=100000 (simulated disk full)" PASS "-" "$(cat "$c/p.time")" "$(cat "$c/r.time")" "$details"
  else
    local IFS='; '
    record enospc "churn with simulated disk full" FAIL "-" "$(cat "$c/p.time")" "$(cat "$c/r.time")" "${why[*]}"
  fi
}
enospc_case

# ---------------------------------------------------------------------------------------------
# docs/reliability.md
summary="$PASSED passed, $FAILED failed"
REPORT="$ROOT/docs/reliability.md"
[[ $SHORT == 1 ]] && REPORT="$BUILD/stress-reliability.md"
{
  echo "# Reliability: real programs under the shim"
  echo
  echo "Generated by \`tests/stress/run.sh\` (\`make stress\`: full sizes; \`make stress-short\`: smaller"
  echo "sizes). Do not edit by hand: the table is rewritten on every run."
  echo
  echo "Every case runs a real, unmodified program twice, plain and under \`allocprof run\`, and"
  echo "compares stdout, stderr and the exit code. Every trace it wrote (one per process: forked and"
  echo "exec'd children write \`TRACE.PID\`) must analyze with exit 0, no warnings and"
  echo "\`frees_of_unknown == 0\`; the only warning allowed is \"no end record\", and only for the"
  echo "program killed with SIGKILL (where it is required: SIGSEGV and SIGABRT must end the trace with"
  echo "its end record, written by the shim's signal handler). \"events\" is the sum of"
  echo "\`totals.events\` (allocations + frees) over all of a case's traces. Times are wall-clock"
  echo "seconds including process start-up; traced times include writing the trace, not analyzing it."
  echo
  echo "Last run: $VARIANT, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -sr)."
  echo "Result: **$summary**."
  echo
  echo "| case | what it does | result | events traced | time plain (s) | time traced (s) |"
  echo "|---|---|---|---:|---:|---:|"
  while IFS=$'\t' read -r name desc result events pt rt details; do
    echo "| $name | ${desc//|/\\|} | $result: ${details//|/\\|} | $events | $pt | $rt |"
  done <"$RESULTS"
  echo
  echo "The \`churn\` case checks the event count exactly: the traced run's allocations, frees and"
  echo "events minus those of a run with \`--allocs 0\` (the program's own start-up allocations) are"
  echo "N, N and 2 x N; its peak RSS (\`/usr/bin/time -f %M\`, largest process of the tree) shows the"
  echo "shim's memory overhead. The \`enospc\` case simulates a full disk after 100,000 bytes of trace:"
  echo "the program's output and exit code must not change and the shim must say \"tracing stopped\""
  echo "exactly once."
  if [[ -n $EXEC_BUG_CASES ]]; then
    echo
    echo "## Known allocprof bug (cases:$EXEC_BUG_CASES)"
    echo
    echo "A forked child that execs another program leaves two traces: \`TRACE.PID\` (the forked copy, up"
    echo "to the exec) and \`TRACE.PID.2\` (the new image). The first ends with an \`exec\` record and"
    echo "no \`end\` record, and \`allocprof analyze\` warns \"the trace has no end record: the process was"
    echo "killed or is still running\" for it, although the process neither was killed nor is running"
    echo "(the report itself lists the exec under \`process.execs\`). Reproduce:"
    echo "\`allocprof run -o t -- sh -c 'ls / | wc -l'; allocprof analyze t.*\`. These cases fail until it"
    echo "is fixed; the script labels the failure \"ALLOCPROF BUG\"."
  fi
  echo
  echo "Not counted as failures: frees in a forked copy (\`TRACE.PID\` with its parent's image and"
  echo "command line) of blocks it inherited from its parent. The copy's trace starts empty by design"
  echo "(README, \"fork/exec\"), so such frees cannot pair there; they are reported in the details."
} >"$REPORT"

echo "$summary"
[[ $FAILED == 0 ]]
