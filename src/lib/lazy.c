/*
 * Libraries opened on first use. A new VM opens only the base functions
 * and package; every other library (string, math, io..., task, Instance,
 * SharedTable, sync...) is made the first time a chunk names its global or
 * requires it, so a VM that never uses a library never pays for it (a
 * VM's start and its idle memory are mostly its libraries: docs/design.md,
 * "Libraries opened on first use").
 *
 * How: _G gets a metatable whose __index makes a pending library global,
 * stores it raw in _G (and in package.loaded), and returns it; from then on
 * the global is an ordinary field and costs what it costs in lua5.4.
 * package.loaded gets the same for require and the transfer codec; the
 * string metatable's __index makes the string library on the first method
 * call on a string. When nothing is pending, the metatables go, and _G is a
 * plain table again.
 *
 * So that no program can tell, except by rawget or next on _G before a
 * first use (docs/guide.md): assigning a pending global (or `math = nil`)
 * cancels it; pairs(_G) makes every pending one first; setmetatable(_G, mt)
 * makes them all and then sets mt (a strict-mode _G works);
 * getmetatable(_G) does not show ours, and getmetatable("") makes the
 * string library first. The pending sets are bits in the VM (pl_vm.lazy_*),
 * one per entry of pl_lazy_libs (init.c).
 */
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "engine/transfer.h"
#include "engine/vm.h"
#include "lib/lib.h"
#include "lib/sandbox.h"

/* Registry keys (by address) of the three metatables. */
static const char G_MT = 0, LOADED_MT = 0, STRING_MT = 0;

/* The entry named by the string at idx, or -1. */
static int find(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TSTRING) return -1;
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    for (int i = 0; i < pl_lazy_count; i++) {
        const char *n = pl_lazy_libs[i].name;
        if (n[0] == s[0] && strlen(n) == len && memcmp(n, s, len) == 0) return i;
    }
    return -1;
}

/* 1 when the value at idx has the metatable registered at key. */
static int has_metatable(lua_State *L, int idx, const char *key)
{
    if (!lua_getmetatable(L, idx)) return 0;
    lua_rawgetp(L, LUA_REGISTRYINDEX, key);
    int ours = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return ours;
}

/* Removes the metatable registered at key from the table at idx if it is
 * still there. */
static void drop_metatable(lua_State *L, int idx, const char *key)
{
    idx = lua_absindex(L, idx);
    if (has_metatable(L, idx, key)) {
        lua_pushnil(L);
        lua_setmetatable(L, idx);
    }
}

/* Once nothing is pending, _G and package.loaded are plain tables again. */
static void settle(lua_State *L, pl_vm *vm)
{
    if (!vm->lazy_global) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
        drop_metatable(L, -1, &G_MT);
        lua_pop(L, 1);
    }
    if (!vm->lazy_module) {
        luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
        drop_metatable(L, -1, &LOADED_MT);
        lua_pop(L, 1);
    }
}

/* Stack: value, table. Pops the table, after t[name] = value (raw) if
 * t[name] was nil. */
static void store_if_absent(lua_State *L, const char *name)
{
    lua_pushstring(L, name);
    if (lua_rawget(L, -2) == LUA_TNIL) {
        lua_pushstring(L, name);
        lua_pushvalue(L, -4);
        lua_rawset(L, -4);
    }
    lua_pop(L, 2);
}

/* Makes entry i and pushes its value: stored raw in package.loaded (a
 * module not already there) and in _G (a global still pending). */
static void make(lua_State *L, int i)
{
    pl_vm *vm = pl_vm_of(L);
    const pl_lazy_lib *lib = &pl_lazy_libs[i];
    uint32_t bit = UINT32_C(1) << i;
    lua_pushcfunction(L, lib->open);
    lua_pushstring(L, lib->name);
    lua_call(L, 1, 1); /* raises before any bit changes: the next use tries again */
    if (vm->lazy_module & bit) {
        luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
        store_if_absent(L, lib->name);
    }
    if (vm->lazy_global & bit) { /* not over a global the program set raw */
        lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
        store_if_absent(L, lib->name);
    }
    vm->lazy_module &= ~bit;
    vm->lazy_global &= ~bit;
    settle(L, vm);
}

/* Makes every library pending in *set (pl_vm.lazy_global: pairs and
 * setmetatable on _G; lazy_module: setmetatable on package.loaded). */
