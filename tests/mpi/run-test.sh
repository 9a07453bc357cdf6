#!/bin/sh
# Runs one MPI test (tests/mpi/*.lua) as a job of `-- ranks: N` ranks on
# this machine, then checks it as tests/lua/run-test.sh does (its header
# lines: expect-status, expect-stdout, expect-stderr, ...).
#   run-test.sh MPIEXEC PARLUA SCRIPT
# --oversubscribe lets a job have more ranks than the machine has cores;
# env.sh sets the rest of a job's environment.
mpiexec=$1 parlua=$2 script=$3
ranks=$(sed -n 's/^-- ranks: *//p' "$script")
. "$(dirname "$0")/env.sh"
export PARLUA_LAUNCH="$mpiexec --oversubscribe -np ${ranks:-2}"
exec sh "$(dirname "$0")/../lua/run-test.sh" "$parlua" "$script"
