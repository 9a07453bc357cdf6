/*
 * The sync library: Mutex, RLock, Semaphore, BoundedSemaphore, Event,
 * Atomic and Barrier (Queue is in sync_queue.c). Every object is shared:
 * it crosses VMs by reference (messages, SharedTables, upvalues) and may be
 * used from any VM in either phase.
 *
 * A blocking call parks the calling runtime thread (engine/park.h): the
 * OS thread goes on running other VMs, and the thread resumes in the phase
 * it blocked in. Waiters are served first come, first served: a release
 * hands the object directly to the first waiter (so a late arrival cannot
 * overtake it), which is what makes the wait lists fair and why no wakeup
 * is lost: the hand-over happens under the object's lock.
 *
 * Every object's state is guarded by its own lock (pl_waitobj.lock), held
 * only for a few assignments; no Lua error is raised while it is held.
 */
#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/park.h"
#include "engine/proxy.h"
#include "engine/runtime.h"
#include "lib/lib.h"
#include "lib/sync.h"

/* ---- shared helpers (lib/sync.h) ---- */

double pl_sync_timeout(lua_State *L, int idx, const char *fn)
{
    if (lua_isnoneornil(L, idx)) return -1;
    int isnum;
    double t = lua_tonumberx(L, idx, &isnum);
    if (!isnum || isnan(t) || t < 0)
        luaL_error(L, "%s: the timeout must be a number of seconds >= 0 (or nil to wait forever)",
                   fn);
    return t;
}

void *pl_sync_check(lua_State *L, int idx, const pl_shared_type *type)
{
    return pl_sync_check_either(L, idx, type, NULL);
}

void *pl_sync_check_either(lua_State *L, int idx, const pl_shared_type *type,
                           const pl_shared_type *other)
{
    pl_shared *obj = pl_proxy_test(L, idx, type);
    if (!obj && other) obj = pl_proxy_test(L, idx, other);
    if (!obj) {
        pl_shared *got = pl_proxy_to(L, idx);
        luaL_error(L,
                   "bad argument #%d: %s%s%s expected, got %s (call it with ':', as "
                   "obj:method())",
                   idx, type->name, other ? " or " : "", other ? other->name : "",
                   got ? got->type->name : luaL_typename(L, idx));
    }
    return obj;
}

void *pl_sync_alloc(lua_State *L, size_t size, const pl_shared_type *type)
{
    pl_shared *obj = calloc(1, size);
    if (!obj) luaL_error(L, "not enough memory");
    pl_shared_init(obj, type);
    return obj;
}

int pl_sync_push_new(lua_State *L, pl_shared *obj)
{
    pl_proxy_push(L, obj); /* takes its own reference */
    pl_shared_release(obj);
    return 1;
}

static int error_tostring(lua_State *L);

static void push_error(lua_State *L, const char *name, const char *fmt, va_list ap)
{
    lua_createtable(L, 0, 2);
    lua_pushstring(L, name);
    lua_setfield(L, -2, "name");
    luaL_where(L, 1);
    lua_pushvfstring(L, fmt, ap);
    lua_concat(L, 2);
    lua_setfield(L, -2, "message");
    if (luaL_newmetatable(L, PL_SYNC_ERROR_MT)) { /* the first error of this VM */
        lua_pushcfunction(L, error_tostring);
        lua_setfield(L, -2, "__tostring");
    }
    lua_setmetatable(L, -2);
}

void pl_sync_push_error(lua_State *L, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    push_error(L, name, fmt, ap);
    va_end(ap);
}

int pl_sync_raise(lua_State *L, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    push_error(L, name, fmt, ap);
    va_end(ap);
    return lua_error(L);
}

static int error_tostring(lua_State *L)
{
    lua_getfield(L, 1, "name");
    lua_pushliteral(L, ": ");
    lua_getfield(L, 1, "message");
    lua_concat(L, 3);
    return 1;
}

static int sync_tostring(lua_State *L)
{
    pl_shared *obj = pl_proxy_to(L, 1);
    pl_waitobj *w = (pl_waitobj *)obj;
    lua_pushfstring(L, "%s#%d", obj->type->name, (int)w->id);
    return 1;
}

