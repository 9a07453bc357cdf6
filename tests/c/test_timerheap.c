/*
 * Timer heap (src/core/timerheap.h): ordering by deadline, FIFO among equal
 * deadlines, removal from the middle, and random operations checked against
 * a simple model (an unsorted array searched linearly).
 *
 * Usage: test_timerheap [random_ops [seed]]   (defaults 200000, 12345)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core/timerheap.h"

static long random_ops = 200000;
static unsigned seed = 12345;

/* xorshift32: deterministic for a given seed, independent of libc's rand */
static uint32_t rng_state;
static uint32_t rnd(void)
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

typedef struct rec {
    pl_timer timer;
    int id;
    int in_heap;
} rec;

#define REC(t) ((rec *)((char *)(t)-offsetof(rec, timer)))

/* Every timer's slot points back at it, and no child is before its parent. */
static void check_invariants(const pl_timerheap *h)
{
    for (size_t i = 0; i < h->len; i++) {
        assert_int_equal(h->items[i]->slot, i);
        if (i > 0) {
            const pl_timer *p = h->items[(i - 1) / 2], *c = h->items[i];
            assert_true(p->when < c->when || (p->when == c->when && p->order < c->order));
        }
    }
}

static void test_empty(void **state)
{
    (void)state;
    pl_timerheap h;
    pl_timerheap_init(&h);
    assert_null(pl_timerheap_peek(&h));
    assert_null(pl_timerheap_pop(&h));
    rec r = {.id = 1};
    r.timer.when = 1.0;
    assert_int_equal(pl_timerheap_push(&h, &r.timer), 0);
    assert_ptr_equal(pl_timerheap_peek(&h), &r.timer);
    pl_timerheap_remove(&h, &r.timer); /* the only one */
    assert_null(pl_timerheap_peek(&h));
    assert_int_equal(pl_timerheap_push(&h, &r.timer), 0); /* reusable after removal */
    assert_ptr_equal(pl_timerheap_pop(&h), &r.timer);
    assert_null(pl_timerheap_pop(&h));
    pl_timerheap_free(&h);
    pl_timerheap_free(&h); /* freeing twice is harmless (the heap was re-initialised) */
}

static void test_ordering(void **state)
{
    (void)state;
    enum { N = 1000 };
    static rec recs[N];
    pl_timerheap h;
    pl_timerheap_init(&h);
    rng_state = seed;
    for (int i = 0; i < N; i++) {
        recs[i].id = i;
        recs[i].timer.when = (double)(rnd() % 100000) / 1000.0;
        assert_int_equal(pl_timerheap_push(&h, &recs[i].timer), 0);
    }
    check_invariants(&h);
    double last = -1;
    for (int i = 0; i < N; i++) {
        pl_timer *top = pl_timerheap_peek(&h);
        pl_timer *t = pl_timerheap_pop(&h);
        assert_ptr_equal(top, t);
        assert_true(t->when >= last);
        last = t->when;
        if (i % 97 == 0) check_invariants(&h);
    }
    assert_null(pl_timerheap_pop(&h));
    pl_timerheap_free(&h);
}

