/*
 * The VM heap (src/core/vmheap.c) when malloc fails: a failed new chunk
 * must not leave the old chunk's tail both on a free list and still to be
 * carved (two live blocks at one address: Lua's object lists then loop, as
 * an actor out of memory showed), and a shrink must never fail (lua_Alloc's
 * rule). The heap's source is included here with malloc and its chunk
 * source replaced by ones that fail on demand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/pages.h"

static int malloc_fails; /* the next mallocs and chunks return NULL */

static void *failing_malloc(size_t n)
{
    return malloc_fails ? NULL : malloc(n);
}

static void *failing_pages_get(size_t n)
{
    return malloc_fails ? NULL : pl_pages_get(n);
}

#define malloc failing_malloc
#define pl_pages_get failing_pages_get
#include "../../src/core/vmheap.c"
#undef pl_pages_get
#undef malloc

/* Carves blocks of size until the newest chunk's tail is smaller than
 * `below` bytes; returns how many blocks it made (kept in out). */
static size_t fill_until_tail(pl_heap *h, size_t size, size_t below, void **out, size_t max)
{
    size_t n = 0;
    while (n < max && (size_t)(h->bump_end - h->bump) >= below) {
        out[n] = pl_heap_realloc(h, NULL, 0, size);
        assert_non_null(out[n]);
        n++;
    }
    return n;
}

static void test_failed_chunk_keeps_tail_once(void **state)
{
    (void)state;
    pl_heap h;
    pl_heap_init(&h);
    void *blocks[256];
    /* the first chunk's tail: 48 bytes, too small for a 64-byte block */
    void *first = pl_heap_realloc(&h, NULL, 0, 16);
    assert_non_null(first);
    size_t n = fill_until_tail(&h, 64, 64 + 48, blocks, 256);
    while ((size_t)(h.bump_end - h.bump) > 48) {
        blocks[n] = pl_heap_realloc(&h, NULL, 0, 16);
        assert_non_null(blocks[n++]);
    }
    assert_int_equal(h.bump_end - h.bump, 48);

    malloc_fails = 1;
    assert_null(pl_heap_realloc(&h, NULL, 0, 64)); /* needs a chunk: none */
    /* the tail was filed as one 48-byte block: one 48-byte request gets it,
     * the next must not get the same bytes again */
    void *a = pl_heap_realloc(&h, NULL, 0, 48);
    void *b = pl_heap_realloc(&h, NULL, 0, 48);
    assert_non_null(a);
    assert_ptr_not_equal(a, b);
    void *c = pl_heap_realloc(&h, NULL, 0, 16);
    assert_ptr_not_equal(c, a);
    malloc_fails = 0;
    pl_heap_destroy(&h);
}

static void test_shrink_never_fails(void **state)
{
    (void)state;
    pl_heap h;
    pl_heap_init(&h);
    void *blocks[256];
    void *big = pl_heap_realloc(&h, NULL, 0, PL_HEAP_SMALL_MAX + 1000); /* from malloc */
    void *mid = pl_heap_realloc(&h, NULL, 0, 256);                      /* class 15 */
    assert_non_null(big);
    assert_non_null(mid);
    memset(mid, 7, 256);
    fill_until_tail(&h, 16, 16, blocks, 256); /* no room left to carve */
    malloc_fails = 1;
    /* a shrink to an empty class, with no chunk to carve from */
    void *mid2 = pl_heap_realloc(&h, mid, 256, 32);
    assert_ptr_equal(mid2, mid);
    assert_int_equal(((unsigned char *)mid2)[31], 7);
    void *big2 = pl_heap_realloc(&h, big, PL_HEAP_SMALL_MAX + 1000, 100);
    assert_non_null(big2);
    assert_null(pl_heap_realloc(&h, NULL, 0, 500)); /* growth may fail */
    malloc_fails = 0;
    pl_heap_realloc(&h, mid2, 32, 0);
    pl_heap_realloc(&h, big2, 100, 0);
    pl_heap_destroy(&h);
    if (big2 == big) free(big); /* kept by the heap: see pl_heap_realloc */
}

/* Every size up to PL_HEAP_SMALL_MAX gets the smallest class that holds
 * it, within the class table. */
static void test_classes_fit(void **state)
{
    (void)state;
    for (size_t n = 1; n <= PL_HEAP_SMALL_MAX; n++) {
        size_t c = class_of(n);
        assert_true(c < PL_HEAP_CLASSES);
        assert_true(class_bytes(c) >= n);
        if (c > 0) assert_true(class_bytes(c - 1) < n);
    }
}

/* Blocks of every class, big ones too, are carved from chunks without
 * overlapping, and a freed block is reused for its class. */
static void test_blocks_distinct(void **state)
{
    (void)state;
    pl_heap h;
    pl_heap_init(&h);
    enum { N = 200 };
    static unsigned char *blocks[N];
    static size_t sizes[N];
    for (size_t i = 0; i < N; i++) {
        sizes[i] = 1 + (i * 7919) % PL_HEAP_SMALL_MAX;
        blocks[i] = pl_heap_realloc(&h, NULL, 0, sizes[i]);
        assert_non_null(blocks[i]);
        assert_int_equal((uintptr_t)blocks[i] % 16, 0);
        memset(blocks[i], (int)i, sizes[i]);
    }
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < sizes[i]; j++)
            assert_int_equal(blocks[i][j], (unsigned char)i);
    void *again = pl_heap_realloc(&h, blocks[7], sizes[7], 0);
    assert_null(again);
    assert_ptr_equal(pl_heap_realloc(&h, NULL, 0, sizes[7]), blocks[7]);
    pl_heap_destroy(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classes_fit),
        cmocka_unit_test(test_blocks_distinct),
        cmocka_unit_test(test_failed_chunk_keeps_tail_once),
        cmocka_unit_test(test_shrink_never_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
