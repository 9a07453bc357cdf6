/*
 * Parking runtime threads on sync objects: the protocol and its locks are
 * described in park.h.
 */
#include "engine/park.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/runtime.h"
#include "engine/sched.h"

static atomic_uint next_id = 1;

void pl_waitobj_init(pl_waitobj *obj, const pl_wait_ops *ops)
{
    obj->ops = ops;
    /* relaxed: an id only has to differ from the others */
    obj->id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
    uv_mutex_init(&obj->lock);
    pl_list_init(&obj->waiters);
}

void pl_waitobj_destroy(pl_waitobj *obj)
{
    /* a waiter's stack holds the object, so nobody waits on it any more */
    pl_assert(pl_list_empty(&obj->waiters));
    uv_mutex_destroy(&obj->lock);
}

static pl_rthread *thread_of(pl_waiter *w)
{
    return pl_container_of(w, pl_rthread, wait);
}

void pl_park_check(lua_State *L, const char *fn)
{
    if (!lua_isyieldable(L))
        luaL_error(L,
                   "%s cannot wait here: the caller cannot yield (inside a metamethod or a C "
                   "function that does not allow yields); call it from plain Lua code",
                   fn);
}

pl_waiter *pl_park_prepare(lua_State *L, pl_waitobj *obj, int kind)
{
    pl_rthread *th = pl_rthread_current(L);
    pl_waiter *w = &th->wait;
    pl_assert(!w->active);
    pl_list_init(&w->link);
    pl_list_init(&w->parked_link);
    pl_list_init(&w->woken_link);
    w->on = obj;
    /* relaxed: published to wakers by obj->lock, taken in pl_park */
    atomic_store_explicit(&w->woken, 0, memory_order_relaxed);
    w->granted = 0;
    w->timeout_set = 0;
    w->timer_queued = 0;
    w->value = 0;
    w->payload = NULL;
    w->kind = kind;
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline > 0)
        snprintf(w->where, sizeof w->where, "%s:%d", ar.short_src, ar.currentline);
    else
        snprintf(w->where, sizeof w->where, "?");
    return w;
}

pl_waiter *pl_park_prepare_unlocking(lua_State *L, pl_waitobj *obj, int kind, const char *fn)
{
    uv_mutex_unlock(&obj->lock);
    pl_park_check(L, fn);
    return pl_park_prepare(L, obj, kind);
}

/* Puts the woken waiter's thread on its VM's woken list and marks the VM
 * for the thread's phase. Called by the one waker that won the CAS, with
 * the object's lock or the timer lock held (see park.h). */
static void enqueue_woken(pl_waiter *w)
{
    pl_rthread *th = thread_of(w);
    pl_vm *vm = th->ctx.vm;
    uv_mutex_lock(&vm->wake_lock);
    pl_list_push_back(&vm->woken, &w->woken_link);
    /* relaxed: a hint for the owner; the mark below fences (pl_sched_mark),
     * and the owner reads the list itself under wake_lock */
    atomic_fetch_add_explicit(&vm->nwoken, 1, memory_order_relaxed);
    uv_mutex_unlock(&vm->wake_lock);
    pl_sched_mark(vm, th->phase);
}

/* Exactly one of a grant and a timeout wakes a waiter: the first CAS. */
static int claim_wake(pl_waiter *w)
{
    int expected = 0;
    /* acq_rel: the winner's writes before the CAS (the grant) are visible
     * to the thread it hands the waiter to, through the locks that follow */
    return atomic_compare_exchange_strong_explicit(&w->woken, &expected, 1, memory_order_acq_rel,
                                                   memory_order_relaxed);
}

