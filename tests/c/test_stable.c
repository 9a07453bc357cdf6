/*
 * SharedTable's persistent map (src/core/stable.h).
 *
 * Model test: random sets and removals of integer keys (small, dense and
 * spread over 0..2^32-1) and string keys (including strings whose hashes
 * collide; short ones stored in the entries, long ones shared), checked
 * after every step against a plain sorted array: lookups,
 * counts, in-order iteration, old versions unchanged by later writes,
 * bulk-built roots identical in content to incrementally built ones.
 *
 * Stress test: every thread hammers one table with get, set, remove,
 * increment, shallow and deep clone, snapshot and transaction, and checks
 * invariants as it goes (a transfer between two keys keeps their sum; a
 * clone never changes); at the end the counter holds exactly the sum of all
 * increments and every thread's own keys hold their last values.
 *
 * Deep-clone stress test: half the threads deep-clone a table of nested
 * tables (cycles, a shared sub-table) while the others replace those
 * nested tables; every clone keeps its shape. Run under ThreadSanitizer
 * and AddressSanitizer (leaks, freed tables read) by `make tsan` / `make asan`.
 *
 * Usage: test_stable [threads [iterations]]   (defaults 4, 3000; the
 * deep-clone test makes iterations / 10 clones per cloning thread)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <cmocka.h>

#include "core/stable.h"

static int nthreads = 4;
static int iterations = 3000;

static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* ---- keys for the model ---- */

typedef struct mkey {
    int is_str;
    uint32_t i;
    pl_sstring *s;
} mkey;

static pl_skey skey_of(const mkey *k)
{
    return k->is_str ? pl_skey_sstring(k->s) : pl_skey_int(k->i);
}

#define NKEYS 800
static mkey keys[NKEYS];
static int nkeys;

typedef struct hidx {
    uint32_t h;
    unsigned i;
} hidx;

static int hidx_cmp(const void *a, const void *b)
{
    const hidx *x = a, *y = b;
    return x->h < y->h ? -1 : x->h > y->h;
}

static void add_str(const char *s)
{
    keys[nkeys].is_str = 1;
    keys[nkeys].s = pl_sstring_new(s, strlen(s));
    assert_non_null(keys[nkeys].s);
    nkeys++;
}

/* Integers of every size, strings, and a few strings whose hashes collide
 * (found by brute force: ~300k strings give about ten 32-bit collisions). */
static void make_keys(void)
{
    unsigned seed = 42;
    nkeys = 0;
    for (uint32_t i = 0; i < 300; i++)
        keys[nkeys++] = (mkey){0, i, NULL};
    for (int i = 0; i < 100; i++)
        keys[nkeys++] = (mkey){0, (uint32_t)rnd(&seed) * 2654435761u, NULL};
    keys[nkeys++] = (mkey){0, 0xffffffffu, NULL};
    keys[nkeys++] = (mkey){0, 0x80000000u, NULL};
    char buf[32];
    for (int i = 0; i < 200; i++) {
        snprintf(buf, sizeof buf, "key%d", i);
        add_str(buf);
    }
    add_str("");
    for (int i = 0; i < 50; i++) { /* longer than PL_SKEY_INLINE: shared strings */
        snprintf(buf, sizeof buf, "a rather long key, number %d", i);
        add_str(buf);
    }
    const unsigned N = 300000;
    hidx *h = malloc(N * sizeof *h);
    assert_non_null(h);
    for (unsigned i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "c%u", i);
        h[i] = (hidx){pl_str_hash(buf, strlen(buf)), i};
    }
    qsort(h, N, sizeof *h, hidx_cmp);
    int pairs = 0;
    for (unsigned i = 1; i < N && pairs < 8; i++) {
        if (h[i].h != h[i - 1].h) continue;
        snprintf(buf, sizeof buf, "c%u", h[i - 1].i);
        add_str(buf);
        snprintf(buf, sizeof buf, "c%u", h[i].i);
        add_str(buf);
        pairs++;
    }
    free(h);
    assert_true(pairs >= 2); /* collision nodes are exercised */
}

static void free_keys(void)
{
    for (int i = 0; i < nkeys; i++)
        if (keys[i].is_str) pl_sstring_release(keys[i].s);
}

/* ---- the model: value per key index, 0 = absent ---- */

