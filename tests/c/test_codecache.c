/*
 * The code cache (src/core/codecache.h): a source finds what was stored for
 * exactly that text (not for another text of the same hash or length);
 * the least recently used entries go first when the limit is reached; an
 * entry held by a caller outlives its eviction; limit 0 turns the cache
 * off; and threads looking up, adding and releasing at once (for the
 * sanitizers) lose nothing and free everything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <cmocka.h>

#include "core/codecache.h"
#include "core/sstring.h"
#include "core/status.h"

static uint32_t hash_of(const char *s)
{
    return pl_str_hash(s, strlen(s));
}

static int put(const char *src, const char *bytes, size_t mark)
{
    return pl_codecache_put(src, strlen(src), hash_of(src), bytes, strlen(bytes), mark);
}

static pl_code *get(const char *src)
{
    return pl_codecache_get(src, strlen(src), hash_of(src));
}

static int reset(void **state)
{
    (void)state;
    pl_codecache_set_limit(PL_CODECACHE_LIMIT);
    pl_codecache_clear();
    return 0;
}

static void stores_and_finds(void **state)
{
    (void)state;
    pl_codecache_stats before, after;
    pl_codecache_get_stats(&before);
    assert_null(get("return 1"));
    assert_int_equal(put("return 1", "compiled one", 3), PL_OK);
    pl_code *c = get("return 1");
    assert_non_null(c);
    assert_int_equal(c->len, strlen("compiled one"));
    assert_memory_equal(c->bytes, "compiled one", c->len);
    assert_int_equal(c->mark, 3);
    /* the same text again keeps the first entry */
    assert_int_equal(put("return 1", "compiled twice", 4), PL_OK);
    pl_code *again = get("return 1");
    assert_ptr_equal(again, c);
    pl_code_release(again);
    pl_code_release(c);
    /* a prefix, a longer text, another text: misses */
    assert_null(get("return"));
    assert_null(get("return 1 "));
    assert_null(get("return 2"));
    /* an empty text is a text like any other */
    assert_int_equal(pl_codecache_put("", 0, pl_str_hash("", 0), "e", 1, 0), PL_OK);
    c = pl_codecache_get("", 0, pl_str_hash("", 0));
    assert_non_null(c);
    pl_code_release(c);
    pl_codecache_get_stats(&after);
    assert_int_equal(after.hits - before.hits, 3);
    assert_int_equal(after.misses - before.misses, 4);
    assert_int_equal(after.entries, 2);
}

/* Two texts given the same hash (as a collision would) and the same
 * length stay apart: the whole text is compared. */
static void same_hash_other_text(void **state)
{
    (void)state;
    assert_int_equal(pl_codecache_put("aaaa", 4, 7, "A", 1, 0), PL_OK);
    assert_int_equal(pl_codecache_put("aaab", 4, 7, "B", 1, 0), PL_OK);
    pl_code *a = pl_codecache_get("aaaa", 4, 7), *b = pl_codecache_get("aaab", 4, 7);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->bytes[0], 'A');
    assert_int_equal(b->bytes[0], 'B');
    assert_null(pl_codecache_get("aaac", 4, 7));
    pl_code_release(a);
    pl_code_release(b);
}

/* Room for three entries: adding a fourth drops the least recently used,
 * and a lookup makes an entry recent. */
