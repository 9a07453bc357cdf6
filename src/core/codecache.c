/*
 * The code cache (codecache.h): a chained hash table of entries keyed by
 * their source text, and a doubly linked recency list (newest first) for
 * eviction, both under one mutex. Lookups compare the whole text, so two
 * sources with the same hash never share an entry.
 */
#include "core/codecache.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/check.h"
#include "core/status.h"

/* The lock must exist before any runtime does and serves every runtime of
 * the process: made once, by whichever thread comes first. */
static uv_once_t once = UV_ONCE_INIT;
static uv_mutex_t lock;

/* All under lock. */
static pl_code **buckets; /* a power of two of them, or NULL */
static size_t nbuckets, nentries, total;
/* Written under lock; read without it as a hint (pl_codecache_limit, the
 * first check in put), relaxed: a stale value only costs a needless copy
 * or one miss more, and the check under the lock decides. */
static atomic_size_t limit = PL_CODECACHE_LIMIT;
static pl_code *newest, *oldest;
static uint64_t hits, misses, added, dropped;

static void init_lock(void)
{
    if (uv_mutex_init(&lock) != 0) abort(); /* cannot fail in a correct program, as libuv says */
}

static void lock_cache(void)
{
    uv_once(&once, init_lock);
    uv_mutex_lock(&lock);
}

static int same_source(const pl_code *c, const char *src, size_t len, uint32_t hash)
{
    return c->hash == hash && c->src_len == len && memcmp(c->data, src, len) == 0;
}

static pl_code *find(const char *src, size_t len, uint32_t hash)
{
    if (!buckets) return NULL;
    for (pl_code *c = buckets[hash & (nbuckets - 1)]; c; c = c->chain)
        if (same_source(c, src, len, hash)) return c;
    return NULL;
}

static void unlink_recency(pl_code *c)
{
    if (c->newer)
        c->newer->older = c->older;
    else
        newest = c->older;
    if (c->older)
        c->older->newer = c->newer;
    else
        oldest = c->newer;
}

static void link_newest(pl_code *c)
{
    c->newer = NULL;
    c->older = newest;
    if (newest)
        newest->newer = c;
    else
        oldest = c;
    newest = c;
}

/* Takes c out of the table and the list and drops the cache's reference. */
static void drop(pl_code *c)
{
    pl_code **p = &buckets[c->hash & (nbuckets - 1)];
    while (*p != c)
        p = &(*p)->chain;
    *p = c->chain;
    unlink_recency(c);
    nentries--;
    total -= c->cost;
    pl_code_release(c);
}

/* Drops the oldest entries until `need` more bytes fit under the limit.
 * (The bucket array is not counted: a pointer or two per entry, each of
 * which costs more than sizeof(pl_code).) */
static void make_room(size_t need)
{
    size_t cap = atomic_load_explicit(&limit, memory_order_relaxed); /* under lock */
    while (oldest && total + need > cap) {
        drop(oldest);
        dropped++;
    }
}

/* Doubles the bucket array when the table is fuller than one entry per
 * bucket; out of memory keeps the old array (longer chains, still right). */
static void maybe_grow(void)
{
    if (nentries < nbuckets) return;
    size_t n = nbuckets ? nbuckets * 2 : 64;
    pl_code **fresh = calloc(n, sizeof *fresh);
    if (!fresh) return;
    for (size_t i = 0; i < nbuckets; i++) {
        for (pl_code *c = buckets[i], *next; c; c = next) {
            next = c->chain;
            c->chain = fresh[c->hash & (n - 1)];
            fresh[c->hash & (n - 1)] = c;
        }
    }
    free(buckets);
    buckets = fresh;
    nbuckets = n;
}

pl_code *pl_codecache_get(const char *src, size_t len, uint32_t hash)
{
    lock_cache();
    pl_code *c = find(src, len, hash);
    if (c) {
        /* relaxed: the cache's own reference keeps c alive while the lock
         * is held, and the lock orders the entry's fields (written before
         * it was added under the lock) before this thread's reads. */
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
        if (c != newest) {
            unlink_recency(c);
            link_newest(c);
        }
        hits++;
    } else {
        misses++;
    }
    uv_mutex_unlock(&lock);
    return c;
}

void pl_code_release(pl_code *code)
{
    /* acq_rel: the release half orders this holder's reads of the entry
     * before the free; the acquire half makes the last holder, which
     * frees, see every other holder's reads done. (As pl_sstring_release.) */
    if (atomic_fetch_sub_explicit(&code->refs, 1, memory_order_acq_rel) == 1) free(code);
}

int pl_codecache_put(const char *src, size_t len, uint32_t hash, const void *bytes, size_t n,
                     size_t mark)
{
    if (len > SIZE_MAX / 2 - sizeof(pl_code) || n > SIZE_MAX / 2 - sizeof(pl_code) - len)
        return PL_ERANGE;
    size_t cost = sizeof(pl_code) + len + n;
    if (cost > pl_codecache_limit()) return PL_ERANGE; /* a hint: saves the copy */

    pl_code *c = malloc(cost);
    if (!c) return PL_ENOMEM;
    memcpy(c->data, src, len);
    if (n) memcpy(c->data + len, bytes, n);
    c->bytes = c->data + len;
    c->len = n;
    c->mark = mark;
    c->hash = hash;
    c->src_len = len;
    c->cost = cost;
    c->chain = c->newer = c->older = NULL;
    atomic_init(&c->refs, 1); /* the cache's */

    lock_cache();
    if (find(src, len, hash)) { /* another thread was first */
        uv_mutex_unlock(&lock);
        free(c);
        return PL_OK;
    }
    if (cost > atomic_load_explicit(&limit, memory_order_relaxed)) { /* under lock */
        uv_mutex_unlock(&lock);
        free(c);
        return PL_ERANGE;
    }
    make_room(cost);
    nentries++;
    maybe_grow();
    if (!buckets) { /* no bucket array at all: not cached */
        nentries--;
        uv_mutex_unlock(&lock);
        free(c);
        return PL_ENOMEM;
    }
    pl_code **head = &buckets[hash & (nbuckets - 1)];
    c->chain = *head;
    *head = c;
    link_newest(c);
    total += cost;
    added++;
    uv_mutex_unlock(&lock);
    return PL_OK;
}

size_t pl_codecache_limit(void)
{
    return atomic_load_explicit(&limit, memory_order_relaxed); /* a hint, see limit */
}

void pl_codecache_set_limit(size_t bytes)
{
    lock_cache();
    atomic_store_explicit(&limit, bytes, memory_order_relaxed); /* under lock */
    make_room(0);
    uv_mutex_unlock(&lock);
}

void pl_codecache_clear(void)
{
    lock_cache();
    while (oldest)
        drop(oldest);
    pl_assert(nentries == 0 && total == 0);
    uv_mutex_unlock(&lock);
}

void pl_codecache_get_stats(pl_codecache_stats *out)
{
    lock_cache();
    out->hits = hits;
    out->misses = misses;
    out->added = added;
    out->dropped = dropped;
    out->entries = nentries;
    out->bytes = total;
    out->limit = atomic_load_explicit(&limit, memory_order_relaxed); /* under lock */
    uv_mutex_unlock(&lock);
}