static void check_against(pl_snode *root, const int64_t *model)
{
    assert_int_equal(pl_snode_check(root), 0);
    size_t count = 0;
    for (int i = 0; i < nkeys; i++) {
        pl_skey k = skey_of(&keys[i]);
        const pl_sval *v = pl_snode_find(root, &k);
        if (model[i]) {
            assert_non_null(v);
            assert_int_equal(v->tag, PL_SV_INT);
            assert_int_equal(v->u.i, model[i]);
            count++;
        } else {
            assert_null(v);
        }
    }
    assert_int_equal(pl_snode_count(root), count);
    /* in order, each present key once */
    pl_scursor c;
    pl_scursor_init(&c, root);
    const pl_sentry *e, *prev = NULL;
    size_t seen = 0;
    while ((e = pl_scursor_next(&c))) {
        if (prev) {
            assert_true(prev->ik <= e->ik);
            if (prev->ik == e->ik) { /* strings whose hashes collide: length, then bytes */
                assert_true(pl_sentry_is_str(e));
                assert_true(prev->klen < e->klen ||
                            (prev->klen == e->klen &&
                             memcmp(pl_sentry_kdata(prev), pl_sentry_kdata(e), e->klen) < 0));
            }
        }
        prev = e;
        seen++;
    }
    assert_int_equal(seen, count);
}

static void test_model(void **state)
{
    (void)state;
    make_keys();
    int64_t *model = calloc((size_t)nkeys, sizeof *model);
    int64_t *old_model = calloc((size_t)nkeys, sizeof *old_model);
    assert_non_null(model);
    assert_non_null(old_model);
    pl_stable *t = pl_stable_new(NULL, 0, NULL);
    assert_non_null(t);
    pl_snode *old = NULL;
    unsigned seed = 7;
    for (int step = 1; step <= 20000; step++) {
        int i = (int)(rnd(&seed) % (unsigned)nkeys);
        /* phases: mostly inserts, then mostly removals, then mixed */
        int bias = step < 6000 ? 80 : step < 12000 ? 20 : 50;
        pl_skey k = skey_of(&keys[i]);
        pl_sval v = {PL_SV_NIL, {0}};
        if ((int)(rnd(&seed) % 100) < bias) {
            v.tag = PL_SV_INT;
            v.u.i = step;
        }
        assert_int_equal(pl_stable_set(t, &k, &v), PL_OK);
        model[i] = v.tag == PL_SV_NIL ? 0 : step;
        if (step % 97 == 0) {
            pl_snode *root = pl_stable_snapshot(t);
            check_against(root, model);
            /* an older snapshot still shows its own version */
            if (old) check_against(old, old_model);
            pl_snode_release(old);
            old = root;
            memcpy(old_model, model, (size_t)nkeys * sizeof *model);
            /* a bulk build of the same entries has the same content */
            pl_sentry *es = malloc((size_t)nkeys * sizeof *es);
            assert_non_null(es);
            size_t n = 0;
            for (int j = 0; j < nkeys; j++) {
                if (!model[j]) continue;
                pl_skey kj = skey_of(&keys[j]);
                pl_sentry_setkey(&es[n], &kj);
                es[n].v.tag = PL_SV_INT;
                es[n].v.u.i = model[j];
                n++;
            }
            pl_snode *built;
            assert_int_equal(pl_snode_build(es, n, &built), PL_OK);
            check_against(built, model);
            pl_snode_release(built);
            free(es);
        }
    }
    pl_snode_release(old);
    /* remove everything: the table ends empty */
    for (int i = 0; i < nkeys; i++) {
        pl_skey k = skey_of(&keys[i]);
        pl_sval nil = {PL_SV_NIL, {0}};
        assert_int_equal(pl_stable_set(t, &k, &nil), PL_OK);
    }
    assert_int_equal(pl_stable_size(t), 0);
    pl_snode *root = pl_stable_snapshot(t);
    assert_null(root);
    pl_stable_release(t);
    free(model);
    free(old_model);
    free_keys();
    pl_epoch_barrier();
}

static pl_sstring *sstr(const char *s)
{
    pl_sstring *x = pl_sstring_new(s, strlen(s));
    assert_non_null(x);
    return x;
}

static void set_int(pl_stable *t, const char *key, int64_t v)
{
    pl_sstring *s = sstr(key);
    pl_skey k = pl_skey_sstring(s);
    pl_sval val = {PL_SV_INT, {.i = v}};
    assert_int_equal(pl_stable_set(t, &k, &val), PL_OK);
    pl_sstring_release(s);
}

