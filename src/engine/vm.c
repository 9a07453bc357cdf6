/*
 * VMs and runtime threads: creating a VM's lua_State, creating, resuming
 * and forgetting the coroutines the runtime owns, and reporting their
 * uncaught errors.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/runtime.h"

static void *vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    return pl_heap_realloc(&((pl_vm *)ud)->heap, ptr, osize, nsize);
}

/* warn() as lua5.4 does it: off until "@on", pieces joined into one line. */
static void vm_warn(void *ud, const char *msg, int tocont)
{
    pl_vm *vm = ud;
    if (!vm->warn_cont && *msg == '@') {
        if (strcmp(msg, "@on") == 0) vm->warn_on = 1;
        if (strcmp(msg, "@off") == 0) vm->warn_on = 0;
        return;
    }
    if (vm->warn_on) {
        if (!vm->warn_cont) fputs("Lua warning: ", stderr);
        fputs(msg, stderr);
        if (!tocont) fputs("\n", stderr);
    }
    vm->warn_cont = tocont;
}

static int open_all(lua_State *L)
{
    luaL_openlibs(L);
    pl_open_baselib(L);
    pl_open_task(L);
    pl_open_instance(L);
    pl_open_actor(L);
    pl_open_runservice(L);
    pl_open_sharedtable(L);
    pl_open_stats(L);
    return 0;
}

void pl_vm_init(pl_vm *vm, pl_runtime *runtime, pl_instance *actor)
{
    memset(vm, 0, sizeof *vm);
    vm->ctx.vm = vm;
    vm->runtime = runtime;
    /* relaxed: only uniqueness matters (Instance.new may run on workers) */
    vm->id = atomic_fetch_add_explicit(&runtime->last_vm_id, 1, memory_order_relaxed) + 1;
    vm->actor = actor;
    vm->phase = PL_SERIAL;
    pl_mailbox_init(&vm->mailbox);
    pl_heap_init(&vm->heap);
    if (runtime->trace) vm->tbuf = pl_trace_buf_at(runtime->trace, 0); /* see run_end */
    atomic_init(&vm->scheduled[0], 0);
    atomic_init(&vm->scheduled[1], 0);
}

int pl_vm_ensure_state(pl_vm *vm)
{
    if (vm->L) return 0;
    lua_State *L = lua_newstate(vm_alloc, vm);
    if (!L) return -1;
    *(pl_ctx **)lua_getextraspace(L) = &vm->ctx;
    lua_setwarnf(L, vm_warn, vm);
    vm->L = L;
    lua_pushcfunction(L, open_all);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        pl_vm_close(vm);
        return -1;
    }
    if (vm->actor) { /* see docs/design.md: object lifetime */
        pl_shared_retain(&vm->actor->base);
        vm->holds_actor = 1;
    }
    return 0;
}

void pl_vm_close(pl_vm *vm)
{
    if (!vm->L) return;
    lua_close(vm->L);
    vm->L = NULL;
    pl_heap_destroy(&vm->heap);
}

void pl_vm_destroy(pl_vm *vm)
{
    pl_vm_close(vm);
    pl_mailbox_destroy(&vm->mailbox);
}

char *pl_vm_name(pl_vm *vm)
{
    if (!vm->actor) return strdup("main");
    char *full = pl_instance_full_name(vm->actor);
    if (!full) return NULL;
    size_t n = strlen(full) + sizeof "actor ";
    char *out = malloc(n);
    if (out) snprintf(out, n, "actor %s", full);
    free(full);
    return out;
}

pl_rthread *pl_rthread_new(lua_State *L, int nargs)
{
    pl_vm *vm = pl_vm_of(L);
    lua_State *co = lua_newthread(L);
    lua_insert(L, -(nargs + 2)); /* below the function and its arguments */
    lua_xmove(L, co, nargs + 1);
    pl_rthread *th = calloc(1, sizeof *th);
    if (!th) {
        lua_pop(L, 1);
        return NULL;
    }
    th->ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops co; anchors it */
    th->co = co;
    th->ctx.vm = vm;
    th->ctx.rt = th;
    th->nargs = nargs;
    th->state = PL_RT_RUNNING;
    *(pl_ctx **)lua_getextraspace(co) = &th->ctx;
    return th;
}

/* Handler threads that return without yielding leave their coroutine
 * to the next handler (vm->spare), which saves a coroutine allocation per
 * message. A handler that keeps coroutine.running() after returning may
 * thus see it reused (docs/guide.md says so). */
static pl_rthread *handler_thread(lua_State *L, int nargs)
{
    pl_vm *vm = pl_vm_of(L);
    pl_rthread *th = vm->spare;
    if (th) {
        vm->spare = NULL;
        lua_xmove(L, th->co, nargs + 1);
        th->nargs = nargs;
        return th;
    }
    th = pl_rthread_new(L, nargs);
    if (th) th->reusable = 1;
    return th;
}

