/*
 * Putting an ended lthread's state back as it was after its libraries
 * opened, so the next lthread can take it (engine/vmpool.h). What a
 * program can change without the debug library lives in a few tables: the
 * registry, _G, package.loaded, package, package.preload,
 * package.searchers and the string metatable. When an lthread VM opens, a
 * shallow copy of each is kept (with each one's metatable); the reset
 * makes each table hold exactly its copy again, then a full collection
 * frees everything the program made. The first-use metatables of _G and
 * package.loaded (lazy.c) are only put back on their tables: nothing
 * writes into them, and no program gets hold of them (getmetatable does
 * not show them).
 *
 * Most of a reset is walking those tables (a lua_next and a lookup in the
 * copy per entry), so only the registry is walked for a program that
 * cannot have reached the others (pl_vm.reset_walk clear and no library
 * made on first use): one whose values came without the globals, without
 * a library's C function and without a shared object, run from a
 * function. Such a program runs only its own Lua code (and the
 * machinery's C code, which writes the registry): no _ENV, no load, no
 * library function, no method; a string method or string arithmetic makes
 * the string library, which changes the lazy masks.
 *
 * Only C finalizers can run in that collection: a state where a program
 * set a metatable with __gc (lazy.c's setmetatable), got hold of a
 * metatable made in C (getmetatable returning one with a __name: it could
 * change its __gc), opened the debug library (which reaches everything:
 * upvalues, the registry, any metatable) or loaded a C module (_CLIBS not
 * empty) is never reset: it is closed as before (pl_vm.no_reuse). So no
 * code of the previous program runs in the next one's time, and nothing
 * it made is reachable.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "engine/runtime.h"
#include "engine/transfer.h"
#include "engine/vm.h"
#include "lib/lib.h"

static const char SNAP_KEY = 0; /* registry: the copies */

/* The tables a program can change, pushed (nil where absent). The
 * registry first: it is the one walked at every reset. */
enum { R_REGISTRY, R_G, R_LOADED, R_PACKAGE, R_PRELOAD, R_SEARCHERS, NROOTS };

/* The snapshot table: for each root i, [1 + i] the table, [S_COPY + i]
 * its copy, [S_MT + i] its metatable (false: none), [S_SIZE + i] the
 * copy's size; then the string metatable (false: none), and two strings
 * the reset uses (kept alive here: no interning at each reset). */
enum {
    S_COPY = 1 + NROOTS,
    S_MT = 1 + 2 * NROOTS,
    S_SIZE = 1 + 3 * NROOTS,
    S_STRING_MT = 1 + 4 * NROOTS,
    S_EMPTY,
    S_NAME,
    S_LAST = S_NAME
};

static void push_roots(lua_State *L)
{
    lua_pushvalue(L, LUA_REGISTRYINDEX);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushliteral(L, LUA_LOADLIBNAME);
    lua_rawget(L, -2);
    int pkg = lua_gettop(L);
    int is_table = lua_istable(L, pkg);
    if (is_table) lua_getfield(L, pkg, "preload");
    if (is_table) lua_getfield(L, pkg, "searchers");
    if (!is_table) {
        lua_pushnil(L);
        lua_pushnil(L);
    }
}

/* Sets to[k] = v, raw, for every pair of the table at from (to and from:
 * absolute or pseudo-indices); returns how many. */
static lua_Integer copy_pairs(lua_State *L, int to, int from)
{
    lua_Integer n = 0;
    lua_pushnil(L);
    while (lua_next(L, from)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, to);
        n++;
    }
    return n;
}

/* Pushes a shallow copy of the table at idx; returns its size. */
static lua_Integer push_copy(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_newtable(L);
    return copy_pairs(L, lua_gettop(L), idx);
}

/* Under pcall: keeps the copies (the state as its libraries left it). */
static int take_snapshot(lua_State *L)
{
    lua_settop(L, 0);
    pl_transfer_fncache_open(L); /* registered: kept by the resets */
    /* the registry's list of free references made now: an lthread's body
     * takes one and gives it back, which leaves the registry as it was */
    lua_pushboolean(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, luaL_ref(L, LUA_REGISTRYINDEX));
    lua_createtable(L, S_LAST, 0); /* 1: the snapshot table */
    lua_pushvalue(L, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &SNAP_KEY); /* first: the registry's copy has it */
    push_roots(L);                                /* 2 .. NROOTS + 1 */
    for (int i = 0; i < NROOTS; i++) {
        int root = 2 + i;
        if (!lua_istable(L, root)) continue;
        lua_pushvalue(L, root);
        lua_rawseti(L, 1, 1 + i);
        lua_Integer size = push_copy(L, root);
        lua_rawseti(L, 1, S_COPY + i);
        lua_pushinteger(L, size);
        lua_rawseti(L, 1, S_SIZE + i);
        if (!lua_getmetatable(L, root)) lua_pushboolean(L, 0);
        lua_rawseti(L, 1, S_MT + i);
    }
    lua_pushliteral(L, "");
    if (!lua_getmetatable(L, -1)) lua_pushboolean(L, 0);
    lua_rawseti(L, 1, S_STRING_MT);
    lua_rawseti(L, 1, S_EMPTY);
    lua_pushliteral(L, "__name");
    lua_rawseti(L, 1, S_NAME);
    return 0;
}