static int64_t get_int(pl_snode *root, const char *key)
{
    pl_skey k = {PL_SKEY_STR | pl_str_hash(key, strlen(key)), key, strlen(key), NULL};
    const pl_sval *v = pl_snode_find(root, &k);
    return v && v->tag == PL_SV_INT ? v->u.i : -1;
}

/* pl_stable_cas writes only while the key holds the expected value: a
 * conflict changes nothing, a NIL expectation means "absent", a NIL value
 * removes, a long key gets its shared string, other keys may change. */
static void test_cas(void **state)
{
    (void)state;
    pl_stable *t = pl_stable_new(NULL, 0, NULL);
    set_int(t, "n", 5);
    pl_skey k = {PL_SKEY_STR | pl_str_hash("n", 1), "n", 1, NULL};
    pl_sval five = {PL_SV_INT, {.i = 5}}, six = {PL_SV_INT, {.i = 6}}, nil = {PL_SV_NIL, {0}};
    pl_sval fl = {PL_SV_FLOAT, {.n = 5.0}};
    assert_int_equal(pl_stable_cas(t, &k, &fl, &six), PL_ECONFLICT); /* 5.0 is not 5 */
    assert_int_equal(pl_stable_cas(t, &k, &nil, &six), PL_ECONFLICT);
    pl_snode *r = pl_stable_snapshot(t);
    assert_int_equal(get_int(r, "n"), 5);
    pl_snode_release(r);
    set_int(t, "other", 1); /* another key changing is no conflict */
    assert_int_equal(pl_stable_cas(t, &k, &five, &six), PL_OK);
    assert_int_equal(pl_stable_cas(t, &k, &five, &six), PL_ECONFLICT);
    const char *lk = "a key longer than sixteen bytes";
    pl_skey longk = {PL_SKEY_STR | pl_str_hash(lk, strlen(lk)), lk, strlen(lk), NULL};
    assert_int_equal(pl_stable_cas(t, &longk, &six, &five), PL_ECONFLICT);
    assert_int_equal(pl_stable_cas(t, &longk, &nil, &five), PL_OK);
    r = pl_stable_snapshot(t);
    assert_int_equal(get_int(r, "n"), 6);
    assert_int_equal(get_int(r, lk), 5);
    assert_int_equal(pl_snode_check(r), 0);
    pl_snode_release(r);
    assert_int_equal(pl_stable_cas(t, &longk, &five, &nil), PL_OK); /* removes */
    assert_int_equal(pl_stable_cas(t, &longk, &nil, &nil), PL_OK);  /* absent stays absent */
    assert_int_equal(pl_stable_size(t), 2);
    pl_stable *f = pl_stable_clone(t, 0, 1);
    assert_int_equal(pl_stable_cas(f, &k, &six, &five), PL_EFROZEN);
    pl_stable_release(f);
    pl_stable_release(t);
    pl_epoch_barrier();
}

static void test_increment_values(void **state)
{
    (void)state;
    pl_stable *t = pl_stable_new(NULL, 0, NULL);
    set_int(t, "n", 5);
    pl_skey k = {PL_SKEY_STR | pl_str_hash("n", 1), "n", 1, NULL};
    pl_sval d = {PL_SV_INT, {.i = 3}}, old;
    assert_int_equal(pl_stable_increment(t, &k, &d, &old), PL_OK);
    assert_int_equal(old.u.i, 5);
    d.tag = PL_SV_FLOAT;
    d.u.n = 0.5;
    assert_int_equal(pl_stable_increment(t, &k, &d, &old), PL_OK);
    pl_snode *r = pl_stable_snapshot(t);
    const pl_sval *v = pl_snode_find(r, &k);
    assert_int_equal(v->tag, PL_SV_FLOAT);
    assert_true(v->u.n == 8.5);
    pl_snode_release(r);
    pl_skey missing = pl_skey_int(3);
    assert_int_equal(pl_stable_increment(t, &missing, &d, &old), PL_EABSENT);
    pl_sstring *str = sstr("text");
    pl_sval sv = {PL_SV_STR, {.s = str}};
    assert_int_equal(pl_stable_set(t, &missing, &sv), PL_OK);
    pl_sstring_release(str);
    assert_int_equal(pl_stable_increment(t, &missing, &d, &old), PL_ENOTNUM);
    pl_stable *f = pl_stable_clone(t, 0, 1);
    assert_int_equal(pl_stable_increment(f, &k, &d, &old), PL_EFROZEN);
    assert_int_equal(pl_stable_set(f, &k, &d), PL_EFROZEN);
    assert_int_equal(pl_stable_clear(f), PL_EFROZEN);
    assert_int_equal(pl_stable_size(f), 2);
    assert_int_equal(pl_stable_clear(t), PL_OK);
    assert_int_equal(pl_stable_size(t), 0);
    assert_int_equal(pl_stable_size(f), 2); /* the clone kept its version */
    pl_stable_release(f);
    pl_stable_release(t);
    pl_epoch_barrier();
}

