/*
 * Epoch-based reclamation (src/core/epoch.h): retired objects are freed
 * after a grace period and never while a section that may have loaded them
 * runs; sections nest; barrier frees everything retired; a thread's limbo is
 * drained when it exits.
 *
 * The stress test: writers replace a shared pointer to a block and retire
 * the old one, which its free function poisons before freeing; readers load
 * the pointer inside sections and check the block is intact, twice, with a
 * pause between (a use after free shows up as poison, or as an ASan report).
 *
 * Usage: test_epoch [threads [iterations]]   (defaults 4, 20000)
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

#include "core/epoch.h"

static int nthreads = 4;
static int iterations = 20000;

#define MAGIC 0x5eedf00dcafebeefull
#define POISON 0xdeaddeaddeaddeadull

typedef struct block {
    _Atomic uint64_t magic; /* atomic: the free function writes it on another thread */
    uint64_t payload[6];
} block;

static atomic_long nfreed;

static void free_block(void *p)
{
    block *b = p;
    atomic_store_explicit(&b->magic, POISON, memory_order_relaxed);
    atomic_fetch_add(&nfreed, 1);
    free(b);
}

static block *new_block(uint64_t v)
{
    block *b = malloc(sizeof *b);
    assert_non_null(b);
    atomic_init(&b->magic, MAGIC);
    for (int i = 0; i < 6; i++)
        b->payload[i] = v;
    return b;
}

static void test_retire_and_barrier(void **state)
{
    (void)state;
    atomic_store(&nfreed, 0);
    uint64_t e0 = pl_epoch_now();
    for (int i = 0; i < 10; i++)
        pl_epoch_retire(new_block((uint64_t)i), free_block);
    assert_true(pl_epoch_pending() <= 10);
    pl_epoch_barrier();
    assert_int_equal(pl_epoch_pending(), 0);
    assert_int_equal(atomic_load(&nfreed), 10);
    assert_true(pl_epoch_now() >= e0 + 2);
}

static void test_nested_sections(void **state)
{
    (void)state;
    assert_false(pl_epoch_in_section());
    pl_epoch_enter();
    pl_epoch_enter();
    assert_true(pl_epoch_in_section());
    pl_epoch_exit();
    assert_true(pl_epoch_in_section());
    pl_epoch_exit();
    assert_false(pl_epoch_in_section());
}

/* An object retired while this thread's own section that loaded it is
 * open is not freed by polling until the section ends. */
static void test_not_freed_inside_section(void **state)
{
    (void)state;
    atomic_store(&nfreed, 0);
    pl_epoch_enter();
    block *b = new_block(7);
    pl_epoch_retire(b, free_block);
    for (int i = 0; i < 100; i++)
        pl_epoch_poll();
    assert_int_equal(atomic_load(&nfreed), 0);
    assert_true(atomic_load(&b->magic) == MAGIC);
    pl_epoch_exit();
    pl_epoch_barrier();
    assert_int_equal(atomic_load(&nfreed), 1);
}

/* ---- another thread holds a section: the barrier waits for it ---- */

typedef struct holder {
    atomic_int entered, release, done;
} holder;

static void hold_section(void *arg)
{
    holder *h = arg;
    pl_epoch_enter();
    atomic_store(&h->entered, 1);
    while (!atomic_load(&h->release))
        uv_sleep(1);
    pl_epoch_exit();
    atomic_store(&h->done, 1);
}

static void test_other_thread_section_blocks_reclaim(void **state)
{
    (void)state;
    atomic_store(&nfreed, 0);
    holder h;
    atomic_init(&h.entered, 0);
    atomic_init(&h.release, 0);
    atomic_init(&h.done, 0);
    uv_thread_t th;
    assert_int_equal(uv_thread_create(&th, hold_section, &h), 0);
    while (!atomic_load(&h.entered))
        uv_sleep(1);
    pl_epoch_retire(new_block(1), free_block);
    for (int i = 0; i < 50; i++)
        pl_epoch_poll();
    assert_int_equal(atomic_load(&nfreed), 0); /* the other section pins the epoch */
    atomic_store(&h.release, 1);
    pl_epoch_barrier();
    assert_int_equal(atomic_load(&nfreed), 1);
    uv_thread_join(&th);
}

