/*
 * The member map: every class's members by (class, name), its base
 * classes' members included, in one open-addressing hash table in C.
 * Member access (instance.c) looks a name up here, so a VM builds nothing
 * per class: it keeps only the closures of the methods it reads.
 *
 * Threads: the runtime builds the map when it is made (the built-in
 * classes) and rebuilds it when the host registers a class (hostclass.c),
 * both on the host thread before any VM but main is open
 * (parlua_register_class refuses afterwards); an actor or lthread VM opens
 * later, handed to its worker through the pool's locks, so every thread
 * reads a map that no longer changes, without a lock.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "lib/instance.h"
#include "lib/lib.h"

typedef struct member_slot {
    const pl_class *cls;   /* the class looked up; NULL: an empty slot */
    const pl_class *owner; /* the class that defines m: cls or one of its bases */
    const pl_member *m;
    uint32_t hash; /* of m->name */
    uint32_t len;  /* strlen(m->name) */
} member_slot;

struct pl_member_map {
    size_t mask; /* slots - 1, slots a power of two */
    size_t n;    /* used slots: at most half of them, so a probe always ends */
    member_slot slots[];
};

/* A hash of the name's bytes: eight at a time, then the rest one by one. */
static uint32_t name_hash(const char *s, size_t len)
{
    uint64_t h = 0x9E3779B97F4A7C15u ^ len;
    for (; len >= 8; s += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDu;
        h ^= h >> 29;
    }
    for (; len; s++, len--)
        h = (h ^ (unsigned char)*s) * 0x100000001B3u;
    return (uint32_t)(h ^ (h >> 32));
}

/* Whether a and b have the same len bytes: inline (member names are
 * short, a call to memcmp would cost more than the compare). */
static int same_bytes(const char *a, const char *b, size_t len)
{
    for (; len >= 8; a += 8, b += 8, len -= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y) return 0;
    }
    for (; len; a++, b++, len--)
        if (*a != *b) return 0;
    return 1;
}

/* Where (cls, name hash h) starts probing. */
static size_t start_slot(const pl_member_map *map, const pl_class *cls, uint32_t h)
{
    uint64_t c = (uint64_t)(uintptr_t)cls * 0x9E3779B97F4A7C15u;
    return ((size_t)h ^ (size_t)(c >> 32)) & map->mask;
}

const pl_member *pl_member_find(const pl_member_map *map, const pl_class *cls, const char *name,
                                size_t len, const pl_class **owner)
{
    if (len > UINT32_MAX) return NULL; /* no member's name is that long */
    uint32_t h = name_hash(name, len);
    for (size_t i = start_slot(map, cls, h);; i = (i + 1) & map->mask) {
        const member_slot *s = &map->slots[i];
        if (!s->cls) return NULL;
        if (s->cls == cls && s->hash == h && s->len == len && same_bytes(s->m->name, name, len)) {
            *owner = s->owner;
            return s->m;
        }
    }
}

/* Puts (cls, m of owner) in map, replacing a member of cls by that name:
 * one of a class derived from owner, or defined later. There is room. */
static void put(pl_member_map *map, const pl_class *cls, const pl_class *owner, const pl_member *m)
{
    size_t len = strlen(m->name);
    uint32_t h = name_hash(m->name, len);
    size_t i = start_slot(map, cls, h);
    for (;; i = (i + 1) & map->mask) {
        member_slot *s = &map->slots[i];
        if (!s->cls) break;
        if (s->cls == cls && s->hash == h && s->len == len && strcmp(s->m->name, m->name) == 0) {
            s->owner = owner;
            s->m = m;
            return;
        }
    }
    map->slots[i] = (member_slot){cls, owner, m, h, (uint32_t)len};
    map->n++;
}

/* Calls fn on each member array of c: the built-in entries of c, then the
 * host class's (a class is one or the other). */
static void each_def(pl_runtime *rt, const pl_class *c,
                     void (*fn)(const pl_member *members, void *ud), void *ud)
{
    for (const pl_class_def *def = pl_builtin_classes; def->cls; def++)
        if (def->cls == c && def->members) fn(def->members, ud);
    const pl_class_def *host = pl_host_class_def(rt, c);
    if (host && host->members) fn(host->members, ud);
}

static void count_members(const pl_member *members, void *ud)
{
    for (const pl_member *m = members; m->name; m++)
        ++*(size_t *)ud;
}

typedef struct adding {
    pl_member_map *map;
    const pl_class *cls, *owner;
} adding;

static void put_members(const pl_member *members, void *ud)
{
    adding *a = ud;
    for (const pl_member *m = members; m->name; m++)
        put(a->map, a->cls, a->owner, m);
}

/* A map with room for n entries, holding map's (NULL: none). */
static pl_member_map *grown(const pl_member_map *map, size_t n)
{
    size_t slots = 64;
    while (slots < 2 * n)
        slots *= 2;
    pl_member_map *to = calloc(1, sizeof *to + slots * sizeof *to->slots);
    if (!to) return NULL;
    to->mask = slots - 1;
    for (size_t i = 0; map && i <= map->mask; i++) {
        const member_slot *s = &map->slots[i];
        if (!s->cls) continue;
        size_t j = start_slot(to, s->cls, s->hash);
        while (to->slots[j].cls)
            j = (j + 1) & to->mask;
        to->slots[j] = *s;
        to->n++;
    }
    return to;
}

/* Puts cls's members from c and c's bases in map, the root's first: a
 * derived class's member replaces a base's of the same name, a later
 * entry an earlier one. */
static void put_chain(pl_runtime *rt, pl_member_map *map, const pl_class *cls, const pl_class *c)
{
    if (c->base) put_chain(rt, map, cls, c->base);
    adding a = {map, cls, c};
    each_def(rt, c, put_members, &a);
}

int pl_member_map_add(pl_runtime *rt, const pl_class *cls)
{
    size_t more = 0;
    for (const pl_class *c = cls; c; c = c->base)
        each_def(rt, c, count_members, &more);
    pl_member_map *map = rt->member_map;
    if (!map || 2 * (map->n + more) > map->mask + 1) { /* a bigger one first: then nothing fails */
        pl_member_map *to = grown(map, (map ? map->n : 0) + more);
        if (!to) return PL_ENOMEM;
        free(map);
        rt->member_map = map = to;
    }
    put_chain(rt, map, cls, cls);
    return PL_OK;
}

int pl_member_map_init(pl_runtime *rt)
{
    for (const pl_class_def *def = pl_builtin_classes; def->cls; def++) {
        int seen = 0; /* a class listed twice is added once */
        for (const pl_class_def *d = pl_builtin_classes; d < def; d++)
            seen |= d->cls == def->cls;
        if (!seen && pl_member_map_add(rt, def->cls) != PL_OK) return PL_ENOMEM;
    }
    return PL_OK;
}

void pl_member_map_free(pl_runtime *rt)
{
    free(rt->member_map);
    rt->member_map = NULL;
}