/* collectgarbage in an lthread VM: as base's, noting when the program
 * changed the collector's mode or settings, which only then the reset
 * puts back (switching modes costs two full collections). Options that
 * change nothing lasting: */
static int wrap_collectgarbage(lua_State *L)
{
    static const char *const plain[] = {"collect", "count",   "step", "isrunning",
                                        "stop",    "restart", NULL};
    const char *opt = luaL_optstring(L, 1, "collect");
    int i = 0;
    while (plain[i] && strcmp(plain[i], opt) != 0)
        i++;
    if (!plain[i]) pl_vm_of(L)->gc_tuned = 1;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

void pl_reuse_snapshot(lua_State *L)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_getfield(L, -1, "collectgarbage");
    lua_pushcclosure(L, wrap_collectgarbage, 1);
    lua_setfield(L, -2, "collectgarbage");
    lua_pop(L, 1);
    lua_pushcfunction(L, take_snapshot);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) { /* out of memory: this state is not kept */
        lua_pop(L, 1);
        pl_vm_of(L)->no_reuse = 1;
    }
}

/* Makes the table at t hold exactly the pairs of the table at copy (size
 * pairs): one pass over t, a second over copy only when t lost some of
 * its keys. With stash (the registry's reset; 0 for the others), the
 * metatables registered since (luaL_newmetatable: a __name, the string
 * at name) that copy does not hold go into the table at stash instead and
 * stay registered through the collection (see pl_reset_state); unstash
 * takes them out after it. */
static void restore(lua_State *L, int t, int copy, lua_Integer size, int stash, int name)
{
    lua_Integer kept = 0; /* keys of copy that t has */
    lua_pushnil(L);
    while (lua_next(L, t)) { /* changing existing keys only: next stays valid */
        lua_pushvalue(L, -2);
        if (lua_rawget(L, copy) != LUA_TNIL) kept++; /* key, value, copy's */
        if (lua_rawequal(L, -1, -2)) {               /* unchanged: most are */
            lua_pop(L, 2);
            continue;
        }
        int named = 0;
        if (stash && lua_type(L, -2) == LUA_TTABLE) {
            lua_pushvalue(L, name);
            named = lua_rawget(L, -3) != LUA_TNIL;
            lua_pop(L, 1);
        }
        if (named) { /* stashed, left registered */
            lua_pop(L, 1);
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, stash);
        } else { /* the copy's value (nil: gone) */
            lua_remove(L, -2);
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, t);
        }
    }
    if (kept == size) return; /* nothing of copy's was removed */
    copy_pairs(L, t, copy);
    if (stash) copy_pairs(L, t, stash); /* registered again, for the collection only */
}

/* Under pcall, [1] whether the tables are walked (see the top): each
 * back to its copy and to its metatable; the string metatable back, the
 * function cache's functions free again. Returns the stash (restore),
 * or nil when nothing was walked. */
static int reset_tables(lua_State *L)
{
    int walk = lua_toboolean(L, 1);
    lua_settop(L, 0);
    pl_transfer_fncache_reset(L); /* the program's body, unreachable now, for the next */
    if (walk)
        lua_newtable(L); /* 1: the stash */
    else
        lua_pushnil(L);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &SNAP_KEY) != LUA_TTABLE) /* 2: the copies */
        return luaL_error(L, "no snapshot");
    for (int i = 0; walk && i < NROOTS; i++) {
        if (lua_rawgeti(L, 2, 1 + i) != LUA_TTABLE) { /* 3: the table */
            lua_pop(L, 1);
            continue;
        }
        lua_rawgeti(L, 2, S_COPY + i); /* 4: its copy */
        lua_rawgeti(L, 2, S_SIZE + i);
        lua_Integer size = lua_tointeger(L, 5);
        lua_pop(L, 1);
        if (i == R_REGISTRY) {
            lua_rawgeti(L, 2, S_NAME); /* 5 */
            restore(L, LUA_REGISTRYINDEX, 4, size, 1, 5);
        } else {
            restore(L, 3, 4, size, 0, 0);
        }
        if (lua_rawgeti(L, 2, S_MT + i) != LUA_TTABLE) {
            lua_pop(L, 1);
            lua_pushnil(L);
        }
        lua_setmetatable(L, 3);
        lua_settop(L, 2);
    }
    lua_rawgeti(L, 2, S_EMPTY);
    if (lua_rawgeti(L, 2, S_STRING_MT) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_pushnil(L);
    }
    lua_setmetatable(L, -2);
    lua_settop(L, 1);
    return 1;
}

