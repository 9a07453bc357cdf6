#!/bin/sh
# Runs parlua's benchmarks and prints one table: each figure of SPEC 11
# that exists so far, parlua's number, plain lua5.4's number on the same
# work where one exists, and the ratio (parlua / lua5.4) from the same run.
# Each program runs REPEAT times (default 3); the median is reported.
#   bench/run.sh BUILD_DIR            (make bench: a Release build)
# Every program prints "RESULT name value" lines; docs/benchmarks.md says
# what each figure measures. A new benchmark adds a `run` and its `row`s.
set -eu
build=${1:-build-release}
parlua="$build/parlua"
repeat=${REPEAT:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ -x "$parlua" ] || { echo "bench: $parlua not found (run make bench)" >&2; exit 1; }
command -v lua5.4 >/dev/null || { echo "bench: lua5.4 not found (make deps)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# run KEY CMD...: runs CMD REPEAT times, keeping each run's stdout in
# $out/KEY.N (stderr is dropped: warnings are not figures)
run() {
  key=$1; shift
  i=0
  while [ $i -lt "$repeat" ]; do
    "$@" >"$out/$key.$i" 2>/dev/null || echo "bench: '$*' failed" >&2
    i=$((i + 1))
  done
}
# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }
# fig KEY NAME: the median of "RESULT NAME value" over KEY's runs ("" if none)
fig() {
  cat "$out/$1".* 2>/dev/null | awk -v n="$2" '$1 == "RESULT" && $2 == n {print $3}' | median
}
# line KEY AWK: the median of what AWK picks from KEY's runs
line() {
  cat "$out/$1".* 2>/dev/null | awk "$2" | median
}
# ratio A B: A / B with 2 decimals, or "" when either is missing
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b + 0 != 0) printf "%.2f", a / b }'
}
# overhead ON OFF: how much slower ON is than OFF, in percent (rates: pass
# OFF ON, times: ON OFF)
overhead() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b + 0 != 0) printf "%.1f", (a / b - 1) * 100 }'
}
# target NAME VALUE OP LIMIT: one line saying whether VALUE OP LIMIT holds
# (OP: <= or >=); "not measured" when VALUE is empty
target() {
  awk -v n="$1" -v v="$2" -v op="$3" -v l="$4" 'BEGIN {
    if (v == "") { printf "  %-58s not measured\n", n; exit }
    ok = (op == "<=") ? (v + 0 <= l + 0) : (v + 0 >= l + 0)
    printf "  %-58s %10s %s %-8s %s\n", n, v, op, l, ok ? "met" : "NOT met" }'
}
row() { # figure unit parlua lua5.4
  awk -v f="$1" -v u="$2" -v p="$3" -v l="$4" 'BEGIN {
    r = (p != "" && l != "" && l + 0 != 0) ? sprintf("%.2f", p / l) : "-"
    printf "| %-56s | %-5s | %10s | %10s | %6s |\n", f, u, (p == "" ? "-" : p), (l == "" ? "-" : l), r }'
}

# ---- the measurements ----
run terrain "$parlua" examples/terrain.lua
run terrain_plain lua5.4 examples/terrain-serial.lua
run terrain_trace "$parlua" --trace "$out/terrain.json" examples/terrain.lua
run cpu "$parlua" --frame-budget 0 bench/cpu.lua
run cpu_plain lua5.4 bench/cpu-plain.lua
if [ -x "$build/bench/bench-cpu-threads" ]; then
  run cpu_c "$build/bench/bench-cpu-threads"
fi
run messages "$parlua" bench/messages.lua
run messages_small "$parlua" bench/messages.lua 200000
run messages_trace "$parlua" --trace "$out/messages.json" bench/messages.lua 200000
run roundtrip "$parlua" bench/roundtrip.lua
run actors "$parlua" bench/actors.lua 10000 20000
run frames "$parlua" bench/actors.lua 0 20000
run plain_state lua5.4 bench/plain-state.lua
run serial "$parlua" bench/serial.lua
run serial_plain lua5.4 bench/serial.lua
run busy1000 "$parlua" bench/frame-busy.lua 1000
run busy2000 "$parlua" bench/frame-busy.lua 2000
run sync "$parlua" bench/sync.lua
run lthreads "$parlua" bench/lthreads.lua
run lthreads_plain lua5.4 bench/lthreads-plain.lua
# across the ranks of an MPI job on this machine (docs/distributed.md),
# when parlua was built with MPI
if [ -f "$build/parlua_mpi.so" ] && command -v mpirun >/dev/null; then
  run remote env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    mpirun --oversubscribe -np 2 "$parlua" bench/remote.lua
fi
if [ -x "$build/bench/bench-stable-increment" ]; then
  run stable_c "$build/bench/bench-stable-increment" "$(nproc)"
