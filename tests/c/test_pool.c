/*
 * Worker pool (src/core/pool.h) stress tests: items submitted from outside
 * and from workers during a phase each run exactly once per submission;
 * pl_pool_wait_idle returns only when every item, including those workers
 * submitted meanwhile, has finished; many phases in a row; pl_pool_on_worker
 * and the worker index.
 *
 * Usage: test_pool [workers [phases [items]]]   (defaults 4, 300, 256)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include <cmocka.h>

#include "core/pool.h"

static int nworkers = 4;
static int nphases = 300;
static int nitems = 256;

typedef struct item {
    pl_pool_item link;
    int id;
    atomic_int runs;    /* total runs */
    atomic_int running; /* >0 while run is inside: never 2 */
    atomic_int done;    /* phase number of the last finished run */
    struct item *child; /* submitted by the worker that runs this one */
    int chain;          /* chain: resubmit a successor until 0 */
} item;

typedef struct ctx {
    pl_pool *pool;
    atomic_long total;     /* runs in all phases */
    atomic_int bad_worker; /* worker index out of range, or not on a worker */
    atomic_int overlap;    /* an item ran twice at once */
    int phase;             /* written by the test thread between phases only */
    int slow;              /* sleep this many microseconds in each run */
} ctx;

#define ITEM(p) ((item *)((char *)(p)-offsetof(item, link)))

static void run_item(void *vctx, pl_pool_item *link, int worker)
{
    ctx *c = vctx;
    item *it = ITEM(link);
    if (worker < 0 || worker >= nworkers || !pl_pool_on_worker(c->pool))
        atomic_store(&c->bad_worker, 1);
    if (atomic_fetch_add(&it->running, 1) != 0) atomic_store(&c->overlap, 1);
    if (c->slow) uv_sleep((unsigned)c->slow / 1000 + 1);
    atomic_fetch_add(&it->runs, 1);
    atomic_fetch_add(&c->total, 1);
    atomic_fetch_sub(&it->running, 1);
    /* finished: from here on the item may be submitted again */
    atomic_store_explicit(&it->done, c->phase, memory_order_release);
    if (it->child) pl_pool_submit(c->pool, &it->child->link);
}

static item *make_items(int n)
{
    item *items = calloc((size_t)n, sizeof *items);
    assert_non_null(items);
    for (int i = 0; i < n; i++) {
        items[i].id = i;
        atomic_init(&items[i].runs, 0);
        atomic_init(&items[i].running, 0);
        atomic_init(&items[i].done, 0);
    }
    return items;
}

static void init_ctx(ctx *c)
{
    c->pool = NULL;
    atomic_init(&c->total, 0);
    atomic_init(&c->bad_worker, 0);
    atomic_init(&c->overlap, 0);
    c->phase = 0;
    c->slow = 0;
}

static void test_basics(void **state)
{
    (void)state;
    ctx c;
    init_ctx(&c);
    assert_null(pl_pool_new(0, run_item, &c));
    c.pool = pl_pool_new(nworkers, run_item, &c);
    assert_non_null(c.pool);
    assert_int_equal(pl_pool_size(c.pool), nworkers);
    assert_false(pl_pool_on_worker(c.pool));
    pl_pool_wait_idle(c.pool); /* nothing submitted: returns at once */
    item *items = make_items(1);
    c.phase = 1;
    pl_pool_submit(c.pool, &items[0].link);
    pl_pool_wait_idle(c.pool);
    assert_int_equal(atomic_load(&items[0].runs), 1);
    assert_int_equal(atomic_load(&items[0].done), 1);
    assert_false(atomic_load(&c.bad_worker));
    pl_pool_free(c.pool);
    free(items);
}

/* Outside submitters: the test thread and two helper threads. */
typedef struct outside {
    ctx *c;
    item *items;
    int from, to;
} outside;

static void submit_range(void *arg)
{
    outside *o = arg;
    for (int i = o->from; i < o->to; i++)
        pl_pool_submit(o->c->pool, &o->items[i].link);
}

/* Each phase: the first half of the items are submitted from outside (by
 * three threads); each of them, when run, submits its child from the worker
 * (the second half). After wait_idle every item ran exactly once more, and
 * every run had finished (done == this phase). */
static void test_phases_outside_and_worker_submits(void **state)
{
    (void)state;
    ctx c;
    init_ctx(&c);
    c.pool = pl_pool_new(nworkers, run_item, &c);
    assert_non_null(c.pool);
    int n = nitems < 2 ? 2 : nitems & ~1;
    item *items = make_items(n);
    for (int i = 0; i < n / 2; i++)
        items[i].child = &items[n / 2 + i];
    for (int phase = 1; phase <= nphases; phase++) {
        c.phase = phase;
        int half = n / 2, third = half / 3;
        outside o1 = {&c, items, 0, third}, o2 = {&c, items, third, 2 * third};
        uv_thread_t t1, t2;
        assert_int_equal(uv_thread_create(&t1, submit_range, &o1), 0);
        assert_int_equal(uv_thread_create(&t2, submit_range, &o2), 0);
        outside o3 = {&c, items, 2 * third, half};
        submit_range(&o3);
        uv_thread_join(&t1);
        uv_thread_join(&t2);
        pl_pool_wait_idle(c.pool);
        /* everything finished: exactly `phase` runs each, done stamped */
        for (int i = 0; i < n; i++) {
            int runs = atomic_load(&items[i].runs);
            if (runs != phase) fail_msg("phase %d: item %d ran %d times", phase, i, runs);
            int done = atomic_load_explicit(&items[i].done, memory_order_acquire);
            if (done != phase) fail_msg("phase %d: item %d not finished at wait_idle", phase, i);
        }
        assert_int_equal(atomic_load(&c.total), (long)phase * n);
    }
    assert_false(atomic_load(&c.bad_worker));
    assert_false(atomic_load(&c.overlap));
    pl_pool_free(c.pool);
    free(items);
}