int pl_park(lua_State *L, pl_waiter *w, double timeout, lua_KContext ctx, lua_KFunction k)
{
    pl_rthread *th = thread_of(w);
    pl_vm *vm = th->ctx.vm;
    pl_runtime *rt = vm->runtime;
    pl_waitobj *obj = w->on;
    th->phase = vm->phase; /* it resumes in the phase it blocked in */
    th->state = PL_RT_PARKED;
    if (timeout >= PL_TIME_FOREVER) timeout = -1; /* math.huge: no timer at all */
    if (timeout >= 0) {
        th->wait_start = pl_now(rt);
        th->timer.when = th->wait_start + timeout;
        uv_mutex_lock(&rt->timer_lock); /* order: obj->lock, then timer_lock */
        int rc = pl_timerheap_push(&rt->timers, &th->timer);
        if (rc == PL_OK) w->timer_queued = 1;
        uv_mutex_unlock(&rt->timer_lock);
        if (rc != PL_OK) { /* nothing waits: undo what the caller set up for the wait */
            th->state = PL_RT_RUNNING;
            uv_mutex_unlock(&obj->lock);
            w->granted = 0;
            if (obj->ops->abandon) obj->ops->abandon(obj, w); /* a barrier's count, an item */
            lua_pushliteral(L, "not enough memory");
            return lua_error(L);
        }
        w->timeout_set = 1;
    }
    pl_list_push_back(&obj->waiters, &w->link);
    w->active = 1;
    th->by_runtime = 0; /* set by pl_rthread_resume: who resumes it next */
    uv_mutex_unlock(&obj->lock);
    uv_mutex_lock(&rt->parked_lock);
    pl_list_push_back(&rt->parked, &w->parked_link);
    rt->nparked++;
    th->ctx.vm->nparked++;
    uv_mutex_unlock(&rt->parked_lock);
    return lua_yieldk(L, 0, ctx, k);
}

/* The owner: the timer, the object's list, the woken list and the parked
 * list let go of w. Returns whether it was granted. */
static int unpark(pl_waiter *w)
{
    pl_rthread *th = thread_of(w);
    pl_vm *vm = th->ctx.vm;
    pl_runtime *rt = vm->runtime;
    if (w->timeout_set) {
        uv_mutex_lock(&rt->timer_lock);
        if (w->timer_queued) pl_timerheap_remove(&rt->timers, &th->timer);
        w->timer_queued = 0;
        uv_mutex_unlock(&rt->timer_lock);
        w->timeout_set = 0;
    }
    /* Under the object's lock a waiter is on its list or fully woken. */
    uv_mutex_lock(&w->on->lock);
    if (pl_list_linked(&w->link)) pl_list_remove(&w->link);
    int granted = w->granted;
    uv_mutex_unlock(&w->on->lock);
    /* relaxed: the object's lock above ordered the waker's writes */
    if (atomic_load_explicit(&w->woken, memory_order_relaxed)) {
        uv_mutex_lock(&vm->wake_lock);
        if (pl_list_linked(&w->woken_link)) {
            pl_list_remove(&w->woken_link);
            atomic_fetch_sub_explicit(&vm->nwoken, 1, memory_order_relaxed);
        }
        uv_mutex_unlock(&vm->wake_lock);
    }
    uv_mutex_lock(&rt->parked_lock);
    pl_list_remove(&w->parked_link);
    rt->nparked--;
    vm->nparked--;
    uv_mutex_unlock(&rt->parked_lock);
    w->active = 0;
    if (th->state == PL_RT_PARKED) th->state = PL_RT_RUNNING;
    return granted;
}

pl_wait_outcome pl_park_end(lua_State *L)
{
    pl_wait_outcome out = {0, 0, 0, NULL};
    pl_rthread *th = pl_ctx_of(L)->rt;
    if (!th || !th->wait.active) return out; /* ended from outside */
    pl_waiter *w = &th->wait;
    out.waited = 1;
    out.granted = unpark(w);
    out.value = w->value;
    out.payload = w->payload;
    w->payload = NULL;
    if (!th->by_runtime) {                /* user code resumed it: no longer the runtime's */
        pl_sched_unqueue(th->ctx.vm, th); /* a woken thread may be queued */
        pl_rthread_free(th);
    }
    return out;
}

void pl_park_cancel(pl_rthread *th)
{
    pl_waiter *w = &th->wait;
    if (!w->active) return;
    unpark(w);
    if (w->on->ops->abandon) w->on->ops->abandon(w->on, w);
}

pl_waiter *pl_waiter_first(pl_waitobj *obj)
{
    return pl_list_empty(&obj->waiters) ? NULL
                                        : pl_container_of(obj->waiters.next, pl_waiter, link);
}

void pl_wake(pl_waiter *w)
{
    pl_list_remove(&w->link);
    w->granted = 1;
    if (claim_wake(w)) enqueue_woken(w);
    /* else its timer woke it first: its continuation will see the grant */
}

void pl_park_timeout(pl_rthread *th)
{
    pl_waiter *w = &th->wait;
    w->timer_queued = 0;
    if (claim_wake(w)) enqueue_woken(w);
}

