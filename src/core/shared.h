/*
 * Shared objects: C objects that several VMs may refer to at once
 * (Instances now; SharedTables, sync objects and lthread handles later).
 *
 * Each object starts with a pl_shared header carrying its type and an
 * atomic reference count. Every holder (a proxy userdata in some VM, a
 * message on the wire, a parent Instance, the runtime) owns one reference.
 * The object is destroyed by whichever thread drops the last one.
 */
#ifndef PL_SHARED_H
#define PL_SHARED_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct pl_shared pl_shared;

typedef struct pl_shared_type {
    const char *name;                /* user-facing type name, e.g. "Instance" */
    const char *metatable;           /* registry name of its proxy metatable in every VM */
    void (*destroy)(pl_shared *obj); /* runs when the last reference goes */
    /* Makes the proxy metatable in a VM (L is its lua_State) the first time
     * an object of this type enters it (engine/proxy.c), so a VM pays only
     * for the types it meets; NULL: the type's library makes it when the VM
     * opens. */
    void (*make_metatable)(void *L, const struct pl_shared_type *type);
} pl_shared_type;

struct pl_shared {
    const pl_shared_type *type;
    atomic_size_t refs;
};

/* Starts the object with one reference, owned by the caller. */
void pl_shared_init(pl_shared *obj, const pl_shared_type *type);
void pl_shared_retain(pl_shared *obj);
void pl_shared_release(pl_shared *obj);

#endif
