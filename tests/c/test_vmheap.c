/*
 * The VM heap (src/core/vmheap.c) when malloc fails: a failed new chunk
 * must not leave the old chunk's tail both on a free list and still to be
 * carved (two live blocks at one address: Lua's object lists then loop, as
 * an actor out of memory showed), and a shrink must never fail (lua_Alloc's
 * rule). The heap's source is included here with malloc replaced by one
 * that fails on demand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int malloc_fails; /* the next mallocs return NULL */

static void *failing_malloc(size_t n)
{
    return malloc_fails ? NULL : malloc(n);
}

#define malloc failing_malloc
#include "../../src/core/vmheap.c"
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
    void *big = pl_heap_realloc(&h, NULL, 0, 4000); /* from malloc */
    void *mid = pl_heap_realloc(&h, NULL, 0, 256);  /* class 15 */
    assert_non_null(big);
    assert_non_null(mid);
    memset(mid, 7, 256);
    fill_until_tail(&h, 16, 16, blocks, 256); /* no room left to carve */
    malloc_fails = 1;
    /* a shrink to an empty class, with no chunk to carve from */
    void *mid2 = pl_heap_realloc(&h, mid, 256, 32);
    assert_ptr_equal(mid2, mid);
    assert_int_equal(((unsigned char *)mid2)[31], 7);
    void *big2 = pl_heap_realloc(&h, big, 4000, 100);
    assert_non_null(big2);
    assert_null(pl_heap_realloc(&h, NULL, 0, 500)); /* growth may fail */
    malloc_fails = 0;
    pl_heap_realloc(&h, mid2, 32, 0);
    pl_heap_realloc(&h, big2, 100, 0);
    pl_heap_destroy(&h);
    if (big2 == big) free(big); /* kept by the heap: see pl_heap_realloc */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failed_chunk_keeps_tail_once),
        cmocka_unit_test(test_shrink_never_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
