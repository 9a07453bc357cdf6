#include "engine/vmpool.h"

#include <lauxlib.h>
#include <stdlib.h>

#include "core/pool.h"
#include "engine/runtime.h"

/* A kept state: its heap (moved here by value; the state's allocator
 * points at it) and what it was made for. */
typedef struct pl_spare {
    struct pl_spare *next;
    lua_State *L;
    pl_heap heap;
    pl_perms perms;
    int kind; /* PL_VM_LTHREAD: an ended lthread's, reset; PL_VM_ACTOR: made ahead */
    uint32_t lazy_global, lazy_module; /* as after its libraries opened */
    size_t reset_heap;                 /* pl_vm.reset_heap */
} pl_spare;

/* At most this many states kept per worker: enough for every worker to
 * find one when a batch of lthreads runs, without holding many heaps. */
#define SPARES_PER_WORKER 2
/* A state whose heap grew past this is closed, not kept: its memory goes
 * back to the system. */
#define SPARE_MAX_HEAP (256 * 1024)

int pl_vmpool_take(pl_vm *vm)
{
    pl_runtime *rt = vm->runtime;
    int kind = vm->kind == PL_VM_LTHREAD ? PL_VM_LTHREAD : PL_VM_ACTOR;
    uv_mutex_lock(&rt->spare_lock);
    pl_spare **link = &rt->spares, *s;
    while ((s = *link) && (s->kind != kind || !pl_perms_equal(&s->perms, &vm->perms)))
        link = &s->next;
    if (s) {
        *link = s->next;
        /* relaxed: under the lock */
        atomic_fetch_sub_explicit(kind == PL_VM_LTHREAD ? &rt->nspares : &rt->nprepared, 1,
                                  memory_order_relaxed);
    }
    uv_mutex_unlock(&rt->spare_lock);
    if (!s) return 0;
    vm->L = s->L;
    vm->heap = s->heap;
    lua_setallocf(vm->L, pl_vm_alloc, &vm->heap);
    *(pl_ctx **)lua_getextraspace(vm->L) = &vm->ctx;
    vm->lazy_global = s->lazy_global;
    vm->lazy_module = s->lazy_module;
    vm->reset_heap = s->reset_heap;
    pl_perms_free(&s->perms);
    free(s);
    return 1;
}

/* Moves vm's state and heap (its libraries open, nothing run in it) into
 * the pool as a spare of kind; vm has no state after. 0 when out of
 * memory (vm keeps its state). */
static int keep(pl_vm *vm, int kind)
{
    pl_runtime *rt = vm->runtime;
    pl_spare *s = malloc(sizeof *s);
    if (!s) return 0;
    if (pl_perms_copy(&s->perms, &vm->perms) != PL_OK) {
        free(s);
        return 0;
    }
    s->L = vm->L;
    s->heap = vm->heap;
    s->kind = kind;
    lua_setallocf(s->L, pl_vm_alloc, &s->heap);
    *(pl_ctx **)lua_getextraspace(s->L) = NULL; /* no VM: nothing runs in it */
    lua_setwarnf(s->L, NULL, NULL);
    s->lazy_global = vm->lazy_global;
    s->lazy_module = vm->lazy_module;
    s->reset_heap = vm->reset_heap;
    vm->L = NULL;
    pl_heap_init(&vm->heap); /* moved */
    uv_mutex_lock(&rt->spare_lock);
    s->next = rt->spares;
    rt->spares = s;
    /* relaxed: under the lock */
    atomic_fetch_add_explicit(kind == PL_VM_LTHREAD ? &rt->nspares : &rt->nprepared, 1,
                              memory_order_relaxed);
    uv_mutex_unlock(&rt->spare_lock);
    return 1;
}

int pl_vmpool_put(pl_vm *vm)
{
    pl_runtime *rt = vm->runtime;
    if (!vm->L || vm->no_reuse || rt->config.open_vm || !rt->hooks.reset_state) return 0;
    int cap = SPARES_PER_WORKER * (rt->config.workers > 0 ? rt->config.workers : 1);
    /* relaxed: a hint (the lock orders the list); a pool seen full only
     * means this state is closed instead */
    if (atomic_load_explicit(&rt->nspares, memory_order_relaxed) >= cap) return 0;
    if (vm->heap.chunk_bytes > SPARE_MAX_HEAP) return 0; /* chunks never shrink: before the reset */
    if (!rt->hooks.reset_state(vm->L)) return 0;
    return keep(vm, PL_VM_LTHREAD);
}

/* How many actor states are made ahead, per worker: a burst of new actors
 * (a level loading, a spawner) takes them faster than one worker makes
 * them, so more would wait unused; each holds about 12 KB. */
#define PREPARED_PER_WORKER 8

static int prepared_target(const pl_runtime *rt)
{
    return PREPARED_PER_WORKER * rt->config.workers;
}

void pl_vmpool_want_prepared(pl_runtime *rt)
{
    /* relaxed: a hint; a stale count only queues a job that makes nothing
     * or leaves one state fewer ready */
    if (atomic_load_explicit(&rt->nprepared, memory_order_relaxed) >= prepared_target(rt)) return;
    /* acquire: pairs with the release that ends pl_vmpool_prepare, so the
     * item is free to queue again */
    if (atomic_exchange_explicit(&rt->prepare_queued, 1, memory_order_acquire)) return;
    pl_pool_submit_background(rt->pool, &rt->prepare_item);
}

void pl_vmpool_prepare(pl_runtime *rt)
{
    pl_vm *tmp = aligned_alloc(PL_CACHE_LINE, sizeof *tmp); /* sizeof is a multiple of it */
    while (tmp &&
           atomic_load_explicit(&rt->nprepared, memory_order_relaxed) < prepared_target(rt)) {
        /* relaxed: a stop hint (shutdown joins the workers after it) */
        if (atomic_load_explicit(&rt->lthreads_stop, memory_order_relaxed)) break;
        if (pl_pool_has_waiting(rt->pool)) break; /* a phase or an lthread waits: it goes first */
        pl_vm_init(tmp, rt, NULL);
        tmp->kind = PL_VM_ACTOR; /* no Instance: nothing in opening needs it */
        tmp->tbuf = NULL;        /* nothing traced: pl_vm_init lent it the serial thread's */
        int ok = pl_perms_copy(&tmp->perms, &rt->main.perms) == PL_OK &&
                 pl_vm_open_state(tmp) == PL_OK && keep(tmp, PL_VM_ACTOR);
        pl_vm_destroy(tmp); /* closes the state if keep did not take it */
        if (!ok) break;     /* out of memory: actors make their own */
    }
    free(tmp);
    /* release: the queued item may run again (pairs with the acquire in
     * pl_vmpool_want_prepared) */
    atomic_store_explicit(&rt->prepare_queued, 0, memory_order_release);
}

void pl_vmpool_free(pl_runtime *rt)
{
    while (rt->spares) {
        pl_spare *s = rt->spares;
        rt->spares = s->next;
        lua_close(s->L); /* a reset state: no finalizer of a program's left */
        pl_heap_destroy(&s->heap);
        pl_perms_free(&s->perms);
        free(s);
    }
    atomic_store_explicit(&rt->nspares, 0, memory_order_relaxed);
    atomic_store_explicit(&rt->nprepared, 0, memory_order_relaxed);
}
