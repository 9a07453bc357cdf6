/*
 * SharedTable increments in place (src/core/stable.c, pl_stable_increment):
 * a number cell that only the table's current root reaches is added to
 * with one atomic RMW instead of a path copy.
 *
 * Unit test: which increments go in place (the root stays the same) and
 * which copy the path (a snapshot or a clone shares the root; an integer
 * becoming a float), and the values, integer and float, exactly as before.
 *
 * Races, each with threads adding in place while another thread does what
 * must exclude those adds:
 * - snapshots and clones: every thread adds 1 to a, then 1 to b, so any
 *   consistent version has a >= b; a snapshot or clone must show a >= b,
 *   never change afterwards, and never go back from an earlier one; a get
 *   of b then a (in sections, through pl_sval_load) sees a >= b too;
 * - writes that copy the counter's cell (sets and removals of other keys of
 *   its node, compare-and-swaps on it, transactions adding to it): no add is
 *   lost, the final value is exactly the sum of everything added;
 * - floats: a float cell added to from several threads (float and integer
 *   deltas), and an integer cell turning float under concurrent adds.
 * Run under ThreadSanitizer and AddressSanitizer by `make tsan` / `make asan`.
 *
 * Usage: test_stable_inplace [threads [iterations]]   (defaults 3, 20000)
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

static int nthreads = 3;
static int iterations = 20000;

static pl_skey skey(const char *s)
{
    pl_skey k = {PL_SKEY_STR | pl_str_hash(s, strlen(s)), s, strlen(s), NULL};
    return k;
}

static void set_int(pl_stable *t, const char *key, int64_t i)
{
    pl_skey k = skey(key);
    pl_sval v = {PL_SV_INT, {.i = i}};
    assert_int_equal(pl_stable_set(t, &k, &v), PL_OK);
}

static void set_float(pl_stable *t, const char *key, double n)
{
    pl_skey k = skey(key);
    pl_sval v = {PL_SV_FLOAT, {.n = n}};
    assert_int_equal(pl_stable_set(t, &k, &v), PL_OK);
}

/* The current value at key (a get: in a section, loaded atomically). */
static pl_sval get(pl_stable *t, const char *key)
{
    pl_skey k = skey(key);
    pl_sval out = {PL_SV_NIL, {0}};
    pl_epoch_enter();
    const pl_sval *v = pl_snode_find(pl_stable_root(t), &k);
    if (v) out = pl_sval_load(v);
    pl_epoch_exit();
    return out;
}

static pl_sval snap_get(const pl_snode *root, const char *key)
{
    pl_skey k = skey(key);
    const pl_sval *v = pl_snode_find(root, &k);
    pl_sval nil = {PL_SV_NIL, {0}};
    return v ? *v : nil;
}

static pl_snode *root_now(pl_stable *t)
{
    pl_epoch_enter();
    pl_snode *r = pl_stable_root(t); /* compared only, never read after the section */
    pl_epoch_exit();
    return r;
}

static pl_sval inc_int(pl_stable *t, const char *key, int64_t d)
{
    pl_skey k = skey(key);
    pl_sval dv = {PL_SV_INT, {.i = d}}, old;
    assert_int_equal(pl_stable_increment(t, &k, &dv, &old), PL_OK);
    return old;
}

static pl_sval inc_float(pl_stable *t, const char *key, double d)
{
    pl_skey k = skey(key);
    pl_sval dv = {PL_SV_FLOAT, {.n = d}}, old;
    assert_int_equal(pl_stable_increment(t, &k, &dv, &old), PL_OK);
    return old;
}

/* ---- which increments go in place ---- */

