/*
 * Globals every VM gets besides the standard library: time(), the parlua
 * table (version, workers, phase), and a print that writes each line with
 * one call, so lines printed by different workers never interleave.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/runtime.h"
#include "engine/sched.h"
#include "lib/lib.h"
#include "lib/remote.h"

static int base_time(lua_State *L)
{
    lua_pushnumber(L, pl_now(pl_vm_of(L)->runtime));
    return 1;
}

static int base_print(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        luaL_tolstring(L, i, NULL);
        if (i > 1) luaL_addchar(&b, '\t');
        luaL_addvalue(&b);
    }
    luaL_addchar(&b, '\n');
    luaL_pushresult(&b);
    size_t len;
    const char *line = lua_tolstring(L, -1, &len);
    fwrite(line, 1, len, stdout); /* one call: stdio locks the stream for it */
    fflush(stdout);
    return 0;
}

/* coroutine.running, which hands out the running coroutine: a handler
 * thread whose coroutine the caller may keep must never serve another
 * handler (vm.c reuses finished handler threads), or a task.cancel of the
 * kept coroutine would cancel someone else's handler. */
static int co_running(lua_State *L)
{
    pl_rthread *th = pl_ctx_of(L)->rt;
    if (th) th->reusable = 0;
    int ismain = lua_pushthread(L);
    lua_pushboolean(L, ismain);
    return 2;
}

static int parlua_workers(lua_State *L)
{
    lua_pushinteger(L, pl_vm_of(L)->runtime->config.workers);
    return 1;
}

static int parlua_phase(lua_State *L)
{
    pl_vm *vm = pl_vm_of(L);
    lua_pushstring(L, pl_vm_is_lthread(vm)       ? "lthread"
                      : vm->phase == PL_PARALLEL ? "parallel"
                                                 : "serial");
    return 1;
}

/* Closes every VM's state, as lua5.4's os.exit(code, true) closes its
 * one state: finalizers run and files still open are closed. Only on the
 * serial thread between runs of the workers: no other thread runs Lua. */
static void close_all_vms(pl_runtime *rt)
{
    static int closing; /* serial thread only: a finalizer calling os.exit(c, true) */
    if (closing) return;
    closing = 1;
    for (pl_vm *vm = rt->all_vms; vm; vm = vm->all_next)
        if (vm->L) lua_close(vm->L); /* the running VM too: lua5.4 does so */
}

/* os.exit from any VM: flush and leave at once. The C library's exit()
 * would run atexit handlers and tear down stdio while other workers may
 * still be running Lua, so every C stream is flushed here instead (what
 * exit() would do for lua5.4; stdio locks each stream, so this is safe
 * while workers write). On the serial thread the workers are idle, so the
 * trace file and the --stats summary can still be written and `close`
 * closes every VM; in the parallel phase they cannot (docs/guide.md). */
static int os_exit(lua_State *L)
{
    int status;
    if (lua_isboolean(L, 1))
        status = lua_toboolean(L, 1) ? EXIT_SUCCESS : EXIT_FAILURE;
    else
        status = (int)luaL_optinteger(L, 1, EXIT_SUCCESS);
    int close = lua_toboolean(L, 2);
    pl_runtime *rt = pl_vm_of(L)->runtime;
    if (rt->config.on_exit)
        rt->config.on_exit(status, rt->config.on_exit_ud); /* the host's last word */
    if (!pl_pool_on_worker(rt->pool)) {
        if (parlua_finish(rt) != PARLUA_OK) fprintf(stderr, "parlua: %s\n", rt->last_error);
        if (close) close_all_vms(rt); /* L is gone from here on */
    } else {
        if (rt->trace || rt->config.stats)
            fprintf(stderr, "parlua: os.exit in the parallel phase: the trace file and the "
                            "--stats summary are not written (call task.synchronize() before "
                            "os.exit)\n");
        if (close)
            fprintf(stderr, "parlua: os.exit(code, true) in the parallel phase: the VMs are not "
                            "closed, finalizers do not run (call task.synchronize() before "
                            "os.exit)\n");
    }
    fflush(NULL); /* every C stream: files opened with io.open too, as exit() does */
    _exit(status);
    return 0;
}

/* parlua.permissions(): the running VM's set, so a library can degrade
 * gracefully (a fresh table each call: changing it changes nothing). */
static int parlua_permissions(lua_State *L)
{
    pl_perms_push(L, pl_perms_of(L));
    return 1;
}

int pl_push_parlua(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"workers", parlua_workers},
        {"phase", parlua_phase},
        {"permissions", parlua_permissions},
        {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    pl_remote_add_funcs(L); /* rank, ranks, remote: lib/remote.c */
    lua_pushliteral(L, PARLUA_VERSION_STRING);
    lua_setfield(L, -2, "version");
    pl_stats_add_functions(L, lua_gettop(L));
    return 1;
}

int pl_push_os(lua_State *L)
{
    luaopen_os(L);
    lua_pushcfunction(L, os_exit);
    lua_setfield(L, -2, "exit");
    pl_sandbox_wrap_os(L, lua_gettop(L)); /* after: it wraps this os.exit */
    return 1;
}

int pl_push_coroutine(lua_State *L)
{
    luaopen_coroutine(L);
    lua_pushcfunction(L, co_running);
    lua_setfield(L, -2, "running");
    return 1;
}

void pl_open_base(lua_State *L)
{
    lua_register(L, "time", base_time);
    lua_register(L, "print", base_print);
}