static void make_all(lua_State *L, uint32_t *set)
{
    for (int i = 0; i < pl_lazy_count; i++) {
        uint32_t bit = UINT32_C(1) << i;
        if (!(*set & bit)) continue;
        if (set == &pl_vm_of(L)->lazy_global) { /* a global the program set raw stays */
            lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
            lua_pushstring(L, pl_lazy_libs[i].name);
            int set_raw = lua_rawget(L, -2) != LUA_TNIL;
            lua_pop(L, 2);
            if (set_raw) {
                *set &= ~bit;
                continue;
            }
        }
        make(L, i);
        lua_pop(L, 1);
    }
    settle(L, pl_vm_of(L));
}

/* An __index(t, k) over the pending set: the library named k, made now,
 * if it is pending in set; else nil, as without a metatable. */
static int index_pending(lua_State *L, uint32_t set)
{
    int i = find(L, 2);
    if (i < 0 || !(set & (UINT32_C(1) << i))) return 0;
    make(L, i);
    return 1;
}

/* Reads of absent globals (`if DEBUG then`) after which every pending
 * library is made and _G loses its metatable: each read through __index
 * costs a C call, about 3x a plain miss, which a hot loop would feel. */
#define MISSES_BEFORE_ALL 256

/* _G's __index: a pending global. */
static int g_index(lua_State *L)
{
    pl_vm *vm = pl_vm_of(L);
    if (index_pending(L, vm->lazy_global)) return 1;
    if (++vm->lazy_misses == MISSES_BEFORE_ALL) make_all(L, &vm->lazy_global);
    return 0;
}

/* A __newindex(t, k, v) over the pending set: stores raw; naming a
 * pending library cancels it (`math = nil` removes math for good). */
static int newindex_pending(lua_State *L, uint32_t *set)
{
    int i = find(L, 2);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    if (i >= 0) {
        *set &= ~(UINT32_C(1) << i);
        settle(L, pl_vm_of(L));
    }
    return 0;
}

/* A __pairs over the pending set: every library exists before the walk,
 * which uses base's next (upvalue 1: pairs(_G) == next, as in lua5.4). */
