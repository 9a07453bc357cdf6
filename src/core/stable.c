/*
 * SharedTable's persistent map (see stable.h for the contract).
 *
 * The trie. Every key has a 64-bit index key `ik`: an integer key is
 * itself (below 2^32), a string key is 2^32 | its 32-bit hash. A node
 * looks at one 5-bit chunk of ik, (ik >> shift) & 31, shift being a
 * multiple of 5 (0..30); its slots are split CHAMP-style into entries
 * (datamap: key and value stored inline) and child nodes (nodemap). Paths
 * are compressed: a child's shift may be several chunks below its
 * parent's, all keys under a node sharing the bits above shift + 5 (`prefix`
 * holds any key of the subtree). Chunks are taken from the high end, so an
 * in-order walk visits keys in ik order: integers ascending, then strings.
 * Keys with the same ik (strings whose hashes collide) share a collision
 * node, a sorted array.
 *
 * Canonical form: a node other than the root holds at least two items; a
 * removal that leaves one entry lifts it into the parent, one child
 * replaces its parent. Lookups need no prefix checks (a wrong turn ends at
 * an entry whose key differs); inserts check the prefix to split a
 * compressed path.
 *
 * Memory. Nodes are immutable once built and reference counted: a node
 * counts the parents and roots that point at it. A write builds the new
 * path (each new node takes references to the children and entries it
 * shares), publishes the root with a seq_cst CAS, and retires the old
 * root's reference through core/epoch.c: readers walk without touching
 * counts, inside an epoch section, and a node reachable from a root seen
 * during a section keeps at least that root's reference until the section
 * ends (the root's reference is dropped only after a grace period). When a
 * count reaches zero the node is freed and its children released; the
 * cascade goes through a per-thread list, not recursion, so freeing deep
 * or long chains of tables needs no stack. A root that was never published
 * (a failed CAS) is released at once: no other thread has seen it.
 *
 * A table (pl_stable) is freed directly when its last reference goes: a
 * thread can reach a table's root only through a reference (a proxy, a
 * snapshot) or through an entry read inside a section, and an entry keeps
 * its reference until a grace period after it was unlinked. So a walk
 * that keeps a table to visit later, after the section or snapshot it was
 * found in is gone (a deep clone's work list), retains it first.
 *
 * Counters. An increment of a number cell that only the current root
 * reaches adds to it in place, excluding snapshots and write attempts of
 * the table (share_begin); see pl_stable_increment.
 *
 * Contention. Writers retry their CAS with a short backoff (lock-free:
 * some writer always succeeds). Transactions and update() validate the
 * values they read against the current root and re-apply their writes on
 * it, so they conflict only when a key they read has changed. A
 * transaction that conflicted many times takes the table's `excl` flag
 * (pl_stable_excl_acquire): every writer checks it before each attempt and
 * waits while it is set, so the holder's next attempts can be spoiled only
 * by writes already past their check, at most one per thread. Readers never
 * look at the flag.
 */
#include "core/stable.h"

#include "core/grow.h"
#include "core/ptrmap.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BITS 5
#define COLL 0xff /* shift of a collision node */

struct pl_snode {
    atomic_uint refs;
    uint8_t shift;     /* chunk = (ik >> shift) & 31; COLL: collision node */
    uint8_t has_table; /* a PL_SV_TABLE value somewhere below (deep clone) */
    uint16_t unused;
    uint32_t datamap; /* collision node: the number of entries */
    uint32_t nodemap;
    uint64_t count; /* entries in the subtree */
    union {
        uint64_t prefix;     /* any ik of the subtree (collision: their ik) */
        pl_snode *next_dead; /* once dead: the free list */
    } u;
    pl_sentry e[]; /* entries in slot order, then the child pointers */
};

static inline unsigned popc(uint32_t x)
{
#ifdef __POPCNT__
    return (unsigned)__builtin_popcount(x);
#else
    /* without -mpopcnt, __builtin_popcount is a libgcc call: 9% of a get */
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    x = (x + (x >> 4)) & 0x0f0f0f0fu;
    return (x * 0x01010101u) >> 24;
#endif
}
static inline unsigned ctz(uint32_t x)
{
    return (unsigned)__builtin_ctz(x);
}
static inline unsigned ndata(const pl_snode *n)
{
    return n->shift == COLL ? n->datamap : popc(n->datamap);
}
static inline unsigned nkids(const pl_snode *n)
{
    return n->shift == COLL ? 0 : popc(n->nodemap);
}
static inline pl_snode **kids(const pl_snode *n)
{
    return (pl_snode **)(void *)((char *)(void *)n->e + ndata(n) * sizeof(pl_sentry));
}
static inline unsigned chunk(uint64_t ik, int shift)
{
    return (unsigned)(ik >> shift) & 31;
}
/* The shift of the chunk holding the highest set bit of x (x != 0). */
static inline int split_shift(uint64_t x)
{
    return (63 - __builtin_clzll(x)) / BITS * BITS;
}

static void backoff(unsigned tries)
{
    if (tries < 8) {
        for (unsigned i = 0; i < (1u << tries); i++)
            pl_cpu_relax();
    } else if (tries < 64) {
        sched_yield();
    } else {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
    }
}

/* ---- values ---- */

void pl_sval_retain(const pl_sval *v)
{
    if (v->tag == PL_SV_STR)
        pl_sstring_retain(v->u.s);
    else if (v->tag == PL_SV_TABLE || v->tag == PL_SV_OBJ)
        pl_shared_retain(v->u.o);
}

void pl_sval_release(const pl_sval *v)
{
    if (v->tag == PL_SV_STR)
        pl_sstring_release(v->u.s);
    else if (v->tag == PL_SV_TABLE || v->tag == PL_SV_OBJ)
        pl_shared_release(v->u.o);
}

int pl_sval_same(const pl_sval *a, const pl_sval *b)
{
    if (a->tag != b->tag) return 0;
    switch (a->tag) {
    case PL_SV_NIL:
        return 1;
    case PL_SV_BOOL:
        return a->u.b == b->u.b;
    case PL_SV_INT:
        return a->u.i == b->u.i;
    case PL_SV_FLOAT:
        return memcmp(&a->u.n, &b->u.n, sizeof a->u.n) == 0; /* bits: NaN is itself */
    case PL_SV_STR:
        return a->u.s == b->u.s || pl_sstring_eq(a->u.s, b->u.s->data, b->u.s->len, b->u.s->hash);
    default:
        return a->u.o == b->u.o;
    }
}

static inline void entry_retain(const pl_sentry *e)
{
    if (e->kshared) pl_sstring_retain(e->k.ks);
    if (e->v.tag >= PL_SV_STR) pl_sval_retain(&e->v);
}

static inline void entry_release(const pl_sentry *e)
{
    if (e->kshared) pl_sstring_release(e->k.ks);
    if (e->v.tag >= PL_SV_STR) pl_sval_release(&e->v);
}

void pl_sentry_release(const pl_sentry *e)
{
    entry_release(e);
}

/* Equal bytes; short keys compared inline (a memcmp call is a good part
 * of a lookup). */
