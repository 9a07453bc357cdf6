/*
 * SharedTable's structure, no Lua here: a persistent map from keys
 * (strings, and integers 0 <= k < 2^32) to values (booleans, integers,
 * floats, shared strings, SharedTables, other shared objects), shared by
 * every thread.
 *
 * A version of a table is a tree of immutable, reference-counted nodes (a
 * path-compressed hash array mapped trie, stable.c). A table is one atomic
 * pointer to its current root. A write copies the path from the root to the
 * changed entry, shares everything else, and publishes the new root with
 * one compare-and-swap; the old root is retired through epoch-based
 * reclamation (core/epoch.h). So:
 * - reads take no lock and never wait: inside an epoch section, load the
 *   root and walk down (pl_stable_root, pl_snode_find);
 * - a number that only the current root reaches is incremented in place,
 *   with an atomic add (pl_stable_increment in stable.c: snapshots and
 *   writes wait for such adds under way, and later ones copy the path);
 * - a clone is a new table pointing at the same root: O(1);
 * - a snapshot (pl_stable_snapshot) is a retained root: iterating it needs
 *   no section and sees one version however the table changes meanwhile.
 *
 * Threads: every function may be called from any thread. Functions that
 * say "in a section" need the caller between pl_epoch_enter/exit; the
 * others manage sections themselves and must not be called inside one
 * unless stated.
 */
#ifndef PL_STABLE_H
#define PL_STABLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <uv.h>

#include "core/check.h"
#include "core/epoch.h"
#include "core/shared.h"
#include "core/sstring.h"
#include "core/status.h"

/* The writing functions return PL_OK or a negative status (core/status.h):
 * PL_ENOMEM, PL_EFROZEN, PL_EABSENT and PL_ENOTNUM (increment: the key
 * holds nil / the key or the delta is not a number), PL_ECONFLICT (commit:
 * a key the transaction read has changed). On failure the table is
 * unchanged. */

/* Value tags. A stored value is never NIL (storing nil removes the key). */
enum { PL_SV_NIL, PL_SV_BOOL, PL_SV_INT, PL_SV_FLOAT, PL_SV_STR, PL_SV_TABLE, PL_SV_OBJ };

typedef struct pl_sval {
    int tag;
    union {
        int b;
        int64_t i;
        double n;
        pl_sstring *s;
        pl_shared *o; /* PL_SV_TABLE: a pl_stable's base; PL_SV_OBJ: any other shared object */
    } u;
} pl_sval;

/* Integer keys are their own index key; string keys are this bit | hash. */
#define PL_SKEY_STR ((uint64_t)1 << 32)
#define PL_SKEY_MAX_INT ((uint64_t)0xffffffffu)

/* A key to look up or write. For a string, str/len/ik are required; s is
 * a shared string holding the same bytes, needed only to store a key longer
 * than PL_SKEY_INLINE (may be NULL for a lookup). */
typedef struct pl_skey {
    uint64_t ik;
    const char *str; /* NULL for an integer key */
    size_t len;
    pl_sstring *s;
} pl_skey;

static inline pl_skey pl_skey_int(uint32_t k)
{
    pl_skey key = {k, NULL, 0, NULL};
    return key;
}
static inline pl_skey pl_skey_sstring(pl_sstring *s)
{
    pl_skey key = {PL_SKEY_STR | s->hash, s->data, s->len, s};
    return key;
}

/* An entry of a node: key and value. A string key of up to
 * PL_SKEY_INLINE bytes is stored in the entry itself, so copying a node
 * (every write copies a path) costs no reference count traffic for it;
 * a longer one is a shared string the entry holds a reference to. */
#define PL_SKEY_INLINE 16
typedef struct pl_sentry {
    uint64_t ik;
    uint32_t klen;    /* string keys: the length in bytes */
    uint32_t kshared; /* string keys: 1 if the bytes are in k.ks, 0 if in k.kb */
    union {
        pl_sstring *ks;
        char kb[PL_SKEY_INLINE];
    } k;
    pl_sval v;
} pl_sentry;

static inline int pl_sentry_is_str(const pl_sentry *e)
{
    return e->ik >= PL_SKEY_STR;
}
static inline const char *pl_sentry_kdata(const pl_sentry *e)
{
    return e->kshared ? e->k.ks->data : e->k.kb;
}
/* Sets e's key to k. A key longer than PL_SKEY_INLINE needs k->s, which e
 * then borrows (no reference taken). */
