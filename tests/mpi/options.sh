#!/bin/sh
# --mpi and --no-mpi (docs/distributed.md): started alone with --mpi,
# parlua is a one-rank MPI job (MPI's singleton start); under mpirun with
# --no-mpi each process is a lone rank 0 of 1; a module that cannot be
# loaded is named, with the fix, and the command exits 1; the ranks on one
# machine share its cores unless --workers says otherwise.
#   options.sh MPIEXEC PARLUA
mpiexec=$1 parlua=$2
. "$(dirname "$0")/env.sh"
fail=0
out=$("$parlua" --mpi -e 'io.write(parlua.rank(), "/", parlua.ranks())')
[ "$out" = "0/1" ] || { echo "FAIL: --mpi alone: '$out'"; fail=1; }
out=$("$mpiexec" --oversubscribe -np 2 "$parlua" --no-mpi -e 'io.write(parlua.rank(), "/", parlua.ranks(), " ")')
[ "$out" = "0/1 0/1 " ] || { echo "FAIL: --no-mpi under mpirun: '$out'"; fail=1; }
out=$(PARLUA_MPI_MODULE=/nonexistent/parlua_mpi.so "$parlua" --mpi -e 'print(1)' 2>&1)
status=$?
[ $status = 1 ] || { echo "FAIL: a missing module: status $status"; fail=1; }
echo "$out" | grep -q "^parlua: --mpi was given, but the MPI module parlua_mpi.so could not be loaded (/nonexistent/parlua_mpi.so: .*PARLUA_MPI_MODULE=" ||
  { echo "FAIL: a missing module: '$out'"; fail=1; }
# the ranks of one machine share its cores: the default workers per rank
share=$(($(nproc) / 2))
[ $share -ge 1 ] || share=1
out=$("$mpiexec" --oversubscribe -np 2 "$parlua" -e 'io.write(parlua.workers(), " ")')
[ "$out" = "$share $share " ] || { echo "FAIL: default workers of 2 ranks: '$out', expected $share each"; fail=1; }
out=$("$mpiexec" --oversubscribe -np 2 "$parlua" --workers 3 -e 'io.write(parlua.workers(), " ")')
[ "$out" = "3 3 " ] || { echo "FAIL: --workers 3 in a job: '$out'"; fail=1; }
[ $fail = 0 ] && echo OK
exit $fail
