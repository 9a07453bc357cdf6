#!/bin/sh
# examples/terrain_mpi.lua on RANKS ranks gives the checksum of the serial
# run of examples/terrain.lua (same seed and size).
#   example-terrain.sh MPIEXEC PARLUA EXAMPLES RANKS
mpiexec=$1 parlua=$2 examples=$3 ranks=$4
. "$(dirname "$0")/env.sh"
serial=$("$parlua" --workers 2 --frame-budget 0 "$examples/terrain.lua" 777 3 2 |
  sed -n 's/^serial checksum: *//p')
out=$("$mpiexec" --oversubscribe -np "$ranks" "$parlua" --workers 2 "$examples/terrain_mpi.lua" 777 3 2)
echo "$out"
dist=$(echo "$out" | sed -n 's/^parallel checksum: *//p')
[ -n "$serial" ] && [ "$serial" = "$dist" ] && echo "$out" | grep -q "on $ranks ranks" &&
  echo "$out" | grep -q "checksums match:   yes" && echo OK && exit 0
echo "FAIL: serial checksum '$serial', distributed '$dist' on $ranks ranks"
exit 1