/* Deep clones: nested tables are copied, shared ones once, cycles kept. */
static void test_deep_clone(void **state)
{
    (void)state;
    pl_stable *a = pl_stable_new(NULL, 0, NULL), *b = pl_stable_new(NULL, 0, NULL);
    pl_sval va = {PL_SV_TABLE, {.o = &a->base}}, vb = {PL_SV_TABLE, {.o = &b->base}};
    pl_skey k1 = pl_skey_int(1), k2 = pl_skey_int(2), k3 = pl_skey_int(3);
    assert_int_equal(pl_stable_set(a, &k1, &vb), PL_OK);
    assert_int_equal(pl_stable_set(a, &k2, &vb), PL_OK);
    assert_int_equal(pl_stable_set(b, &k3, &va), PL_OK); /* a cycle a -> b -> a */
    for (int i = 10; i < 200; i++) {
        pl_skey k = pl_skey_int((uint32_t)i * 77777u);
        pl_sval v = {PL_SV_INT, {.i = i}};
        assert_int_equal(pl_stable_set(a, &k, &v), PL_OK);
    }
    pl_stable *c = pl_stable_clone(a, 1, 1);
    assert_non_null(c);
    assert_true(c->frozen);
    pl_snode *rc = pl_stable_snapshot(c);
    const pl_sval *c1 = pl_snode_find(rc, &k1), *c2 = pl_snode_find(rc, &k2);
    assert_int_equal(c1->tag, PL_SV_TABLE);
    assert_true(c1->u.o == c2->u.o);  /* shared sub-table: one clone */
    assert_true(c1->u.o != &b->base); /* copied */
    pl_stable *cb = (pl_stable *)c1->u.o;
    assert_true(cb->frozen);
    pl_snode *rcb = pl_stable_snapshot(cb);
    assert_true(pl_snode_find(rcb, &k3)->u.o == &c->base); /* the cycle points at the clone */
    assert_int_equal(pl_snode_count(rc), 192);
    pl_snode_release(rcb);
    pl_snode_release(rc);
    /* shallow: shares the nested table */
    pl_stable *s = pl_stable_clone(a, 0, 0);
    pl_snode *rs = pl_stable_snapshot(s);
    assert_true(pl_snode_find(rs, &k1)->u.o == &b->base);
    pl_snode_release(rs);
    /* break the cycles so everything is freed (ASan checks) */
    pl_sval nil = {PL_SV_NIL, {0}};
    assert_int_equal(pl_stable_set(b, &k3, &nil), PL_OK);
    pl_stable_release(s);
    pl_stable_release(a);
    pl_stable_release(b);
    /* the clone pair is a cycle too: the list shutdown would break it in a
     * runtime; here break it by hand (c is frozen: go through the root) */
    pl_stable_retain(cb);
    pl_snode_release(atomic_exchange(&cb->root, NULL));
    pl_stable_release(cb);
    pl_stable_release(c);
    pl_epoch_barrier();
}

/* The live list frees tables kept alive only by cycles. */
static void test_list_shutdown(void **state)
{
    (void)state;
    pl_stable_list list;
    pl_stable_list_init(&list);
    pl_stable *a = pl_stable_new(NULL, 0, &list), *b = pl_stable_new(NULL, 0, &list);
    pl_sval va = {PL_SV_TABLE, {.o = &a->base}}, vb = {PL_SV_TABLE, {.o = &b->base}};
    pl_skey k = pl_skey_int(0);
    assert_int_equal(pl_stable_set(a, &k, &vb), PL_OK);
    assert_int_equal(pl_stable_set(b, &k, &va), PL_OK);
    pl_stable *c = pl_stable_clone(a, 1, 0); /* another cycle, made by a deep clone */
    pl_stable_release(c);
    pl_stable_release(a);
    pl_stable_release(b);
    assert_non_null(list.head); /* the cycles keep them */
    pl_stable_list_shutdown(&list);
    assert_null(list.head);
}

