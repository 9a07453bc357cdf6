#!/bin/sh
# A rank that stops before the job ended (here: its trace file cannot be
# created, then a script that does not load) aborts the whole job with
# status 1 and says why, naming the rank; no rank waits forever.
#   startup-failure.sh MPIEXEC PARLUA SCRIPT
mpiexec=$1 parlua=$2 script=$3
. "$(dirname "$0")/env.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0
check() { # what, pattern, command...
  what=$1 pattern=$2
  shift 2
  "$@" >"$dir/out" 2>"$dir/err"
  status=$?
  [ "$status" = 1 ] || { echo "FAIL: $what: status $status, expected 1"; fail=1; }
  grep -Eq "$pattern" "$dir/err" || { echo "FAIL: $what: no stderr line matches $pattern"; fail=1; }
  grep -q "this rank stopped before the job ended" "$dir/err" ||
    { echo "FAIL: $what: no rank said it aborts the job"; fail=1; }
  [ $fail = 0 ] || cat "$dir/err"
}
check "a trace file in a missing folder" \
  "^parlua\[rank [01]\]: cannot create trace file '$dir/no/t.rank[01].json'" \
  "$mpiexec" --oversubscribe -np 2 "$parlua" --trace "$dir/no/t.json" "$script"
check "a script that does not load" "^parlua: cannot open $dir/missing.lua" \
  "$mpiexec" --oversubscribe -np 2 "$parlua" "$dir/missing.lua"
[ $fail = 0 ] && echo OK
exit $fail
