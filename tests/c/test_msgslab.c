/*
 * Message body slabs (src/core/msgslab.h): a slab whose bodies were all
 * released is started over in place by its thread; a slab left with
 * bodies still live is freed by the last release, on whatever thread;
 * a thread's current slab goes when the thread exits. Leaks and
 * use-after-free show under AddressSanitizer, races under
 * ThreadSanitizer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <cmocka.h>

#include "core/msgslab.h"

enum { BODY = 240, MAXB = 4096 };

/* Allocates bodies, writing into each, until one comes from another slab
 * than the first did; returns how many came from the first. */
static size_t fill_one_slab(void **p, pl_msgslab **s)
{
    size_t n = 0;
    for (;;) {
        assert_true(n < MAXB);
        p[n] = pl_msgslab_alloc(BODY, &s[n]);
        assert_non_null(p[n]);
        memset(p[n], 0xab, BODY);
        assert_int_equal((uintptr_t)p[n] % sizeof(void *), 0);
        if (n > 0 && s[n] != s[0]) return n;
        n++;
    }
}

/* A slab whose bodies were all released when its thread leaves it (it is
 * full) is started over in place, not freed and replaced. */
static void test_empty_slab_comes_back(void **state)
{
    (void)state;
    static void *p[MAXB];
    static pl_msgslab *s[MAXB];
    pl_msgslab_thread_flush();
    size_t n = fill_one_slab(p, s);
    for (size_t i = 0; i < n; i++)
        pl_msgslab_release(s[i], p[i], BODY);
    pl_msgslab *second = s[n];
    void *second_first = p[n];
    pl_msgslab_release(second, second_first, BODY); /* the second slab is empty, still current */
    size_t k = 0;
    pl_msgslab *got;
    void *q;
    do { /* allocate and release until the current slab is left */
        assert_true(k++ < MAXB);
        q = pl_msgslab_alloc(BODY, &got);
        assert_non_null(q);
        pl_msgslab_release(got, q, BODY);
    } while (got == second && q != second_first);
    /* the first allocation after leaving it: the same slab, from its start */
    assert_ptr_equal(got, second);
    assert_ptr_equal(q, second_first);
    pl_msgslab_thread_flush();
}

/* A trimmed allocation gives its tail to the next one; only the thread's
 * latest allocation can be trimmed. */
static void test_trim(void **state)
{
    (void)state;
    pl_msgslab_thread_flush();
    pl_msgslab *s1, *s2, *s3;
    unsigned char *p = pl_msgslab_alloc(200, &s1);
    assert_non_null(p);
    memset(p, 1, 200);
    assert_int_equal(pl_msgslab_trim(s1, p + 200, p + 101), 1);
    unsigned char *q = pl_msgslab_alloc(50, &s2);
    assert_ptr_equal(s2, s1);
    assert_ptr_equal(q, p + 104); /* 101 rounded up to PL_MSGSLAB_ALIGN */
    memset(q, 2, 50);
    assert_int_equal(p[100], 1);
    assert_int_equal(pl_msgslab_trim(s1, p + 104, p + 8), 0); /* q came after it */
    unsigned char *r = pl_msgslab_alloc(8, &s3);
    assert_ptr_equal(r, q + 56);
    pl_msgslab_release(s1, p, 104);
    pl_msgslab_release(s2, q, 50);
    pl_msgslab_release(s3, r, 8);
    pl_msgslab_thread_flush();
}

typedef struct handoff {
    void **p;
    pl_msgslab **s;
    size_t n;
} handoff;

static void alloc_main(void *arg)
{
    handoff *h = arg;
    for (size_t i = 0; i < h->n; i++) {
        h->p[i] = pl_msgslab_alloc(BODY, &h->s[i]);
        assert_non_null(h->p[i]);
        memset(h->p[i], (int)i, BODY);
    }
    /* exits with a current slab holding live bodies: its exit hands it back */
}

static void release_main(void *arg)
{
    handoff *h = arg;
    for (size_t i = 0; i < h->n; i++) {
        assert_int_equal(((unsigned char *)h->p[i])[BODY - 1], (unsigned char)i);
        pl_msgslab_release(h->s[i], h->p[i], BODY);
    }
}

/* Bodies made on a thread that then exits, released on this one (the
 * slabs are freed by the last release: no leak), and bodies made here,
 * released on another thread. */
static void test_across_threads(void **state)
{
    (void)state;
    enum { N = 1000 };
    static void *p[N];
    static pl_msgslab *s[N];
    handoff h = {p, s, N};
    uv_thread_t t;
    assert_int_equal(uv_thread_create(&t, alloc_main, &h), 0);
    assert_int_equal(uv_thread_join(&t), 0);
    release_main(&h);

    alloc_main(&h);
    assert_int_equal(uv_thread_create(&t, release_main, &h), 0);
    assert_int_equal(uv_thread_join(&t), 0);
    pl_msgslab_thread_flush(); /* this thread's last slab: every body released */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_slab_comes_back),
        cmocka_unit_test(test_trim),
        cmocka_unit_test(test_across_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