static void test_fifo_equal_deadlines(void **state)
{
    (void)state;
    enum { N = 500 };
    static rec recs[N];
    pl_timerheap h;
    pl_timerheap_init(&h);
    /* three deadlines, interleaved pushes: each deadline's timers come out
     * in push order, and the deadlines in ascending order */
    for (int i = 0; i < N; i++) {
        recs[i].id = i;
        recs[i].timer.when = (double)(2 - i % 3);
        assert_int_equal(pl_timerheap_push(&h, &recs[i].timer), 0);
    }
    double last_when = -1;
    int last_id = -1;
    for (int i = 0; i < N; i++) {
        pl_timer *t = pl_timerheap_pop(&h);
        assert_non_null(t);
        if (t->when != last_when) {
            assert_true(t->when > last_when);
            last_when = t->when;
            last_id = -1;
        }
        assert_true(REC(t)->id > last_id); /* push order */
        last_id = REC(t)->id;
    }
    /* the same with all deadlines equal, after pops and re-pushes */
    for (int i = 0; i < N; i++)
        recs[i].timer.when = 5.0;
    for (int i = 0; i < N; i++) /* 7 and 500 are coprime: every one, shuffled */
        assert_int_equal(pl_timerheap_push(&h, &recs[(i * 7) % N].timer), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(REC(pl_timerheap_pop(&h))->id, (i * 7) % N);
    pl_timerheap_free(&h);
}

static void test_remove_middle(void **state)
{
    (void)state;
    enum { N = 257 };
    static rec recs[N];
    pl_timerheap h;
    pl_timerheap_init(&h);
    for (int i = 0; i < N; i++) {
        recs[i].id = i;
        recs[i].in_heap = 1;
        recs[i].timer.when = (double)((i * 37) % N); /* distinct, shuffled */
        assert_int_equal(pl_timerheap_push(&h, &recs[i].timer), 0);
    }
    /* remove every third, wherever it sits: root, leaves, the middle */
    for (int i = 0; i < N; i += 3) {
        pl_timerheap_remove(&h, &recs[i].timer);
        recs[i].in_heap = 0;
        check_invariants(&h);
    }
    /* the last slot and the root explicitly */
    pl_timer *last = h.items[h.len - 1];
    pl_timerheap_remove(&h, last);
    REC(last)->in_heap = 0;
    pl_timer *root = h.items[0];
    pl_timerheap_remove(&h, root);
    REC(root)->in_heap = 0;
    check_invariants(&h);

    size_t expect = 0;
    for (int i = 0; i < N; i++)
        expect += recs[i].in_heap;
    assert_int_equal(h.len, expect);
    double prev = -1;
    pl_timer *t;
    size_t popped = 0;
    while ((t = pl_timerheap_pop(&h))) {
        assert_true(REC(t)->in_heap); /* never a removed one */
        REC(t)->in_heap = 0;
        assert_true(t->when > prev);
        prev = t->when;
        popped++;
    }
    assert_int_equal(popped, expect);
    pl_timerheap_free(&h);
}

/* remove_if (pl_vm_kill drops a VM's timers): removes exactly the chosen
 * timers, leaves a valid heap, and the rest still pop in order. */
static int drop_odd(void *ud, pl_timer *t)
{
    (*(int *)ud)++;
    return REC(t)->id % 2;
}

static void test_remove_if(void **state)
{
    (void)state;
    enum { N = 301 };
    static rec recs[N];
    pl_timerheap h;
    pl_timerheap_init(&h);
    for (int i = 0; i < N; i++) {
        recs[i].id = i;
        recs[i].timer.when = (double)((i * 53) % 17); /* many ties */
        assert_int_equal(pl_timerheap_push(&h, &recs[i].timer), 0);
    }
    int calls = 0;
    pl_timerheap_remove_if(&h, drop_odd, &calls);
    assert_int_equal(calls, N);
    assert_int_equal(h.len, (N + 1) / 2);
    check_invariants(&h);
    pl_timer *t, *prev = NULL;
    while ((t = pl_timerheap_pop(&h))) {
        assert_int_equal(REC(t)->id % 2, 0);
        if (prev)
            assert_true(prev->when < t->when || (prev->when == t->when && prev->order < t->order));
        prev = t;
    }
    pl_timerheap_free(&h);
}

/* Random push/pop/remove/peek against a model; deadlines drawn from a small
 * set so that ties (FIFO) are frequent. */
static void test_random_against_model(void **state)
{
    (void)state;
    enum { POOL = 2048 };
    static rec recs[POOL];
    static uint64_t pushed_at[POOL]; /* model's insertion counter */
    uint64_t counter = 0;
    pl_timerheap h;
    pl_timerheap_init(&h);
    rng_state = seed ^ 0x9e3779b9u;
    if (!rng_state) rng_state = 1;
    for (int i = 0; i < POOL; i++)
        recs[i].id = i;
    size_t in = 0;
    for (long op = 0; op < random_ops; op++) {
        uint32_t r = rnd() % 100;
        if (r < 45) { /* push a timer that is out */
            int i = (int)(rnd() % POOL);
            if (recs[i].in_heap) continue;
            recs[i].timer.when = (double)(rnd() % 64) * 0.25;
            assert_int_equal(pl_timerheap_push(&h, &recs[i].timer), 0);
            recs[i].in_heap = 1;
            pushed_at[i] = counter++;
            in++;
        } else if (r < 75) { /* pop: must be the model's minimum */
            int best = -1;
            for (int i = 0; i < POOL; i++) {
                if (!recs[i].in_heap) continue;
                if (best < 0 || recs[i].timer.when < recs[best].timer.when ||
                    (recs[i].timer.when == recs[best].timer.when && pushed_at[i] < pushed_at[best]))
                    best = i;
            }
            pl_timer *t = pl_timerheap_pop(&h);
            if (best < 0) {
                assert_null(t);
            } else {
                assert_non_null(t);
                assert_int_equal(REC(t)->id, best);
                recs[best].in_heap = 0;
                in--;
            }
        } else if (r < 98) { /* remove a random timer that is in */
            if (!in) continue;
            int i = (int)(rnd() % POOL);
            while (!recs[i].in_heap)
                i = (i + 1) % POOL;
            pl_timerheap_remove(&h, &recs[i].timer);
            recs[i].in_heap = 0;
            in--;
        } else {
            check_invariants(&h);
        }
        assert_int_equal(h.len, in);
    }
    check_invariants(&h);
    pl_timerheap_free(&h);
}

int main(int argc, char **argv)
{
    if (argc > 1) random_ops = strtol(argv[1], NULL, 10);
    if (argc > 2) seed = (unsigned)strtoul(argv[2], NULL, 10);
    if (!seed) seed = 1;
    rng_state = seed;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_ordering),
        cmocka_unit_test(test_fifo_equal_deadlines),
        cmocka_unit_test(test_remove_middle),
        cmocka_unit_test(test_remove_if),
        cmocka_unit_test(test_random_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
