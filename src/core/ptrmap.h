/*
 * A map from pointers to pointers (open addressing, linear probing, a
 * power-of-two table at most half full). Keys are never NULL. For the
 * short-lived maps of walks over object graphs: a deep copy's "already
 * copied" set, a trace writer's names. Not thread-safe: one owner.
 */
#ifndef PL_PTRMAP_H
#define PL_PTRMAP_H

#include <stddef.h>

#include "core/check.h"

typedef struct pl_ptrmap_slot {
    const void *key;
    void *value;
} pl_ptrmap_slot;

typedef struct pl_ptrmap {
    pl_ptrmap_slot *slots;
    size_t cap, n;
} pl_ptrmap;

#define PL_PTRMAP_INIT                                                                             \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* The slot of key, or NULL if key is absent. */
pl_ptrmap_slot *pl_ptrmap_find(const pl_ptrmap *m, const void *key);
/* The slot of key, added with a NULL value if absent (*added set to 1, else
 * 0); NULL when out of memory (the map is unchanged). */
PL_MUST_CHECK pl_ptrmap_slot *pl_ptrmap_add(pl_ptrmap *m, const void *key, int *added);
/* Frees the table (not the keys or values; walk the slots first for that). */
void pl_ptrmap_free(pl_ptrmap *m);

#endif