/* Transactions: reads see own writes; a conflicting write forces a retry;
 * a write to another key does not. */
static void test_transaction(void **state)
{
    (void)state;
    pl_stable *t = pl_stable_new(NULL, 0, NULL);
    set_int(t, "a", 1);
    set_int(t, "b", 2);
    pl_sstring *sa = sstr("a"), *sb = sstr("b"), *sc = sstr("c");
    pl_skey ka = pl_skey_sstring(sa), kb = pl_skey_sstring(sb), kc = pl_skey_sstring(sc);
    pl_stxn x;
    pl_stxn_init(&x);
    pl_stxn_begin(&x, t);
    int rc;
    const pl_sval *v = pl_stxn_get(&x, &ka, &rc);
    assert_int_equal(v->u.i, 1);
    pl_sval ten = {PL_SV_INT, {.i = 10}};
    assert_int_equal(pl_stxn_put(&x, &kc, &ten), PL_OK);
    assert_int_equal(pl_stxn_get(&x, &kc, &rc)->u.i, 10); /* own write */
    set_int(t, "b", 3);                                   /* not read: no conflict */
    assert_int_equal(pl_stxn_commit(&x), PL_OK);
    pl_stxn_reset(&x);
    pl_snode *r = pl_stable_snapshot(t);
    assert_int_equal(get_int(r, "c"), 10);
    assert_int_equal(get_int(r, "b"), 3);
    pl_snode_release(r);

    pl_stxn_begin(&x, t);
    assert_int_equal(pl_stxn_get(&x, &ka, &rc)->u.i, 1);
    assert_null(
        pl_stxn_get(&x, &(pl_skey){PL_SKEY_STR | pl_str_hash("zz", 2), "zz", 2, NULL}, &rc));
    assert_int_equal(pl_stxn_put(&x, &kb, &ten), PL_OK);
    set_int(t, "a", 5); /* read: conflict */
    assert_int_equal(pl_stxn_commit(&x), PL_ECONFLICT);
    pl_stxn_reset(&x);
    r = pl_stable_snapshot(t);
    assert_int_equal(get_int(r, "b"), 3); /* nothing of it happened */
    pl_snode_release(r);

    pl_stxn_begin(&x, t);
    int mrc;
    pl_snode *m = pl_stxn_materialize(&x, &mrc);
    assert_int_equal(pl_snode_count(m), 3);
    pl_snode_release(m);
    assert_int_equal(pl_stxn_put(&x, &kb, &ten), PL_OK);
    set_int(t, "zzz", 1); /* the whole table was read: any change conflicts */
    assert_int_equal(pl_stxn_commit(&x), PL_ECONFLICT);
    pl_stxn_free(&x);
    pl_sstring_release(sa);
    pl_sstring_release(sb);
    pl_sstring_release(sc);
    pl_stable_release(t);
    pl_epoch_barrier();
}

/* ---- stress ---- */

#define TOTAL 1000000
static pl_stable *st;
static atomic_long increments, violations;
static int64_t *last_value; /* per thread, per own key: the last value written */

static pl_sstring *s_counter, *s_a, *s_b, *s_child, *s_text;

static void transfer(unsigned *seed)
{
    pl_stxn x;
    pl_stxn_init(&x);
    pl_skey ka = pl_skey_sstring(s_a), kb = pl_skey_sstring(s_b);
    int held = 0;
    for (int attempt = 1;; attempt++) {
        pl_stxn_begin(&x, st);
        int rc;
        const pl_sval *a = pl_stxn_get(&x, &ka, &rc);
        const pl_sval *b = pl_stxn_get(&x, &kb, &rc);
        if (!a || !b || a->u.i + b->u.i != TOTAL) atomic_fetch_add(&violations, 1);
        int64_t amount = (int64_t)(rnd(seed) % 100) - 50;
        pl_sval na = {PL_SV_INT, {.i = a->u.i - amount}}, nb = {PL_SV_INT, {.i = b->u.i + amount}};
        assert_int_equal(pl_stxn_put(&x, &ka, &na), PL_OK);
        assert_int_equal(pl_stxn_put(&x, &kb, &nb), PL_OK);
        rc = pl_stxn_commit(&x);
        pl_stxn_reset(&x);
        if (rc == PL_OK) break;
        assert_int_equal(rc, PL_ECONFLICT);
        if (attempt == 16 && !held) held = pl_stable_excl_acquire(st);
    }
    if (held) pl_stable_excl_release(st);
    pl_stxn_free(&x);
}