static int pairs_pending(lua_State *L, uint32_t *set)
{
    make_all(L, set);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* _G's: a new global; every global for pairs. */
static int g_newindex(lua_State *L)
{
    return newindex_pending(L, &pl_vm_of(L)->lazy_global);
}

static int g_pairs(lua_State *L)
{
    return pairs_pending(L, &pl_vm_of(L)->lazy_global);
}

/* package.loaded's: require and the codec find a pending module;
 * `package.loaded.math = nil` forgets math (require then searches, as in
 * lua5.4); pairs lists every module. */
static int loaded_index(lua_State *L)
{
    return index_pending(L, pl_vm_of(L)->lazy_module);
}

static int loaded_newindex(lua_State *L)
{
    return newindex_pending(L, &pl_vm_of(L)->lazy_module);
}

static int loaded_pairs(lua_State *L)
{
    return pairs_pending(L, &pl_vm_of(L)->lazy_module);
}

/* The string metatable's arithmetic (Lua 5.4 converts "10" + 1 through
 * it) until the string library exists: makes it (it sets the real string
 * metatable) and does the operation again. One light C function per
 * operator, as lstrlib's: no closure to allocate in every VM. */
static int string_arith(lua_State *L, int op)
{
    pl_lazy_require(L, "string");
    lua_settop(L, op == LUA_OPUNM ? 1 : 2);
    int s = lua_type(L, 1) == LUA_TSTRING ? 1 : 2;
    if (has_metatable(L, s, &STRING_MT)) /* not made after all */
        return luaL_error(L, "attempt to perform arithmetic on a string value");
    lua_arith(L, op);
    return 1;
}

#define STRING_ARITH(name, op)                                                                     \
    static int string_##name(lua_State *L)                                                         \
    {                                                                                              \
        return string_arith(L, op);                                                                \
    }
STRING_ARITH(add, LUA_OPADD)
STRING_ARITH(sub, LUA_OPSUB)
STRING_ARITH(mul, LUA_OPMUL)
STRING_ARITH(mod, LUA_OPMOD)
STRING_ARITH(pow, LUA_OPPOW)
STRING_ARITH(div, LUA_OPDIV)
STRING_ARITH(idiv, LUA_OPIDIV)
STRING_ARITH(unm, LUA_OPUNM)

/* The string metatable's __index(s, k) until the string library exists:
 * makes it (it sets the real string metatable) and indexes again. */
static int string_index(lua_State *L)
{
    pl_lazy_require(L, "string");
    if (has_metatable(L, 1, &STRING_MT)) return 0; /* not made after all: no methods */
    lua_settop(L, 2);
    lua_gettable(L, 1);
    return 1;
}

int pl_lazy_require(lua_State *L, const char *name)
{
    lua_pushstring(L, name);
    int i = find(L, -1);
    lua_pop(L, 1);
    if (i < 0 || !(pl_vm_of(L)->lazy_module & (UINT32_C(1) << i))) return 0;
    make(L, i);
    lua_pop(L, 1);
    return 1;
}

/* The transfer decoder's opener (name) -> package.loaded[name], made now
 * if it is a pending library, else nil: a C function sent from a VM that
 * had opened its library. */
static int open_for_decoder(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    if (!pl_lazy_require(L, name)) return 0;
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushvalue(L, 1);
    lua_rawget(L, -2);
    return 1;
}

/* The wrappers of getmetatable and setmetatable (base's and debug's) hold
 * the original (upvalue 1, pl_sandbox_call_original) and the two
 * first-use metatables (2: _G's, 3: package.loaded's): telling them apart
 * costs a compare, not a registry lookup, on every call. */
#define UV_G_MT lua_upvalueindex(2)
#define UV_LOADED_MT lua_upvalueindex(3)

/* Which first-use metatable the table at mt is, while libraries of its
 * set are pending: &vm->lazy_global for _G's, &vm->lazy_module for
 * package.loaded's, else NULL. */
static uint32_t *pending_set_of_mt(lua_State *L, pl_vm *vm, int mt)
{
    uint32_t *set = !(vm->lazy_global | vm->lazy_module) ? NULL
                    : lua_rawequal(L, mt, UV_G_MT)       ? &vm->lazy_global
                    : lua_rawequal(L, mt, UV_LOADED_MT)  ? &vm->lazy_module
                                                         : NULL;
    return set && *set ? set : NULL;
}

/* The same for the value at idx (whose metatable is read). */
static uint32_t *lazy_set_of(lua_State *L, pl_vm *vm, int idx)
{
    if (!(vm->lazy_global | vm->lazy_module) || lua_type(L, idx) != LUA_TTABLE ||
        !lua_getmetatable(L, idx))
        return NULL;
    uint32_t *set = pending_set_of_mt(L, vm, lua_gettop(L));
    lua_pop(L, 1);
    return set;
}

/* As lua5.4's getmetatable, over the pending libraries: a string's is the
 * real string metatable (the library is made first); _G's and
 * package.loaded's first-use ones are not shown. */
static int wrap_getmetatable(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    pl_vm *vm = pl_vm_of(L);
    if (lua_type(L, 1) == LUA_TSTRING && vm->lazy_module) pl_lazy_require(L, "string");
    if (!lua_getmetatable(L, 1)) { /* 2 */
        lua_pushnil(L);
        return 1;
    }
    if (pending_set_of_mt(L, vm, 2)) {
        lua_pushnil(L);
        return 1;
    }
    /* A metatable made in C (luaL_newmetatable names it): the program could
     * give its objects a finalizer of its own; such a state is never
     * reused (reuse.c). Only lthread states are reused. */
    if (pl_vm_is_lthread(vm) && !vm->no_reuse) {
        lua_pushliteral(L, "__name");
        if (lua_rawget(L, 2) != LUA_TNIL) vm->no_reuse = 1;
        lua_pop(L, 1);
    }
    lua_pushliteral(L, "__metatable"); /* then as base's: a protected one's field */
    if (lua_rawget(L, 2) == LUA_TNIL) lua_pop(L, 1);
    return 1;
}

/* As lua5.4's setmetatable: on _G or package.loaded, every pending global
 * or module is made first (the program's metatable replaces nothing). */
static int wrap_setmetatable(lua_State *L)
{
    pl_vm *vm = pl_vm_of(L);
    uint32_t *set = lazy_set_of(L, vm, 1);
    if (set) {
        make_all(L, set);
        *set = 0;
        settle(L, vm);
    }
    /* a finalizer of the program's: its state is never reused (reuse.c) */
    if (pl_vm_is_lthread(vm) && !vm->no_reuse && lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL) vm->no_reuse = 1;
        lua_pop(L, 1);
    }
    return pl_sandbox_call_original(L);
}

/* Replaces t[name] (t at idx) by f holding the original and the two
 * first-use metatables (registered by pl_lazy_open). */