static void make_sync_mt(void *L, const pl_shared_type *type);

/* ---- Mutex and RLock ---- */

typedef struct mutex_obj {
    pl_waitobj w;
    int reentrant;
    lua_State *owner; /* the Lua thread that holds it; NULL: free (under w.lock) */
    pl_vm *owner_vm;
    long count; /* RLock: how many times the owner locked it */
} mutex_obj;

static void mutex_holder(pl_waitobj *obj, char *buf, size_t size);
static void mutex_abandon(pl_waitobj *obj, pl_waiter *w);
static const pl_wait_ops mutex_ops = {mutex_holder, mutex_abandon};

static void destroy_waitobj(pl_shared *obj)
{
    pl_waitobj_destroy((pl_waitobj *)obj);
    free(obj);
}

static const pl_shared_type mutex_type = {"Mutex", "parlua.Mutex", destroy_waitobj, make_sync_mt};
static const pl_shared_type rlock_type = {"RLock", "parlua.RLock", destroy_waitobj, make_sync_mt};

static mutex_obj *check_mutex(lua_State *L)
{
    return pl_sync_check_either(L, 1, &mutex_type, &rlock_type);
}

static void mutex_holder(pl_waitobj *obj, char *buf, size_t size)
{
    mutex_obj *m = (mutex_obj *)obj;
    if (!m->owner) return;
    char who[200];
    pl_park_describe(m->owner_vm, m->owner, who, sizeof who);
    snprintf(buf, size, "held by %s", who);
}

/* With the lock held: gives m to the first waiter, or frees it. */
static void mutex_pass_on(mutex_obj *m)
{
    pl_waiter *next = pl_waiter_first(&m->w);
    if (next) {
        pl_rthread *th = pl_container_of(next, pl_rthread, wait);
        m->owner = th->co;
        m->owner_vm = th->ctx.vm;
        m->count = 1;
        pl_wake(next);
    } else {
        m->owner = NULL;
        m->owner_vm = NULL;
        m->count = 0;
    }
}

static void mutex_abandon(pl_waitobj *obj, pl_waiter *w)
{
    mutex_obj *m = (mutex_obj *)obj;
    if (!w->granted) return;
    uv_mutex_lock(&m->w.lock);
    mutex_pass_on(m); /* it was handed to a thread that no longer wants it */
    uv_mutex_unlock(&m->w.lock);
}

static int new_mutex(lua_State *L, int reentrant)
{
    mutex_obj *m = pl_sync_alloc(L, sizeof *m, reentrant ? &rlock_type : &mutex_type);
    pl_waitobj_init(&m->w, &mutex_ops);
    m->reentrant = reentrant;
    return pl_sync_push_new(L, &m->w.base);
}

static int sync_mutex(lua_State *L)
{
    return new_mutex(L, 0);
}

static int sync_rlock(lua_State *L)
{
    return new_mutex(L, 1);
}

/* What a successful lock returns: the object itself (a to-be-closed value
 * that unlocks) without a timeout, true with one. */
static int lock_result(lua_State *L, int with_timeout)
{
    if (with_timeout)
        lua_pushboolean(L, 1);
    else
        lua_pushvalue(L, 1);
    return 1;
}

/* Takes m if it is free or already the caller's (RLock): 1; held by
 * another: 0; held by the caller (Mutex): -1. Lock held. */
static int mutex_try(mutex_obj *m, lua_State *L)
{
    if (!m->owner) {
        m->owner = L;
        m->owner_vm = pl_vm_of(L);
        m->count = 1;
        return 1;
    }
    if (m->owner != L) return 0;
    if (!m->reentrant) return -1;
    m->count++;
    return 1;
}

static int relock_error(lua_State *L, mutex_obj *m)
{
    return luaL_error(L,
                      "Mutex#%d is already held by this thread: locking it again would wait "
                      "forever (unlock it first, or use sync.RLock, which the same thread may "
                      "lock again)",
                      (int)m->w.id);
}

/* The continuation of Mutex:lock and Semaphore:acquire: what a successful
 * take returns (ctx: a timeout was given), or false. */
