#!/bin/sh
# `--trace FILE --stats` in a 2-rank job: FILE.rank0 and FILE.rank1 (the
# rank before the extension), each a trace, no FILE itself; each rank's
# --stats names it.
#   trace-per-rank.sh MPIEXEC PARLUA SCRIPT
mpiexec=$1 parlua=$2 script=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
. "$(dirname "$0")/env.sh"
"$mpiexec" --oversubscribe -np 2 "$parlua" --stats --trace "$dir/t.json" "$script" \
  >"$dir/out" 2>"$dir/err" || { echo "FAIL: the job failed"; cat "$dir/err"; exit 1; }
fail=0
for r in 0 1; do
  grep -q traceEvents "$dir/t.rank$r.json" || { echo "FAIL: no trace t.rank$r.json"; fail=1; }
  grep -q "^parlua\[rank $r\]: rank $r of 2" "$dir/err" || { echo "FAIL: no stats of rank $r"; fail=1; }
  # each rank's summary in one piece: its title, then its lines up to its rank line
  awk -v r="$r" '$0 == "parlua[rank " r "] --stats" {on = 1; next}
    on && /^parlua\[rank/ {exit !($0 ~ "^parlua\\[rank " r "\\]: rank " r " of 2")}
    END {if (!on) exit 1}' "$dir/err" || { echo "FAIL: the summary of rank $r is not in one piece"; fail=1; }
done
[ -e "$dir/t.json" ] && { echo "FAIL: t.json was written"; fail=1; }
[ $fail = 0 ] && echo OK || { ls "$dir"; cat "$dir/err"; }
exit $fail