static void test_inplace_unit(void **state)
{
    (void)state;
    pl_stable *t = pl_stable_new(NULL, 0, NULL);
    set_int(t, "c", 0);
    pl_snode *r = root_now(t);
    assert_int_equal(inc_int(t, "c", 2).u.i, 0);
    assert_ptr_equal(root_now(t), r); /* private: added in place */
    assert_int_equal(get(t, "c").u.i, 2);

    /* a snapshot shares the root: the next add copies the path, and the
     * snapshot keeps its value */
    pl_snode *s = pl_stable_snapshot(t);
    assert_int_equal(inc_int(t, "c", 3).u.i, 2);
    assert_ptr_not_equal(root_now(t), r);
    assert_int_equal(snap_get(s, "c").u.i, 2);
    r = root_now(t); /* the new path is private again */
    assert_int_equal(inc_int(t, "c", 1).u.i, 5);
    assert_ptr_equal(root_now(t), r);
    assert_int_equal(snap_get(s, "c").u.i, 2);
    pl_snode_release(s);

    /* a clone shares the root: neither table adds in place to it */
    pl_stable *c = pl_stable_clone(t, 0, 0);
    assert_int_equal(inc_int(t, "c", 10).u.i, 6);
    assert_int_equal(get(c, "c").u.i, 6);
    assert_int_equal(inc_int(c, "c", 100).u.i, 6);
    assert_int_equal(get(t, "c").u.i, 16);
    assert_int_equal(get(c, "c").u.i, 106);
    pl_stable_release(c);

    /* integers wrap around in place, as in Lua */
    set_int(t, "w", INT64_MAX);
    r = root_now(t);
    assert_int_equal(inc_int(t, "w", 1).u.i, INT64_MAX);
    assert_ptr_equal(root_now(t), r);
    assert_true(get(t, "w").u.i == INT64_MIN);

    /* an integer cell with a float delta becomes a float (a path copy);
     * float cells take both kinds of delta in place */
    pl_sval old = inc_float(t, "c", 0.5);
    assert_int_equal(old.tag, PL_SV_INT);
    assert_int_equal(old.u.i, 16);
    assert_int_equal(get(t, "c").tag, PL_SV_FLOAT);
    r = root_now(t);
    old = inc_int(t, "c", 2);
    assert_int_equal(old.tag, PL_SV_FLOAT);
    assert_true(old.u.n == 16.5);
    old = inc_float(t, "c", 0.25);
    assert_true(old.u.n == 18.5);
    assert_ptr_equal(root_now(t), r);
    pl_sval v = get(t, "c");
    assert_int_equal(v.tag, PL_SV_FLOAT);
    assert_true(v.u.n == 18.75);
    set_float(t, "nan", 0.0 / 0.0); /* NaN + 1 stays NaN, in place too */
    old = inc_int(t, "nan", 1);
    assert_true(old.u.n != old.u.n);
    assert_true(get(t, "nan").u.n != get(t, "nan").u.n);

    /* a key deep in a larger table: in place once the old roots, which
     * shared its nodes, are reclaimed */
    for (uint32_t i = 0; i < 300; i++) {
        pl_skey k = pl_skey_int(i);
        pl_sval iv = {PL_SV_INT, {.i = i}};
        assert_int_equal(pl_stable_set(t, &k, &iv), PL_OK);
    }
    pl_epoch_barrier(); /* old roots reclaimed: shared nodes are private again */
    pl_skey k = pl_skey_int(77);
    pl_sval one = {PL_SV_INT, {.i = 1}};
    assert_int_equal(pl_stable_increment(t, &k, &one, &old), PL_OK);
    r = root_now(t);
    assert_int_equal(pl_stable_increment(t, &k, &one, &old), PL_OK);
    assert_int_equal(old.u.i, 78);
    assert_ptr_equal(root_now(t), r);
    pl_snode *all = pl_stable_snapshot(t);
    assert_int_equal(pl_snode_check(all), 0);
    assert_int_equal(snap_get(all, "w").tag, PL_SV_INT);
    pl_snode_release(all);

    /* errors are unchanged */
    assert_int_equal(
        pl_stable_increment(t, &(pl_skey){PL_SKEY_STR | pl_str_hash("zz", 2), "zz", 2, NULL}, &one,
                            &old),
        PL_EABSENT);
    pl_stable *f = pl_stable_clone(t, 0, 1);
    assert_int_equal(pl_stable_increment(f, &k, &one, &old), PL_EFROZEN);
    pl_stable_release(f);
    pl_stable_release(t);
    pl_epoch_barrier();
}