static inline int bytes_eq(const char *a, const char *b, size_t len)
{
    if (len > 16) return memcmp(a, b, len) == 0;
    for (size_t i = 0; i < len; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

static inline int key_eq(const pl_sentry *e, const pl_skey *k)
{
    if (e->ik != k->ik) return 0;
    if (!k->str) return 1; /* an integer: ik is the key */
    return e->klen == k->len && bytes_eq(pl_sentry_kdata(e), k->str, k->len);
}

static inline int entries_same_key(const pl_sentry *a, const pl_sentry *b)
{
    if (a->ik != b->ik) return 0;
    if (!pl_sentry_is_str(a)) return 1;
    return a->klen == b->klen && bytes_eq(pl_sentry_kdata(a), pl_sentry_kdata(b), a->klen);
}

/* Order of keys: ik, then (strings with equal hashes) length, then bytes. */
static int entry_cmp(const void *pa, const void *pb)
{
    const pl_sentry *a = pa, *b = pb;
    if (a->ik != b->ik) return a->ik < b->ik ? -1 : 1;
    if (!pl_sentry_is_str(a)) return 0;
    if (a->klen != b->klen) return a->klen < b->klen ? -1 : 1;
    return memcmp(pl_sentry_kdata(a), pl_sentry_kdata(b), a->klen);
}

/* ---- nodes ---- */

/* Node memory is cached per thread. Every write allocates the nodes of a
 * path and, once they are reclaimed, frees the ones it replaced, on the
 * same thread (epoch.c frees a retired root on the thread that retired
 * it), in batches of POLL_EVERY roots or, when another thread held the
 * epoch back (preempted inside a section), of thousands: more than
 * glibc's per-thread cache keeps (7 blocks of a size), so most frees and
 * allocations went through malloc's locked bins (a quarter of the time of
 * an increment contended by two threads). Blocks of up to
 * NODE_CLASSES * NODE_GRAIN bytes are kept in size classes of NODE_GRAIN
 * bytes, up to NODE_KEEP_BYTES in all per thread; only a thread registered
 * with epoch.c keeps any (its exit hook frees them when the thread
 * unregisters). A block is reused by the thread that freed it, after the
 * grace period or the last release that let it go, exactly as free and
 * malloc would reuse it. */
#define NODE_GRAIN 16
#define NODE_CLASSES 24
#define NODE_KEEP_BYTES (256 * 1024)
typedef struct node_block {
    struct node_block *next;
} node_block;
static _Thread_local node_block *node_cache[NODE_CLASSES];
static _Thread_local size_t node_cached_bytes;

static void node_cache_flush(void)
{
    for (int c = 0; c < NODE_CLASSES; c++) {
        while (node_cache[c]) {
            node_block *b = node_cache[c];
            node_cache[c] = b->next;
            free(b);
        }
    }
    node_cached_bytes = 0;
}

static inline size_t node_class(unsigned nd, unsigned nc)
{
    size_t size = sizeof(pl_snode) + nd * sizeof(pl_sentry) + nc * sizeof(pl_snode *);
    return (size + NODE_GRAIN - 1) / NODE_GRAIN;
}

static pl_snode *node_alloc(unsigned nd, unsigned nc)
{
    size_t c = node_class(nd, nc);
    pl_snode *n;
    if (c < NODE_CLASSES && node_cache[c]) {
        node_block *b = node_cache[c];
        node_cache[c] = b->next;
        node_cached_bytes -= c * NODE_GRAIN;
        n = (pl_snode *)b;
    } else {
        n = malloc(c * NODE_GRAIN);
    }
    if (n) {
        atomic_init(&n->refs, 1);
        n->has_table = 0;
        n->unused = 0;
    }
    return n;
}

void pl_snode_retain(pl_snode *n)
{
    /* relaxed: the caller holds a reference or is in a section where the
     * node cannot be freed, as for pl_shared_retain. */
    atomic_fetch_add_explicit(&n->refs, 1, memory_order_relaxed);
}

/* ---- in-place increments: who is adding to which table ---- */

/* A thread adding to a number cell in place (pl_stable_increment) says so
 * in its slot; anything that shares or replaces a table's root (a
 * snapshot, a write attempt) counts itself in the table's `sharers` and
 * waits until no slot names the table (the argument is at
 * pl_stable_increment). A slot is a cache line of its own, written by its
 * thread twice per in-place add and read by sharers only. A thread claims
 * one on its first increment and gives it back when it unregisters from
 * epoch.c (stable_thread_exit); without one (all taken) it only ever
 * copies paths. */
#define INPLACE_SLOTS 256
typedef struct inplace_slot {
    _Alignas(64) _Atomic(pl_stable *) t; /* the table being added to in place, or NULL */
    atomic_int used;                     /* claimed by a thread */
} inplace_slot;
static inplace_slot slots[INPLACE_SLOTS];
static atomic_uint slots_hw;           /* slots at and above this were never claimed */
static _Thread_local int my_slot = -1; /* -1: none yet; -2: none was free */

static _Thread_local pl_snode *dead; /* nodes to free, linked by u.next_dead */
static _Thread_local int draining;   /* this thread is freeing the list now */
static _Thread_local int hook_set;   /* stable_thread_exit is epoch.c's exit hook */

/* epoch.c's exit hook: a thread unregisters (it exits, or
 * pl_epoch_thread_exit): its node memory and its slot go. */
static void stable_thread_exit(void)
{
    node_cache_flush();
    if (my_slot >= 0) {
        /* relaxed: nothing is handed over with the slot (its t is NULL since
         * this thread's last add, and only this thread wrote it) */
        atomic_store_explicit(&slots[my_slot].used, 0, memory_order_relaxed);
    }
    my_slot = -1;
}

static void set_exit_hook(void)
{
    if (!hook_set) { /* once per thread: not a shared store per node */
        pl_epoch_set_exit_hook(stable_thread_exit);
        hook_set = 1;
    }
}

/* This thread's slot, claimed on first use; -2 if none is free. */
static int claim_slot(void)
{
    if (!pl_epoch_self) pl_epoch_register(); /* its exit gives the slot back */
    set_exit_hook();
    for (unsigned i = 0; i < INPLACE_SLOTS; i++) {
        int zero = 0;
        /* relaxed: the claim only has to be exclusive (see stable_thread_exit) */
        if (atomic_load_explicit(&slots[i].used, memory_order_relaxed) != 0 ||
            !atomic_compare_exchange_strong_explicit(&slots[i].used, &zero, 1, memory_order_relaxed,
                                                     memory_order_relaxed))
            continue;
        /* seq_cst: before this thread's first slot store in the total order,
         * so a sharer that must see that store scans far enough (argument
         * at pl_stable_increment) */
        unsigned hw = atomic_load_explicit(&slots_hw, memory_order_seq_cst);
        while (hw < i + 1 && !atomic_compare_exchange_weak_explicit(
                                 &slots_hw, &hw, i + 1, memory_order_seq_cst, memory_order_seq_cst))
            ;
        return my_slot = (int)i;
    }
    return my_slot = -2;
}

static void node_free(pl_snode *n)
{
    unsigned nd = ndata(n), nc = nkids(n);
    pl_snode **k = kids(n);
    for (unsigned i = 0; i < nd; i++)
        entry_release(&n->e[i]);
    for (unsigned i = 0; i < nc; i++)
        pl_snode_release(k[i]);
    size_t c = node_class(nd, nc);
    if (c < NODE_CLASSES && node_cached_bytes < NODE_KEEP_BYTES && pl_epoch_self) {
        set_exit_hook();
        node_block *b = (node_block *)n;
        b->next = node_cache[c];
        node_cache[c] = b;
        node_cached_bytes += c * NODE_GRAIN;
        return;
    }
    free(n);
}

void pl_snode_release(pl_snode *n)
{
    if (!n) return;
    /* acq_rel: see pl_sstring_release */
    if (atomic_fetch_sub_explicit(&n->refs, 1, memory_order_acq_rel) != 1) return;
    n->u.next_dead = dead;
    dead = n;
    if (draining) return; /* the loop below, further up this stack, frees it */
    draining = 1;
    while (dead) {
        pl_snode *d = dead;
        dead = d->u.next_dead;
        node_free(d); /* releases children (pushed here) and values (tables: pushed roots) */
    }
    draining = 0;
}

static void release_root_fn(void *p)
{
    pl_snode_release(p);
}

/* A node's slots spread out by chunk, for building a modified copy. */
typedef struct wide {
    uint32_t dm, nm;
    pl_sentry e[32];
    pl_snode *c[32];
} wide;

static void widen(wide *w, const pl_snode *n)
{
    w->dm = n->datamap;
    w->nm = n->nodemap;
    unsigned i = 0;
    for (uint32_t m = w->dm; m; m &= m - 1)
        w->e[ctz(m)] = n->e[i++];
    pl_snode **k = kids(n);
    i = 0;
    for (uint32_t m = w->nm; m; m &= m - 1)
        w->c[ctz(m)] = k[i++];
}

/* A node from w. Entries are retained; children too, except `owned` (or
 * all of them if own_all), whose references the new node takes over. On
 * failure the owned references are released and NULL returned. */
static pl_snode *make_node(const wide *w, int shift, uint64_t prefix, pl_snode *owned, int own_all)
{
    unsigned nd = popc(w->dm), nc = popc(w->nm);
    pl_snode *n = node_alloc(nd, nc);
    if (!n) {
        for (uint32_t m = w->nm; m; m &= m - 1) {
            pl_snode *c = w->c[ctz(m)];
            if (own_all || c == owned) pl_snode_release(c);
        }
        return NULL;
    }
    n->shift = (uint8_t)shift;
    n->datamap = w->dm;
    n->nodemap = w->nm;
    n->u.prefix = prefix;
    uint64_t count = nd;
    int has_table = 0;
    unsigned i = 0;
    for (uint32_t m = w->dm; m; m &= m - 1) {
        const pl_sentry *e = &w->e[ctz(m)];
        n->e[i++] = *e;
        entry_retain(e);
        has_table |= e->v.tag == PL_SV_TABLE;
    }
    pl_snode **k = kids(n);
    i = 0;
    for (uint32_t m = w->nm; m; m &= m - 1) {
        pl_snode *c = w->c[ctz(m)];
        k[i++] = c;
        if (!own_all && c != owned) pl_snode_retain(c);
        count += c->count;
        has_table |= c->has_table;
    }
    n->count = count;
    n->has_table = (uint8_t)has_table;
    return n;
}

/* A collision node holding n sorted entries (retained), ik their key. */
static pl_snode *make_coll(const pl_sentry *ents, unsigned n, uint64_t ik)
{
    pl_snode *c = node_alloc(n, 0);
    if (!c) return NULL;
    c->shift = COLL;
    c->datamap = n;
    c->nodemap = 0;
    c->u.prefix = ik;
    c->count = n;
    int has_table = 0;
    for (unsigned i = 0; i < n; i++) {
        c->e[i] = ents[i];
        entry_retain(&ents[i]);
        has_table |= ents[i].v.tag == PL_SV_TABLE;
    }
    c->has_table = (uint8_t)has_table;
    return c;
}

/* A root holding one entry. */
static pl_snode *make_single(const pl_sentry *e)
{
    wide w;
    w.dm = 1u << chunk(e->ik, 0);
    w.nm = 0;
    w.e[chunk(e->ik, 0)] = *e;
    return make_node(&w, 0, e->ik, NULL, 0);
}

/* A node holding two entries with different keys. */
static pl_snode *make_pair(const pl_sentry *a, const pl_sentry *b)
{
    if (a->ik == b->ik) {
        pl_sentry two[2] = {*a, *b};
        if (entry_cmp(&two[0], &two[1]) > 0) {
            two[0] = *b;
            two[1] = *a;
        }
        return make_coll(two, 2, a->ik);
    }
    int s = split_shift(a->ik ^ b->ik);
    wide w;
    w.dm = (1u << chunk(a->ik, s)) | (1u << chunk(b->ik, s));
    w.nm = 0;
    w.e[chunk(a->ik, s)] = *a;
    w.e[chunk(b->ik, s)] = *b;
    return make_node(&w, s, a->ik, NULL, 0);
}

/* The entry at k under n, or NULL. With private_only, NULL as well unless
 * every node on the way, n included, has one reference (find_private). */
static inline pl_sentry *walk_to_entry(const pl_snode *n, const pl_skey *k, int private_only)
{
    uint64_t ik = k->ik;
    while (n) {
        /* acquire: reading 1 from the release of a snapshot, a clone or an
         * old root that shared n, everything its holder read of n happens
         * before an in-place add (pl_stable_increment) */
        if (private_only && atomic_load_explicit(&n->refs, memory_order_acquire) != 1) return NULL;
        if (n->shift == COLL) {
            if (n->u.prefix != ik) return NULL;
            for (unsigned i = 0; i < n->datamap; i++)
                if (key_eq(&n->e[i], k)) return (pl_sentry *)&n->e[i];
            return NULL;
        }
        uint32_t bit = 1u << chunk(ik, n->shift);
        if (n->datamap & bit) {
            pl_sentry *e = (pl_sentry *)&n->e[popc(n->datamap & (bit - 1))];
            return key_eq(e, k) ? e : NULL;
        }
        if (!(n->nodemap & bit)) return NULL;
        n = kids(n)[popc(n->nodemap & (bit - 1))];
    }
    return NULL;
}

static const pl_sentry *find_entry(const pl_snode *n, const pl_skey *k)
{
    return walk_to_entry(n, k, 0);
}

const pl_sval *pl_snode_find(const pl_snode *root, const pl_skey *k)
{
    const pl_sentry *e = find_entry(root, k);
    return e ? &e->v : NULL;
}

size_t pl_snode_count(const pl_snode *root)
{
    return root ? (size_t)root->count : 0;
}

/* A copy of the (non-collision) node n with every entry and child
 * retained, for changing one slot: cheaper than widen + make_node, which
 * spread all 32 slots out and back. NULL if out of memory. */
static pl_snode *copy_node(const pl_snode *n)
{
    unsigned nd = popc(n->datamap), nc = popc(n->nodemap);
    pl_snode *c = node_alloc(nd, nc);
    if (!c) return NULL;
    /* everything after the reference count: the header, entries, children */
    size_t from = offsetof(pl_snode, shift);
    memcpy((char *)c + from, (const char *)n + from,
           sizeof(pl_snode) - from + nd * sizeof(pl_sentry) + nc * sizeof(pl_snode *));
    for (unsigned i = 0; i < nd; i++)
        entry_retain(&c->e[i]);
    pl_snode **k = kids(c);
    for (unsigned i = 0; i < nc; i++)
        pl_snode_retain(k[i]);
    return c;
}

/* Recomputes has_table of a node made by copy_node and then changed. */
static void copy_has_table(pl_snode *c)
{
    int has_table = 0;
    unsigned nd = popc(c->datamap), nc = popc(c->nodemap);
    for (unsigned i = 0; i < nd; i++)
        has_table |= c->e[i].v.tag == PL_SV_TABLE;
    pl_snode **k = kids(c);
    for (unsigned i = 0; i < nc; i++)
        has_table |= k[i]->has_table;
    c->has_table = (uint8_t)has_table;
}

/* The subtree n (may be NULL) with ne set; ne's key string and value are
 * retained by the new nodes. *added: whether the key is new. NULL if out of
 * memory. */
static pl_snode *assoc(const pl_snode *n, const pl_sentry *ne, int *added)
{
    if (!n) {
        *added = 1;
        return make_single(ne);
    }
    if (n->shift == COLL) {
        if (ne->ik == n->u.prefix) {
            unsigned cnt = n->datamap, at = cnt;
            int replace = 0;
            for (unsigned i = 0; i < cnt; i++) {
                int c = entry_cmp(ne, &n->e[i]);
                if (c == 0) {
                    at = i;
                    replace = 1;
                    break;
                }
                if (c < 0) {
                    at = i;
                    break;
                }
            }
            pl_snode *c = node_alloc(cnt + !replace, 0);
            if (!c) return NULL;
            c->shift = COLL;
            c->datamap = cnt + !replace;
            c->nodemap = 0;
            c->u.prefix = n->u.prefix;
            c->count = c->datamap;
            unsigned j = 0;
            int has_table = 0;
            for (unsigned i = 0; i < cnt; i++) {
                if (i == at) {
                    if (replace) { /* the old key, the new value */
                        c->e[j] = n->e[i];
                        c->e[j].v = ne->v;
                    } else {
                        c->e[j] = *ne;
                    }
                    entry_retain(&c->e[j]);
                    has_table |= c->e[j++].v.tag == PL_SV_TABLE;
                    if (replace) continue;
                }
                c->e[j] = n->e[i];
                entry_retain(&c->e[j]);
                has_table |= c->e[j++].v.tag == PL_SV_TABLE;
            }
            if (at == cnt) {
                c->e[j] = *ne;
                entry_retain(&c->e[j]);
                has_table |= c->e[j].v.tag == PL_SV_TABLE;
            }
            c->has_table = (uint8_t)has_table;
            *added = !replace;
            return c;
        }
    } else if (((ne->ik ^ n->u.prefix) >> n->shift) >> BITS == 0) {
        unsigned c = chunk(ne->ik, n->shift);
        uint32_t bit = 1u << c;
        if (n->datamap & bit) { /* the key is here: a new value (the common write) */
            unsigned at = popc(n->datamap & (bit - 1));
            if (entries_same_key(&n->e[at], ne)) {
                pl_snode *cp = copy_node(n);
                if (!cp) return NULL;
                int was_table = cp->e[at].v.tag == PL_SV_TABLE;
                pl_sval_release(&cp->e[at].v); /* n still holds it */
                cp->e[at].v = ne->v;           /* keeps the old key */
                pl_sval_retain(&ne->v);
                if (was_table || ne->v.tag == PL_SV_TABLE) copy_has_table(cp);
                *added = 0;
                return cp;
            }
        } else if (n->nodemap & bit) { /* below a child: the path is copied */
            unsigned at = popc(n->nodemap & (bit - 1));
            const pl_snode *child = kids(n)[at];
            pl_snode *sub = assoc(child, ne, added);
            if (!sub) return NULL;
            pl_snode *cp = copy_node(n);
            if (!cp) {
                pl_snode_release(sub);
                return NULL;
            }
            pl_snode **k = kids(cp);
            pl_snode_release(k[at]); /* n still holds it */
            k[at] = sub;
            cp->count = n->count - child->count + sub->count;
            if (child->has_table != sub->has_table) copy_has_table(cp);
            return cp;
        }
        wide w;
        widen(&w, n);
        if (w.dm & bit) {
            pl_sentry *old = &w.e[c];
            if (entries_same_key(old, ne)) {
                *added = 0;
                old->v = ne->v; /* keeps the old key */
                return make_node(&w, n->shift, n->u.prefix, NULL, 0);
            }
            pl_snode *sub = make_pair(old, ne);
            if (!sub) return NULL;
            *added = 1;
            w.dm &= ~bit;
            w.nm |= bit;
            w.c[c] = sub;
            return make_node(&w, n->shift, n->u.prefix, sub, 0);
        }
        if (w.nm & bit) {
            pl_snode *sub = assoc(w.c[c], ne, added);
            if (!sub) return NULL;
            w.c[c] = sub;
            return make_node(&w, n->shift, n->u.prefix, sub, 0);
        }
        *added = 1;
        w.dm |= bit;
        w.e[c] = *ne;
        return make_node(&w, n->shift, n->u.prefix, NULL, 0);
    }
    /* ne's key leaves n's compressed path: a new node above n */
    *added = 1;
    if (n->shift != COLL && n->count == 1 && n->nodemap == 0) return make_pair(&n->e[0], ne);
    int s = split_shift(ne->ik ^ n->u.prefix);
    wide w;
    w.dm = 1u << chunk(ne->ik, s);
    w.nm = 1u << chunk(n->u.prefix, s);
    w.e[chunk(ne->ik, s)] = *ne;
    w.c[chunk(n->u.prefix, s)] = (pl_snode *)n;
    return make_node(&w, s, ne->ik, NULL, 0);
}

enum { D_ABSENT, D_NODE, D_ENTRY, D_NOMEM };

/* The subtree n without key k. D_NODE: *out is the new subtree (NULL if
 * empty; only the root may become empty); D_ENTRY: the subtree shrank to
 * the one entry *lifted (borrowed from n's subtree), which the parent
 * stores inline (never for the root). */
static int dissoc(const pl_snode *n, const pl_skey *k, int is_root, pl_snode **out,
                  const pl_sentry **lifted)
{
    if (n->shift == COLL) {
        if (n->u.prefix != k->ik) return D_ABSENT;
        unsigned cnt = n->datamap, at = cnt;
        for (unsigned i = 0; i < cnt; i++)
            if (key_eq(&n->e[i], k)) at = i;
        if (at == cnt) return D_ABSENT;
        if (cnt == 2) {
            const pl_sentry *other = &n->e[1 - at];
            if (!is_root) {
                *lifted = other;
                return D_ENTRY;
            }
            *out = make_single(other);
            return *out ? D_NODE : D_NOMEM;
        }
        pl_sentry *rest = malloc((cnt - 1) * sizeof *rest);
        if (!rest) return D_NOMEM;
        for (unsigned i = 0, j = 0; i < cnt; i++)
            if (i != at) rest[j++] = n->e[i];
        *out = make_coll(rest, cnt - 1, n->u.prefix);
        free(rest);
        return *out ? D_NODE : D_NOMEM;
    }
    if (((k->ik ^ n->u.prefix) >> n->shift) >> BITS) return D_ABSENT;
    unsigned c = chunk(k->ik, n->shift);
    uint32_t bit = 1u << c;
    if (n->datamap & bit) {
        unsigned idx = popc(n->datamap & (bit - 1));
        if (!key_eq(&n->e[idx], k)) return D_ABSENT;
        unsigned nd = popc(n->datamap) - 1, nc = popc(n->nodemap);
        if (nd == 0 && nc == 0) { /* only a root holds a single entry */
            *out = NULL;
            return D_NODE;
        }
        if (nd == 1 && nc == 0 && !is_root) {
            *lifted = &n->e[idx == 0 ? 1 : 0];
            return D_ENTRY;
        }
        if (nd == 0 && nc == 1) {
            *out = kids(n)[0];
            pl_snode_retain(*out);
            return D_NODE;
        }
        wide w;
        widen(&w, n);
        w.dm &= ~bit;
        *out = make_node(&w, n->shift, n->u.prefix, NULL, 0);
        return *out ? D_NODE : D_NOMEM;
    }
    if (!(n->nodemap & bit)) return D_ABSENT;
    pl_snode *sub = NULL;
    const pl_sentry *lf = NULL;
    int r = dissoc(kids(n)[popc(n->nodemap & (bit - 1))], k, 0, &sub, &lf);
    if (r == D_ABSENT || r == D_NOMEM) return r;
    wide w;
    widen(&w, n);
    if (r == D_ENTRY) {
        w.nm &= ~bit;
        w.dm |= bit;
        w.e[c] = *lf;
        *out = make_node(&w, n->shift, n->u.prefix, NULL, 0);
    } else if (!sub) {
        w.nm &= ~bit;
        *out = (w.nm | w.dm) ? make_node(&w, n->shift, n->u.prefix, NULL, 0) : NULL;
        return D_NODE;
    } else {
        w.c[c] = sub;
        *out = make_node(&w, n->shift, n->u.prefix, sub, 0);
    }
    return *out ? D_NODE : D_NOMEM;
}

/* The new version of root after one write (e->v NIL: remove). *out is a
 * new reference, or root itself (retained) when nothing changed. */
static int apply(pl_snode *root, const pl_sentry *e, const pl_skey *k, pl_snode **out)
{
    if (e->v.tag == PL_SV_NIL) {
        if (!root) {
            *out = NULL;
            return PL_OK;
        }
        const pl_sentry *lf;
        int r = dissoc(root, k, 1, out, &lf);
        if (r == D_NOMEM) return PL_ENOMEM;
        if (r == D_ABSENT) {
            pl_snode_retain(root);
            *out = root;
        }
        return PL_OK;
    }
    int added;
    *out = assoc(root, e, &added);
    return *out ? PL_OK : PL_ENOMEM;
}

/* Builds from entries sorted by entry_cmp, n >= 2. */
static pl_snode *build_sorted(const pl_sentry *e, size_t n)
{
    if (e[0].ik == e[n - 1].ik) return make_coll(e, (unsigned)n, e[0].ik);
    int s = split_shift(e[0].ik ^ e[n - 1].ik);
    wide w;
    w.dm = w.nm = 0;
    for (size_t i = 0; i < n;) {
        unsigned c = chunk(e[i].ik, s);
        size_t j = i + 1;
        while (j < n && chunk(e[j].ik, s) == c)
            j++;
        if (j - i == 1) {
            w.dm |= 1u << c;
            w.e[c] = e[i];
        } else {
            pl_snode *sub = build_sorted(e + i, j - i);
            if (!sub) {
                for (uint32_t m = w.nm; m; m &= m - 1)
                    pl_snode_release(w.c[ctz(m)]);
                return NULL;
            }
            w.nm |= 1u << c;
            w.c[c] = sub;
        }
        i = j;
    }
    return make_node(&w, s, e[0].ik, NULL, 1);
}

int pl_snode_build(pl_sentry *entries, size_t n, pl_snode **root)
{
    if (n == 0) {
        *root = NULL;
        return PL_OK;
    }
    if (n == 1) {
        *root = make_single(&entries[0]);
    } else {
        qsort(entries, n, sizeof *entries, entry_cmp);
        *root = build_sorted(entries, n);
    }
    return *root ? PL_OK : PL_ENOMEM;
}

/* ---- validation (tests) ---- */

/* Checks n's subtree; all its keys must agree with `prefix` above bit
 * `above` (64: no constraint). Returns the number of entries, or -1. */
static long check_node(const pl_snode *n, uint64_t prefix, int above, int is_root)
{
    if (atomic_load_explicit(&n->refs, memory_order_relaxed) == 0) return -1;
    long count = 0;
    int has_table = 0;
    if (n->shift == COLL) {
        if (n->datamap < 2 || n->nodemap) return -1;
        for (unsigned i = 0; i < n->datamap; i++) {
            const pl_sentry *e = &n->e[i];
            if (e->ik != n->u.prefix || !pl_sentry_is_str(e)) return -1;
            if (i > 0 && entry_cmp(&n->e[i - 1], e) >= 0) return -1;
            has_table |= e->v.tag == PL_SV_TABLE;
        }
        count = n->datamap;
    } else {
        if (n->shift > 30 || n->shift % BITS || (n->datamap & n->nodemap)) return -1;
        if (!is_root && popc(n->datamap) + popc(n->nodemap) < 2) return -1;
        if (is_root && popc(n->datamap) + popc(n->nodemap) == 0) return -1;
        unsigned i = 0;
        for (uint32_t m = n->datamap; m; m &= m - 1, i++) {
            const pl_sentry *e = &n->e[i];
            if (chunk(e->ik, n->shift) != ctz(m)) return -1;
            if (((e->ik ^ n->u.prefix) >> n->shift) >> BITS) return -1;
            if (e->v.tag == PL_SV_NIL) return -1;
            has_table |= e->v.tag == PL_SV_TABLE;
            count++;
        }
        i = 0;
        for (uint32_t m = n->nodemap; m; m &= m - 1, i++) {
            const pl_snode *c = kids(n)[i];
            if (c->shift != COLL && c->shift >= n->shift) return -1;
            if (chunk(c->u.prefix, n->shift) != ctz(m)) return -1;
            long sub = check_node(c, n->u.prefix, n->shift + BITS, 0);
            if (sub < 0) return -1;
            count += sub;
            has_table |= c->has_table;
        }
    }
    if (above < 64 && ((n->u.prefix ^ prefix) >> above)) return -1;
    if ((uint64_t)count != n->count || has_table != n->has_table) return -1;
    return count;
}

int pl_snode_check(const pl_snode *root)
{
    return !root || check_node(root, 0, 64, 1) >= 0 ? 0 : -1;
}

/* ---- iteration ---- */

void pl_scursor_init(pl_scursor *c, const pl_snode *root)
{
    c->depth = 0;
    if (!root) return;
    c->f[0].n = root;
    c->f[0].rest = root->shift == COLL ? 0 : root->datamap | root->nodemap;
    c->depth = 1;
}

const pl_sentry *pl_scursor_next(pl_scursor *c)
{
    while (c->depth > 0) {
        const pl_snode *n = c->f[c->depth - 1].n;
        uint32_t *rest = &c->f[c->depth - 1].rest;
        if (n->shift == COLL) {
            if (*rest < n->datamap) return &n->e[(*rest)++];
            c->depth--;
            continue;
        }
        if (!*rest) {
            c->depth--;
            continue;
        }
        uint32_t bit = *rest & (0u - *rest);
        *rest &= *rest - 1;
        if (n->datamap & bit) return &n->e[popc(n->datamap & (bit - 1))];
        const pl_snode *child = kids(n)[popc(n->nodemap & (bit - 1))];
        c->f[c->depth].n = child;
        c->f[c->depth].rest = child->shift == COLL ? 0 : child->datamap | child->nodemap;
        c->depth++; /* depth <= 7 normal levels + 1 collision node < PL_SCURSOR_MAX */
    }
    return NULL;
}

/* ---- tables ---- */

static void stable_destroy(pl_shared *obj)
{
    pl_stable *t = (pl_stable *)obj;
    pl_stable_list *l = t->list;
    if (l) {
        uv_mutex_lock(&l->lock);
        if (t->list_prev)
            t->list_prev->list_next = t->list_next;
        else
            l->head = t->list_next;
        if (t->list_next) t->list_next->list_prev = t->list_prev;
        uv_mutex_unlock(&l->lock);
    }
    /* relaxed: the last reference is gone, so this thread alone sees t */
    pl_snode_release(atomic_load_explicit(&t->root, memory_order_relaxed));
    free(t);
}

const pl_shared_type pl_stable_type = {"SharedTable", "parlua.SharedTable", stable_destroy, NULL};

pl_stable *pl_stable_new(pl_snode *root, int frozen, pl_stable_list *list)
{
    pl_stable *t = malloc(sizeof *t);
    if (!t) return NULL;
    pl_shared_init(&t->base, &pl_stable_type);
    atomic_init(&t->root, root);
    atomic_init(&t->sharers, 0);
    t->frozen = frozen;
    atomic_init(&t->excl, 0);
    t->list = list;
    t->list_prev = NULL;
    t->list_next = NULL;
    if (list) {
        uv_mutex_lock(&list->lock);
        t->list_next = list->head;
        if (list->head) list->head->list_prev = t;
        list->head = t;
        uv_mutex_unlock(&list->lock);
    }
    return t;
}

/* Around everything that shares t's root (a snapshot retains it) or reads
 * cells of it to copy or compare them and replaces it (a write attempt):
 * from share_begin's return to share_end, no number cell under t's root
 * changes in place (argument at pl_stable_increment). share_begin waits
 * only for adds already past their check, a few instructions each; new
 * ones see `sharers` and copy the path instead. */
static void share_begin(pl_stable *t)
{
    /* seq_cst: F of the argument, before the loads below in the total order */
    atomic_fetch_add_explicit(&t->sharers, 1, memory_order_seq_cst);
    unsigned hw = atomic_load_explicit(&slots_hw, memory_order_seq_cst);
    for (unsigned i = 0; i < hw; i++) {
        /* seq_cst: Q of the argument; acquire half: an add whose clear
         * this reads happens before everything this sharer does next */
        for (unsigned tries = 0; atomic_load_explicit(&slots[i].t, memory_order_seq_cst) == t;
             tries++)
            backoff(tries);
    }
}

static void share_end(pl_stable *t)
{
    /* seq_cst: every change of `sharers` is a seq_cst RMW, so an adder's
     * seq_cst load of it returns the last one before it in the total order;
     * the release half hands what this sharer did to adders that read 0 */
    atomic_fetch_sub_explicit(&t->sharers, 1, memory_order_seq_cst);
}

pl_snode *pl_stable_snapshot(pl_stable *t)
{
    share_begin(t);
    pl_epoch_enter();
    pl_snode *r = pl_stable_root(t);
    if (r) pl_snode_retain(r); /* from here on no cell under r changes in place */
    pl_epoch_exit();
    share_end(t);
    return r;
}

size_t pl_stable_size(pl_stable *t)
{
    pl_epoch_enter();
    size_t n = pl_snode_count(pl_stable_root(t));
    pl_epoch_exit();
    return n;
}

/* Tables this thread holds exclusively (transactions in their fallback). */
#define MAX_HELD 8
static _Thread_local pl_stable *held[MAX_HELD];
static _Thread_local int nheld;

/* Before each write attempt: wait while a fallback transaction holds t,
 * unless this thread holds a table itself (it may be the holder, or the
 * holder may wait for it: never wait then). */
static void wait_excl(pl_stable *t)
{
    /* seq_cst: ordered with the holder's store of 1 and its root load (see
     * pl_stable_excl_acquire), so at most one write per thread slips past. */
    if (!atomic_load_explicit(&t->excl, memory_order_seq_cst) || nheld > 0) return;
    for (unsigned tries = 0; atomic_load_explicit(&t->excl, memory_order_seq_cst); tries++)
        backoff(tries < 8 ? 8 : tries);
}

/* Publishes nw over old; 1 on success. seq_cst: the unlinking CAS of
 * epoch.c's argument; its release half publishes the new nodes to readers
 * (their root loads are seq_cst, hence acquire). */
static int publish(pl_stable *t, pl_snode *old, pl_snode *nw)
{
    return atomic_compare_exchange_strong_explicit(&t->root, &old, nw, memory_order_seq_cst,
                                                   memory_order_seq_cst);
}

static void retire_root(pl_snode *old)
{
    if (old) pl_epoch_retire(old, release_root_fn);
}

/* st[k] = v; with expect, only while st[k] holds a value the same as
 * *expect (pl_sval_same; a NIL expect: the key is absent), else
 * PL_ECONFLICT. */
static int write_key(pl_stable *t, const pl_skey *k, const pl_sval *v, const pl_sval *expect)
{
    static const pl_sval nil = {PL_SV_NIL, {0}};
    if (t->frozen) return PL_EFROZEN;
    /* A long string key without a shared string: an existing entry's is
     * reused (most writes replace a value), one is made only for a new key. */
    int need_string = k->str && !k->s && k->len > PL_SKEY_INLINE && v->tag != PL_SV_NIL;
    pl_sstring *made = NULL;
    pl_sentry ne;
    pl_sentry_setkey(&ne, k);
    ne.v = *v;
    int rc = PL_OK;
    for (unsigned tries = 0;; tries++) {
        wait_excl(t);
        share_begin(t);
        pl_epoch_enter();
        pl_snode *old = pl_stable_root(t), *nw;
        const pl_sentry *e = expect || (need_string && !made) ? find_entry(old, k) : NULL;
        if (expect && !pl_sval_same(e ? &e->v : &nil, expect)) {
            pl_epoch_exit();
            share_end(t);
            rc = PL_ECONFLICT;
            break;
        }
        if (need_string && !made) {
            if (!e) {
                pl_epoch_exit();
                share_end(t);
                made = pl_sstring_new_hashed(k->str, k->len, (uint32_t)k->ik);
                if (!made) return PL_ENOMEM;
                tries--;
                continue;
            }
            ne.k.ks = e->k.ks; /* borrowed for this attempt: old is alive in the section */
        } else if (made) {
            ne.k.ks = made;
        }
        if (apply(old, &ne, k, &nw) != PL_OK) {
            pl_epoch_exit();
            share_end(t);
            rc = PL_ENOMEM;
            break;
        }
        if (nw == old) { /* removing an absent key */
            pl_snode_release(nw);
            pl_epoch_exit();
            share_end(t);
            break;
        }
        int ok = publish(t, old, nw);
        pl_epoch_exit();
        share_end(t);
        if (ok) {
            retire_root(old);
            break;
        }
        pl_snode_release(nw); /* never published: no one else has seen it */
        backoff(tries);
    }
    if (made) pl_sstring_release(made); /* the nodes hold their own references */
    return rc;
}

int pl_stable_set(pl_stable *t, const pl_skey *k, const pl_sval *v)
{
    return write_key(t, k, v, NULL);
}

int pl_stable_cas(pl_stable *t, const pl_skey *k, const pl_sval *expect, const pl_sval *v)
{
    return write_key(t, k, v, expect);
}

static int add_numbers(const pl_sval *a, const pl_sval *b, pl_sval *out)
{
    if (a->tag == PL_SV_INT && b->tag == PL_SV_INT) {
        out->tag = PL_SV_INT;
        out->u.i = (int64_t)((uint64_t)a->u.i + (uint64_t)b->u.i); /* wraps, as Lua */
        return 1;
    }
    if ((a->tag != PL_SV_INT && a->tag != PL_SV_FLOAT) ||
        (b->tag != PL_SV_INT && b->tag != PL_SV_FLOAT))
        return 0;
    double x = a->tag == PL_SV_INT ? (double)a->u.i : a->u.n;
    double y = b->tag == PL_SV_INT ? (double)b->u.i : b->u.n;
    out->tag = PL_SV_FLOAT;
    out->u.n = x + y;
    return 1;
}

/* The entry at k under root n if every node on the way, n included, has
 * one reference; NULL otherwise. Called in an in-place add only: n is the
 * table's root and is not replaced meanwhile. */
static pl_sentry *find_private(pl_snode *n, const pl_skey *k)
{
    return walk_to_entry(n, k, 1);
}

/* In-place increments.
 *
 * A number cell may change in place when it belongs to t's current root
 * only: every node from the root down to it has one reference (the root's
 * is t's own), so no snapshot, clone, other table or old root can reach
 * it (find_private). The add must not race with anything that shares or
 * copies that cell: a snapshot retaining the root (it would see later
 * adds), a write copying the cell into a new root (the add would be lost),
 * a commit validating it. Those all run between share_begin and share_end
 * of t, and exclude in-place adds on t like this, all operations seq_cst
 * (one total order S):
 *   adder:  W: slot = t;  L: load sharers;  if 0: check, add;  C: slot = NULL (release)
 *   sharer: F: sharers += 1;  load slots_hw;  Q: load each slot, wait while it is t
 * Suppose the adder's L returns 0. If a sharer's F precedes L in S, its
 * matching decrement does too (every change of `sharers` is a seq_cst RMW,
 * L returns the last one before it), so the sharer is done, and L reads
 * from its release sequence: what it did happens before the add. Else
 * W < L < F < Q in S; the slot's claim raised slots_hw before W, so the
 * sharer scans the slot, and Q returns W (it waits) or C or later (C is the
 * next store after W; seq_cst Q may not return a store older than W),
 * and C, a release store read by Q, puts the whole add before the rest of
 * the sharer. So an add and a sharer's critical part never overlap: while
 * an adder is past L, t's root is not replaced (roots are replaced only by
 * sharers) and holds its nodes, so the adder needs no epoch section; no
 * reference to a node on its path can be taken (only a sharer of t can
 * reach one, whatever other tables do: a node they share has two
 * references somewhere on its path), so the check stays true through the
 * add.
 *
 * The cell's tag never changes in place (an integer cell with a float delta
 * takes the path copy), only the 8-byte payload, with one atomic RMW;
 * readers in sections read it with pl_sval_load. seq_cst RMWs: with the
 * seq_cst root loads and publishing CASes, every read and write of a table
 * stays in one total order (a thread that sees one increment then reads
 * another key sees the writes before it). Returns 1 if done. */
static int increment_in_place(pl_stable *t, const pl_skey *k, const pl_sval *delta,
                              pl_sval *old_out)
{
    int s = my_slot;
    if (s < 0 && (s == -2 || (s = claim_slot()) < 0)) return 0;
    _Atomic(pl_stable *) *slot = &slots[s].t;
    atomic_store_explicit(slot, t, memory_order_seq_cst); /* W */
    int done = 0;
    if (atomic_load_explicit(&t->sharers, memory_order_seq_cst) == 0) { /* L */
        /* acquire: the root's nodes as its publisher built them (it may
         * have been published before the last sharer's decrement L read) */
        pl_snode *root = atomic_load_explicit(&t->root, memory_order_acquire);
        pl_sentry *e = find_private(root, k);
        if (e && e->v.tag == PL_SV_INT && delta->tag == PL_SV_INT) {
            old_out->tag = PL_SV_INT;
            /* unsigned: wraps around, as Lua */
            old_out->u.i = (int64_t)__atomic_fetch_add((uint64_t *)&e->v.u.i, (uint64_t)delta->u.i,
                                                       __ATOMIC_SEQ_CST);
            done = 1;
        } else if (e && e->v.tag == PL_SV_FLOAT) {
            double d = delta->tag == PL_SV_INT ? (double)delta->u.i : delta->u.n;
            int64_t bits = __atomic_load_n(&e->v.u.i, __ATOMIC_SEQ_CST), nbits;
            double x, y;
            do { /* other adders only: a sharer cannot start meanwhile */
                memcpy(&x, &bits, sizeof x);
                y = x + d;
                memcpy(&nbits, &y, sizeof nbits);
            } while (!__atomic_compare_exchange_n(&e->v.u.i, &bits, nbits, 1, __ATOMIC_SEQ_CST,
                                                  __ATOMIC_SEQ_CST));
            old_out->tag = PL_SV_FLOAT;
            old_out->u.n = x;
            done = 1;
        }
    }
    atomic_store_explicit(slot, NULL, memory_order_release); /* C */
    return done;
}

int pl_stable_increment(pl_stable *t, const pl_skey *k, const pl_sval *delta, pl_sval *old_out)
{
    if (t->frozen) return PL_EFROZEN;
    if (delta->tag != PL_SV_INT && delta->tag != PL_SV_FLOAT) return PL_ENOTNUM;
    wait_excl(t);
    if (increment_in_place(t, k, delta, old_out)) return PL_OK;
    /* shared, absent, not a number, an integer becoming a float, or a
     * sharer at work: copy the path (the new one is private: later adds
     * go in place) */
    for (unsigned tries = 0;; tries++) {
        wait_excl(t);
        share_begin(t);
        pl_epoch_enter();
        pl_snode *old = pl_stable_root(t);
        const pl_sentry *cur = find_entry(old, k);
        pl_sentry ne;
        if (!cur || !add_numbers(&cur->v, delta, &ne.v)) {
            pl_epoch_exit();
            share_end(t);
            return cur ? PL_ENOTNUM : PL_EABSENT;
        }
        *old_out = cur->v;
        ne.ik = cur->ik;
        ne.klen = cur->klen;
        ne.kshared = cur->kshared;
        ne.k = cur->k;
        int added;
        pl_snode *nw = assoc(old, &ne, &added);
        if (!nw) {
            pl_epoch_exit();
            share_end(t);
            return PL_ENOMEM;
        }
        int ok = publish(t, old, nw);
        pl_epoch_exit();
        share_end(t);
        if (ok) {
            retire_root(old);
            return PL_OK;
        }
        pl_snode_release(nw);
        backoff(tries);
    }
}

int pl_stable_clear(pl_stable *t)
{
    if (t->frozen) return PL_EFROZEN;
    for (unsigned tries = 0;; tries++) {
        wait_excl(t);
        share_begin(t);
        pl_epoch_enter();
        pl_snode *old = pl_stable_root(t);
        int ok = !old || publish(t, old, NULL);
        pl_epoch_exit();
        share_end(t);
        if (ok) {
            retire_root(old);
            return PL_OK;
        }
        backoff(tries);
    }
}

/* ---- clones ---- */

typedef struct pair {
    pl_stable *src, *dst;
} pair;

typedef struct clone_ctx {
    pl_ptrmap map; /* src -> dst, both retained */
    pair *work;    /* clones whose root is still to be made */
    size_t nwork, workcap;
    int frozen;
    pl_stable_list *list;
} clone_ctx;

/* The clone of src, made (empty, queued for filling) if new; NULL if out of
 * memory. The caller keeps src alive for the call (a reference, or a
 * retained root whose entry holds src); the map takes its own reference,
 * because src is snapshotted only later, after that root is released, and
 * another thread may by then have replaced the entry and dropped src's last
 * reference. */
static pl_stable *clone_of(clone_ctx *cx, pl_stable *src)
{
    pl_ptrmap_slot *known = pl_ptrmap_find(&cx->map, src);
    if (known) return known->value;
    pair *w = pl_grow(cx->work, &cx->workcap, cx->nwork + 1, sizeof *w);
    if (!w) return NULL;
    cx->work = w;
    pl_stable *dst = pl_stable_new(NULL, cx->frozen, cx->list);
    if (!dst) return NULL;
    int added;
    pl_ptrmap_slot *slot = pl_ptrmap_add(&cx->map, src, &added);
    if (!slot) {
        pl_stable_release(dst);
        return NULL;
    }
    pl_stable_retain(src);
    slot->value = dst;
    cx->work[cx->nwork++] = (pair){src, dst};
    return dst;
}

/* A copy of n's subtree with every table value replaced by its clone. */
static pl_snode *replace_tables(clone_ctx *cx, pl_snode *n)
{
    if (!n->has_table) {
        pl_snode_retain(n);
        return n;
    }
    if (n->shift == COLL) {
        pl_sentry *es = malloc(n->datamap * sizeof *es);
        if (!es) return NULL;
        memcpy(es, n->e, n->datamap * sizeof *es);
        for (unsigned i = 0; i < n->datamap; i++) {
            if (es[i].v.tag != PL_SV_TABLE) continue;
            pl_stable *c = clone_of(cx, (pl_stable *)es[i].v.u.o);
            if (!c) {
                free(es);
                return NULL;
            }
            es[i].v.u.o = &c->base;
        }
        pl_snode *out = make_coll(es, n->datamap, n->u.prefix);
        free(es);
        return out;
    }
    wide w;
    widen(&w, n);
    for (uint32_t m = w.dm; m; m &= m - 1) {
        pl_sentry *e = &w.e[ctz(m)];
        if (e->v.tag != PL_SV_TABLE) continue;
        pl_stable *c = clone_of(cx, (pl_stable *)e->v.u.o);
        if (!c) return NULL;
        e->v.u.o = &c->base;
    }
    uint32_t done = 0;
    for (uint32_t m = w.nm; m; m &= m - 1) {
        unsigned c = ctz(m);
        pl_snode *sub = replace_tables(cx, w.c[c]);
        if (!sub) {
            for (uint32_t d = done; d; d &= d - 1)
                pl_snode_release(w.c[ctz(d)]);
            return NULL;
        }
        w.c[c] = sub;
        done |= 1u << c;
    }
    return make_node(&w, n->shift, n->u.prefix, NULL, 1);
}

pl_stable *pl_stable_clone(pl_stable *t, int deep, int frozen)
{
    if (!deep) {
        pl_snode *snap = pl_stable_snapshot(t);
        pl_stable *c = pl_stable_new(snap, frozen, t->list);
        if (!c) pl_snode_release(snap);
        return c;
    }
    clone_ctx cx = {PL_PTRMAP_INIT, NULL, 0, 0, frozen, t->list};
    pl_stable *top = clone_of(&cx, t);
    int ok = top != NULL;
    while (ok && cx.nwork > 0) {
        pair p = cx.work[--cx.nwork];
        pl_snode *snap = pl_stable_snapshot(p.src), *root = snap;
        if (snap && snap->has_table) {
            root = replace_tables(&cx, snap);
            pl_snode_release(snap);
            ok = root != NULL;
        }
        /* the clones are not visible to other threads yet */
        atomic_store_explicit(&p.dst->root, root, memory_order_relaxed);
    }
    if (ok) pl_stable_retain(top);
    for (size_t i = 0; i < cx.map.cap; i++) {
        pl_stable *dst = cx.map.slots[i].value;
        if (!dst) continue;
        if (!ok) /* break cycles among the half-made clones before letting go */
            pl_snode_release(atomic_exchange_explicit(&dst->root, NULL, memory_order_relaxed));
        pl_stable_release(dst);
        pl_stable_release((pl_stable *)cx.map.slots[i].key);
    }
    pl_ptrmap_free(&cx.map);
    free(cx.work);
    return ok ? top : NULL;
}

/* ---- transactions ---- */

static size_t key_slot(uint64_t ik)
{
    return (size_t)((ik * 0x9e3779b97f4a7c15ull) >> 29);
}

static long idx_find(const uint32_t *idx, size_t cap, const pl_sentry *arr, const pl_skey *k)
{
    if (!cap) return -1;
    for (size_t h = key_slot(k->ik) & (cap - 1); idx[h]; h = (h + 1) & (cap - 1))
        if (key_eq(&arr[idx[h] - 1], k)) return (long)idx[h] - 1;
    return -1;
}

/* Appends e (its references already taken by the caller) to arr and its
 * index. PL_ENOMEM if out of memory (nothing changed). */
static int keyed_append(pl_sentry **arr, size_t *n, size_t *cap, uint32_t **idx, size_t *icap,
                        const pl_sentry *e)
{
    pl_sentry *a = pl_grow(*arr, cap, *n + 1, sizeof *a);
    if (!a) return PL_ENOMEM;
    *arr = a;
    if (*n >= UINT32_MAX - 1) return PL_ERANGE; /* index entries are n + 1 in 32 bits */
    if ((*n + 1) * 2 > *icap) {
        size_t c = *icap ? *icap * 2 : 16;
        uint32_t *ix = calloc(c, sizeof *ix);
        if (!ix) return PL_ENOMEM;
        for (size_t i = 0; i < *n; i++) {
            size_t h = key_slot((*arr)[i].ik) & (c - 1);
            while (ix[h])
                h = (h + 1) & (c - 1);
            ix[h] = (uint32_t)i + 1;
        }
        free(*idx);
        *idx = ix;
        *icap = c;
    }
    (*arr)[*n] = *e;
    size_t h = key_slot(e->ik) & (*icap - 1);
    while ((*idx)[h])
        h = (h + 1) & (*icap - 1);
    (*idx)[h] = (uint32_t)(*n + 1); /* 0 marks a free slot */
    (*n)++;
    return PL_OK;
}

void pl_stxn_init(pl_stxn *x)
{
    memset(x, 0, sizeof *x);
}

void pl_stxn_begin(pl_stxn *x, pl_stable *t)
{
    x->t = t;
    x->snap = pl_stable_snapshot(t);
    x->read_all = 0;
}

void pl_stxn_reset(pl_stxn *x)
{
    pl_snode_release(x->snap);
    x->snap = NULL;
    for (size_t i = 0; i < x->nw; i++)
        entry_release(&x->w[i]);
    for (size_t i = 0; i < x->nr; i++)
        entry_release(&x->r[i]);
    x->nw = x->nr = 0;
    if (x->widx) memset(x->widx, 0, x->widx_cap * sizeof *x->widx);
    if (x->ridx) memset(x->ridx, 0, x->ridx_cap * sizeof *x->ridx);
    x->read_all = 0;
}

void pl_stxn_free(pl_stxn *x)
{
    pl_stxn_reset(x);
    free(x->w);
    free(x->r);
    free(x->widx);
    free(x->ridx);
    pl_stxn_init(x);
}

const pl_sval *pl_stxn_get(pl_stxn *x, const pl_skey *k, int *rc)
{
    *rc = PL_OK;
    long i = idx_find(x->widx, x->widx_cap, x->w, k);
    if (i >= 0) return x->w[i].v.tag == PL_SV_NIL ? NULL : &x->w[i].v;
    const pl_sentry *e = find_entry(x->snap, k); /* snap is retained: no section needed */
    if (!x->read_all && idx_find(x->ridx, x->ridx_cap, x->r, k) < 0) {
        pl_sentry rec;
        pl_sentry_setkey(&rec, k);
        rec.v.tag = PL_SV_NIL;
        if (rec.kshared) { /* a long key: a shared string for the record */
            pl_sstring *ks = e ? e->k.ks : k->s;
            if (ks)
                pl_sstring_retain(ks);
            else if (!(ks = pl_sstring_new_hashed(k->str, k->len, (uint32_t)k->ik))) {
                *rc = PL_ENOMEM;
                return NULL;
            }
            rec.k.ks = ks;
        }
        if (keyed_append(&x->r, &x->nr, &x->rcap, &x->ridx, &x->ridx_cap, &rec) != 0) {
            entry_release(&rec);
            *rc = PL_ENOMEM;
            return NULL;
        }
    }
    return e ? &e->v : NULL;
}

int pl_stxn_put(pl_stxn *x, const pl_skey *k, const pl_sval *v)
{
    if (x->t->frozen) return PL_EFROZEN;
    long i = idx_find(x->widx, x->widx_cap, x->w, k);
    if (i >= 0) {
        pl_sval_retain(v);
        pl_sval_release(&x->w[i].v);
        x->w[i].v = *v;
        return PL_OK;
    }
    pl_sentry e;
    pl_sentry_setkey(&e, k);
    e.v = *v;
    entry_retain(&e);
    if (keyed_append(&x->w, &x->nw, &x->wcap, &x->widx, &x->widx_cap, &e) != 0) {
        entry_release(&e);
        return PL_ENOMEM;
    }
    return PL_OK;
}

static pl_skey entry_key(const pl_sentry *e)
{
    return pl_sentry_key(e);
}

/* base (retained by the caller) with every write applied; a new reference
 * (base itself, retained again, if nothing changed). */
static int apply_writes(const pl_stxn *x, pl_snode *base, pl_snode **out)
{
    pl_snode *cur = base;
    if (cur) pl_snode_retain(cur);
    for (size_t i = 0; i < x->nw; i++) {
        pl_skey k = entry_key(&x->w[i]);
        pl_snode *next;
        if (apply(cur, &x->w[i], &k, &next) != PL_OK) {
            pl_snode_release(cur);
            return PL_ENOMEM;
        }
        pl_snode_release(cur); /* an intermediate version nobody else has seen */
        cur = next;
    }
    *out = cur;
    return PL_OK;
}

pl_snode *pl_stxn_materialize(pl_stxn *x, int *rc)
{
    pl_snode *out = NULL;
    x->read_all = 1;
    *rc = apply_writes(x, x->snap, &out);
    return out;
}

/* Whether the keys x read hold the same values in cur as in its snapshot.
 * In a section. */
static int still_valid(const pl_stxn *x, const pl_snode *cur)
{
    if (cur == x->snap) return 1;
    if (x->read_all) return 0;
    for (size_t i = 0; i < x->nr; i++) {
        pl_skey k = entry_key(&x->r[i]);
        const pl_sentry *a = find_entry(x->snap, &k), *b = find_entry(cur, &k);
        if (a == b) continue;
        if (!a || !b || !pl_sval_same(&a->v, &b->v)) return 0;
    }
    return 1;
}

int pl_stxn_commit(pl_stxn *x)
{
    pl_stable *t = x->t;
    if (x->nw == 0) return PL_OK; /* read only: it read one consistent snapshot */
    if (t->frozen) return PL_EFROZEN;
    for (unsigned tries = 0;; tries++) {
        wait_excl(t);
        share_begin(t); /* the cells validated are the cells copied */
        pl_epoch_enter();
        pl_snode *cur = pl_stable_root(t), *nw;
        if (!still_valid(x, cur)) {
            pl_epoch_exit();
            share_end(t);
            return PL_ECONFLICT;
        }
        if (apply_writes(x, cur, &nw) != PL_OK) {
            pl_epoch_exit();
            share_end(t);
            return PL_ENOMEM;
        }
        if (nw == cur) { /* only removals of absent keys */
            pl_snode_release(nw);
            pl_epoch_exit();
            share_end(t);
            return PL_OK;
        }
        int ok = publish(t, cur, nw);
        pl_epoch_exit();
        share_end(t);
        if (ok) {
            retire_root(cur);
            return PL_OK;
        }
        pl_snode_release(nw);
        backoff(tries);
    }
}

int pl_stable_excl_acquire(pl_stable *t)
{
    if (nheld == MAX_HELD) return 0;
    for (unsigned tries = 0;; tries++) {
        int zero = 0;
        /* seq_cst: see wait_excl; the transaction's next snapshot (a
         * seq_cst root load) follows this in the total order. */
        if (atomic_compare_exchange_weak_explicit(&t->excl, &zero, 1, memory_order_seq_cst,
                                                  memory_order_relaxed))
            break;
        if (nheld > 0) return 0; /* waiting while holding could deadlock */
        backoff(tries < 8 ? 8 : tries);
    }
    held[nheld++] = t;
    return 1;
}

void pl_stable_excl_release(pl_stable *t)
{
    for (int i = 0; i < nheld; i++) {
        if (held[i] == t) {
            held[i] = held[--nheld];
            break;
        }
    }
    atomic_store_explicit(&t->excl, 0, memory_order_seq_cst);
}

#define MAX_OPEN_TXN 32
static _Thread_local const pl_stable *open_txn[MAX_OPEN_TXN];
static _Thread_local int nopen;

int pl_stable_txn_push(pl_stable *t)
{
    if (nopen == MAX_OPEN_TXN) return -1;
    open_txn[nopen++] = t;
    return 0;
}

void pl_stable_txn_pop(void)
{
    nopen--;
}

int pl_stable_txn_open(const pl_stable *t)
{
    for (int i = 0; i < nopen; i++)
        if (open_txn[i] == t) return 1;
    return 0;
}

/* ---- the live-table list ---- */

void pl_stable_list_init(pl_stable_list *l)
{
    uv_mutex_init(&l->lock);
    l->head = NULL;
}

/* A reference to t unless its last one is already gone (it is being
 * destroyed and waits for the list lock to unlink itself). */
static int try_retain(pl_stable *t)
{
    size_t r = atomic_load_explicit(&t->base.refs, memory_order_relaxed);
    while (r != 0)
        if (atomic_compare_exchange_weak_explicit(&t->base.refs, &r, r + 1, memory_order_relaxed,
                                                  memory_order_relaxed))
            return 1;
    return 0;
}

void pl_stable_list_shutdown(pl_stable_list *l)
{
    uv_mutex_lock(&l->lock);
    size_t n = 0;
    for (pl_stable *t = l->head; t; t = t->list_next)
        n++;
    pl_stable **all = n ? malloc(n * sizeof *all) : NULL;
    size_t k = 0;
    if (all)
        for (pl_stable *t = l->head; t; t = t->list_next)
            if (try_retain(t)) all[k++] = t;
    uv_mutex_unlock(&l->lock);
    for (size_t i = 0; i < k; i++) {
        share_begin(all[i]);
        pl_snode *old = atomic_exchange_explicit(&all[i]->root, NULL, memory_order_seq_cst);
        share_end(all[i]);
        retire_root(old); /* values go: cycles between tables break */
    }
    for (size_t i = 0; i < k; i++)
        pl_stable_release(all[i]);
    free(all);
    pl_epoch_barrier();
    uv_mutex_lock(&l->lock);
    for (pl_stable *t = l->head; t; t = t->list_next)
        t->list = NULL;
    l->head = NULL;
    uv_mutex_unlock(&l->lock);
    uv_mutex_destroy(&l->lock);
}