void pl_park_take_woken(pl_vm *vm)
{
    /* relaxed: a hint; a waker that is not seen here marked the VM after
     * adding, and the run's end check fences before looking again */
    if (atomic_load_explicit(&vm->nwoken, memory_order_relaxed) == 0) return;
    uv_mutex_lock(&vm->wake_lock);
    while (!pl_list_empty(&vm->woken)) {
        pl_waiter *w = pl_container_of(vm->woken.next, pl_waiter, woken_link);
        pl_list_remove(&w->woken_link);
        pl_sched_enqueue(vm, thread_of(w));
    }
    atomic_store_explicit(&vm->nwoken, 0, memory_order_relaxed);
    uv_mutex_unlock(&vm->wake_lock);
}

int pl_park_count(pl_runtime *rt)
{
    uv_mutex_lock(&rt->parked_lock);
    int n = rt->nparked;
    uv_mutex_unlock(&rt->parked_lock);
    return n;
}

void pl_park_report(pl_runtime *rt, FILE *f)
{
    uv_mutex_lock(&rt->parked_lock);
    fprintf(f, "deadlock: %d thread%s wait%s and nothing else can run:\n", rt->nparked,
            rt->nparked == 1 ? "" : "s", rt->nparked == 1 ? "s" : "");
    pl_list_each(it, &rt->parked)
    {
        pl_waiter *w = pl_container_of(it, pl_waiter, parked_link);
        char *name = pl_vm_name(thread_of(w)->ctx.vm);
        char holder[256] = "";
        if (w->on->ops->holder) w->on->ops->holder(w->on, holder, sizeof holder);
        fprintf(f, "  %s waits at %s on %s#%u%s%s\n", name ? name : "a VM", w->where,
                w->on->base.type->name, w->on->id, holder[0] ? ", " : "", holder);
        free(name);
    }
    uv_mutex_unlock(&rt->parked_lock);
}

void pl_park_describe(pl_vm *vm, lua_State *co, char *buf, size_t size)
{
    char *name = pl_vm_name(vm);
    const char *where = NULL;
    pl_ctx *ctx = co ? pl_ctx_of(co) : NULL;
    if (ctx && ctx->rt && ctx->rt->wait.active) where = ctx->rt->wait.where;
    if (where)
        snprintf(buf, size, "%s (itself waiting at %s)", name ? name : "a VM", where);
    else
        snprintf(buf, size, "%s (not waiting: it may have ended without releasing it)",
                 name ? name : "a VM");
    free(name);
}

/* Whether th belongs to a Script that stopped since (Destroy, Enabled). */
static int stale(const pl_rthread *th)
{
    return th->script && th->script_gen != th->script->run_gen;
}

/* Ends the waits of vm's parked threads (only those of stopped Scripts
 * when only_stale), undoing grants they did not see, and frees their
 * records (a woken one is freed from its ready queue); close: their
 * coroutines are closed as task.cancel does. */
static void drop_parked(pl_vm *vm, int only_stale, int close)
{
    pl_runtime *rt = vm->runtime;
    for (;;) {
        pl_waiter *mine = NULL;
        uv_mutex_lock(&rt->parked_lock);
        pl_list_each(it, &rt->parked)
        {
            pl_waiter *w = pl_container_of(it, pl_waiter, parked_link);
            if (thread_of(w)->ctx.vm == vm && (!only_stale || stale(thread_of(w)))) {
                mine = w;
                break;
            }
        }
        uv_mutex_unlock(&rt->parked_lock);
        if (!mine) return;
        pl_rthread *th = thread_of(mine);
        unpark(mine);
        if (mine->on->ops->abandon) mine->on->ops->abandon(mine->on, mine);
        if (th->state == PL_RT_READY) continue; /* woken already: its ready queue frees it */
        if (close)
            pl_rthread_close(th); /* cancelled: its <close> variables run */
        else
            pl_rthread_free(th);
    }
}

void pl_park_drop_stale(pl_vm *vm)
{
    drop_parked(vm, 1, 1);
}

void pl_park_drop_vm(pl_vm *vm, int close)
{
    drop_parked(vm, 0, close);
}

void pl_park_drop_all(pl_runtime *rt)
{
    while (!pl_list_empty(&rt->parked)) {
        pl_waiter *w = pl_container_of(rt->parked.next, pl_waiter, parked_link);
        pl_rthread *th = thread_of(w);
        unpark(w);
        if (w->on->ops->abandon) w->on->ops->abandon(w->on, w);
        if (th->state == PL_RT_READY) continue; /* on a ready queue: freed from there */
        pl_rthread_set_script(th, NULL);
        free(th); /* its coroutine goes with its VM, as sched.c's parked threads do */
    }
}
