/*
 * The task library: spawn, defer, delay, wait, cancel,
 * desynchronize, synchronize. Every function keeps the caller's phase:
 * what is scheduled from parallel code resumes in a parallel phase.
 */
#include <lauxlib.h>
#include <math.h>

#include "engine/runtime.h"
#include "engine/sched.h"
#include "lib/lib.h"

/* Raises unless L may yield here; checked before anything is queued, so a
 * failed call leaves no entry behind. */
static void check_yieldable(lua_State *L, const char *fn)
{
    if (!lua_isyieldable(L))
        luaL_error(L,
                   "%s cannot yield here (attempt to yield across a C-call boundary or from "
                   "outside a runtime thread)",
                   fn);
}

/* After a park: returns what the resume passed (the values above base).
 * Resumed by user code instead (coroutine.resume of a parked coroutine),
 * the thread is no longer parked: the runtime forgets it, so that its next
 * coroutine.yield stays the user's. */
static int parked_k(lua_State *L, int status, lua_KContext base)
{
    (void)status;
    pl_rthread *th = pl_ctx_of(L)->rt;
    if (th && !th->by_runtime) {
        pl_sched_unqueue(th->ctx.vm, th);
        pl_rthread_free(th);
    }
    return lua_gettop(L) - (int)base;
}

/* Yields the calling runtime thread th, queued already by the caller. */
static int park(lua_State *L, pl_rthread *th)
{
    th->by_runtime = 0;
    return lua_yieldk(L, 0, lua_gettop(L), parked_k);
}

/* The runtime thread record for the coroutine at idx, adopting it when it
 * has none. Raises if it cannot be resumed. */
static pl_rthread *thread_arg(lua_State *L, int idx, const char *fn)
{
    lua_State *co = lua_tothread(L, idx);
    lua_Debug ar;
    int fresh = lua_status(co) == LUA_OK && lua_getstack(co, 0, &ar) == 0 && lua_gettop(co) > 0;
    if (co == L || (lua_status(co) != LUA_YIELD && !fresh))
        luaL_error(L, "%s: cannot resume a thread that is %s", fn,
                   co == L ? "running" : "dead or not suspended");
    pl_ctx *ctx = pl_ctx_of(co);
    if (ctx->rt) {
        pl_sched_unqueue(ctx->vm, ctx->rt);
        ctx->rt->wants_elapsed = 0;
        ctx->rt->nargs = fresh ? lua_gettop(co) - 1 : 0;
        return ctx->rt;
    }
    if (ctx->vm != pl_vm_of(L)) luaL_error(L, "%s: the thread belongs to another VM", fn);
    int top = lua_gettop(co);
    pl_rthread *th = pl_rthread_current(co); /* adopts co */
    th->nargs = fresh ? top - 1 : 0;
    return th;
}

/* Makes the runtime thread for task.spawn/defer/delay from the function or
 * thread at idx and the arguments after it; pushes the thread. */
static pl_rthread *make_thread(lua_State *L, int idx, const char *fn)
{
    int nargs = lua_gettop(L) - idx;
    pl_rthread *th;
    if (lua_type(L, idx) == LUA_TTHREAD) {
        if (!lua_checkstack(lua_tothread(L, idx), nargs)) /* before thread_arg changes it */
            luaL_error(L, "%s: too many arguments (%d) for the thread", fn, nargs);
        th = thread_arg(L, idx, fn);
        lua_xmove(L, th->co, nargs);
        th->nargs += nargs;
    } else {
        if (lua_type(L, idx) != LUA_TFUNCTION) luaL_typeerror(L, idx, "function or thread");
        th = pl_rthread_new(L, nargs);
        if (!th) luaL_error(L, "not enough memory");
    }
    lua_settop(L, idx);
    lua_rawgeti(L, LUA_REGISTRYINDEX, th->ref); /* the thread, to return */
    return th;
}