static void check_snapshot(pl_snode *r)
{
    int64_t a = get_int(r, "a"), b = get_int(r, "b");
    if (a + b != TOTAL) atomic_fetch_add(&violations, 1);
}

static void stress_thread(void *arg)
{
    int id = (int)(intptr_t)arg;
    unsigned seed = (unsigned)id * 7919u + 3;
    pl_skey kc = pl_skey_sstring(s_counter), kchild = pl_skey_sstring(s_child);
    for (int i = 0; i < iterations; i++) {
        unsigned op = rnd(&seed) % 100;
        if (op < 25) { /* increment */
            pl_sval d = {PL_SV_INT, {.i = 1}}, old;
            assert_int_equal(pl_stable_increment(st, &kc, &d, &old), PL_OK);
            atomic_fetch_add(&increments, 1);
        } else if (op < 45) { /* own keys: set, sometimes a string, sometimes removed */
            int j = (int)(rnd(&seed) % 16);
            pl_skey k = pl_skey_int((uint32_t)(id * 1000 + j));
            pl_sval v = {PL_SV_INT, {.i = i + 1}};
            if (j == 15) v = (pl_sval){PL_SV_STR, {.s = s_text}};
            if (rnd(&seed) % 8 == 0) v.tag = PL_SV_NIL;
            assert_int_equal(pl_stable_set(st, &k, &v), PL_OK);
            last_value[id * 16 + j] = v.tag == PL_SV_NIL ? 0 : v.tag == PL_SV_STR ? -2 : i + 1;
        } else if (op < 70) { /* lock-free reads of a few keys */
            pl_epoch_enter();
            pl_snode *r = pl_stable_root(st);
            check_snapshot(r);
            pl_skey k = pl_skey_int(rnd(&seed) % 4000);
            (void)pl_snode_find(r, &k);
            pl_epoch_exit();
        } else if (op < 80) { /* transactions */
            transfer(&seed);
        } else if (op < 88) { /* clones never change */
            pl_stable *c = pl_stable_clone(st, rnd(&seed) % 4 == 0, rnd(&seed) % 2);
            assert_non_null(c);
            pl_snode *r1 = pl_stable_snapshot(c);
            check_snapshot(r1);
            int64_t n1 = get_int(r1, "counter");
            pl_snode *r2 = pl_stable_snapshot(c);
            if (r1 != r2 || get_int(r2, "counter") != n1) atomic_fetch_add(&violations, 1);
            pl_snode_release(r1);
            pl_snode_release(r2);
            pl_stable_release(c);
        } else if (op < 92) { /* a nested table, replaced now and then */
            pl_stable *child = pl_stable_new(NULL, 0, NULL);
            pl_sval v = {PL_SV_TABLE, {.o = &child->base}};
            assert_int_equal(pl_stable_set(st, &kchild, &v), PL_OK);
            pl_stable_release(child);
        } else { /* iterate a snapshot */
            pl_snode *r = pl_stable_snapshot(st);
            pl_scursor cur;
            pl_scursor_init(&cur, r);
            size_t n = 0;
            uint64_t last = 0;
            const pl_sentry *e;
            while ((e = pl_scursor_next(&cur))) {
                if (n && e->ik < last) atomic_fetch_add(&violations, 1);
                last = e->ik;
                n++;
            }
            if (n != pl_snode_count(r)) atomic_fetch_add(&violations, 1);
            if (pl_snode_check(r) != 0) atomic_fetch_add(&violations, 1);
            check_snapshot(r);
            pl_snode_release(r);
        }
    }
}

