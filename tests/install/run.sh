#!/bin/sh
# Installs parlua from BUILD_DIR into a scratch prefix, then builds
# examples/host.c and examples/host_terrain.c (a host class with safety
# levels, docs/embedding.md) against it twice each, as a host would: with
# pkg-config (`cc host.c $(pkg-config --cflags --libs parlua)`) and with
# CMake's find_package(parlua); runs them all. Also checks that the shared
# library exports nothing but parlua_* functions.
#   tests/install/run.sh BUILD_DIR
set -eu
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pc=$(dirname "$(find "$tmp/prefix" -name parlua.pc)")
lib=$(dirname "$(find "$tmp/prefix" -name 'libparlua.so' | head -n 1)")
extra=$(nm -D --defined-only "$lib/libparlua.so" | awk '{print $3}' | grep -v '^parlua_' || true)
if [ -n "$extra" ]; then
  echo "install: libparlua.so exports more than parlua_*:"; echo "$extra"; exit 1
fi
export PKG_CONFIG_PATH="$pc"
cc -o "$tmp/host_pc" "$src/examples/host.c" $(pkg-config --cflags --libs parlua)
LD_LIBRARY_PATH="$lib" "$tmp/host_pc" 2 >"$tmp/out_pc"
cc -o "$tmp/terrain_pc" "$src/examples/host_terrain.c" $(pkg-config --cflags --libs parlua)
cmake -S "$src/tests/install" -B "$tmp/cmake" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DHOST_SOURCE="$src/examples/host.c" -DTERRAIN_SOURCE="$src/examples/host_terrain.c" >/dev/null
cmake --build "$tmp/cmake" >/dev/null
LD_LIBRARY_PATH="$lib" "$tmp/cmake/host_cmake" 2 >"$tmp/out_cmake"
cmp -s "$tmp/out_pc" "$tmp/out_cmake" || { echo "install: the two hosts printed different things"; exit 1; }
for t in terrain_pc cmake/host_terrain_cmake; do
  LD_LIBRARY_PATH="$lib" "$tmp/$t" "$src/examples/host_terrain.lua" >"$tmp/out_t"
  grep -q '^host_terrain: .* 8000 voxels written, 0 uncaught errors$' "$tmp/out_t" ||
    { echo "install: $t did not write every voxel:"; tail -n 3 "$tmp/out_t"; exit 1; }
done
# The MPI module (docs/distributed.md) is installed in LIBDIR/parlua and
# found from the installed command, wherever the prefix is.
if [ -f "$build/parlua_mpi.so" ] && command -v mpirun >/dev/null; then
  . "$src/tests/mpi/env.sh"
  out=$(mpirun --oversubscribe -np 2 "$tmp/prefix/bin/parlua" -e 'io.write(parlua.ranks(), " ")')
  [ "$out" = "2 2 " ] || { echo "install: the installed parlua did not join the MPI job: $out"; exit 1; }
fi
echo "install: host and host_terrain built against the installed library (pkg-config, find_package) and ran"
