#include "core/ptrmap.h"

#include <stdint.h>
#include <stdlib.h>

/* Fibonacci hashing of the address without its alignment bits. */
static size_t slot_of(const void *key, size_t cap)
{
    return (size_t)((((uintptr_t)key >> 4) * 0x9e3779b97f4a7c15ull) >> 20) & (cap - 1);
}

static pl_ptrmap_slot *probe(pl_ptrmap_slot *slots, size_t cap, const void *key)
{
    size_t h = slot_of(key, cap);
    while (slots[h].key && slots[h].key != key)
        h = (h + 1) & (cap - 1);
    return &slots[h];
}

pl_ptrmap_slot *pl_ptrmap_find(const pl_ptrmap *m, const void *key)
{
    pl_assert(key != NULL);
    if (!m->cap) return NULL;
    pl_ptrmap_slot *s = probe(m->slots, m->cap, key);
    return s->key ? s : NULL;
}

static int rehash(pl_ptrmap *m, size_t cap)
{
    pl_ptrmap_slot *slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key) *probe(slots, cap, m->slots[i].key) = m->slots[i];
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

pl_ptrmap_slot *pl_ptrmap_add(pl_ptrmap *m, const void *key, int *added)
{
    pl_assert(key != NULL);
    pl_ptrmap_slot *s = pl_ptrmap_find(m, key);
    if (s) {
        *added = 0;
        return s;
    }
    if ((m->n + 1) * 2 > m->cap) {
        if (m->cap > SIZE_MAX / 2 / sizeof *m->slots) return NULL;
        if (rehash(m, m->cap ? m->cap * 2 : 16) != 0) return NULL;
    }
    s = probe(m->slots, m->cap, key);
    s->key = key;
    s->value = NULL;
    m->n++;
    *added = 1;
    return s;
}

void pl_ptrmap_free(pl_ptrmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}