static void test_stress(void **state)
{
    (void)state;
    s_counter = sstr("counter");
    s_a = sstr("a");
    s_b = sstr("b");
    s_child = sstr("child");
    s_text = sstr("some text value");
    st = pl_stable_new(NULL, 0, NULL);
    set_int(st, "counter", 0);
    set_int(st, "a", TOTAL);
    set_int(st, "b", 0);
    atomic_store(&increments, 0);
    atomic_store(&violations, 0);
    last_value = calloc((size_t)nthreads * 16, sizeof *last_value);
    uv_thread_t *th = calloc((size_t)nthreads, sizeof *th);
    assert_non_null(th);
    assert_non_null(last_value);
    for (int t = 0; t < nthreads; t++)
        assert_int_equal(uv_thread_create(&th[t], stress_thread, (void *)(intptr_t)t), 0);
    for (int t = 0; t < nthreads; t++)
        uv_thread_join(&th[t]);
    assert_int_equal(atomic_load(&violations), 0);
    pl_snode *r = pl_stable_snapshot(st);
    assert_int_equal(pl_snode_check(r), 0); /* the structure is sound */
    assert_int_equal(get_int(r, "counter"), atomic_load(&increments));
    check_snapshot(r);
    for (int t = 0; t < nthreads; t++) {
        for (int j = 0; j < 16; j++) {
            pl_skey k = pl_skey_int((uint32_t)(t * 1000 + j));
            const pl_sval *v = pl_snode_find(r, &k);
            int64_t want = last_value[t * 16 + j];
            if (want == 0)
                assert_null(v);
            else if (want == -2)
                assert_true(v && v->tag == PL_SV_STR && v->u.s->len == s_text->len);
            else
                assert_true(v && v->tag == PL_SV_INT && v->u.i == want);
        }
    }
    printf("stress: %d threads x %d iterations, %ld increments, final size %zu\n", nthreads,
           iterations, (long)atomic_load(&increments), pl_snode_count(r));
    pl_snode_release(r);
    pl_stable_release(st);
    free(th);
    free(last_value);
    pl_sstring_release(s_counter);
    pl_sstring_release(s_a);
    pl_sstring_release(s_b);
    pl_sstring_release(s_child);
    pl_sstring_release(s_text);
    pl_epoch_barrier();
}

/* ---- deep clones while sub-tables are replaced ---- */

/* P holds NCHILD children; child i holds a leaf at 0 (a table holding i), P
 * at 1 (a cycle) and the one table `shared` at 2. Replacer threads swap
 * children and leaves for new ones and drop their own references at once,
 * so a replaced table dies as soon as the old roots holding it are
 * reclaimed; cloner threads deep-clone P meanwhile and check the shape of
 * every clone (cycles point at the clone, the shared table cloned once). A
 * clone that reached a nested table without holding it would read freed
 * memory (AddressSanitizer). */
#define NCHILD 32
static pl_stable *dc_parent, *dc_shared;
static atomic_int dc_stop;
static atomic_long dc_clones;

static pl_sval table_val(pl_stable *t)
{
    pl_sval v = {PL_SV_TABLE, {.o = &t->base}};
    return v;
}

static pl_stable *dc_leaf(int64_t i)
{
    pl_stable *l = pl_stable_new(NULL, 0, NULL);
    assert_non_null(l);
    pl_skey k0 = pl_skey_int(0);
    pl_sval v = {PL_SV_INT, {.i = i}};
    assert_int_equal(pl_stable_set(l, &k0, &v), PL_OK);
    return l;
}

static void dc_put(pl_stable *t, uint32_t k, pl_stable *value)
{
    pl_skey key = pl_skey_int(k);
    pl_sval v = table_val(value);
    assert_int_equal(pl_stable_set(t, &key, &v), PL_OK);
}

/* A new child for slot i, stored in the parent; no reference kept. */
static void dc_new_child(uint32_t i)
{
    pl_stable *c = pl_stable_new(NULL, 0, NULL), *l = dc_leaf(i);
    assert_non_null(c);
    dc_put(c, 0, l);
    dc_put(c, 1, dc_parent);
    dc_put(c, 2, dc_shared);
    dc_put(dc_parent, i, c);
    pl_stable_release(l);
    pl_stable_release(c);
}

static void dc_replacer(void *arg)
{
    unsigned seed = (unsigned)(intptr_t)arg * 31u + 7u;
    while (!atomic_load(&dc_stop)) {
        uint32_t i = rnd(&seed) % NCHILD;
        if (rnd(&seed) % 2) {
            dc_new_child(i);
            continue;
        }
        /* a new leaf in the current child i */
        pl_skey k = pl_skey_int(i);
        pl_epoch_enter();
        const pl_sval *v = pl_snode_find(pl_stable_root(dc_parent), &k);
        pl_stable *c = (pl_stable *)v->u.o;
        pl_stable_retain(c); /* the entry holds it until the section ends */
        pl_epoch_exit();
        pl_stable *l = dc_leaf(i);
        dc_put(c, 0, l);
        pl_stable_release(l);
        pl_stable_release(c);
    }
}

