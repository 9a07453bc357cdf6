/*
 * Every library a VM has, and when it opens (as Lua's linit.c, the one
 * place that knows them all). A new VM opens Lua's base functions,
 * `require` (package.c), parlua's few globals that are functions,
 * require's Script searcher and the sandbox's loader wrappers; every other
 * library, package too, opens on first use (lazy.c), with the sandbox's
 * wrappers for what the VM's permissions restrict (debug only with the
 * `debug` permission).
 */
#include <lauxlib.h>
#include <lualib.h>

#include "core/stable.h"
#include "engine/perm.h"
#include "engine/proxy.h"
#include "lib/lib.h"

/* name, opener, made as a global, as a module, permission needed */
const pl_lazy_lib pl_lazy_libs[] = {
    {LUA_LOADLIBNAME, pl_push_package, 1, 1, 0},
    {LUA_COLIBNAME, pl_push_coroutine, 1, 1, 0},
    {LUA_TABLIBNAME, luaopen_table, 1, 1, 0},
    {LUA_IOLIBNAME, pl_push_io, 1, 1, 0},
    {LUA_OSLIBNAME, pl_push_os, 1, 1, 0},
    {LUA_STRLIBNAME, luaopen_string, 1, 1, 0},
    {LUA_MATHLIBNAME, luaopen_math, 1, 1, 0},
    {LUA_UTF8LIBNAME, luaopen_utf8, 1, 1, 0},
    {LUA_DBLIBNAME, pl_push_debug, 1, 1, PL_PERM_DEBUG},
    {"parlua", pl_push_parlua, 1, 1, 0},
    {"task", pl_push_task, 1, 1, 0},
    {"Instance", pl_push_instance_lib, 1, 1, 0},
    {"game", pl_push_game, 1, 0, 0},
    {"workspace", pl_push_workspace, 1, 0, 0},
    {"SharedTable", pl_push_sharedtable_lib, 1, 1, 0},
    {"SharedTableRegistry", pl_push_sharedtable_registry, 1, 1, 0},
    {"sync", pl_push_sync, 1, 1, 0},
    {"parallel", pl_push_parallel, 1, 1, 0},
};
const int pl_lazy_count = (int)(sizeof pl_lazy_libs / sizeof pl_lazy_libs[0]);

/* Globals a new VM has: base's 25, require, and parlua's (time, go,
 * LThreadGroup); the libraries made on first use add theirs. */
#define OPEN_GLOBALS 32

int pl_open_libs(lua_State *L)
{
    /* A presized _G in place of lua_newstate's empty one (nothing refers
     * to that yet): base's functions go in without growing it five times. */
    lua_createtable(L, 0, OPEN_GLOBALS);
    lua_rawseti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    lua_pop(L, 1);
    pl_open_require(L); /* package itself on first use (package.c) */
    pl_open_base(L);
    pl_open_lthread(L);
    pl_open_script(L);
    pl_proxy_lazy_metatable(L, &pl_instance_type, pl_make_instance_mt);
    pl_proxy_lazy_metatable(L, &pl_stable_type, pl_make_sharedtable_mt);
    pl_lazy_open(L);
    pl_sandbox_wrap_loaders(L);
    pl_vm *vm = pl_vm_of(L);
    /* an actor's scripts always see their Script as `script`: its proxy
     * metatable now, while the state is made (ahead, by a worker) */
    if (vm->kind == PL_VM_ACTOR) pl_proxy_prepare(L, &pl_instance_type);
    if (pl_vm_is_lthread(vm) && !vm->runtime->config.open_vm) pl_reuse_snapshot(L);
    return 0;
}