void pl_run_handlers(lua_State *L, int handlers_idx, int n, int first_arg, int nargs)
{
    pl_vm *vm = pl_vm_of(L);
    luaL_checkstack(L, nargs + 2, "too many handler arguments");
    for (int i = 1; i <= n; i++) {
        if (n == 1)
            lua_pushvalue(L, handlers_idx);
        else
            lua_rawgeti(L, handlers_idx, i);
        for (int a = 0; a < nargs; a++)
            lua_pushvalue(L, first_arg + a);
        if (pl_vm_dead(vm)) return; /* a handler destroyed this VM's Actor */
        pl_rthread *th = handler_thread(L, nargs);
        if (!th) luaL_error(L, "not enough memory");
        pl_rthread_resume(th, L);
    }
}

pl_rthread *pl_rthread_current(lua_State *L)
{
    pl_ctx *ctx = pl_ctx_of(L);
    if (ctx->rt) return ctx->rt;
    /* A user's coroutine calling a blocking function: the runtime adopts
     * it, so it can resume it later (SPEC 1.2). */
    pl_rthread *th = calloc(1, sizeof *th);
    if (!th) luaL_error(L, "not enough memory");
    lua_pushthread(L);
    th->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    th->co = L;
    th->ctx.vm = ctx->vm;
    th->ctx.rt = th;
    th->state = PL_RT_RUNNING;
    th->nargs = -1; /* started already */
    *(pl_ctx **)lua_getextraspace(L) = &th->ctx;
    return th;
}

void pl_rthread_free(pl_rthread *th)
{
    pl_vm *vm = th->ctx.vm;
    *(pl_ctx **)lua_getextraspace(th->co) = &vm->ctx;
    luaL_unref(vm->L, LUA_REGISTRYINDEX, th->ref);
    free(th);
}

void pl_report_error(pl_vm *vm, lua_State *co, const char *what)
{
    pl_runtime *rt = vm->runtime;
    lua_State *L = vm->L;
    const char *msg;
    if (lua_type(co, -1) == LUA_TSTRING) {
        msg = lua_tostring(co, -1);
    } else if (luaL_callmeta(co, -1, "__tostring") && lua_type(co, -1) == LUA_TSTRING) {
        msg = lua_tostring(co, -1);
    } else {
        msg = lua_pushfstring(co, "(error object is a %s value)", luaL_typename(co, -1));
    }
    lua_checkstack(L, 4);
    luaL_traceback(L, co, msg, 0);
    char *name = pl_vm_name(vm);
    uv_mutex_lock(&rt->error_lock);
    snprintf(rt->last_error, sizeof rt->last_error, "%s", msg);
    if (!rt->config.quiet)
        fprintf(stderr, "parlua: %s in %s: %s\n", what, name ? name : "?", lua_tostring(L, -1));
    uv_mutex_unlock(&rt->error_lock);
    free(name);
    lua_pop(L, 1);
    atomic_fetch_add_explicit(&rt->errors, 1, memory_order_relaxed); /* a counter only */
}

void pl_rthread_resume(pl_rthread *th, lua_State *from)
{
    pl_vm *vm = th->ctx.vm;
    lua_State *co = th->co;
    int nargs = th->nargs;
    if (nargs < 0) nargs = 0;
    /* Someone else (user code) resumed it since it parked: it is no longer
     * waiting for us, so there is nothing to resume. */
    if (lua_status(co) != LUA_YIELD && th->nargs < 0) {
        pl_rthread_free(th);
        return;
    }
    if (th->wants_elapsed) {
        lua_pushnumber(co, pl_now(vm->runtime) - th->wait_start);
        nargs++;
        th->wants_elapsed = 0;
    }
    th->nargs = -1; /* from now on: started */
    th->state = PL_RT_RUNNING;
    int nres = 0;
    int status = lua_resume(co, from ? from : vm->L, nargs, &nres);
    if (status == LUA_YIELD) {
        lua_pop(co, nres);
        /* Parked by the runtime (task.wait, synchronize...) or a user's own
         * coroutine.yield: then whoever holds the coroutine may resume it. */
        if (th->state == PL_RT_RUNNING) pl_rthread_free(th);
        return;
    }
    if (status == LUA_OK) {
        lua_settop(co, 0); /* drop the results: an empty finished coroutine is "dead" */
        if (th->reusable && !vm->spare) {
            vm->spare = th;
            return;
        }
    }
    if (status != LUA_OK) pl_report_error(vm, co, "uncaught error");
    pl_rthread_free(th);
}
