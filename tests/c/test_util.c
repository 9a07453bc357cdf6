/*
 * The small shared utilities of src/core: the status table (every code has
 * a distinct negative value, a name and a text), pl_grow (doubling,
 * overflow refused with the array untouched) and pl_ptrmap (checked against
 * a plain array over many random keys, through several rehashes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/grow.h"
#include "core/ptrmap.h"
#include "core/status.h"

static void test_status_table(void **state)
{
    (void)state;
    static const int codes[] = {
#define CODE(name, value, text) PL_##name,
        PL_STATUS_MAP(CODE)
#undef CODE
    };
    size_t n = sizeof codes / sizeof codes[0];
    assert_string_equal(pl_strerror(PL_OK), "success");
    assert_string_equal(pl_status_name(PL_ENOMEM), "PL_ENOMEM");
    assert_string_equal(pl_strerror(PL_ENOMEM), "out of memory");
    for (size_t i = 0; i < n; i++) {
        assert_true(codes[i] < 0);
        assert_string_not_equal(pl_strerror(codes[i]), "unknown status");
        for (size_t j = i + 1; j < n; j++)
            assert_int_not_equal(codes[i], codes[j]);
    }
    assert_string_equal(pl_strerror(12345), "unknown status");
    assert_string_equal(pl_status_name(-9999), "PL_UNKNOWN");
}

static void test_grow(void **state)
{
    (void)state;
    size_t cap = 0;
    int *a = NULL;
    for (int i = 0; i < 1000; i++) {
        int *g = pl_grow(a, &cap, (size_t)i + 1, sizeof *a);
        assert_non_null(g);
        a = g;
        a[i] = i;
        assert_true(cap >= (size_t)i + 1);
    }
    for (int i = 0; i < 1000; i++)
        assert_int_equal(a[i], i);
    size_t before = cap;
    assert_ptr_equal(pl_grow(a, &cap, 10, sizeof *a), a); /* big enough: unchanged */
    assert_int_equal(cap, before);
    /* a byte count that overflows: refused, the array and cap untouched */
    assert_null(pl_grow(a, &cap, SIZE_MAX / 2, sizeof *a));
    assert_int_equal(cap, before);
    assert_int_equal(a[999], 999);
    free(a);
}

static void test_ptrmap_against_array(void **state)
{
    (void)state;
    enum { N = 20000 };
    static char objects[N];
    pl_ptrmap m = PL_PTRMAP_INIT;
    uint32_t x = 2463534242u;
    for (int round = 0; round < 3 * N; round++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        size_t i = x % N;
        int added = -1;
        pl_ptrmap_slot *s = pl_ptrmap_add(&m, &objects[i], &added);
        assert_non_null(s);
        if (added) {
            assert_null(s->value);
            s->value = &objects[(i + 1) % N];
        } else {
            assert_ptr_equal(s->value, &objects[(i + 1) % N]);
        }
    }
    size_t present = 0;
    for (size_t i = 0; i < N; i++) {
        pl_ptrmap_slot *s = pl_ptrmap_find(&m, &objects[i]);
        if (!s) continue;
        present++;
        assert_ptr_equal(s->key, &objects[i]);
        assert_ptr_equal(s->value, &objects[(i + 1) % N]);
    }
    assert_int_equal(present, m.n);
    assert_true(m.n * 2 <= m.cap);
    pl_ptrmap_free(&m);
    assert_null(pl_ptrmap_find(&m, &objects[0]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_table),
        cmocka_unit_test(test_grow),
        cmocka_unit_test(test_ptrmap_against_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