static inline void pl_sentry_setkey(pl_sentry *e, const pl_skey *k)
{
    e->ik = k->ik;
    e->klen = (uint32_t)k->len;
    e->kshared = 0;
    if (!k->str) return;
    if (k->len > PL_SKEY_INLINE) {
        e->kshared = 1;
        e->k.ks = k->s;
    } else {
        memcpy(e->k.kb, k->str, k->len);
    }
}
/* The key of e as a pl_skey (valid as long as e is). */
static inline pl_skey pl_sentry_key(const pl_sentry *e)
{
    pl_skey k = {e->ik, NULL, 0, NULL};
    if (pl_sentry_is_str(e)) {
        k.str = pl_sentry_kdata(e);
        k.len = e->klen;
        k.s = e->kshared ? e->k.ks : NULL;
    }
    return k;
}
/* Drops the references an entry holds (its long key string, its value). */
void pl_sentry_release(const pl_sentry *e);

typedef struct pl_snode pl_snode;
typedef struct pl_stable_list pl_stable_list;
typedef struct pl_stable pl_stable;

struct pl_stable {
    pl_shared base;
    _Atomic(pl_snode *) root; /* NULL: empty; owns one reference */
    atomic_uint sharers;      /* threads in a write attempt or a snapshot of t (stable.c) */
    int frozen;               /* set at creation, never changed */
    atomic_int excl;          /* 1 while a fallback transaction holds it (stable.c) */
    pl_stable_list *list;     /* the live-table list it is on, or NULL */
    pl_stable *list_prev, *list_next;
};

/* The type of every table (name "SharedTable"); its metatable name is the
 * registry key of the proxies' metatable in each VM. */
extern const pl_shared_type pl_stable_type;

/* A copy of *v, which a section found under a table's current root: the
 * payload of a number may be changed in place meanwhile (an increment,
 * stable.c), so it is read with one atomic load, never torn. seq_cst, as
 * the root loads and the in-place adds: every read and write of a table
 * takes part in one total order, as when every write published a root.
 * Values of a retained root (a snapshot) never change: plain reads do. */
static inline pl_sval pl_sval_load(const pl_sval *v)
{
    pl_sval out;
    out.tag = v->tag;                                 /* never changed in place */
    if (v->tag == PL_SV_INT || v->tag == PL_SV_FLOAT) /* a double is read as its bits */
        out.u.i = __atomic_load_n(&v->u.i, __ATOMIC_SEQ_CST);
    else
        out.u = v->u;
    return out;
}

/* Value references. */
void pl_sval_retain(const pl_sval *v);
void pl_sval_release(const pl_sval *v);
/* Same value: tag and payload, strings by content, objects by identity. */
int pl_sval_same(const pl_sval *a, const pl_sval *b);

/* Nodes. */
void pl_snode_retain(pl_snode *n);
void pl_snode_release(pl_snode *n); /* NULL is fine */
/* The value at k under root, or NULL. In a section, or with a reference to
 * root. The pointer is valid as long as root is. */
const pl_sval *pl_snode_find(const pl_snode *root, const pl_skey *k);
/* Entries under root. */
size_t pl_snode_count(const pl_snode *root);

/* Builds a root from n entries (any order, no duplicate keys), retaining
 * their long keys and values (the caller keeps its own references). *root is NULL for n == 0.
 * Returns PL_OK or PL_ENOMEM. Sorts entries in place. */
PL_MUST_CHECK int pl_snode_build(pl_sentry *entries, size_t n, pl_snode **root);

/* Checks the structure under a retained root (tests): counts, slots,
 * prefixes, canonical form, collision order. 0 if sound, -1 if not. */
int pl_snode_check(const pl_snode *root);

/* In-order walk of a retained root: integer keys ascending, then string
 * keys in hash order (ties: shorter first, then bytewise). */
#define PL_SCURSOR_MAX 10
typedef struct pl_scursor {
    int depth;
    struct {
        const pl_snode *n;
        uint32_t rest; /* slots not visited yet (a collision node: next index) */
    } f[PL_SCURSOR_MAX];
} pl_scursor;
void pl_scursor_init(pl_scursor *c, const pl_snode *root);
/* The next entry, or NULL at the end. */
const pl_sentry *pl_scursor_next(pl_scursor *c);

/* Tables. A new table has one reference owned by the caller; NULL if out of
 * memory. root (may be NULL) is taken over. list may be NULL. */
pl_stable *pl_stable_new(pl_snode *root, int frozen, pl_stable_list *list);
static inline void pl_stable_retain(pl_stable *t)
{
    pl_shared_retain(&t->base);
}
static inline void pl_stable_release(pl_stable *t)
{
    pl_shared_release(&t->base);
}
/* The current root; in a section (seq_cst load: see epoch.c). */
static inline pl_snode *pl_stable_root(pl_stable *t)
{
    return atomic_load_explicit(&t->root, memory_order_seq_cst);
}
/* The current root, retained (a consistent snapshot). Not in a section. */
pl_snode *pl_stable_snapshot(pl_stable *t);
size_t pl_stable_size(pl_stable *t);