static int take_k(lua_State *L, int status, lua_KContext ctx)
{
    if (!pl_park_end(L).granted) {
        lua_pushboolean(L, 0);
        return 1;
    }
    return lock_result(L, (int)ctx);
}

static int mutex_lock(lua_State *L)
{
    mutex_obj *m = check_mutex(L);
    double timeout = pl_sync_timeout(L, 2, "lock");
    uv_mutex_lock(&m->w.lock);
    int got = mutex_try(m, L);
    uv_mutex_unlock(&m->w.lock);
    if (got > 0) return lock_result(L, timeout >= 0);
    if (got < 0) return relock_error(L, m);
    if (timeout == 0) {
        lua_pushboolean(L, 0);
        return 1;
    }
    pl_park_check(L, "Mutex:lock");
    pl_waiter *w = pl_park_prepare(L, &m->w, 0); /* may raise: no lock held */
    uv_mutex_lock(&m->w.lock);
    got = mutex_try(m, L); /* it may have been unlocked meanwhile */
    if (got != 0) {
        uv_mutex_unlock(&m->w.lock);
        if (got < 0) return relock_error(L, m);
        return lock_result(L, timeout >= 0);
    }
    return pl_park(L, w, timeout, timeout >= 0, take_k);
}

static int mutex_trylock(lua_State *L)
{
    mutex_obj *m = check_mutex(L);
    uv_mutex_lock(&m->w.lock);
    int got = mutex_try(m, L);
    uv_mutex_unlock(&m->w.lock);
    if (got < 0 && !m->reentrant) got = 0; /* Python: a Lock's trylock by its owner fails */
    lua_pushboolean(L, got > 0);
    return 1;
}

static int mutex_unlock(lua_State *L)
{
    mutex_obj *m = check_mutex(L);
    uv_mutex_lock(&m->w.lock);
    if (m->owner != L) {
        int held = m->owner != NULL;
        uv_mutex_unlock(&m->w.lock);
        return luaL_error(L,
                          "%s#%d cannot be unlocked by this thread: %s (only the thread that "
                          "locked it may unlock it)",
                          m->w.base.type->name, (int)m->w.id,
                          held ? "another thread holds it" : "it is not locked");
    }
    if (--m->count == 0) mutex_pass_on(m);
    uv_mutex_unlock(&m->w.lock);
    return 0;
}

static int mutex_locked(lua_State *L)
{
    mutex_obj *m = check_mutex(L);
    uv_mutex_lock(&m->w.lock);
    int locked = m->owner != NULL;
    uv_mutex_unlock(&m->w.lock);
    lua_pushboolean(L, locked);
    return 1;
}

/* obj:with(fn, ...): takes obj (its `acquire` at upvalue 1), runs fn(...)
 * and releases obj however fn ends (obj is a to-be-closed slot), returning
 * fn's results. fn may wait, yield or raise. */
static int with_done(lua_State *L, int status, lua_KContext base)
{
    return lua_gettop(L) - (int)base;
}

static int with_taken(lua_State *L, int status, lua_KContext ctx)
{
    int n = (int)ctx; /* the values from argument 3 on */
    lua_settop(L, n + 2);
    lua_toclose(L, 1);
    lua_pushvalue(L, 2);
    for (int i = 0; i < n; i++)
        lua_pushvalue(L, 3 + i);
    lua_callk(L, n, LUA_MULTRET, n + 2, with_done);
    return with_done(L, LUA_OK, n + 2);
}

static int sync_with(lua_State *L)
{
    luaL_checktype(L, 2, LUA_TFUNCTION);
    int n = lua_gettop(L) - 2;
    luaL_checkstack(L, n + 3, "too many arguments to with");
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_callk(L, 1, 1, n, with_taken);
    return with_taken(L, LUA_OK, n);
}

/* __close(obj, err): releases obj, as unlock / release does. */
static int mutex_close(lua_State *L)
{
    lua_settop(L, 1);
    return mutex_unlock(L);
}

/* ---- Semaphore and BoundedSemaphore ---- */

