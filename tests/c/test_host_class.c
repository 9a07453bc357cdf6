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
#include <stdio.h>
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

/* Probe: one property per level and one method per level (Unsafe ones
 * given no level at all: zero), for every way to use and misuse them. */
typedef struct probe {
    lua_Integer v[4];
} probe;

#define PROBE_PROPERTY(i)                                                                          \
    static int get##i(lua_State *L)                                                                \
    {                                                                                              \
        lua_pushinteger(L, ((probe *)parlua_instance_data(L, 1, "Probe"))->v[i]);                  \
        return 1;                                                                                  \
    }                                                                                              \
    static int set##i(lua_State *L)                                                                \
    {                                                                                              \
        ((probe *)parlua_instance_data(L, 1, "Probe"))->v[i] = luaL_checkinteger(L, 2);            \
        return 0;                                                                                  \
    }
PROBE_PROPERTY(0)
PROBE_PROPERTY(1)
PROBE_PROPERTY(2)
PROBE_PROPERTY(3)

static int method(lua_State *L)
{
    parlua_instance_data(L, 1, "Probe");
    lua_pushliteral(L, "called");
    return 1;
}

static const parlua_member probe_members[] = {
    {"U", 0, get0, set0, NULL, NULL}, /* no level: Unsafe */
    {"RP", PARLUA_READ_PARALLEL, get1, set1, NULL, NULL},
    {"LS", PARLUA_LOCAL_SAFE, get2, set2, NULL, NULL},
    {"S", PARLUA_SAFE, get3, set3, NULL, NULL},
    {"UM", 0, NULL, NULL, method, NULL},
    {"LSM", PARLUA_LOCAL_SAFE, NULL, NULL, method, NULL},
    {"SM", PARLUA_SAFE, NULL, NULL, method, NULL},
    {NULL, 0, NULL, NULL, NULL, NULL},
};

static const parlua_class probe_class = {"Probe", NULL, 1, sizeof(probe), probe_members};

/* Every level, every use, in parallel on an instance the actor created and
 * on one the main VM created, then in serial: the errors are the built-in
 * members' (SPEC 2.3). The script raises (counted) on any difference. */
static void every_level_every_use(void **state)
{
    (void)state;
    parlua_runtime *rt = new_runtime();
    assert_int_equal(parlua_register_class(rt, &probe_class), PARLUA_OK);
    static const char *script =
        "local main = Instance.new('Probe')\n"
        "main.Name = 'MainProbe'\n"
        "main.Parent = workspace\n"
        "local a = Instance.new('Actor')\n"
        "local s = Instance.new('Script')\n"
        "s.Source = [==[\n"
        "  local own, other = Instance.new('Probe'), workspace.MainProbe\n"
        "  local function fails(want, f)\n"
        "    local ok, err = pcall(f)\n"
        "    assert(not ok, 'expected: ' .. want)\n"
        "    assert(err:sub(-#want) == want, err .. ' ~= ' .. want)\n"
        "  end\n"
        "  local fix = ' (call task.synchronize() first)'\n"
        "  task.desynchronize()\n"
        "  for _, p in ipairs({own, other}) do\n"
        "    fails('Property Probe.U is Unsafe: it cannot be read in parallel' .. fix,\n"
        "      function() return p.U end)\n"
        "    fails('Property Probe.U is Unsafe: it cannot be written in parallel' .. fix,\n"
        "      function() p.U = 1 end)\n"
        "    assert(p.RP == 0)\n"
        "    fails('Property Probe.RP is ReadParallel: it cannot be written in parallel' .. fix,\n"
        "      function() p.RP = 1 end)\n"
        "    assert(p.LS == 0 and p.S >= 0)\n"
        "    p.S = 3\n"
        "    assert(p:SM() == 'called')\n"
        "    fails('Function Probe.UM is not safe to call in parallel' .. fix,\n"
        "      function() return p:UM() end)\n"
        "  end\n"
        "  own.LS = 2\n"
        "  assert(own.LS == 2 and own:LSM() == 'called')\n"
        "  fails('Property Probe.LS is LocalSafe: it cannot be written in parallel by an actor '\n"
        "    .. 'that did not create the instance' .. fix, function() other.LS = 2 end)\n"
        "  fails('Function Probe.LSM is not safe to call in parallel on an instance another '\n"
        "    .. 'actor created' .. fix, function() return other:LSM() end)\n"
        "  task.synchronize()\n"
        "  for _, p in ipairs({own, other}) do -- serial: everything\n"
        "    p.U, p.RP, p.LS, p.S = 1, 1, 1, 1\n"
        "    assert(p.U + p.RP + p.LS + p.S == 4)\n"
        "    assert(p:UM() and p:LSM() and p:SM())\n"
        "  end\n"
        "  SharedTableRegistry:GetSharedTable('r').done = true\n"
        "]==]\n"
        "s.Parent = a\n"
        "a.Parent = workspace\n";
    assert_int_equal(parlua_run_string(rt, script, "=probe"), PARLUA_OK);
    int rc = parlua_run(rt);
    if (rc != PARLUA_OK) fprintf(stderr, "%s\n", parlua_last_error(rt));
    assert_int_equal(rc, PARLUA_OK);
    assert_int_equal(parlua_error_count(rt), 0);
    assert_int_equal(
        parlua_run_string(rt, "done = SharedTableRegistry:GetSharedTable('r').done and 1\n",
                          "=check"),
        PARLUA_OK);
    assert_int_equal(global_int(rt, "done"), 1);
    parlua_free(rt);
}