/* Writes. Each is atomic: one CAS publishes it, retried on contention;
 * an increment of a number that no other version shares is one atomic add
 * on its cell instead (stable.c). */
/* st[k] = v (v NIL removes k). For a string key, k->s may be NULL: a
 * shared string is made if the key is new. */
PL_MUST_CHECK int pl_stable_set(pl_stable *t, const pl_skey *k, const pl_sval *v);
/* st[k] = v if st[k] still holds a value the same as *expect
 * (pl_sval_same; NIL: the key is absent), else PL_ECONFLICT and nothing
 * changes. Other keys may change meanwhile without a conflict. k->s as
 * for pl_stable_set. */
PL_MUST_CHECK int pl_stable_cas(pl_stable *t, const pl_skey *k, const pl_sval *expect,
                                const pl_sval *v);
/* st[k] += delta (numbers: integer + integer wraps around as in Lua, a
 * float on either side gives a float); *old receives the previous value. */
PL_MUST_CHECK int pl_stable_increment(pl_stable *t, const pl_skey *k, const pl_sval *delta,
                                      pl_sval *old);
PL_MUST_CHECK int pl_stable_clear(pl_stable *t);

/* A clone: shallow (the same root, O(1)) or deep (nested tables cloned
 * too, each O(1) plus a path copy per nested table; shared sub-tables and
 * cycles keep their shape). frozen: the new table(s) are frozen. NULL if
 * out of memory. */
pl_stable *pl_stable_clone(pl_stable *t, int deep, int frozen);

/* Transactions: read a snapshot, record writes, commit them atomically if
 * nothing read has changed since (values compared, so writes to other keys
 * do not conflict). One transaction object belongs to one thread at a time.
 * Lifecycle: init, then per attempt begin / get+put / commit, reset between
 * attempts and at the end (reset releases everything). */
typedef struct pl_stxn {
    pl_stable *t;   /* borrowed */
    pl_snode *snap; /* retained */
    pl_sentry *w;   /* writes in order; v NIL: removal; keys and values retained */
    size_t nw, wcap;
    pl_sentry *r; /* keys read from the snapshot (values unused); keys retained */
    size_t nr, rcap;
    uint32_t *widx, *ridx; /* open-addressing indexes (entry index + 1) */
    size_t widx_cap, ridx_cap;
    int read_all; /* the whole table was read (pairs, #): any change conflicts */
} pl_stxn;

void pl_stxn_init(pl_stxn *x);
void pl_stxn_begin(pl_stxn *x, pl_stable *t);
/* The value at k as the transaction sees it (its own writes first); NULL
 * for nil. Records the read. *rc: PL_OK or PL_ENOMEM. */
const pl_sval *pl_stxn_get(pl_stxn *x, const pl_skey *k, int *rc);
/* Records st[k] = v. k->s needed for keys longer than PL_SKEY_INLINE. */
PL_MUST_CHECK int pl_stxn_put(pl_stxn *x, const pl_skey *k, const pl_sval *v);
/* The snapshot with the writes applied, retained (for pairs and # on a
 * view); marks the whole table read. NULL with *rc set if out of memory or
 * empty (then *rc is PL_OK). */
pl_snode *pl_stxn_materialize(pl_stxn *x, int *rc);
/* PL_OK (published, or nothing to write), PL_ECONFLICT, PL_ENOMEM. */
PL_MUST_CHECK int pl_stxn_commit(pl_stxn *x);
void pl_stxn_reset(pl_stxn *x);
/* reset, and frees the transaction's buffers */
void pl_stxn_free(pl_stxn *x);

/* A transaction's fallback: after many conflicts, the transaction takes
 * the table for itself; other writers wait before their next attempt until
 * it is released, so its next attempts can fail only through writes that
 * were already under way (at most one per thread). Returns 1 if acquired,
 * 0 if not (the caller already holds another table and this one is busy:
 * waiting could deadlock, so it carries on optimistically). */
int pl_stable_excl_acquire(pl_stable *t);
void pl_stable_excl_release(pl_stable *t);

/* Transactions open on the calling thread (for refusing direct writes to a
 * table from inside its own transaction, which would conflict forever). */
PL_MUST_CHECK int pl_stable_txn_push(pl_stable *t); /* 0, or -1 if nested too deeply */
void pl_stable_txn_pop(void);
int pl_stable_txn_open(const pl_stable *t);

/* A set of live tables (one per runtime): at shutdown, clearing every
 * table on it frees tables kept alive only by cycles between them. */
struct pl_stable_list {
    uv_mutex_t lock;
    pl_stable *head;
};
void pl_stable_list_init(pl_stable_list *l);
/* Clears every table still on l (breaking cycles), waits for reclamation
 * on this thread, then detaches what is left. No other thread may use
 * those tables any more. */
void pl_stable_list_shutdown(pl_stable_list *l);

#endif