#ifdef PL_ASSERTS
/* Whether the registry holds exactly its copy: what the reset relies on
 * when it does not walk it. Reads only. */
static int registry_as_copied(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &SNAP_KEY);
    lua_rawgeti(L, -1, S_COPY + R_REGISTRY);
    lua_rawgeti(L, -2, S_SIZE + R_REGISTRY);
    lua_Integer size = lua_tointeger(L, -1), n = 0;
    lua_pop(L, 1);
    int copy = lua_gettop(L), same = 1;
    lua_pushnil(L);
    while (same && lua_next(L, LUA_REGISTRYINDEX)) {
        lua_pushvalue(L, -2);
        lua_rawget(L, copy);
        same = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
        n++;
    }
    lua_settop(L, copy - 2);
    return same && n == size;
}
#endif

/* After the collection: the stash's keys back to the registry's copy
 * (nil, or what the copy holds: a first-use maker). Sets existing keys
 * only: no memory. */
static void unstash(lua_State *L, int stash)
{
    lua_pushnil(L);
    if (!lua_next(L, stash)) return; /* none: most resets */
    lua_pop(L, 2);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &SNAP_KEY);
    lua_rawgeti(L, -1, S_COPY + R_REGISTRY);
    int copy = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, stash)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_pushvalue(L, -1);
        lua_rawget(L, copy);
        lua_rawset(L, LUA_REGISTRYINDEX);
    }
    lua_pop(L, 2);
}

/* Lua's defaults for the collector (lgc.h: LUAI_GCPAUSE, LUAI_GCMUL,
 * LUAI_GCSTEPSIZE as a power of 2 of bytes, LUAI_GENMINORMUL,
 * LUAI_GENMAJORMUL). */
enum { GC_PAUSE = 200, GC_STEPMUL = 100, GC_STEPSIZE = 13, GC_MINORMUL = 20, GC_MAJORMUL = 100 };

/* Garbage a reset that need not walk leaves to the collector, at most:
 * about what a small state holds live. */
#define RESET_GARBAGE (16 * 1024)

int pl_reset_state(lua_State *L)
{
    pl_vm *vm = pl_vm_of(L);
    if (vm->no_reuse) return 0;
    lua_settop(L, 0);
    if (!lua_checkstack(L, 8)) return 0;
    /* the masks only lose bits until now: a library made on first use
     * changed _G or package.loaded (see the top) */
    uint32_t lazy_global = vm->lazy_global, lazy_module = vm->lazy_module;
    pl_lazy_reset_masks(L);
    int walk = vm->reset_walk || lazy_global != vm->lazy_global || lazy_module != vm->lazy_module;
    if (walk) { /* a C module loaded (its own state, dlclose'd by _CLIBS's __gc): no */
        lua_getfield(L, LUA_REGISTRYINDEX, "_CLIBS");
        int clibs = lua_istable(L, -1) && (lua_pushnil(L), lua_next(L, -2));
        lua_settop(L, 0);
        if (clibs) return 0;
    }
    lua_sethook(L, NULL, 0, 0);
    lua_pushcfunction(L, reset_tables);
    lua_pushboolean(L, walk);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) return 0; /* half reset: the caller closes it */
    pl_assert(walk || registry_as_copied(L));
    /* only when stopped: a restart also makes the collector due at once
     * (its debt set to 0), which would start a cycle on the next
     * program's first allocation */
    if (!lua_gc(L, LUA_GCISRUNNING)) lua_gc(L, LUA_GCRESTART);
    if (vm->gc_tuned) {                                 /* see wrap_collectgarbage */
        lua_gc(L, LUA_GCGEN, GC_MINORMUL, GC_MAJORMUL); /* generational settings back too */
        lua_gc(L, LUA_GCINC, GC_PAUSE, GC_STEPMUL, GC_STEPSIZE);
        vm->gc_tuned = 0;
    }
    /* Only C finalizers are left to run (see the top). Some check their
     * object's metatable against the registry (liolib's files: "FILE*"),
     * so the metatables registered since stay registered until they ran.
     * A program that reached nothing but its own Lua values (walk clear)
     * made no object with a finalizer at all: its garbage is memory only,
     * so it is collected here only once the garbage of the resets since
     * the last collection passed RESET_GARBAGE (a full collection of a
     * small state is about 8,000 instructions, a quarter of an lthread's
     * start); until then the collector's own pace takes it. */
    if (walk || vm->heap.in_use > vm->reset_heap + RESET_GARBAGE) {
        lua_gc(L, LUA_GCCOLLECT);
        vm->reset_heap = vm->heap.in_use;
        /* relaxed: a counter only */
        atomic_fetch_add_explicit(&vm->runtime->lthread_reset_collections, 1, memory_order_relaxed);
    }
    if (walk) unstash(L, 1);
    lua_settop(L, 0);
    if (vm->no_reuse) return 0; /* belt and braces: nothing of the program's ran */
    vm->reset_walk = 0;
    vm->warn_on = vm->warn_cont = 0;
    return 1;
}
