/*
 * Host classes through the public API (parlua_register_class, SPEC 2.4):
 * a Terrain class with an Unsafe method and a ReadParallel property, made
 * by scripts with Instance.new, used in serial, read in parallel by an
 * actor, and refused in parallel with the built-in members' error; host
 * data per instance; bad registrations return PARLUA_ERROR with a message
 * and change nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <lauxlib.h>

#include "parlua.h"

typedef struct terrain {
    lua_Integer voxels;
} terrain;

static int write_voxels(lua_State *L)
{
    terrain *t = parlua_instance_data(L, 1, "Terrain");
    t->voxels += luaL_checkinteger(L, 2);
    return 0;
}

static int get_voxel_count(lua_State *L)
{
    terrain *t = parlua_instance_data(L, 1, "Terrain");
    lua_pushinteger(L, t->voxels);
    return 1;
}

static const parlua_member terrain_members[] = {
    {"WriteVoxels", PARLUA_UNSAFE, NULL, NULL, write_voxels, "adds voxels (serial only)"},
    {"VoxelCount", PARLUA_READ_PARALLEL, get_voxel_count, NULL, NULL, "voxels written"},
    {NULL, 0, NULL, NULL, NULL, NULL},
};

static const parlua_class terrain_class = {"Terrain", NULL, 1, sizeof(terrain), terrain_members};

static parlua_runtime *new_runtime(void)
{
    parlua_config cfg;
    parlua_config_init(&cfg);
    cfg.workers = 2;
    cfg.quiet = 1;
    parlua_runtime *rt = parlua_new(&cfg);
    assert_non_null(rt);
    return rt;
}

static lua_Integer global_int(parlua_runtime *rt, const char *name)
{
    lua_State *L = parlua_main_state(rt);
    lua_getglobal(L, name);
    lua_Integer v = lua_tointeger(L, -1);
    lua_pop(L, 1);
    return v;
}

static void levels_are_enforced(void **state)
{
    (void)state;
    parlua_runtime *rt = new_runtime();
    assert_int_equal(parlua_register_class(rt, &terrain_class), PARLUA_OK);
    static const char *script =
        "local t = Instance.new('Terrain')\n"
        "t.Name = 'Land'\n"
        "assert(t:IsA('Terrain') and t:IsA('Instance') and t.ClassName == 'Terrain')\n"
        "t:WriteVoxels(5)\n"
        "t:WriteVoxels(2)\n"
        "assert(t.VoxelCount == 7)\n"
        "local c = t:Clone()\n"
        "assert(c.VoxelCount == 7, 'Clone copies the host data')\n"
        "c:WriteVoxels(1)\n"
        "assert(t.VoxelCount == 7 and c.VoxelCount == 8)\n"
        "assert(not pcall(function() t.VoxelCount = 1 end))\n"
        "t.Parent = workspace\n"
        "local a = Instance.new('Actor')\n"
        "local s = Instance.new('Script')\n"
        "s.Source = [[\n"
        "  local t = workspace.Land\n"
        "  task.desynchronize()\n"
        "  local n = t.VoxelCount -- ReadParallel: fine\n"
        "  local ok, err = pcall(t.WriteVoxels, t, 1)\n"
        "  task.synchronize()\n"
        "  SharedTableRegistry:GetSharedTable('r').n = n\n"
        "  SharedTableRegistry:GetSharedTable('r').err = err\n"
        "  t:WriteVoxels(100) -- serial: fine\n"
        "]]\n"
        "s.Parent = a\n"
        "a.Parent = workspace\n";
    assert_int_equal(parlua_run_string(rt, script, "=terrain"), PARLUA_OK);
    assert_int_equal(parlua_run(rt), PARLUA_OK);
    assert_int_equal(parlua_error_count(rt), 0);
    assert_int_equal(parlua_run_string(rt,
                                       "local r = SharedTableRegistry:GetSharedTable('r')\n"
                                       "n = r.n\n"
                                       "ok = r.err == 'Function Terrain.WriteVoxels is not safe "
                                       "to call in parallel (call task.synchronize() first)'\n"
                                       "count = workspace.Land.VoxelCount\n",
                                       "=check"),
                     PARLUA_OK);
    assert_int_equal(global_int(rt, "n"), 7);
    lua_State *L = parlua_main_state(rt);
    lua_getglobal(L, "ok");
    assert_true(lua_toboolean(L, -1));
    lua_pop(L, 1);
    assert_int_equal(global_int(rt, "count"), 107);
    /* too late: an actor VM is open */
    static const parlua_class late = {"Late", NULL, 1, 0, NULL};
    assert_int_equal(parlua_register_class(rt, &late), PARLUA_ERROR);
    assert_non_null(strstr(parlua_last_error(rt), "before running scripts that start actors"));
    parlua_free(rt);
}

static void bad_registrations_are_refused(void **state)
{
    (void)state;
    parlua_runtime *rt = new_runtime();
    static const parlua_member both[] = {
        {"X", PARLUA_SAFE, get_voxel_count, NULL, write_voxels, NULL},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    static const parlua_member neither[] = {
        {"X", PARLUA_SAFE, NULL, NULL, NULL, NULL},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    static const parlua_member rp_method[] = {
        {"X", PARLUA_READ_PARALLEL, NULL, NULL, write_voxels, NULL},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    const parlua_class bad[] = {
        {NULL, NULL, 1, 0, NULL},        {"", NULL, 1, 0, NULL},  {"Folder", NULL, 1, 0, NULL},
        {"A", "NoSuchBase", 1, 0, NULL}, {"B", NULL, 1, 0, both}, {"C", NULL, 1, 0, neither},
        {"D", NULL, 1, 0, rp_method},
    };
    const char *why[] = {"needs a name",
                         "needs a name",
                         "taken already",
                         "unknown base class",
                         "either a property",
                         "either a property",
                         "ReadParallel is a level of properties"};
    assert_int_equal(parlua_register_class(rt, NULL), PARLUA_ERROR);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(parlua_register_class(rt, &bad[i]), PARLUA_ERROR);
        assert_non_null(strstr(parlua_last_error(rt), why[i]));
    }
    /* a class derived from a host class, not creatable: Instance.new refuses */
    assert_int_equal(parlua_register_class(rt, &terrain_class), PARLUA_OK);
    assert_int_equal(parlua_register_class(rt, &terrain_class), PARLUA_ERROR);
    static const parlua_class sub = {"SubTerrain", "Terrain", 0, sizeof(terrain), NULL};
    assert_int_equal(parlua_register_class(rt, &sub), PARLUA_OK);
    assert_int_equal(
        parlua_run_string(
            rt,
            "assert(not pcall(Instance.new, 'SubTerrain'))\n"
            "local ok = pcall(function() return Instance.new('Folder').WriteVoxels end)\n"
            "assert(not ok)\n",
            "=x"),
        PARLUA_OK);
    parlua_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(levels_are_enforced),
        cmocka_unit_test(bad_registrations_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