/* The member map (src/lib/members.c) after registrations that outgrow it,
 * with the main VM's methods read before: a host class's member hides its
 * base's of the same name (and a class derived from it hides that one),
 * its base's other members stay, and a method read before a registration
 * is the same function after it, whichever class it is read through. */
static int get_one(lua_State *L)
{
    lua_pushinteger(L, 1);
    return 1;
}

static int get_two(lua_State *L)
{
    lua_pushinteger(L, 2);
    return 1;
}

static int get_shadow(lua_State *L)
{
    lua_pushliteral(L, "shadowed");
    return 1;
}

static void members_hide_and_outgrow_the_map(void **state)
{
    (void)state;
    parlua_runtime *rt = new_runtime();
    assert_int_equal(parlua_run_string(rt,
                                       "gc = workspace.GetChildren\n"
                                       "assert(workspace.Name == 'Workspace')\n"
                                       "local f = Instance.new('Folder')\n"
                                       "f.Name = 'Child'\n"
                                       "f.Parent = workspace\n",
                                       "=before"),
                     PARLUA_OK);
    enum { N = 600 };
    static parlua_member big[N + 2];
    static char names[N][8];
    big[0] = (parlua_member){"Name", PARLUA_SAFE, get_shadow, NULL, NULL, NULL};
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "M%d", i);
        big[i + 1] = (parlua_member){names[i], PARLUA_SAFE, get_one, NULL, NULL, NULL};
    }
    big[N + 1] = (parlua_member){NULL, 0, NULL, NULL, NULL, NULL};
    static const parlua_class big_class = {"Big", "Folder", 1, 0, big};
    assert_int_equal(parlua_register_class(rt, &big_class), PARLUA_OK);
    static const parlua_member bigger[] = {
        {"M7", PARLUA_SAFE, get_two, NULL, NULL, NULL},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    static const parlua_class bigger_class = {"Bigger", "Big", 1, 0, bigger};
    assert_int_equal(parlua_register_class(rt, &bigger_class), PARLUA_OK);
    static const char *script =
        "assert(workspace.GetChildren == gc, 'a method read before is the same after')\n"
        "assert(Instance.new('Folder').GetChildren == gc, 'one closure per method')\n"
        "assert(workspace.Child.Name == 'Child', 'a child by name')\n"
        "local b, c = Instance.new('Big'), Instance.new('Bigger')\n"
        "assert(b.GetChildren == gc and c.GetChildren == gc)\n"
        "assert(b.Name == 'shadowed' and c.Name == 'shadowed')\n"
        "local ok, err = pcall(function() b.Name = 'x' end)\n"
        "assert(not ok and err:find('Unable to assign property Name. Property is read only'), "
        "err)\n"
        "assert(b.M0 == 1 and b.M7 == 1 and b.M599 == 1 and c.M599 == 1)\n"
        "assert(c.M7 == 2, 'a derived class hides its base member')\n"
        "assert(b.ClassName == 'Big' and c:IsA('Big') and c:IsA('Folder'))\n"
        "ok, err = pcall(function() return b.M600 end)\n"
        "assert(not ok and err:find('M600 is not a valid member of Big \"Big\"'), err)\n"
        "ok, err = pcall(function() return workspace.M0 end)\n"
        "assert(not ok and err:find('M0 is not a valid member of Workspace'), err)\n"
        "ok, err = pcall(gc, b)\n"
        "assert(ok)\n"
        "ok, err = pcall(b.GetChildren, 'x')\n"
        "assert(not ok and err:find('Instance expected'), err)\n";
    int rc = parlua_run_string(rt, script, "=after");
    if (rc != PARLUA_OK) fprintf(stderr, "%s\n", parlua_last_error(rt));
    assert_int_equal(rc, PARLUA_OK);
    parlua_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(levels_are_enforced),
        cmocka_unit_test(bad_registrations_are_refused),
        cmocka_unit_test(every_level_every_use),
        cmocka_unit_test(members_hide_and_outgrow_the_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