static void wrap(lua_State *L, int idx, const char *name, lua_CFunction f)
{
    idx = lua_absindex(L, idx);
    lua_getfield(L, idx, name);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &G_MT);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &LOADED_MT);
    lua_pushcclosure(L, f, 3);
    lua_setfield(L, idx, name);
}

/* debug.traceback as lua5.4's (ldblib.c's db_traceback), through
 * pl_traceback: a message handler's traceback reads as if the handler ran
 * alone in its coroutine (lib/actor.c's batch runner is hidden). */
static int db_traceback(lua_State *L)
{
    int arg = lua_isthread(L, 1);
    lua_State *L1 = arg ? lua_tothread(L, 1) : L;
    const char *msg = lua_tostring(L, arg + 1);
    if (msg == NULL && !lua_isnoneornil(L, arg + 1)) { /* not a string: as it is */
        lua_pushvalue(L, arg + 1);
    } else {
        int level = (int)luaL_optinteger(L, arg + 2, (L == L1) ? 1 : 0);
        pl_traceback(L, L1, msg, level);
    }
    return 1;
}

int pl_push_debug(lua_State *L)
{
    pl_vm_of(L)->no_reuse = 1; /* it reaches everything: reuse.c */
    luaopen_debug(L);
    lua_pushcfunction(L, db_traceback);
    lua_setfield(L, -2, "traceback");
    wrap(L, -1, "getmetatable", wrap_getmetatable);
    wrap(L, -1, "setmetatable", wrap_setmetatable);
    return 1;
}

/* Pushes a new metatable with funcs and room for extra more fields,
 * registered at key. */
static void new_metatable(lua_State *L, const char *key, const luaL_Reg *funcs, int extra)
{
    int n = extra;
    for (const luaL_Reg *f = funcs; f->name; f++)
        n++;
    lua_createtable(L, 0, n); /* presized: no growing one field at a time */
    luaL_setfuncs(L, funcs, 0);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, key);
}

void pl_lazy_reset_masks(lua_State *L)
{
    pl_vm *vm = pl_vm_of(L);
    vm->lazy_global = vm->lazy_module = 0;
    for (int i = 0; i < pl_lazy_count; i++) {
        const pl_lazy_lib *lib = &pl_lazy_libs[i];
        if (lib->perm && !pl_perms_has(L, lib->perm)) continue;
        if (lib->global) vm->lazy_global |= UINT32_C(1) << i;
        if (lib->module) vm->lazy_module |= UINT32_C(1) << i;
    }
}

void pl_lazy_open(lua_State *L)
{
    pl_lazy_reset_masks(L);
    static const luaL_Reg g_meta[] = {
        {"__index", g_index}, {"__newindex", g_newindex}, {NULL, NULL}};
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    new_metatable(L, &G_MT, g_meta, 1); /* and __pairs */
    lua_getfield(L, -2, "next");        /* base's, raw (it is there): the __pairs' upvalue */
    lua_pushcclosure(L, g_pairs, 1);
    lua_setfield(L, -2, "__pairs");
    lua_setmetatable(L, -2);
    lua_pop(L, 1);

    static const luaL_Reg loaded_meta[] = {
        {"__index", loaded_index}, {"__newindex", loaded_newindex}, {NULL, NULL}};
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    new_metatable(L, &LOADED_MT, loaded_meta, 1); /* and __pairs */
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_getfield(L, -1, "next");
    lua_remove(L, -2);
    lua_pushcclosure(L, loaded_pairs, 1);
    lua_setfield(L, -2, "__pairs");
    lua_setmetatable(L, -2);
    lua_pop(L, 1);

    static const luaL_Reg string_meta[] = {
        {"__index", string_index}, {"__add", string_add},
        {"__sub", string_sub},     {"__mul", string_mul},
        {"__mod", string_mod},     {"__pow", string_pow},
        {"__div", string_div},     {"__idiv", string_idiv},
        {"__unm", string_unm},     {NULL, NULL}}; /* lstrlib's arithmetic metamethods */
    lua_pushliteral(L, "");
    new_metatable(L, &STRING_MT, string_meta, 0);
    lua_setmetatable(L, -2);
    lua_pop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    wrap(L, -1, "getmetatable", wrap_getmetatable);
    wrap(L, -1, "setmetatable", wrap_setmetatable);
    lua_pop(L, 1);
    pl_transfer_set_opener(L, open_for_decoder);
}
