#!/bin/sh
# Runs parlua's benchmarks and prints one table: each figure, parlua's
# number, plain lua5.4's number on the same work where one exists, and the
# ratio from the same run. Each measurement runs REPEAT times (default 3);
# the median is reported. Usage: bench/run.sh BUILD_DIR
set -eu
build=${1:-build-release}
parlua="$build/parlua"
repeat=${REPEAT:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ -x "$parlua" ] || { echo "bench: $parlua not found (run make bench)" >&2; exit 1; }

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]}'; }

# measure AWK CMD...: runs CMD REPEAT times; AWK picks the figure out of its
# output; prints the median
measure() {
  prog=$1; shift
  i=0
  while [ $i -lt "$repeat" ]; do
    "$@" 2>/dev/null | awk "$prog"
    i=$((i + 1))
  done | median
}
# result NAME CMD...: the figure on the "RESULT NAME value" line
result() {
  name=$1; shift
  measure "\$1 == \"RESULT\" && \$2 == \"$name\" {print \$3}" "$@"
}

row() { # figure unit parlua lua
  awk -v f="$1" -v u="$2" -v p="$3" -v l="$4" 'BEGIN {
    r = (p != "" && l != "" && l + 0 != 0) ? sprintf("%.2f", p / l) : "-"
    printf "| %-44s | %-6s | %12s | %12s | %6s |\n", f, u, (p == "" ? "-" : p), (l == "" ? "-" : l), r }'
}

echo "machine: $(nproc) cores, $(uname -m), $(lua5.4 -v 2>&1 | head -n 1)"
echo "command: bench/run.sh $build (REPEAT=$repeat, medians)"
echo
printf "| %-44s | %-6s | %12s | %12s | %6s |\n" figure unit parlua lua5.4 ratio
echo "|----------------------------------------------|--------|--------------|--------------|--------|"

if [ -f examples/terrain.lua ]; then
  par=$(measure '/^parallel time:/ {print $3}' "$parlua" examples/terrain.lua)
  ser=$(measure '/^time/ {print $2}' lua5.4 examples/terrain-serial.lua)
  row "terrain: 9,261 chunks, 32 actors, wall time" s "$par" "$ser"
  speedup=$(awk -v p="$par" -v l="$ser" 'BEGIN { if (p > 0) printf "%.2f", l / p }')
  row "terrain: speedup over lua5.4 (x cores: $(nproc))" x "$speedup" ""
fi
row "messages, one sender to one actor: send" "M/s" "$(result send_mps "$parlua" bench/messages.lua)" ""
row "messages, one sender to one actor: handled" "M/s" "$(result messages_mps "$parlua" bench/messages.lua)" ""
row "message round trip between two actors" "us" "$(result roundtrip_us "$parlua" bench/roundtrip.lua)" ""