/* Long chains submitted from workers: item i submits i+1, ..., so one
 * outside submission causes `n` runs; several chains run at once. */
static void test_worker_chains(void **state)
{
    (void)state;
    ctx c;
    init_ctx(&c);
    c.pool = pl_pool_new(nworkers, run_item, &c);
    assert_non_null(c.pool);
    enum { CHAINS = 4 };
    int len = nitems;
    item *items = make_items(CHAINS * len);
    for (int ch = 0; ch < CHAINS; ch++)
        for (int i = 0; i + 1 < len; i++)
            items[ch * len + i].child = &items[ch * len + i + 1];
    int phases = nphases / 10 + 1;
    for (int phase = 1; phase <= phases; phase++) {
        c.phase = phase;
        for (int ch = 0; ch < CHAINS; ch++)
            pl_pool_submit(c.pool, &items[ch * len].link);
        pl_pool_wait_idle(c.pool);
        for (int i = 0; i < CHAINS * len; i++) {
            if (atomic_load(&items[i].runs) != phase)
                fail_msg("phase %d: chain item %d ran %d times", phase, i,
                         atomic_load(&items[i].runs));
            assert_int_equal(atomic_load_explicit(&items[i].done, memory_order_acquire), phase);
        }
    }
    assert_false(atomic_load(&c.overlap));
    assert_false(atomic_load(&c.bad_worker));
    pl_pool_free(c.pool);
    free(items);
}

/* pl_pool_submit_chain: n items chained through their links, submitted at
 * once while the workers are busy with items submitted before and with
 * children the chained items submit: each runs exactly once per phase, and
 * wait_idle waits for all of them. Chains of 1, fewer than the workers,
 * and many per worker (the runs split across the queues). */
static void test_submit_chain(void **state)
{
    (void)state;
    ctx c;
    init_ctx(&c);
    c.pool = pl_pool_new(nworkers, run_item, &c);
    assert_non_null(c.pool);
    int n = nitems < 4 ? 4 : nitems & ~1;
    item *items = make_items(n);
    int half = n / 2;
    for (int i = 0; i < half; i++)
        items[i].child = &items[half + i];
    int sizes[] = {1, nworkers > 1 ? nworkers - 1 : 1, half};
    int phase = 0;
    for (int round = 0; round < nphases / 3 + 1; round++) {
        int len = sizes[round % 3];
        c.phase = ++phase;
        for (int i = 0; i < len; i++) /* a stale next on the last one must not matter */
            items[i].link.next = &items[(i + 1) % half].link;
        pl_pool_submit_chain(c.pool, &items[0].link, (size_t)len);
        pl_pool_wait_idle(c.pool);
        for (int i = 0; i < n; i++) {
            int want = (i < len || (i >= half && i - half < len)) ? 1 : 0;
            int runs = atomic_exchange(&items[i].runs, 0);
            if (runs != want)
                fail_msg("chain of %d, phase %d: item %d ran %d times", len, phase, i, runs);
        }
    }
    pl_pool_submit_chain(c.pool, &items[0].link, 0); /* nothing: no phase */
    pl_pool_wait_idle(c.pool);
    assert_false(atomic_load(&c.overlap));
    assert_false(atomic_load(&c.bad_worker));
    pl_pool_free(c.pool);
    free(items);
}

/* Slow items: wait_idle must block until the last one finished. */
static void test_wait_idle_blocks(void **state)
{
    (void)state;
    ctx c;
    init_ctx(&c);
    c.slow = 3000; /* 3-4 ms each */
    c.pool = pl_pool_new(nworkers, run_item, &c);
    assert_non_null(c.pool);
    int n = nworkers * 3;
    item *items = make_items(n);
    for (int phase = 1; phase <= 5; phase++) {
        c.phase = phase;
        for (int i = 0; i < n; i++)
            pl_pool_submit(c.pool, &items[i].link);
        pl_pool_wait_idle(c.pool);
        for (int i = 0; i < n; i++) {
            assert_int_equal(atomic_load(&items[i].runs), phase);
            assert_int_equal(atomic_load_explicit(&items[i].done, memory_order_acquire), phase);
            assert_int_equal(atomic_load(&items[i].running), 0);
        }
    }
    pl_pool_free(c.pool);
    free(items);
}

/* A pool created and freed many times, with and without work. */
static void test_create_free(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        ctx c;
        init_ctx(&c);
        c.pool = pl_pool_new(1 + round % nworkers, run_item, &c);
        assert_non_null(c.pool);
        item *items = make_items(8);
        if (round % 2) {
            c.phase = 1;
            for (int i = 0; i < 8; i++)
                pl_pool_submit(c.pool, &items[i].link);
            pl_pool_wait_idle(c.pool);
            assert_int_equal(atomic_load(&c.total), 8);
        }
        pl_pool_free(c.pool);
        free(items);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1) nworkers = atoi(argv[1]);
    if (argc > 2) nphases = atoi(argv[2]);
    if (argc > 3) nitems = atoi(argv[3]);
    if (nworkers < 1) nworkers = 1;
    if (nphases < 1) nphases = 1;
    if (nitems < 6) nitems = 6;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics),
        cmocka_unit_test(test_phases_outside_and_worker_submits),
        cmocka_unit_test(test_worker_chains),
        cmocka_unit_test(test_submit_chain),
        cmocka_unit_test(test_wait_idle_blocks),
        cmocka_unit_test(test_create_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