typedef struct sema_obj {
    pl_waitobj w;
    long long value;
    long long bound; /* BoundedSemaphore: the initial value; -1: no bound */
} sema_obj;

static void sema_abandon(pl_waitobj *obj, pl_waiter *w);
static const pl_wait_ops sema_ops = {NULL, sema_abandon};
static const pl_shared_type sema_type = {"Semaphore", "parlua.Semaphore", destroy_waitobj,
                                         make_sync_mt};
static const pl_shared_type bsema_type = {"BoundedSemaphore", "parlua.BoundedSemaphore",
                                          destroy_waitobj, make_sync_mt};

static sema_obj *check_sema(lua_State *L)
{
    return pl_sync_check_either(L, 1, &sema_type, &bsema_type);
}

/* With the lock held: hands units to waiters first come, first served. */
static void sema_pass_on(sema_obj *s)
{
    pl_waiter *w;
    while (s->value > 0 && (w = pl_waiter_first(&s->w))) {
        s->value--;
        pl_wake(w);
    }
}

static void sema_abandon(pl_waitobj *obj, pl_waiter *w)
{
    sema_obj *s = (sema_obj *)obj;
    if (!w->granted) return;
    uv_mutex_lock(&s->w.lock);
    s->value++;
    sema_pass_on(s);
    uv_mutex_unlock(&s->w.lock);
}

static int new_sema(lua_State *L, int bounded)
{
    lua_Integer n = luaL_optinteger(L, 1, 1);
    if (n < 0)
        return luaL_error(L, "%s: the initial value must be >= 0, got %d",
                          bounded ? "sync.BoundedSemaphore" : "sync.Semaphore", (int)n);
    sema_obj *s = pl_sync_alloc(L, sizeof *s, bounded ? &bsema_type : &sema_type);
    pl_waitobj_init(&s->w, &sema_ops);
    s->value = n;
    s->bound = bounded ? n : -1;
    return pl_sync_push_new(L, &s->w.base);
}

static int sync_semaphore(lua_State *L)
{
    return new_sema(L, 0);
}

static int sync_bounded_semaphore(lua_State *L)
{
    return new_sema(L, 1);
}

static int sema_acquire(lua_State *L)
{
    sema_obj *s = check_sema(L);
    double timeout = pl_sync_timeout(L, 2, "acquire");
    for (int prepared = 0;; prepared = 1) {
        uv_mutex_lock(&s->w.lock);
        /* only when nobody waits: a newcomer must not overtake a waiter */
        if (s->value > 0 && pl_list_empty(&s->w.waiters)) {
            s->value--;
            uv_mutex_unlock(&s->w.lock);
            return lock_result(L, timeout >= 0);
        }
        if (timeout == 0) {
            uv_mutex_unlock(&s->w.lock);
            lua_pushboolean(L, 0);
            return 1;
        }
        if (prepared) break;
        pl_park_prepare_unlocking(L, &s->w, 0, "Semaphore:acquire");
    }
    return pl_park(L, &pl_ctx_of(L)->rt->wait, timeout, timeout >= 0, take_k);
}

static int sema_release(lua_State *L)
{
    sema_obj *s = check_sema(L);
    lua_Integer n = luaL_optinteger(L, 2, 1);
    if (n < 1) return luaL_error(L, "Semaphore:release: n must be >= 1, got %d", (int)n);
    uv_mutex_lock(&s->w.lock);
    if (s->bound >= 0 && s->value + n > s->bound) {
        uv_mutex_unlock(&s->w.lock);
        return luaL_error(L,
                          "BoundedSemaphore#%d released too many times: its value would exceed "
                          "its initial value %d (release only what you acquired)",
                          (int)s->w.id, (int)s->bound);
    }
    s->value += n;
    sema_pass_on(s);
    uv_mutex_unlock(&s->w.lock);
    return 0;
}

static int sema_close(lua_State *L)
{
    lua_settop(L, 1);
    return sema_release(L);
}

/* ---- Event ---- */

typedef struct event_obj {
    pl_waitobj w;
    int set;
} event_obj;

