#include "core/shared.h"

void pl_shared_init(pl_shared *obj, const pl_shared_type *type)
{
    obj->type = type;
    atomic_init(&obj->refs, 1);
}

void pl_shared_retain(pl_shared *obj)
{
    /* relaxed: taking a new reference needs no ordering, the caller already
     * holds one, so the object cannot go away concurrently. */
    atomic_fetch_add_explicit(&obj->refs, 1, memory_order_relaxed);
}

void pl_shared_release(pl_shared *obj)
{
    /* release on the decrement publishes this holder's writes; the acquire
     * fence before destroy makes every holder's writes visible to it. */
    if (atomic_fetch_sub_explicit(&obj->refs, 1, memory_order_release) == 1) {
        atomic_thread_fence(memory_order_acquire);
        obj->type->destroy(obj);
    }
}