static void drops_least_recently_used(void **state)
{
    (void)state;
    char bytes[200];
    memset(bytes, 'x', sizeof bytes - 1);
    bytes[sizeof bytes - 1] = '\0';
    size_t one = sizeof(pl_code) + strlen("s1") + strlen(bytes);
    pl_codecache_set_limit(3 * one);
    assert_int_equal(put("s1", bytes, 0), PL_OK);
    assert_int_equal(put("s2", bytes, 0), PL_OK);
    assert_int_equal(put("s3", bytes, 0), PL_OK);
    pl_code *c = get("s1"); /* now s2 is the oldest */
    assert_non_null(c);
    pl_code_release(c);
    pl_codecache_stats before, after;
    pl_codecache_get_stats(&before);
    assert_int_equal(put("s4", bytes, 0), PL_OK);
    pl_codecache_get_stats(&after);
    assert_int_equal(after.dropped - before.dropped, 1);
    assert_int_equal(after.entries, 3);
    assert_true(after.bytes <= after.limit);
    assert_null(get("s2"));
    const char *kept[] = {"s1", "s3", "s4"};
    for (int i = 0; i < 3; i++) {
        c = get(kept[i]);
        assert_non_null(c);
        pl_code_release(c);
    }
    /* an entry bigger than the whole limit is refused, and drops nothing */
    char big[4 * sizeof bytes];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(put("huge", big, 0), PL_ERANGE);
    assert_null(get("huge"));
    pl_codecache_get_stats(&after);
    assert_int_equal(after.entries, 3);
}

/* A caller's reference keeps an entry readable after the cache dropped it
 * (eviction, a lower limit, clear); the last release frees it (the
 * AddressSanitizer build checks both). */
static void held_entry_outlives_eviction(void **state)
{
    (void)state;
    assert_int_equal(put("held", "the bytes", 0), PL_OK);
    pl_code *c = get("held");
    assert_non_null(c);
    pl_codecache_clear();
    assert_null(get("held"));
    assert_memory_equal(c->bytes, "the bytes", c->len);
    pl_code_release(c);

    assert_int_equal(put("held", "more bytes", 0), PL_OK);
    c = get("held");
    pl_codecache_set_limit(0); /* off: empties the cache */
    assert_memory_equal(c->bytes, "more bytes", c->len);
    pl_code_release(c);
    pl_codecache_stats st;
    pl_codecache_get_stats(&st);
    assert_int_equal(st.entries, 0);
    assert_int_equal(st.bytes, 0);
    assert_int_equal(pl_codecache_limit(), 0);
    /* and nothing is kept while it is off */
    assert_int_equal(put("held", "bytes", 0), PL_ERANGE);
    assert_null(get("held"));
}

/* ---- threads at once ---- */

#define THREADS 4
#define KEYS 64
#define ROUNDS 20000

static char compiled[KEYS][32]; /* written before the threads start, then read only */

static void hammer(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < ROUNDS; i++) {
        seed = seed * 1103515245u + 12345u;
        int key = (int)((seed >> 16) % KEYS);
        char src[32];
        snprintf(src, sizeof src, "source %d", key);
        size_t len = strlen(src);
        uint32_t h = pl_str_hash(src, len);
        pl_code *c = pl_codecache_get(src, len, h);
        if (c) {
            const char *want = compiled[key];
            if (c->len != strlen(want) || memcmp(c->bytes, want, c->len) != 0 ||
                c->mark != (size_t)key)
                abort(); /* another text's entry */
            pl_code_release(c);
        } else {
            (void)pl_codecache_put(src, len, h, compiled[key], strlen(compiled[key]), (size_t)key);
        }
        if (i % 5000 == 0 && arg == (void *)(uintptr_t)1) pl_codecache_clear();
    }
}

static void threads_at_once(void **state)
{
    (void)state;
    /* room for about a quarter of the keys: lookups, adds and evictions mix */
    pl_codecache_set_limit(KEYS / 4 * (sizeof(pl_code) + 24));
    for (int k = 0; k < KEYS; k++)
        snprintf(compiled[k], sizeof compiled[k], "compiled %d", k);
    uv_thread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(uv_thread_create(&th[t], hammer, (void *)(uintptr_t)(t + 1)), 0);
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(uv_thread_join(&th[t]), 0);
    pl_codecache_stats st;
    pl_codecache_get_stats(&st);
    assert_true(st.bytes <= st.limit);
    assert_true(st.hits > 0);
    assert_true(st.dropped > 0);
    pl_codecache_clear();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(stores_and_finds, reset),
        cmocka_unit_test_setup(same_hash_other_text, reset),
        cmocka_unit_test_setup(drops_least_recently_used, reset),
        cmocka_unit_test_setup(held_entry_outlives_eviction, reset),
        cmocka_unit_test_setup(threads_at_once, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