static const pl_wait_ops event_ops = {NULL, NULL};
static const pl_shared_type event_type = {"Event", "parlua.Event", destroy_waitobj, make_sync_mt};

static event_obj *check_event(lua_State *L)
{
    return pl_sync_check(L, 1, &event_type);
}

static int sync_event(lua_State *L)
{
    event_obj *e = pl_sync_alloc(L, sizeof *e, &event_type);
    pl_waitobj_init(&e->w, &event_ops);
    return pl_sync_push_new(L, &e->w.base);
}

static int event_set(lua_State *L)
{
    event_obj *e = check_event(L);
    uv_mutex_lock(&e->w.lock);
    e->set = 1;
    pl_waiter *w;
    while ((w = pl_waiter_first(&e->w)))
        pl_wake(w);
    uv_mutex_unlock(&e->w.lock);
    return 0;
}

static int event_clear(lua_State *L)
{
    event_obj *e = check_event(L);
    uv_mutex_lock(&e->w.lock);
    e->set = 0;
    uv_mutex_unlock(&e->w.lock);
    return 0;
}

/* Pushes a flag of obj read under its lock. */
static int push_locked_flag(lua_State *L, pl_waitobj *obj, const int *flag)
{
    uv_mutex_lock(&obj->lock);
    int value = *flag;
    uv_mutex_unlock(&obj->lock);
    lua_pushboolean(L, value);
    return 1;
}

static int event_is_set(lua_State *L)
{
    event_obj *e = check_event(L);
    return push_locked_flag(L, &e->w, &e->set);
}

static int event_wait_k(lua_State *L, int status, lua_KContext ctx)
{
    lua_pushboolean(L, pl_park_end(L).granted);
    return 1;
}

static int event_wait(lua_State *L)
{
    event_obj *e = check_event(L);
    double timeout = pl_sync_timeout(L, 2, "Event:wait");
    for (int prepared = 0;; prepared = 1) {
        uv_mutex_lock(&e->w.lock);
        int set = e->set;
        if (set || timeout == 0) {
            uv_mutex_unlock(&e->w.lock);
            lua_pushboolean(L, set);
            return 1;
        }
        if (prepared) break;
        pl_park_prepare_unlocking(L, &e->w, 0, "Event:wait");
    }
    return pl_park(L, &pl_ctx_of(L)->rt->wait, timeout, 0, event_wait_k);
}

/* ---- Atomic ---- */

typedef struct atomic_obj {
    pl_shared base;
    uv_mutex_t lock; /* held for one read-modify-write, never while raising */
    int isint;
    lua_Integer i;
    lua_Number n;
} atomic_obj;

static void destroy_atomic(pl_shared *obj)
{
    atomic_obj *a = (atomic_obj *)obj;
    uv_mutex_destroy(&a->lock);
    free(a);
}

static const pl_shared_type atomic_type = {"Atomic", "parlua.Atomic", destroy_atomic, make_sync_mt};

static atomic_obj *check_atomic(lua_State *L)
{
    return pl_sync_check(L, 1, &atomic_type);
}

/* The number at idx (integer or float kept), or raises naming fn. */
static void check_number(lua_State *L, int idx, const char *fn, int *isint, lua_Integer *i,
                         lua_Number *n)
{
    if (lua_type(L, idx) != LUA_TNUMBER)
        luaL_error(L, "Atomic:%s: a number expected, got %s (an Atomic holds a number)", fn,
                   luaL_typename(L, idx));
    *isint = lua_isinteger(L, idx);
    if (*isint)
        *i = lua_tointeger(L, idx);
    else
        *n = lua_tonumber(L, idx);
}

static void push_value(lua_State *L, int isint, lua_Integer i, lua_Number n)
{
    if (isint)
        lua_pushinteger(L, i);
    else
        lua_pushnumber(L, n);
}

static int sync_atomic(lua_State *L)
{
    int isint = 1;
    lua_Integer i = 0;
    lua_Number n = 0;
    if (!lua_isnoneornil(L, 1)) check_number(L, 1, "new", &isint, &i, &n);
    atomic_obj *a = pl_sync_alloc(L, sizeof *a, &atomic_type);
    uv_mutex_init(&a->lock);
    a->isint = isint;
    a->i = i;
    a->n = n;
    return pl_sync_push_new(L, &a->base);
}