/* The value at integer key k of t's current version (a snapshot is held). */
static const pl_sval *dc_get(pl_snode *root, uint32_t k)
{
    pl_skey key = pl_skey_int(k);
    return pl_snode_find(root, &key);
}

static void dc_check(pl_stable *c)
{
    pl_snode *r = pl_stable_snapshot(c);
    assert_int_equal(pl_snode_count(r), NCHILD);
    const pl_shared *shared_clone = NULL;
    for (uint32_t i = 0; i < NCHILD; i++) {
        const pl_sval *v = dc_get(r, i);
        assert_int_equal(v->tag, PL_SV_TABLE);
        pl_snode *cr = pl_stable_snapshot((pl_stable *)v->u.o);
        const pl_sval *leaf = dc_get(cr, 0), *up = dc_get(cr, 1), *sh = dc_get(cr, 2);
        assert_true(up->tag == PL_SV_TABLE && up->u.o == &c->base); /* the cycle */
        assert_true(sh->tag == PL_SV_TABLE && sh->u.o != &dc_shared->base);
        if (!shared_clone) shared_clone = sh->u.o;
        assert_true(sh->u.o == shared_clone); /* cloned once */
        assert_int_equal(leaf->tag, PL_SV_TABLE);
        pl_snode *lr = pl_stable_snapshot((pl_stable *)leaf->u.o);
        assert_int_equal(dc_get(lr, 0)->u.i, i);
        pl_snode_release(lr);
        pl_snode_release(cr);
    }
    pl_snode_release(r);
}

static void dc_cloner(void *arg)
{
    int n = *(int *)arg;
    for (int j = 0; j < n; j++) {
        pl_stable *c = pl_stable_clone(dc_parent, 1, 0);
        assert_non_null(c);
        dc_check(c);
        assert_int_equal(pl_stable_clear(c), PL_OK); /* breaks the clone's cycles */
        pl_stable_release(c);
        atomic_fetch_add(&dc_clones, 1);
    }
}

static void test_stress_deep_clone(void **state)
{
    (void)state;
    dc_parent = pl_stable_new(NULL, 0, NULL);
    dc_shared = dc_leaf(-1);
    for (uint32_t i = 0; i < NCHILD; i++)
        dc_new_child(i);
    atomic_store(&dc_stop, 0);
    atomic_store(&dc_clones, 0);
    int nclone = nthreads / 2 > 0 ? nthreads / 2 : 1,
        nrep = nthreads - nclone > 0 ? nthreads - nclone : 1;
    int per_cloner = iterations / 10 > 0 ? iterations / 10 : 1;
    uv_thread_t rep[64], cl[64];
    assert_true(nclone <= 64 && nrep <= 64);
    for (int t = 0; t < nrep; t++)
        assert_int_equal(uv_thread_create(&rep[t], dc_replacer, (void *)(intptr_t)t), 0);
    for (int t = 0; t < nclone; t++)
        assert_int_equal(uv_thread_create(&cl[t], dc_cloner, &per_cloner), 0);
    for (int t = 0; t < nclone; t++)
        uv_thread_join(&cl[t]);
    atomic_store(&dc_stop, 1);
    for (int t = 0; t < nrep; t++)
        uv_thread_join(&rep[t]);
    assert_int_equal(atomic_load(&dc_clones), (long)nclone * per_cloner);
    printf("deep clones: %d cloners x %d clones, %d replacers\n", nclone, per_cloner, nrep);
    assert_int_equal(pl_stable_clear(dc_parent), PL_OK); /* breaks the parent-child cycles */
    pl_stable_release(dc_parent);
    pl_stable_release(dc_shared);
    pl_epoch_barrier();
}

int main(int argc, char **argv)
{
    if (argc > 1) nthreads = atoi(argv[1]);
    if (argc > 2) iterations = atoi(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model),         cmocka_unit_test(test_increment_values),
        cmocka_unit_test(test_cas),           cmocka_unit_test(test_deep_clone),
        cmocka_unit_test(test_list_shutdown), cmocka_unit_test(test_transaction),
        cmocka_unit_test(test_stress),        cmocka_unit_test(test_stress_deep_clone),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    pl_epoch_thread_exit();
    return rc;
}