/* ---- snapshots and clones against in-place adds ---- */

static pl_stable *race_t;
static atomic_int adders_done;

static void ab_adder(void *arg)
{
    (void)arg;
    for (int i = 0; i < iterations; i++) {
        inc_int(race_t, "a", 1);
        inc_int(race_t, "b", 1);
    }
    atomic_fetch_add(&adders_done, 1);
    pl_epoch_thread_exit();
}

static void ab_observer(void *arg)
{
    int *fails = arg;
    int64_t last = 0;
    unsigned round = 0;
    while (atomic_load(&adders_done) < nthreads) {
        round++;
        if (round % 3 == 0) { /* a get of b, then of a */
            int64_t b = get(race_t, "b").u.i, a = get(race_t, "a").u.i;
            if (a < b) (*fails)++;
            continue;
        }
        pl_stable *c = NULL;
        pl_snode *s;
        if (round % 3 == 1) {
            s = pl_stable_snapshot(race_t);
        } else {
            c = pl_stable_clone(race_t, 0, round % 2);
            s = pl_stable_snapshot(c);
        }
        int64_t a = snap_get(s, "a").u.i, b = snap_get(s, "b").u.i;
        if (a < b || a < last) (*fails)++;
        last = a;
        for (volatile int spin = 0; spin < 200; spin++) /* let adds happen */
            ;
        if (snap_get(s, "a").u.i != a || snap_get(s, "b").u.i != b) (*fails)++;
        if (c && (get(c, "a").u.i != a || get(c, "b").u.i != b)) (*fails)++;
        pl_snode_release(s);
        if (c) pl_stable_release(c);
    }
    pl_epoch_thread_exit();
}

static void test_inplace_snapshots(void **state)
{
    (void)state;
    race_t = pl_stable_new(NULL, 0, NULL);
    set_int(race_t, "a", 0);
    set_int(race_t, "b", 0);
    set_int(race_t, "other", 0);
    atomic_store(&adders_done, 0);
    int fails = 0;
    uv_thread_t th[64], obs;
    assert_int_equal(uv_thread_create(&obs, ab_observer, &fails), 0);
    for (int i = 0; i < nthreads; i++)
        assert_int_equal(uv_thread_create(&th[i], ab_adder, NULL), 0);
    for (int i = 0; i < nthreads; i++)
        uv_thread_join(&th[i]);
    uv_thread_join(&obs);
    assert_int_equal(fails, 0);
    assert_int_equal(get(race_t, "a").u.i, (int64_t)nthreads * iterations);
    assert_int_equal(get(race_t, "b").u.i, (int64_t)nthreads * iterations);
    pl_stable_release(race_t);
    pl_epoch_barrier();
}

/* ---- writes that copy the counter's cell ---- */

static atomic_long txn_commits, cas_wins;

static void c_adder(void *arg)
{
    (void)arg;
    for (int i = 0; i < iterations; i++)
        inc_int(race_t, "c", 1);
    atomic_fetch_add(&adders_done, 1);
    pl_epoch_thread_exit();
}

/* Sets and removes other keys of the counter's node, adds 1000 to it in
 * transactions and 7 with compare-and-swaps. */