static int atom_get(lua_State *L)
{
    atomic_obj *a = check_atomic(L);
    uv_mutex_lock(&a->lock);
    int isint = a->isint;
    lua_Integer i = a->i;
    lua_Number n = a->n;
    uv_mutex_unlock(&a->lock);
    push_value(L, isint, i, n);
    return 1;
}

/* set and exchange: stores the value, returns the old one (exchange). */
static int atom_store(lua_State *L, int return_old)
{
    atomic_obj *a = check_atomic(L);
    int isint;
    lua_Integer i = 0;
    lua_Number n = 0;
    check_number(L, 2, return_old ? "exchange" : "set", &isint, &i, &n);
    uv_mutex_lock(&a->lock);
    int oisint = a->isint;
    lua_Integer oi = a->i;
    lua_Number on = a->n;
    a->isint = isint;
    a->i = i;
    a->n = n;
    uv_mutex_unlock(&a->lock);
    if (!return_old) return 0;
    push_value(L, oisint, oi, on);
    return 1;
}

static int atom_set(lua_State *L)
{
    return atom_store(L, 0);
}

static int atom_exchange(lua_State *L)
{
    return atom_store(L, 1);
}

/* Integer + integer wraps around as Lua's own + does. */
static int atom_add(lua_State *L)
{
    atomic_obj *a = check_atomic(L);
    int disint;
    lua_Integer di = 0;
    lua_Number dn = 0;
    check_number(L, 2, "add", &disint, &di, &dn);
    uv_mutex_lock(&a->lock);
    if (a->isint && disint) {
        a->i = (lua_Integer)((lua_Unsigned)a->i + (lua_Unsigned)di);
    } else {
        a->n = (a->isint ? (lua_Number)a->i : a->n) + (disint ? (lua_Number)di : dn);
        a->isint = 0;
    }
    int isint = a->isint;
    lua_Integer i = a->i;
    lua_Number n = a->n;
    uv_mutex_unlock(&a->lock);
    push_value(L, isint, i, n);
    return 1;
}

static int atom_cas(lua_State *L)
{
    atomic_obj *a = check_atomic(L);
    int eisint, nisint;
    lua_Integer ei = 0, ni = 0;
    lua_Number en = 0, nn = 0;
    check_number(L, 2, "cas", &eisint, &ei, &en);
    check_number(L, 3, "cas", &nisint, &ni, &nn);
    uv_mutex_lock(&a->lock);
    /* equal as Lua's == compares numbers: 1 == 1.0 */
    int same;
    if (a->isint && eisint)
        same = a->i == ei;
    else
        same = (a->isint ? (lua_Number)a->i : a->n) == (eisint ? (lua_Number)ei : en);
    if (same) {
        a->isint = nisint;
        a->i = ni;
        a->n = nn;
    }
    uv_mutex_unlock(&a->lock);
    lua_pushboolean(L, same);
    return 1;
}

static int atom_tostring(lua_State *L)
{
    atomic_obj *a = check_atomic(L);
    uv_mutex_lock(&a->lock);
    int isint = a->isint;
    lua_Integer i = a->i;
    lua_Number n = a->n;
    uv_mutex_unlock(&a->lock);
    push_value(L, isint, i, n);
    lua_pushfstring(L, "Atomic(%s)", lua_tostring(L, -1));
    return 1;
}

/* ---- Barrier ---- */

typedef struct barrier_obj {
    pl_waitobj w;
    long parties;
    long count; /* threads waiting now */
    int broken;
} barrier_obj;

static void barrier_holder(pl_waitobj *obj, char *buf, size_t size)
{
    barrier_obj *b = (barrier_obj *)obj;
    snprintf(buf, size, "%ld of %ld parties arrived", b->count, b->parties);
}

static void barrier_abandon(pl_waitobj *obj, pl_waiter *w);
static const pl_wait_ops barrier_ops = {barrier_holder, barrier_abandon};
static const pl_shared_type barrier_type = {"Barrier", "parlua.Barrier", destroy_waitobj,
                                            make_sync_mt};