fi
if [ -f bench/sharedtable.lua ]; then
  run sharedtable "$parlua" bench/sharedtable.lua
  [ -f bench/sharedtable-plain.lua ] && run sharedtable_plain lua5.4 bench/sharedtable-plain.lua
fi

# ---- the table ----
echo "machine: $(nproc) cores, $(uname -m), $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)"
echo "lua5.4:  $(lua5.4 -v 2>&1 | head -n 1)"
echo "command: bench/run.sh $build (REPEAT=$repeat, medians)"
echo
printf "| %-56s | %-5s | %10s | %10s | %6s |\n" figure unit parlua lua5.4 ratio
echo "|----------------------------------------------------------|-------|------------|------------|--------|"

par=$(line terrain '/^parallel time:/ {print $3}')
ser=$(line terrain_plain '/^time/ {print $2}')
row "terrain: 9,261 chunks, 32 actors, wall time" s "$par" "$ser"
row "terrain: speedup over lua5.4 (x cores: $(nproc))" x "$(ratio "$ser" "$par")" ""
cpar=$(fig cpu cpu_parallel_s)
cplain=$(fig cpu_plain plain_cpu_s)
row "CPU-bound loop (global math.sin), one actor per worker" s "$cpar" "$cplain"
row "CPU-bound loop: speedup over lua5.4 (x cores: $(nproc))" x "$(ratio "$cplain" "$cpar")" ""
row "CPU-bound loop: speedup over parlua's main VM" x "$(ratio "$(fig cpu cpu_main_s)" "$cpar")" ""
row "the same loop in C on plain threads: speedup (the ceiling)" x "$(fig cpu_c c_cpu_speedup)" ""
row "messages, one sender to one actor: send" "M/s" "$(fig messages send_mps)" ""
row "messages, one sender to one actor: handled" "M/s" "$(fig messages messages_mps)" ""
row "message round trip between two actors" "us" "$(fig roundtrip roundtrip_us)" ""
row "messages to another rank (MPI, 2 ranks): send" "M/s" "$(fig remote remote_send_mps)" ""
row "messages to another rank (MPI, 2 ranks): handled" "M/s" "$(fig remote remote_mps)" ""
row "message round trip between actors on two ranks (MPI)" "us" "$(fig remote remote_roundtrip_us)" ""
if [ -f bench/sharedtable.lua ]; then
  row "SharedTable: get" "M/s" "$(fig sharedtable get_mps)" "$(fig sharedtable_plain plain_get_mps)"
  row "SharedTable: set" "M/s" "$(fig sharedtable set_mps)" "$(fig sharedtable_plain plain_set_mps)"
  row "SharedTable: increment, 1 worker" "M/s" "$(fig sharedtable increment_mps_1)" ""
  row "SharedTable: increment, every worker on one key" "M/s" "$(fig sharedtable increment_mps_all)" ""
  row "SharedTable core in C, every thread on one key (no Lua)" "M/s" "$(fig stable_c "c_increment_mps_$(nproc)")" ""
  row "SharedTable: update of a number, per call (<= 0.2)" "us" "$(fig sharedtable update_us)" ""
  row "SharedTable: clone of a 1,000,000-key table" "us" "$(fig sharedtable clone_1m_us)" ""
  row "SharedTable: transactions of 10 keys" "tx/s" "$(fig sharedtable transaction10_tps)" ""
