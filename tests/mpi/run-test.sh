#!/bin/sh
# Runs one MPI test (tests/mpi/*.lua) as a job of `-- ranks: N` ranks on
# this machine, then checks it as tests/lua/run-test.sh does (its header
# lines: expect-status, expect-stdout, expect-stderr, ...).
#   run-test.sh MPIEXEC PARLUA SCRIPT
# Open MPI refuses root unless told (CI containers run as root);
# --oversubscribe lets a job have more ranks than the machine has cores.
mpiexec=$1 parlua=$2 script=$3
ranks=$(sed -n 's/^-- ranks: *//p' "$script")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# shared memory and TCP on loopback only: no network probing in CI
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
export PARLUA_LAUNCH="$mpiexec --oversubscribe -np ${ranks:-2}"
exec sh "$(dirname "$0")/../lua/run-test.sh" "$parlua" "$script"