#define BROKEN ((void *)&barrier_type) /* payload of a waiter released by breaking */

static barrier_obj *check_barrier(lua_State *L)
{
    return pl_sync_check(L, 1, &barrier_type);
}

static int sync_barrier(lua_State *L)
{
    lua_Integer n = luaL_checkinteger(L, 1);
    if (n < 1)
        return luaL_error(L, "sync.Barrier: the number of parties must be >= 1, got %d", (int)n);
    barrier_obj *b = pl_sync_alloc(L, sizeof *b, &barrier_type);
    pl_waitobj_init(&b->w, &barrier_ops);
    b->parties = (long)n;
    return pl_sync_push_new(L, &b->w.base);
}

/* With the lock held: releases every waiter, as broken or not. */
static void barrier_release(barrier_obj *b, int broken)
{
    pl_waiter *w;
    while ((w = pl_waiter_first(&b->w))) {
        w->payload = broken ? BROKEN : NULL;
        pl_wake(w);
    }
    b->count = 0;
}

/* A waiter whose wait was ended from outside (task.cancel, Destroy) before
 * the barrier let it go no longer counts as arrived. */
static void barrier_abandon(pl_waitobj *obj, pl_waiter *w)
{
    barrier_obj *b = (barrier_obj *)obj;
    if (w->granted) return;
    uv_mutex_lock(&b->w.lock);
    if (b->count > 0) b->count--;
    uv_mutex_unlock(&b->w.lock);
}

static int broken_error(lua_State *L, barrier_obj *b)
{
    return pl_sync_raise(L, "BrokenBarrierError",
                         "Barrier#%d is broken (a wait timed out, or abort() was called; "
                         "reset() repairs it)",
                         (int)b->w.id);
}

static int barrier_wait_k(lua_State *L, int status, lua_KContext ctx)
{
    barrier_obj *b = check_barrier(L);
    pl_wait_outcome end = pl_park_end(L);
    if (end.granted && end.payload != BROKEN) {
        lua_pushinteger(L, (lua_Integer)end.value);
        return 1;
    }
    if (end.waited && !end.granted) { /* timed out: that breaks the barrier for everyone */
        uv_mutex_lock(&b->w.lock);
        b->broken = 1;
        barrier_release(b, 1);
        uv_mutex_unlock(&b->w.lock);
    }
    return broken_error(L, b);
}

static int barrier_wait(lua_State *L)
{
    barrier_obj *b = check_barrier(L);
    double timeout = pl_sync_timeout(L, 2, "Barrier:wait");
    pl_park_check(L, "Barrier:wait");
    pl_waiter *w = pl_park_prepare(L, &b->w, 0);
    uv_mutex_lock(&b->w.lock);
    if (b->broken) {
        uv_mutex_unlock(&b->w.lock);
        return broken_error(L, b);
    }
    long index = b->count++;
    if (b->count == b->parties) { /* the last to arrive lets everyone go */
        barrier_release(b, 0);
        uv_mutex_unlock(&b->w.lock);
        lua_pushinteger(L, index);
        return 1;
    }
    w->value = index;
    return pl_park(L, w, timeout, 0, barrier_wait_k);
}

static int barrier_abort(lua_State *L)
{
    barrier_obj *b = check_barrier(L);
    uv_mutex_lock(&b->w.lock);
    b->broken = 1;
    barrier_release(b, 1);
    uv_mutex_unlock(&b->w.lock);
    return 0;
}

static int barrier_reset(lua_State *L)
{
    barrier_obj *b = check_barrier(L);
    uv_mutex_lock(&b->w.lock);
    barrier_release(b, 1); /* threads waiting now see it broken, as in Python */
    b->broken = 0;
    uv_mutex_unlock(&b->w.lock);
    return 0;
}

static int barrier_broken(lua_State *L)
{
    barrier_obj *b = check_barrier(L);
    return push_locked_flag(L, &b->w, &b->broken);
}

static int barrier_parties(lua_State *L)
{
    lua_pushinteger(L, check_barrier(L)->parties);
    return 1;
}