static int task_spawn(lua_State *L)
{
    pl_rthread *th = make_thread(L, 1, "task.spawn");
    pl_rthread_resume(th, L); /* now, in the caller's phase */
    return 1;
}

static int task_defer(lua_State *L)
{
    pl_vm *vm = pl_vm_of(L);
    pl_rthread *th = make_thread(L, 1, "task.defer");
    pl_sched_ready(vm, th, vm->phase);
    return 1;
}

static double check_seconds(lua_State *L, int idx)
{
    double t = luaL_optnumber(L, idx, 0);
    return isnan(t) || t < 0 ? 0 : t;
}

static int task_delay(lua_State *L)
{
    pl_vm *vm = pl_vm_of(L);
    double t = check_seconds(L, 1);
    pl_rthread *th = make_thread(L, 2, "task.delay");
    if (pl_sched_timer(vm, th, t, vm->phase) != 0) return luaL_error(L, "not enough memory");
    return 1;
}

static int task_wait(lua_State *L)
{
    pl_vm *vm = pl_vm_of(L);
    double t = check_seconds(L, 1);
    check_yieldable(L, "task.wait");
    pl_rthread *th = pl_rthread_current(L);
    if (pl_sched_timer(vm, th, t, vm->phase) != 0) return luaL_error(L, "not enough memory");
    th->wants_elapsed = 1;
    return park(L, th);
}

static int task_cancel(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTHREAD);
    lua_State *co = lua_tothread(L, 1);
    lua_Debug ar;
    if (co == L) return luaL_error(L, "task.cancel: cannot cancel the running thread");
    if (lua_status(co) == LUA_OK && lua_getstack(co, 0, &ar))
        return luaL_error(L, "task.cancel: cannot cancel a thread that is running (it resumed "
                             "the caller)");
    pl_ctx *ctx = pl_ctx_of(co);
    if (ctx->rt) {
        pl_sched_unqueue(ctx->vm, ctx->rt);
        pl_rthread_free(ctx->rt);
    }
    /* Close it as coroutine.close does: pending to-be-closed variables run. */
    if (pl_close_coroutine(co, L) != LUA_OK) {
        lua_xmove(co, L, 1);
        return lua_error(L);
    }
    return 0;
}

/* An lthread runs beside the phases: it has none to switch to. */
static void check_not_lthread(lua_State *L, pl_vm *vm, const char *fn)
{
    if (pl_vm_is_lthread(vm))
        luaL_error(L,
                   "%s cannot be called from an lthread: an lthread runs beside the frame phases "
                   "(to run code in a phase, send a message to an actor)",
                   fn);
}

static int task_desynchronize(lua_State *L)
{
    pl_vm *vm = pl_vm_of(L);
    check_not_lthread(L, vm, "task.desynchronize()");
    if (!vm->actor)
        return luaL_error(L, "task.desynchronize() can only be called from a script that is a "
                             "descendant of an Actor");
    if (vm->phase == PL_PARALLEL) return 0;
    check_yieldable(L, "task.desynchronize");
    pl_rthread *th = pl_rthread_current(L);
    pl_sched_ready(vm, th, PL_PARALLEL);
    return park(L, th);
}

static int task_synchronize(lua_State *L)
{
    pl_vm *vm = pl_vm_of(L);
    check_not_lthread(L, vm, "task.synchronize()");
    if (vm->phase == PL_SERIAL) return 0;
    check_yieldable(L, "task.synchronize");
    pl_rthread *th = pl_rthread_current(L);
    pl_sched_ready(vm, th, PL_SERIAL);
    return park(L, th);
}

int pl_push_task(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"spawn", task_spawn},
        {"defer", task_defer},
        {"delay", task_delay},
        {"wait", task_wait},
        {"cancel", task_cancel},
        {"desynchronize", task_desynchronize},
        {"synchronize", task_synchronize},
        {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    return 1;
}
