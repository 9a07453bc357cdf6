#include "engine/vmpool.h"

#include <lauxlib.h>
#include <stdlib.h>

#include "engine/runtime.h"

/* A kept state: its heap (moved here by value; the state's allocator
 * points at it) and what it was made for. */
typedef struct pl_spare {
    struct pl_spare *next;
    lua_State *L;
    pl_heap heap;
    pl_perms perms;
    uint32_t lazy_global, lazy_module; /* as after its libraries opened */
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
    uv_mutex_lock(&rt->spare_lock);
    pl_spare **link = &rt->spares, *s;
    while ((s = *link) && !pl_perms_equal(&s->perms, &vm->perms))
        link = &s->next;
    if (s) {
        *link = s->next;
        atomic_fetch_sub_explicit(&rt->nspares, 1, memory_order_relaxed); /* under the lock */
    }
    uv_mutex_unlock(&rt->spare_lock);
    if (!s) return 0;
    vm->L = s->L;
    vm->heap = s->heap;
    lua_setallocf(vm->L, pl_vm_alloc, &vm->heap);
    *(pl_ctx **)lua_getextraspace(vm->L) = &vm->ctx;
    vm->lazy_global = s->lazy_global;
    vm->lazy_module = s->lazy_module;
    pl_perms_free(&s->perms);
    free(s);
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
    pl_spare *s = malloc(sizeof *s);
    if (!s) return 0;
    if (pl_perms_copy(&s->perms, &vm->perms) != PL_OK) {
        free(s);
        return 0;
    }
    s->L = vm->L;
    s->heap = vm->heap;
    lua_setallocf(s->L, pl_vm_alloc, &s->heap);
    *(pl_ctx **)lua_getextraspace(s->L) = NULL; /* no VM: nothing runs in it */
    lua_setwarnf(s->L, NULL, NULL);
    s->lazy_global = vm->lazy_global;
    s->lazy_module = vm->lazy_module;
    vm->L = NULL;
    pl_heap_init(&vm->heap); /* moved */
    uv_mutex_lock(&rt->spare_lock);
    s->next = rt->spares;
    rt->spares = s;
    atomic_fetch_add_explicit(&rt->nspares, 1, memory_order_relaxed); /* under the lock */
    uv_mutex_unlock(&rt->spare_lock);
    return 1;
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
}
