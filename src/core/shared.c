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
    /* acq_rel: the release half publishes this holder's writes, the
     * acquire half makes every holder's writes visible to destroy. (Not a
     * release decrement plus an acquire fence: ThreadSanitizer does not
     * model fences and reports the destroy as a race; on x86 both are the
     * same locked instruction.) */
    if (atomic_fetch_sub_explicit(&obj->refs, 1, memory_order_acq_rel) == 1)
        obj->type->destroy(obj);
}