static void c_writer(void *arg)
{
    (void)arg;
    static const char *const others[] = {"k0", "k1", "k2", "k3", "k4", "k5"};
    pl_skey c = skey("c");
    pl_stxn x;
    pl_stxn_init(&x);
    for (unsigned round = 0; atomic_load(&adders_done) < nthreads; round++) {
        pl_skey k = skey(others[round % 6]);
        pl_sval v = {PL_SV_INT, {.i = round}}, nil = {PL_SV_NIL, {0}};
        assert_int_equal(pl_stable_set(race_t, &k, round % 4 == 3 ? &nil : &v), PL_OK);
        if (round % 3 == 0) {
            pl_stxn_begin(&x, race_t);
            int rc;
            const pl_sval *cur = pl_stxn_get(&x, &c, &rc);
            assert_int_equal(rc, PL_OK);
            pl_sval nv = {PL_SV_INT, {.i = cur->u.i + 1000}};
            assert_int_equal(pl_stxn_put(&x, &c, &nv), PL_OK);
            rc = pl_stxn_commit(&x);
            assert_true(rc == PL_OK || rc == PL_ECONFLICT);
            if (rc == PL_OK) atomic_fetch_add(&txn_commits, 1);
            pl_stxn_reset(&x);
        } else if (round % 3 == 1) {
            pl_sval cur = get(race_t, "c"), nv = {PL_SV_INT, {.i = cur.u.i + 7}};
            int rc = pl_stable_cas(race_t, &c, &cur, &nv);
            assert_true(rc == PL_OK || rc == PL_ECONFLICT);
            if (rc == PL_OK) atomic_fetch_add(&cas_wins, 1);
        }
    }
    pl_stxn_free(&x);
    pl_epoch_thread_exit();
}

static void test_inplace_writes(void **state)
{
    (void)state;
    race_t = pl_stable_new(NULL, 0, NULL);
    set_int(race_t, "c", 0);
    atomic_store(&adders_done, 0);
    atomic_store(&txn_commits, 0);
    atomic_store(&cas_wins, 0);
    uv_thread_t th[64], w;
    assert_int_equal(uv_thread_create(&w, c_writer, NULL), 0);
    for (int i = 0; i < nthreads; i++)
        assert_int_equal(uv_thread_create(&th[i], c_adder, NULL), 0);
    for (int i = 0; i < nthreads; i++)
        uv_thread_join(&th[i]);
    uv_thread_join(&w);
    int64_t want = (int64_t)nthreads * iterations + 1000 * atomic_load(&txn_commits) +
                   7 * atomic_load(&cas_wins);
    assert_int_equal(get(race_t, "c").u.i, want);
    pl_snode *s = pl_stable_snapshot(race_t);
    assert_int_equal(pl_snode_check(s), 0);
    pl_snode_release(s);
    pl_stable_release(race_t);
    pl_epoch_barrier();
}

/* ---- floats ---- */

static void f_adder(void *arg)
{
    intptr_t id = (intptr_t)arg;
    for (int i = 0; i < iterations; i++) {
        if (id % 2)
            inc_float(race_t, "f", 0.5);
        else
            inc_int(race_t, "f", 1);
        inc_int(race_t, "g", 1);
        if (i == iterations / 2 && id == 0) inc_float(race_t, "g", 0.5); /* g turns float */
    }
    pl_epoch_thread_exit();
}

static void test_inplace_floats(void **state)
{
    (void)state;
    race_t = pl_stable_new(NULL, 0, NULL);
    set_float(race_t, "f", 0.25);
    set_int(race_t, "g", 0);
    uv_thread_t th[64];
    for (int i = 0; i < nthreads; i++)
        assert_int_equal(uv_thread_create(&th[i], f_adder, (void *)(intptr_t)i), 0);
    for (int i = 0; i < nthreads; i++)
        uv_thread_join(&th[i]);
    double want = 0.25;
    for (int i = 0; i < nthreads; i++)
        want += (i % 2 ? 0.5 : 1.0) * iterations; /* exact: small multiples of 1/4 */
    pl_sval f = get(race_t, "f"), g = get(race_t, "g");
    assert_int_equal(f.tag, PL_SV_FLOAT);
    assert_true(f.u.n == want);
    assert_int_equal(g.tag, PL_SV_FLOAT);
    assert_true(g.u.n == (double)nthreads * iterations + 0.5);
    pl_stable_release(race_t);
    pl_epoch_barrier();
}

int main(int argc, char **argv)
{
    if (argc > 1) nthreads = atoi(argv[1]);
    if (argc > 2) iterations = atoi(argv[2]);
    if (nthreads < 1 || nthreads > 64) nthreads = 3;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inplace_unit),
        cmocka_unit_test(test_inplace_snapshots),
        cmocka_unit_test(test_inplace_writes),
        cmocka_unit_test(test_inplace_floats),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    pl_epoch_thread_exit();
    return rc;
}