static int barrier_n_waiting(lua_State *L)
{
    barrier_obj *b = check_barrier(L);
    uv_mutex_lock(&b->w.lock);
    long n = b->count;
    uv_mutex_unlock(&b->w.lock);
    lua_pushinteger(L, n);
    return 1;
}

/* ---- the library ---- */

static void add_with(lua_State *L, lua_CFunction acquire)
{
    lua_pushcfunction(L, acquire);
    lua_pushcclosure(L, sync_with, 1);
    lua_setfield(L, -2, "with");
}

static void new_class(lua_State *L, const pl_shared_type *type, const luaL_Reg *methods,
                      lua_CFunction close, lua_CFunction acquire)
{
    pl_proxy_newmetatable(L, type);
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    if (acquire) add_with(L, acquire);
    lua_setfield(L, -2, "__index");
    if (close) {
        lua_pushcfunction(L, close);
        lua_setfield(L, -2, "__close");
    }
    lua_pushcfunction(L, type == &atomic_type ? atom_tostring : sync_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
}

/* The classes: their methods, what closes them (<close>) and what takes
 * them (with). */
static const luaL_Reg mutex_methods[] = {
    {"lock", mutex_lock},
    {"unlock", mutex_unlock},
    {"trylock", mutex_trylock},
    {"locked", mutex_locked},
    {"acquire", mutex_lock},
    {"release", mutex_unlock},
    {NULL, NULL},
};
static const luaL_Reg sema_methods[] = {
    {"acquire", sema_acquire},
    {"release", sema_release},
    {NULL, NULL},
};
static const luaL_Reg event_methods[] = {
    {"set", event_set},   {"clear", event_clear}, {"is_set", event_is_set},
    {"wait", event_wait}, {NULL, NULL},
};
static const luaL_Reg atomic_methods[] = {
    {"get", atom_get}, {"set", atom_set},           {"add", atom_add},
    {"cas", atom_cas}, {"exchange", atom_exchange}, {NULL, NULL},
};
static const luaL_Reg barrier_methods[] = {
    {"wait", barrier_wait},
    {"abort", barrier_abort},
    {"reset", barrier_reset},
    {"broken", barrier_broken},
    {"parties", barrier_parties},
    {"n_waiting", barrier_n_waiting},
    {NULL, NULL},
};
static const struct sync_class {
    const pl_shared_type *type;
    const luaL_Reg *methods;
    lua_CFunction close, acquire;
} classes[] = {
    {&mutex_type, mutex_methods, mutex_close, mutex_lock},
    {&rlock_type, mutex_methods, mutex_close, mutex_lock},
    {&sema_type, sema_methods, sema_close, sema_acquire},
    {&bsema_type, sema_methods, sema_close, sema_acquire},
    {&event_type, event_methods, NULL, NULL},
    {&atomic_type, atomic_methods, NULL, NULL},
    {&barrier_type, barrier_methods, NULL, NULL},
};

/* pl_shared_type.make_metatable of every class above. */
static void make_sync_mt(void *state, const pl_shared_type *type)
{
    lua_State *L = state;
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        if (classes[i].type == type)
            new_class(L, type, classes[i].methods, classes[i].close, classes[i].acquire);
}

int pl_push_sync(lua_State *L)
{
    static const luaL_Reg constructors[] = {
        {"Mutex", sync_mutex},         {"RLock", sync_rlock},
        {"Semaphore", sync_semaphore}, {"BoundedSemaphore", sync_bounded_semaphore},
        {"Event", sync_event},         {"Atomic", sync_atomic},
        {"Barrier", sync_barrier},     {NULL, NULL},
    };
    luaL_newlib(L, constructors);
    static const char *const error_names[] = {"Empty", "Full", "ShutDown", "BrokenBarrierError",
                                              NULL};
    for (int i = 0; error_names[i]; i++) { /* sync.Empty == "Empty": compare err.name to it */
        lua_pushstring(L, error_names[i]);
        lua_setfield(L, -2, error_names[i]);
    }
    pl_open_sync_queue(L); /* adds sync.Queue */
    return 1;
}
