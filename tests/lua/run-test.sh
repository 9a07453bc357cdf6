#!/bin/sh
# Runs one Lua script test under parlua and checks what its header expects.
#   -- options: ...          command-line options put before the script
#   -- args: ...             arguments put after the script
#   -- expect-status: N      exit status (default 0)
#   -- expect-stdout: ERE    a line of stdout must match (may repeat)
#   -- expect-stderr: ERE    a line of stderr must match (may repeat)
#   -- expect-no-stderr      stderr must be empty
# PARLUA_LAUNCH, if set, is put before the command (tests/mpi/run-test.sh:
# mpirun and its options).
# With status 0 and no expect-stdout line, the last line of stdout must be
# "OK": a script that stops early, or whose checks never ran, fails.
parlua=$1 script=$2
hdr() { sed -n "s/^-- $1: *//p" "$script"; }
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
# shellcheck disable=SC2046,SC2086
$PARLUA_LAUNCH "$parlua" $(hdr options) "$script" $(hdr args) >"$out" 2>"$err"
status=$?
want=$(hdr expect-status); want=${want:-0}
fail=0
report() { echo "FAIL: $*"; fail=1; }
[ "$status" = "$want" ] || report "exit status $status, expected $want"
if [ "$want" = 0 ] && [ -z "$(hdr expect-stdout)" ]; then
  [ "$(tail -n 1 "$out")" = "OK" ] || report "last line of stdout is not OK"
fi
hdr expect-stdout > "$out.pat"
while IFS= read -r re; do
  grep -Eq -- "$re" "$out" || report "no stdout line matches: $re"
done < "$out.pat"
hdr expect-stderr > "$out.pat"
while IFS= read -r re; do
  grep -Eq -- "$re" "$err" || report "no stderr line matches: $re"
done < "$out.pat"
rm -f "$out.pat"
if grep -q '^-- expect-no-stderr' "$script" && [ -s "$err" ]; then
  report "stderr is not empty"
fi
if [ $fail = 1 ] || [ -n "$VERBOSE" ]; then
  echo "--- stdout"; cat "$out"; echo "--- stderr"; cat "$err"
fi
exit $fail