fi
row "sync: Mutex lock+unlock, uncontended" "M/s" "$(fig sync lock_mps)" ""
row "sync: SharedTable.increment, same loop (for comparison)" "M/s" "$(fig sync increment_mps)" ""
row "sync: Semaphore acquire+release, uncontended" "M/s" "$(fig sync sema_mps)" ""
row "sync: Atomic:add, one thread" "M/s" "$(fig sync atomic_add_mps)" ""
row "sync: Mutex hand-over between two actors, round trip" "us" "$(fig sync handoff_us)" ""
row "sync: Queue put+get, 1 producer / 1 consumer actor" "M/s" "$(fig sync queue_1x1_mps)" ""
row "sync: Queue put+get, 4 producers / 4 consumers" "M/s" "$(fig sync queue_4x4_mps)" ""
row "sync: 100 actors woken by one Event, set to last resumed" "us" "$(fig sync event_wake_us)" ""
row "actor start-up (create + first script run)" "us" "$(fig actors actor_start_us)" ""
row "lthread start + join, batch of 10,000 (SPEC: <= 5 us)" "us" "$(fig lthreads lthread_start_us)" ""
mc=$(fig lthreads map_cheap_ms)
lc=$(fig lthreads loop_cheap_ms)
row "parallel.map, 100,000 cheap items (lua5.4: a loop)" "ms" "$mc" "$(fig lthreads_plain plain_cheap_ms)"
row "parallel.map, 100,000 cheap items / a loop in parlua" x "$(ratio "$mc" "$lc")" ""
mh=$(fig lthreads map_heavy_s)
lh=$(fig lthreads loop_heavy_s)
row "parallel.map, 64 expensive items (lua5.4: a loop)" s "$mh" "$(fig lthreads_plain plain_heavy_s)"
row "parallel.map, 64 expensive items: speedup over a loop" x "$(ratio "$lh" "$mh")" ""
row "Lua code in an lthread / in the main VM, CPU time" x "$(fig lthreads lthread_cpu_ratio)" ""
row "memory per idle actor: Lua heap (lua5.4: a fresh state)" KB "$(fig actors idle_actor_heap_kb)" "$(fig plain_state state_kb)"
row "memory per idle actor: process RSS growth" KB "$(fig actors idle_actor_rss_kb)" ""
row "10,000 idle actors: process RSS" MB "$(fig actors total_rss_mb)" ""
f0=$(fig frames frame_us)
f1=$(fig actors frame_us)
row "empty Heartbeat frame, no actors" "us" "$f0" ""
row "empty Heartbeat frame, 10,000 idle actors" "us" "$f1" ""
row "frame time, 10,000 idle actors / no actors" x "$(ratio "$f1" "$f0")" ""
sp=$(fig serial_plain serial_plain_s)
row "plain serial Lua (globals), main VM, CPU time (<= 1.03)" s "$(fig serial serial_main_s)" "$sp"
row "plain serial Lua (globals), in an actor, CPU time" s "$(fig serial serial_actor_s)" "$sp"
b1=$(fig busy1000 busy_frame_us)
b2=$(fig busy2000 busy_frame_us)
row "frame, 1,000 busy actors (Heartbeat, <= 1000 us)" "us" "$b1" ""
row "frame, 2,000 busy actors" "us" "$b2" ""
row "frame, 2,000 / 1,000 busy actors (linear: 2)" x "$(ratio "$b2" "$b1")" ""
c1=$(fig busy1000 busy_frame_cpu_us)
c2=$(fig busy2000 busy_frame_cpu_us)
row "frame CPU time, 1,000 busy actors (every thread)" "us" "$c1" ""
row "frame CPU time, 2,000 / 1,000 busy actors" x "$(ratio "$c2" "$c1")" ""
tpar=$(line terrain_trace '/^parallel time:/ {print $3}')
row "terrain with --trace: wall time" s "$tpar" ""
row "--trace overhead: terrain" "%" "$(overhead "$tpar" "$par")" ""
m0=$(fig messages_small messages_mps)
m1=$(fig messages_trace messages_mps)
row "messages handled (200,000), --trace off" "M/s" "$m0" ""
row "messages handled (200,000), --trace on" "M/s" "$m1" ""
row "--trace overhead: messages" "%" "$(overhead "$m0" "$m1")" ""

# ---- targets (issue 12 rows measured above) ----
echo
echo "targets:"
target "actor start-up, us per actor" "$(fig actors actor_start_us)" "<=" 10
target "memory per idle actor, Lua heap, KB" "$(fig actors idle_actor_heap_kb)" "<=" 10
target "message round trip between two actors, us" "$(fig roundtrip roundtrip_us)" "<=" 0.8
target "one-way small messages, handled, M/s" "$(fig messages messages_mps)" ">=" 10
target "CPU-bound speedup (global math.sin loop) over lua5.4, x" "$(ratio "$cplain" "$cpar")" ">=" 1.95
if [ -n "$(fig cpu_c c_cpu_speedup)" ]; then
  echo "    (this machine's ceiling, the same loop in C on plain threads: $(fig cpu_c c_cpu_speedup) x)"
fi
target "terrain speedup over lua5.4 (SPEC 11: 0.9 x cores), x" "$(ratio "$ser" "$par")" ">=" "$(awk -v n="$(nproc)" 'BEGIN { print 0.9 * n }')"
target "lthread start + join, us per lthread (issue 15)" "$(fig lthreads lthread_start_us)" "<=" 10
target "lthread start + join, us per lthread (SPEC 11)" "$(fig lthreads lthread_start_us)" "<=" 5
if [ -f bench/sharedtable.lua ]; then
  target "SharedTable.update of a number, us per call" "$(fig sharedtable update_us)" "<=" 0.2
  target "shared counter, every worker on one key, M/s" "$(fig sharedtable increment_mps_all)" ">=" 10
fi
target "frame with 1,000 busy actors, us" "$b1" "<=" 1000
target "frame, 2,000 / 1,000 busy actors (linear: 2)" "$(ratio "$b2" "$b1")" "<=" 2.2
target "plain serial Lua, main VM / lua5.4, CPU time" "$(ratio "$(fig serial serial_main_s)" "$sp")" "<=" 1.03
target "plain serial Lua, actor / lua5.4, CPU time" "$(ratio "$(fig serial serial_actor_s)" "$sp")" "<=" 1.03
