/*
 * A host with its own class (docs/embedding.md, "Host classes"): it
 * registers Terrain, whose WriteVoxels(region, resolution, materials,
 * occupancy) is Unsafe and whose VoxelCount is ReadParallel, runs the
 * seed's procedural-terrain program (examples/host_terrain.lua) against it
 * with its own frame loop, and checks that every chunk was written and
 * that WriteVoxels called in parallel failed with the documented error.
 *
 *   build/examples/host_terrain [examples/host_terrain.lua]
 */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "parlua.h"

typedef struct terrain {
    lua_Integer voxels, writes;
} terrain;

/* The length of the array at idx, checked to be a table (argument arg). */
static lua_Integer array_len(lua_State *L, int idx, int arg)
{
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_Integer n = luaL_len(L, idx);
    luaL_argcheck(L, n > 0, arg, "an empty array");
    return n;
}

/* WriteVoxels(region, resolution, materials, occupancy): Unsafe, so it
 * only ever runs in the serial phase, one call at a time. */
static int write_voxels(lua_State *L)
{
    terrain *t = parlua_instance_data(L, 1, "Terrain");
    luaL_checktype(L, 2, LUA_TTABLE);
    luaL_argcheck(L, luaL_checknumber(L, 3) == 4, 3, "the resolution must be 4");
    lua_Integer nx = array_len(L, 4, 4);
    array_len(L, 5, 5);
    lua_geti(L, 5, 1);
    lua_Integer ny = array_len(L, -1, 5);
    lua_geti(L, -1, 1);
    lua_Integer nz = array_len(L, -1, 5);
    lua_pop(L, 2);
    t->voxels += nx * ny * nz;
    t->writes++;
    return 0;
}

/* VoxelCount: ReadParallel, so it may run on several workers at once, but
 * never while WriteVoxels runs (the phases never overlap). */
static int voxel_count(lua_State *L)
{
    lua_pushinteger(L, ((terrain *)parlua_instance_data(L, 1, "Terrain"))->voxels);
    return 1;
}

static const parlua_member terrain_members[] = {
    {"WriteVoxels", PARLUA_UNSAFE, NULL, NULL, write_voxels, "writes a chunk of voxels"},
    {"VoxelCount", PARLUA_READ_PARALLEL, voxel_count, NULL, NULL, "voxels written so far"},
    {NULL, 0, NULL, NULL, NULL, NULL},
};

static const parlua_class terrain_class = {"Terrain", NULL, 1, sizeof(terrain), terrain_members};

static const char EXPECTED[] =
    "Function Terrain.WriteVoxels is not safe to call in parallel (call task.synchronize() first)";

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "examples/host_terrain.lua";
    parlua_config cfg;
    parlua_config_init(&cfg);
    parlua_runtime *rt = parlua_new(&cfg);
    if (!rt) {
        fprintf(stderr, "host_terrain: cannot create the runtime\n");
        return 1;
    }
    if (parlua_register_class(rt, &terrain_class) != PARLUA_OK ||
        parlua_run_file(rt, path, 0) != PARLUA_OK) {
        fprintf(stderr, "host_terrain: %s\n", parlua_last_error(rt));
        parlua_free(rt);
        return 1;
    }
    int frames = 1; /* the engine's loop: one frame per 60 Hz tick */
    while (parlua_step(rt, 1.0 / 60.0))
        frames++;
    /* Read the result back through Lua, between frames. */
    lua_State *L = parlua_main_state(rt);
    int ok = luaL_dostring(L, "return workspace.Terrain.VoxelCount, "
                              "SharedTableRegistry:GetSharedTable('host').parallelError") == LUA_OK;
    lua_Integer voxels = ok ? lua_tointeger(L, -2) : -1;
    const char *err = ok ? lua_tostring(L, -1) : NULL;
    int documented = err && strcmp(err, EXPECTED) == 0;
    if (!documented)
        fprintf(stderr, "host_terrain: WriteVoxels in parallel did not fail as documented\n");
    int errors = parlua_error_count(rt);
    printf("host_terrain: %d frames, %lld voxels written, %d uncaught errors\n", frames,
           (long long)voxels, errors);
    lua_settop(L, 0);
    parlua_free(rt);
    /* 5^3 chunks of 4x4x4 voxels */
    return voxels == 125 * 64 && errors == 0 && documented ? 0 : 1;
}
