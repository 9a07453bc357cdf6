/*
 * Randomised test of the decoder: wires of valid values are mutated (bit
 * flips, truncations, insertions, deletions, copies, random and "magic"
 * bytes, splices of two wires) and decoded with trust_bytecode = 0 into a
 * fresh VM. Each decode must succeed or fail with a message; never crash,
 * read out of bounds, leak, or leave anything on the stack on failure. A
 * success must give usable values: they are walked, and encoded and
 * decoded again.
 *
 * Deterministic: a fixed seed. Usage: test_wire_fuzz [iterations [seed]].
 * The default count keeps the run near a second, a few under ASan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lualib.h>

#include "core/wire.h"
#include "engine/proxy.h"
#include "engine/transfer.h"

static long iterations = 30000;
static uint64_t seed = 0x5eed2024u;

/* splitmix64: small, good enough, the same everywhere */
static uint64_t rnd(void)
{
    uint64_t z = (seed += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static size_t below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

/* ---- a shared object type, so wires carry references ---- */

typedef struct tobj {
    pl_shared base;
} tobj;

static atomic_int destroyed;

static void tobj_destroy(pl_shared *obj)
{
    atomic_fetch_add(&destroyed, 1);
    free(obj);
}

static const pl_shared_type tobj_type = {"FuzzObject", "parlua.test.FuzzObject", tobj_destroy,
                                         NULL};

static lua_State *newvm(void)
{
    lua_State *L = luaL_newstate();
    assert_non_null(L);
    /* no VM (pl_ctx_of NULL): proxies' finalizers then touch none */
    *(void **)lua_getextraspace(L) = NULL;
    luaL_openlibs(L);
    pl_proxy_newmetatable(L, &tobj_type);
    lua_pop(L, 1);
    return L;
}

/* ---- the corpus ---- */

static const char *const corpus_src[] = {
    "return 1, 2.5, 'str', true, false, nil, -1, math.maxinteger, 0/0, -0.0",
    "return {1, 2, 3, x = 'y', [true] = 1.5, nested = {a = {b = {c = 'd'}}}}",
    "local t = {} t.self = t t[t] = t local s = {t, t, {t}} return t, s, t",
    "return obj, {o = obj, list = {obj, obj, other}}, other",
    "return print, math.sin, {f = string.format, g = io.write}, _G, {env = _G}",
    "local n = 0 return function(x) n = n + x return n end, 7",
    "return string.rep('ab\\0', 40), {[1.5] = 2, [-1] = 3, [math.mininteger] = 0/0}",
    "local r = {} local t = r for i = 1, 150 do t.n = {} t = t.n end return r",
    "local t = {} for i = 1, 60 do t[i] = i * 1.5 end return table.unpack(t)",
    "local t = {} t[1] = 1 t[3] = 3 t[1000] = 1000 t[2^40] = 'big' return t",
    "local k = {} return {[k] = {k, {[k] = k}}, s = ''}, k",
    "return 'x', {}, {{}}, {{{}}}, {1, {2, {3, {4}}}}",
};
#define NCORPUS (sizeof corpus_src / sizeof *corpus_src)

static pl_wire corpus[NCORPUS];

static void build_corpus(tobj *o1, tobj *o2)
{
    lua_State *L = newvm();
    pl_proxy_push(L, &o1->base);
    lua_setglobal(L, "obj");
    pl_proxy_push(L, &o2->base);
    lua_setglobal(L, "other");
    static const pl_transfer_origin origin = {"fuzz", 1};
    for (size_t i = 0; i < NCORPUS; i++) {
        if (luaL_dostring(L, corpus_src[i]) != LUA_OK)
            fail_msg("corpus %zu: %s", i, lua_tostring(L, -1));
        char err[512];
        pl_wire_init(&corpus[i]);
        if (pl_transfer_encode(L, 1, lua_gettop(L), &origin, &corpus[i], err, sizeof err) != 0)
            fail_msg("corpus %zu: %s", i, err);
        lua_settop(L, 0);
    }
    lua_close(L);
}

/* ---- mutations ---- */

static const unsigned char magic[] = {0,  1,  2,  3,    4,    5,    6,    7,    8,    9,    10,
                                      11, 12, 13, 0x7f, 0x80, 0xff, 0xfe, 0x40, 0x3f, 0xc8, 0x81};

/* Copies a random corpus wire into w (bytes and references) and mutates it. */
static void make_mutant(pl_wire *w)
{
    const pl_wire *src = &corpus[below(NCORPUS)];
    pl_wire_init(w);
    assert_int_equal(pl_wire_put_raw(w, src->data, src->len), 0);
    for (size_t i = 0; i < src->nrefs; i++) {
        size_t idx;
        assert_int_equal(pl_wire_add_ref(w, src->refs[i], &idx), 0);
    }
    int nops = below(3) ? 1 : 2 + (int)below(3); /* mostly one: more mutants stay valid */
    for (int op = 0; op < nops; op++) {
        size_t len = w->len;
        size_t at = below(len + 1);
        switch (below(9)) {
        case 0: /* flip bits */
            if (len) w->data[below(len)] ^= (unsigned char)(1u << below(8));
            break;
        case 1: /* random byte */
            if (len) w->data[below(len)] = (unsigned char)rnd();
            break;
        case 2: /* magic byte: tags, varint edges */
            if (len) w->data[below(len)] = magic[below(sizeof magic)];
            break;
        case 3: /* truncate */
            w->len = below(len + 1);
            break;
        case 4: { /* insert random bytes */
            size_t n = 1 + below(8);
            unsigned char buf[8];
            for (size_t i = 0; i < n; i++)
                buf[i] = below(2) ? magic[below(sizeof magic)] : (unsigned char)rnd();
            assert_int_equal(pl_wire_reserve(w, n), 0);
            memmove(w->data + at + n, w->data + at, len - at);
            memcpy(w->data + at, buf, n);
            w->len += n;
            break;
        }
        case 5: { /* delete a range */
            size_t n = below(len - at + 1);
            if (n > 16) n = 16;
            memmove(w->data + at, w->data + at + n, len - at - n);
            w->len -= n;
            break;
        }
        case 6: { /* duplicate a range in place */
            size_t n = below(len - at + 1);
            if (n > 32) n = 32;
            assert_int_equal(pl_wire_reserve(w, n), 0);
            memmove(w->data + at + n, w->data + at, len - at);
            w->len += n;
            break;
        }
        case 7: /* a large value where a count or length may be */
            if (len >= 4) {
                size_t p = below(len - 3);
                uint32_t big = below(2) ? 0xffffffffu : (uint32_t)rnd();
                pl_wire_store_u32(w->data + p, big);
            }
            break;
        default: { /* splice: our head, another wire's tail */
            const pl_wire *o = &corpus[below(NCORPUS)];
            size_t from = below(o->len + 1);
            w->len = at;
            assert_int_equal(pl_wire_put_raw(w, o->data + from, o->len - from), 0);
            break;
        }
        }
    }
}

/* ---- checks on a successful decode ---- */

/* Walks the values (every table reachable, cycles included) and counts
 * what it saw, so a broken table would show up here. */
static const char walker_src[] = "local seen, count = {}, 0\n"
                                 "local function walk(v)\n"
                                 "  count = count + 1\n"
                                 "  if type(v) == 'table' and not seen[v] then\n"
                                 "    seen[v] = true\n"
                                 "    for k, x in pairs(v) do walk(k) walk(x) end\n"
                                 "    local _ = #v\n"
                                 "  elseif type(v) == 'string' then local _ = #v\n"
                                 "  end\n"
                                 "end\n"
                                 "for i = 1, select('#', ...) do walk((select(i, ...))) end\n"
                                 "return count\n";

static void check_values(lua_State *L, int n)
{
    /* re-encode and decode again: decoded data must be transferable */
    pl_wire again;
    char err[512];
    pl_wire_init(&again);
    int top = lua_gettop(L);
    if (pl_transfer_encode(L, top - n + 1, n, NULL, &again, err, sizeof err) != 0)
        fail_msg("decoded values do not re-encode: %s", err);
    int got;
    if (pl_transfer_decode(L, &again, 0, &got, err, sizeof err) != 0)
        fail_msg("re-encoded values do not decode: %s", err);
    assert_int_equal(got, n);
    lua_pop(L, got);
    pl_wire_free(&again);

    if (luaL_loadstring(L, walker_src) != LUA_OK) fail_msg("%s", lua_tostring(L, -1));
    lua_insert(L, top - n + 1);
    if (lua_pcall(L, n, 1, 0) != LUA_OK)
        fail_msg("walking decoded values: %s", lua_tostring(L, -1));
    lua_pop(L, 1);
    assert_int_equal(lua_gettop(L), top - n);
}

static void fuzz(void **state)
{
    (void)state;
    int destroyed0 = atomic_load(&destroyed);
    tobj *o1 = malloc(sizeof *o1), *o2 = malloc(sizeof *o2);
    pl_shared_init(&o1->base, &tobj_type);
    pl_shared_init(&o2->base, &tobj_type);
    build_corpus(o1, o2);

    /* every corpus entry decodes untouched (except functions, refused) */
    for (size_t i = 0; i < NCORPUS; i++) {
        lua_State *L = newvm();
        int n;
        char err[512];
        int rc = pl_transfer_decode(L, &corpus[i], 0, &n, err, sizeof err);
        if (strstr(corpus_src[i], "function"))
            assert_int_equal(rc, PL_EMALFORMED);
        else if (rc != 0)
            fail_msg("corpus %zu: %s", i, err);
        lua_close(L);
    }

    long ok = 0, refused = 0;
    lua_State *L = NULL;
    for (long it = 0; it < iterations; it++) {
        pl_wire w;
        make_mutant(&w);
        /* a fresh VM, except that some decodes go into a VM that already
         * holds values, which must stay put */
        if (!L || below(4) != 0) {
            if (L) lua_close(L);
            L = newvm();
        }
        lua_pushliteral(L, "sentinel");
        int top = lua_gettop(L);
        int n = -1;
        char err[256];
        memset(err, 0, sizeof err);
        int rc = pl_transfer_decode(L, &w, 0, &n, err, sizeof err);
        if (rc == 0) {
            ok++;
            assert_true(n >= 0);
            assert_int_equal(lua_gettop(L), top + n);
            check_values(L, n);
        } else {
            refused++;
            assert_true(rc == PL_EMALFORMED || rc == PL_ENOMEM);
            assert_int_equal(n, 0);
            assert_int_equal(lua_gettop(L), top);
            assert_true(err[0] != 0 && memchr(err, 0, sizeof err) != NULL);
        }
        assert_string_equal(lua_tostring(L, -1), "sentinel");
        lua_pop(L, 1);
        if (it % 64 == 0) lua_gc(L, LUA_GCCOLLECT);
        pl_wire_free(&w);
    }
    if (L) lua_close(L);
    printf("fuzz: %ld iterations, %ld decoded, %ld refused\n", iterations, ok, refused);
    assert_true(ok > 0 && refused > 0);

    for (size_t i = 0; i < NCORPUS; i++)
        pl_wire_free(&corpus[i]);
    /* every reference taken by wires and proxies has been given back */
    assert_int_equal(atomic_load(&o1->base.refs), 1);
    assert_int_equal(atomic_load(&o2->base.refs), 1);
    pl_shared_release(&o1->base);
    pl_shared_release(&o2->base);
    assert_int_equal(atomic_load(&destroyed), destroyed0 + 2);
}

int main(int argc, char **argv)
{
    if (argc > 1) iterations = strtol(argv[1], NULL, 10);
    if (argc > 2) seed = strtoull(argv[2], NULL, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