/* ---- a thread's limbo is drained when it exits ---- */

static void retire_and_exit(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++)
        pl_epoch_retire(new_block(3), free_block);
}

static void test_thread_exit_drains(void **state)
{
    (void)state;
    atomic_store(&nfreed, 0);
    uv_thread_t th;
    assert_int_equal(uv_thread_create(&th, retire_and_exit, NULL), 0);
    uv_thread_join(&th);
    assert_int_equal(atomic_load(&nfreed), 5);
}

/* ---- stress ---- */

static _Atomic(block *) shared_ptr;
static atomic_long bad_reads, nallocated;

static void stress_thread(void *arg)
{
    uintptr_t id = (uintptr_t)arg;
    unsigned seed = (unsigned)id * 2654435761u + 1;
    for (int i = 0; i < iterations; i++) {
        seed = seed * 1103515245u + 12345u;
        if ((seed >> 16) % 4 == 0) { /* writer */
            block *nb = new_block((uint64_t)i);
            atomic_fetch_add(&nallocated, 1);
            block *old = atomic_exchange_explicit(&shared_ptr, nb, memory_order_seq_cst);
            pl_epoch_retire(old, free_block);
        } else { /* reader */
            pl_epoch_enter();
            block *b = atomic_load_explicit(&shared_ptr, memory_order_seq_cst);
            uint64_t m1 = atomic_load_explicit(&b->magic, memory_order_relaxed);
            uint64_t v = b->payload[0];
            for (int k = 0; k < (int)(seed >> 28); k++)
                __asm__ volatile("" ::: "memory");
            uint64_t m2 = atomic_load_explicit(&b->magic, memory_order_relaxed);
            if (m1 != MAGIC || m2 != MAGIC || b->payload[5] != v) atomic_fetch_add(&bad_reads, 1);
            pl_epoch_exit();
        }
        if (i % 1000 == 0) pl_epoch_poll();
    }
}

static void test_stress(void **state)
{
    (void)state;
    atomic_store(&nfreed, 0);
    atomic_store(&bad_reads, 0);
    atomic_store(&nallocated, 1);
    atomic_store(&shared_ptr, new_block(0));
    uv_thread_t *th = calloc((size_t)nthreads, sizeof *th);
    assert_non_null(th);
    for (int t = 0; t < nthreads; t++)
        assert_int_equal(uv_thread_create(&th[t], stress_thread, (void *)(uintptr_t)(t + 1)), 0);
    for (int t = 0; t < nthreads; t++)
        uv_thread_join(&th[t]);
    free(th);
    assert_int_equal(atomic_load(&bad_reads), 0);
    /* every thread drained its limbo on exit: all but the current block are freed */
    assert_int_equal(atomic_load(&nfreed), atomic_load(&nallocated) - 1);
    free_block(atomic_load(&shared_ptr));
}

static void test_thread_exit_unregisters(void **state)
{
    (void)state;
    pl_epoch_retire(new_block(9), free_block);
    pl_epoch_thread_exit(); /* drains and unregisters the main thread */
    assert_int_equal(pl_epoch_pending(), 0);
    pl_epoch_enter(); /* registers again */
    pl_epoch_exit();
}

int main(int argc, char **argv)
{
    if (argc > 1) nthreads = atoi(argv[1]);
    if (argc > 2) iterations = atoi(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retire_and_barrier),
        cmocka_unit_test(test_nested_sections),
        cmocka_unit_test(test_not_freed_inside_section),
        cmocka_unit_test(test_other_thread_section_blocks_reclaim),
        cmocka_unit_test(test_thread_exit_drains),
        cmocka_unit_test(test_stress),
        cmocka_unit_test(test_thread_exit_unregisters),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    pl_epoch_thread_exit();
    return rc;
}
