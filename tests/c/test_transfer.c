/*
 * The transfer codec (src/engine/transfer_encode.c) and its wire (src/core/wire.h):
 * two lua_States stand for two VMs; values go from one to the other only
 * through pl_transfer_encode / pl_transfer_decode, as in the runtime.
 */
#include <math.h>
#include <pthread.h>
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

static const pl_transfer_origin SEND = {"SendMessage", 2};

/* ---- a tiny shared object type ---- */

typedef struct tobj {
    pl_shared base;
    int value;
} tobj;

static atomic_int destroyed;

static void tobj_destroy(pl_shared *obj)
{
    atomic_fetch_add(&destroyed, 1);
    free(obj);
}

static const pl_shared_type tobj_type = {"TestObject", "parlua.test.TestObject", tobj_destroy,
                                         NULL};

static tobj *tobj_new(int value)
{
    tobj *o = malloc(sizeof *o);
    assert_non_null(o);
    pl_shared_init(&o->base, &tobj_type);
    o->value = value;
    return o;
}

static size_t refs_of(tobj *o)
{
    return atomic_load(&o->base.refs);
}

/* ---- helpers ---- */

static lua_State *newvm(int with_tobj)
{
    lua_State *L = luaL_newstate();
    assert_non_null(L);
    /* no VM (pl_ctx_of NULL): proxies' finalizers then touch none */
    *(void **)lua_getextraspace(L) = NULL;
    luaL_openlibs(L);
    if (with_tobj) {
        pl_proxy_newmetatable(L, &tobj_type);
        lua_pop(L, 1);
    }
    return L;
}

typedef struct vms {
    lua_State *A, *B;
} vms;

static int setup(void **state)
{
    vms *v = malloc(sizeof *v);
    v->A = newvm(1);
    v->B = newvm(1);
    *state = v;
    return 0;
}

static int teardown(void **state)
{
    vms *v = *state;
    lua_close(v->A);
    lua_close(v->B);
    free(v);
    return 0;
}

/* Runs code in L; its results stay on the stack; returns their count. */
static int run(lua_State *L, const char *code)
{
    int top = lua_gettop(L);
    if (luaL_loadbuffer(L, code, strlen(code), "=sender") != LUA_OK ||
        lua_pcall(L, 0, LUA_MULTRET, 0) != LUA_OK)
        fail_msg("Lua error: %s", lua_tostring(L, -1));
    return lua_gettop(L) - top;
}

/* Runs check in L with the n values on top as its ...; pops them. */
static void check(lua_State *L, int n, const char *code)
{
    int top = lua_gettop(L) - n;
    if (luaL_loadbuffer(L, code, strlen(code), "=check") != LUA_OK)
        fail_msg("bad check: %s", lua_tostring(L, -1));
    lua_insert(L, -(n + 1));
    if (lua_pcall(L, n, 0, 0) != LUA_OK) fail_msg("check failed: %s", lua_tostring(L, -1));
    assert_int_equal(lua_gettop(L), top);
}

/* Moves the n values on top of A to B through a wire; returns how many
 * values B received. A's stack loses the values. */
static int send(lua_State *A, int n, lua_State *B)
{
    pl_wire w;
    char err[512];
    pl_wire_init(&w);
    int topA = lua_gettop(A), topB = lua_gettop(B);
    if (pl_transfer_encode(A, topA - n + 1, n, &SEND, &w, err, sizeof err) != 0)
        fail_msg("encode: %s", err);
    assert_int_equal(lua_gettop(A), topA);
    lua_pop(A, n);
    int got = -1;
    if (pl_transfer_decode(B, &w, 1, &got, err, sizeof err) != 0) fail_msg("decode: %s", err);
    assert_int_equal(lua_gettop(B), topB + got);
    pl_wire_free(&w);
    return got;
}

/* Runs src in A, sends its results to B and runs chk there. */
static void roundtrip(vms *v, const char *src, const char *chk)
{
    int n = run(v->A, src);
    int got = send(v->A, n, v->B);
    assert_int_equal(got, n);
    check(v->B, got, chk);
}

/* Encoding the results of src in A must fail with a message containing
 * each of the NULL-terminated strings; nothing may change. */
static void expect_encode_error(lua_State *A, const char *src, ...)
{
    int top = lua_gettop(A);
    int n = run(A, src);
    pl_wire w;
    char err[512] = "";
    pl_wire_init(&w);
    assert_int_equal(pl_transfer_encode(A, top + 1, n, &SEND, &w, err, sizeof err), PL_EINVAL);
    assert_int_equal(w.len, 0);
    assert_int_equal(w.nrefs, 0);
    assert_int_equal(lua_gettop(A), top + n);
    va_list ap;
    va_start(ap, src);
    for (const char *s; (s = va_arg(ap, const char *));)
        if (!strstr(err, s)) fail_msg("error \"%s\" lacks \"%s\"", err, s);
    va_end(ap);
    lua_settop(A, top);
    pl_wire_free(&w);
}

/* ---- the wire itself ---- */

static void test_wire_varints(void **state)
{
    (void)state;
    static const uint64_t u[] = {
        0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, (uint64_t)1 << 63, UINT64_MAX};
    static const int64_t s[] = {0, -1, 1, -64, 63, 64, INT32_MIN, INT64_MAX, INT64_MIN};
    pl_wire w;
    pl_wire_init(&w);
    for (size_t i = 0; i < sizeof u / sizeof *u; i++)
        assert_int_equal(pl_wire_put_varint(&w, u[i]), 0);
    for (size_t i = 0; i < sizeof s / sizeof *s; i++)
        assert_int_equal(pl_wire_put_int(&w, s[i]), 0);
    assert_int_equal(pl_wire_put_double(&w, -0.0), 0);
    assert_int_equal(pl_wire_put_bytes(&w, "a\0b", 3), 0);
    pl_wire_reader r;
    pl_wire_reader_init(&r, &w);
    for (size_t i = 0; i < sizeof u / sizeof *u; i++) {
        uint64_t x;
        assert_int_equal(pl_wire_get_varint(&r, &x), 0);
        assert_true(x == u[i]);
    }
    for (size_t i = 0; i < sizeof s / sizeof *s; i++) {
        int64_t x;
        assert_int_equal(pl_wire_get_int(&r, &x), 0);
        assert_true(x == s[i]);
    }
    double d;
    assert_int_equal(pl_wire_get_double(&r, &d), 0);
    assert_true(d == 0 && signbit(d));
    const unsigned char *p;
    size_t n;
    assert_int_equal(pl_wire_get_bytes(&r, &p, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(p, "a\0b", 3);
    assert_int_equal(pl_wire_remaining(&r), 0);
    unsigned b;
    assert_int_equal(pl_wire_get_u8(&r, &b), PL_EMALFORMED);
    pl_wire_free(&w);
    assert_null(w.data);
}

static void test_wire_reader_bounds(void **state)
{
    (void)state;
    pl_wire w;
    pl_wire_init(&w);
    pl_wire_reader r;
    uint64_t x;
    double d;
    const unsigned char *p;
    size_t n;
    pl_shared *obj;

    /* empty */
    pl_wire_reader_init(&r, &w);
    assert_int_equal(pl_wire_get_varint(&r, &x), PL_EMALFORMED);
    assert_int_equal(pl_wire_get_double(&r, &d), PL_EMALFORMED);

    /* a varint cut short, one of 11 bytes, one whose 10th byte overflows */
    static const unsigned char cut[] = {0x80, 0x80};
    static const unsigned char eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                           0x80, 0x80, 0x80, 0x80, 0x01};
    static const unsigned char over[] = {0xff, 0xff, 0xff, 0xff, 0xff,
                                         0xff, 0xff, 0xff, 0xff, 0x02};
    static const unsigned char max[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    const struct {
        const unsigned char *b;
        size_t n;
        int ok;
    } cases[] = {{cut, sizeof cut, 0},
                 {eleven, sizeof eleven, 0},
                 {over, sizeof over, 0},
                 {max, sizeof max, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        pl_wire_reset(&w);
        assert_int_equal(pl_wire_put_raw(&w, cases[i].b, cases[i].n), 0);
        pl_wire_reader_init(&r, &w);
        assert_int_equal(pl_wire_get_varint(&r, &x), cases[i].ok ? PL_OK : PL_EMALFORMED);
        if (cases[i].ok)
            assert_true(x == UINT64_MAX);
        else
            assert_int_equal(pl_wire_offset(&r), 0); /* a failed read does not move */
    }

    /* a length larger than what is left, a huge length */
    pl_wire_reset(&w);
    assert_int_equal(pl_wire_put_varint(&w, 5), PL_OK);
    assert_int_equal(pl_wire_put_raw(&w, "abc", 3), PL_OK);
    pl_wire_reader_init(&r, &w);
    assert_int_equal(pl_wire_get_bytes(&r, &p, &n), PL_EMALFORMED);
    assert_int_equal(pl_wire_offset(&r), 0);
    pl_wire_reset(&w);
    assert_int_equal(pl_wire_put_varint(&w, UINT64_MAX), PL_OK);
    pl_wire_reader_init(&r, &w);
    assert_int_equal(pl_wire_get_bytes(&r, &p, &n), PL_EMALFORMED);
    assert_int_equal(pl_wire_get_raw(&r, SIZE_MAX, &p), PL_EMALFORMED);

    /* a reference index past refs */
    pl_wire_reset(&w);
    assert_int_equal(pl_wire_put_varint(&w, 0), PL_OK);
    pl_wire_reader_init(&r, &w);
    assert_int_equal(pl_wire_get_ref(&r, &obj), PL_EMALFORMED);
    tobj *o = tobj_new(1);
    size_t idx;
    assert_int_equal(pl_wire_add_ref(&w, &o->base, &idx), 0);
    assert_int_equal(idx, 0);
    assert_int_equal(refs_of(o), 2);
    pl_wire_reader_init(&r, &w);
    assert_int_equal(pl_wire_get_ref(&r, &obj), 0);
    assert_ptr_equal(obj, &o->base);
    pl_wire_free(&w);
    assert_int_equal(refs_of(o), 1);
    int before = atomic_load(&destroyed);
    pl_shared_release(&o->base);
    assert_int_equal(atomic_load(&destroyed), before + 1);
}

/* The documented format, byte for byte, for a message of scalars. */
static void test_wire_format(void **state)
{
    vms *v = *state;
    int n = run(v->A, "return 1, 'a', true, nil, 1.0, -2, false");
    pl_wire w;
    char err[256];
    pl_wire_init(&w);
    assert_int_equal(pl_transfer_encode(v->A, -n, n, &SEND, &w, err, sizeof err), 0);
    /* clang-format off */
    static const unsigned char want[] = {
        7,                                                    /* count */
        PL_WIRE_INT, 2,                                       /* 1, zigzag */
        PL_WIRE_STRING, 1, 'a', PL_WIRE_TRUE, PL_WIRE_NIL,    /* 'a', true, nil */
        PL_WIRE_FLOAT, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f,          /* 1.0 */
        PL_WIRE_INT, 3,                                       /* -2, zigzag */
        PL_WIRE_FALSE,
    };
    /* clang-format on */
    assert_int_equal(w.len, sizeof want);
    assert_memory_equal(w.data, want, sizeof want);
    lua_pop(v->A, n);
    pl_wire_free(&w);
}

/* ---- round trips ---- */

static void test_scalars(void **state)
{
    vms *v = *state;
    roundtrip(v,
              "return nil, true, false, 1, 1.0, -0.0, 1/0, -1/0, 0/0, math.maxinteger, "
              "math.mininteger, 2^53, 'a\\0b\\0', '', 3.25, nil",
              "local a = table.pack(...)\n"
              "assert(a.n == 16)\n"
              "assert(a[1] == nil and a[2] == true and a[3] == false)\n"
              "assert(math.type(a[4]) == 'integer' and a[4] == 1)\n"
              "assert(math.type(a[5]) == 'float' and a[5] == 1)\n"
              "assert(a[6] == 0 and 1 / a[6] == -1/0)\n"
              "assert(a[7] == 1/0 and a[8] == -1/0)\n"
              "assert(a[9] ~= a[9])\n"
              "assert(a[10] == math.maxinteger and a[11] == math.mininteger)\n"
              "assert(math.type(a[12]) == 'float' and a[12] == 2^53)\n"
              "assert(a[13] == 'a\\0b\\0' and #a[13] == 4 and a[14] == '')\n"
              "assert(a[15] == 3.25 and a[16] == nil)\n");
    /* an empty message */
    assert_int_equal(send(v->A, 0, v->B), 0);
}

/* NaN payloads and the sign bit survive: the double goes as raw bits. */
static void test_float_bits(void **state)
{
    vms *v = *state;
    static const uint64_t bits[] = {0x7ff8000000000001u, 0xfff0000000000000u, 0x8000000000000000u,
                                    0x0000000000000001u, 0x7ff4000000000abcu};
    for (size_t i = 0; i < sizeof bits / sizeof *bits; i++) {
        double d;
        memcpy(&d, &bits[i], sizeof d);
        lua_pushnumber(v->A, d);
        assert_int_equal(send(v->A, 1, v->B), 1);
        assert_true(lua_type(v->B, -1) == LUA_TNUMBER && !lua_isinteger(v->B, -1));
        double got = lua_tonumber(v->B, -1);
        assert_memory_equal(&got, &d, sizeof d);
        lua_pop(v->B, 1);
    }
}

static void test_big_string(void **state)
{
    vms *v = *state;
    roundtrip(v, "return string.rep('x\\0y', 400000)",
              "local s = ... assert(#s == 1200000 and s == string.rep('x\\0y', 400000))");
}

static void test_nested_tables(void **state)
{
    vms *v = *state;
    roundtrip(v,
              "return {1, 2, 3, nil, 5, x = {y = {z = 'deep'}}, [1.5] = 'f', [true] = 'b',"
              "        [-7] = 'neg', [100] = 'far', list = {'a', 'b', {}}}",
              "local t = ...\n"
              "assert(t[1] == 1 and t[2] == 2 and t[3] == 3 and t[4] == nil and t[5] == 5)\n"
              "assert(t.x.y.z == 'deep' and t[1.5] == 'f' and t[true] == 'b')\n"
              "assert(t[-7] == 'neg' and t[100] == 'far')\n"
              "assert(#t.list == 3 and t.list[1] == 'a' and next(t.list[3]) == nil)\n"
              "local n = 0 for _ in pairs(t) do n = n + 1 end\n"
              "assert(n == 10, n)\n");
}

static void test_shape_kept(void **state)
{
    vms *v = *state;
    /* cycles, one table reached twice, a table as a key of itself, and
     * two arguments that are the same table */
    roundtrip(
        v,
        "local shared = {n = 1}\n"
        "local t = {a = shared, b = shared, list = {shared, shared}}\n"
        "t.self = t\n"
        "local k = {}\n"
        "k[k] = k\n"
        "t.k = k\n"
        "local ring = {} ring.next = {next = {next = ring}}\n"
        "local many = {again = {}}\n"
        "for i = 1, 20 do many[i] = {i} many.again[21 - i] = many[i] end\n"
        "return t, shared, ring, t, many",
        "local t, shared, ring, t2, many = ...\n"
        "for i = 1, 20 do assert(many[i][1] == i and many.again[21 - i] == many[i]) end\n"
        "assert(t.self == t and t2 == t)\n"
        "assert(t.a == t.b and t.a == shared and t.list[1] == shared and t.list[2] == shared)\n"
        "shared.n = 2 assert(t.b.n == 2)\n"
        "local k = t.k assert(k[k] == k)\n"
        "assert(ring.next.next.next == ring)\n");
}

static void test_table_keys(void **state)
{
    vms *v = *state;
    roundtrip(
        v,
        "local k1, k2 = {name = 'one'}, {name = 'two'}\n"
        "return {[k1] = 1, [k2] = 2, [{}] = k1}",
        "local t = ...\n"
        "local seen = {}\n"
        "for k, val in pairs(t) do\n"
        "  assert(type(k) == 'table')\n"
        "  if k.name then seen[k.name] = val else assert(val.name == 'one') seen.x = val end\n"
        "end\n"
        "assert(seen.one == 1 and seen.two == 2)\n"
        "for k, val in pairs(t) do if not k.name then\n"
        "  local found = false\n"
        "  for k2 in pairs(t) do if k2 == val then found = true end end\n"
        "  assert(found, 'the value and the key are the same table')\n"
        "end end\n");
}

static void test_metatable_dropped(void **state)
{
    vms *v = *state;
    roundtrip(v, "return setmetatable({x = 1}, {__index = function() return 'meta' end})",
              "local t = ... assert(getmetatable(t) == nil and t.x == 1 and t.y == nil)");
}

static void test_globals_table(void **state)
{
    vms *v = *state;
    roundtrip(v, "return _G, {g = _G}", "local g, t = ... assert(g == _G and t.g == _G)");
}

/* ---- functions ---- */

static void test_closure_counter(void **state)
{
    vms *v = *state;
    run(v->A, "local n = 10\n"
              "counter = function() n = n + 1 return n end\n"
              "counter()\n");
    int n = run(v->A, "return counter");
    assert_int_equal(send(v->A, n, v->B), 1);
    check(v->B, 1,
          "local f = ...\n"
          "assert(f() == 12 and f() == 13)\n");
    /* a copy: the sender's counter goes on from its own state */
    n = run(v->A, "return counter()");
    assert_int_equal(lua_tointeger(v->A, -1), 12);
    lua_pop(v->A, n);
}

static void test_shared_upvalue(void **state)
{
    vms *v = *state;
    roundtrip(v,
              "local n = 5\n"
              "local function inc() n = n + 1 end\n"
              "local function get() return n end\n"
              "local other = 0\n"
              "local function bump() other = other + 1 return other end\n"
              "return inc, get, {get = get, bump = bump}",
              "local inc, get, t = ...\n"
              "assert(get() == 5)\n"
              "inc() inc()\n"
              "assert(get() == 7 and t.get == get and t.get() == 7)\n"
              "assert(t.bump() == 1 and t.bump() == 2 and get() == 7)\n");
}

/* More upvalues than the encoder keeps in its struct before it makes an
 * identity table: shares found on both sides of that move. */
static void test_many_shared_upvalues(void **state)
{
    vms *v = *state;
    roundtrip(v,
              "local a, b, c, d, e, f, g, h, i, j = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10\n"
              "local function all() return a + b + c + d + e + f + g + h + i + j end\n"
              "local function set(x) a, j = x, x end\n"
              "return all, set",
              "local all, set = ...\n"
              "assert(all() == 55)\n"
              "set(100) assert(all() == 55 - 1 - 10 + 200)\n");
    /* tables past the stack slots make the identity table while the
     * upvalue ids are still in the struct */
    roundtrip(v,
              "local n = 0\n"
              "local t = {{}, {}, {}, {}, {}, {}, {}, {}, {}, {}}\n"
              "local function inc() n = n + 1 return t end\n"
              "local function get() return n end\n"
              "return inc, get",
              "local inc, get = ...\n"
              "assert(#inc() == 10 and get() == 1 and get() == 1)\n"
              "inc() assert(get() == 2)\n");
}

/* The upvalue is first met in one function, and the other function that
 * shares it is reached through that upvalue's own value. */
static void test_upvalue_joined_from_inside(void **state)
{
    vms *v = *state;
    roundtrip(v,
              "local state = {}\n"
              "local function get() return state end\n"
              "local function set(x) state = x end\n"
              "state.get = get\n"
              "return set",
              "local set = ...\n"
              "local get\n"
              "for i = 1, 3 do local n, val = debug.getupvalue(set, i)\n"
              "  if n == 'state' then get = val.get end end\n"
              "assert(get and get().get == get)\n"
              "set(5) assert(get() == 5)\n");
}

static void test_recursive_function(void **state)
{
    vms *v = *state;
    roundtrip(v,
              "local function fact(n) if n <= 1 then return 1 end return n * fact(n - 1) end\n"
              "local even, odd\n"
              "function even(n) if n == 0 then return true end return odd(n - 1) end\n"
              "function odd(n) if n == 0 then return false end return even(n - 1) end\n"
              "return fact, even",
              "local fact, even = ...\n"
              "assert(fact(10) == 3628800)\n"
              "assert(even(10) == true and even(7) == false)\n");
}

static void test_env_is_receiver_globals(void **state)
{
    vms *v = *state;
    run(v->B, "where = 'B'");
    roundtrip(v,
              "where = 'A'\n"
              "return function() return where end, function(x) written = x end",
              "local get, set = ...\n"
              "assert(get() == 'B')\n"
              "set(42) assert(written == 42)\n");
    int n = run(v->A, "return written");
    assert_true(lua_isnil(v->A, -1)); /* the sender's globals did not change */
    lua_pop(v->A, n);
}

static void test_function_line_info(void **state)
{
    vms *v = *state;
    roundtrip(v,
              "local x = 1\n"
              "return function()\n"
              "  error('boom')\n"
              "end",
              "local f = ...\n"
              "local ok, msg = pcall(f)\n"
              "assert(not ok and msg:find('sender:3: boom', 1, true), msg)\n");
}

static void test_stdlib_functions(void **state)
{
    vms *v = *state;
    roundtrip(
        v,
        "return print, math.sin, string.format, require, {f = table.concat, g = io.write},"
        "  function(x) return string.format('%.1f', math.sin(x)) end, coroutine.wrap, "
        "  select",
        "local p, s, f, r, t, user, w, sel = ...\n"
        "assert(rawequal(p, print) and rawequal(s, math.sin) and rawequal(f, string.format))\n"
        "assert(rawequal(r, require) and rawequal(t.f, table.concat) and rawequal(t.g, io.write))\n"
        "assert(rawequal(w, coroutine.wrap) and rawequal(sel, select))\n"
        "assert(user(0) == '0.0')\n");
    /* the receiver resolves names itself: its own replacement wins */
    run(v->B, "local orig = string.format; string.format = function(...) return 'mine' end");
    roundtrip(v, "return string.format", "local f = ... assert(f() == 'mine')");
}

/* An alias made by the sender does not rename a standard function: the
 * receiver has no such alias. */
static void test_stdlib_alias(void **state)
{
    vms *v = *state;
    static const char *alias = "package.loaded.%s = {len = string.len, p = print, t = tostring}\n"
                               "_G.slen = string.len";
    char code[256];
    static const char *const names[] = {"aalias", "zalias", "mmm", "_Z", "a1"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(code, sizeof code, alias, names[i]);
        run(v->A, code);
    }
    roundtrip(v, "return string.len, print, tostring, slen",
              "local len, p, t, slen = ...\n"
              "assert(rawequal(len, string.len) and rawequal(p, print))\n"
              "assert(rawequal(t, tostring) and rawequal(slen, string.len))");
}

static void test_stdlib_missing_in_receiver(void **state)
{
    vms *v = *state;
    run(v->B, "package.loaded.io = nil");
    int n = run(v->A, "return io.write");
    pl_wire w;
    char err[512];
    pl_wire_init(&w);
    assert_int_equal(pl_transfer_encode(v->A, -1, n, &SEND, &w, err, sizeof err), 0);
    int top = lua_gettop(v->B), got = 7;
    assert_int_equal(pl_transfer_decode(v->B, &w, 1, &got, err, sizeof err), PL_EMALFORMED);
    assert_int_equal(got, 0);
    assert_non_null(strstr(err, "function 'io.write' is not available in the receiving VM"));
    assert_int_equal(lua_gettop(v->B), top);
    lua_pop(v->A, n);
    pl_wire_free(&w);
}

static int not_in_stdlib(lua_State *L)
{
    return lua_gettop(L);
}

/* A library loaded after the sender built its map is still found by name. */
static void test_stdlib_map_refresh(void **state)
{
    vms *v = *state;
    roundtrip(v, "return print", "assert(rawequal(..., print))");
    lua_State *Ls[2] = {v->A, v->B};
    for (int i = 0; i < 2; i++) {
        lua_getfield(Ls[i], LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
        lua_newtable(Ls[i]);
        lua_pushcfunction(Ls[i], not_in_stdlib);
        lua_setfield(Ls[i], -2, "f");
        lua_setfield(Ls[i], -2, "mylib");
        lua_pop(Ls[i], 1);
    }
    roundtrip(v, "return package.loaded.mylib.f", "assert(rawequal(..., package.loaded.mylib.f))");
}

/* A global C function crosses by name (package.loaded._G is scanned too);
 * a receiver without that global refuses the message. */
static void test_global_cfunction(void **state)
{
    vms *v = *state;
    lua_pushcfunction(v->A, not_in_stdlib);
    lua_setglobal(v->A, "custom");
    int n = run(v->A, "return custom");
    pl_wire w;
    char err[512];
    pl_wire_init(&w);
    assert_int_equal(pl_transfer_encode(v->A, -1, n, &SEND, &w, err, sizeof err), 0);
    lua_pop(v->A, n);
    int got;
    assert_int_equal(pl_transfer_decode(v->B, &w, 1, &got, err, sizeof err), PL_EMALFORMED);
    assert_non_null(strstr(err, "function 'custom' is not available in the receiving VM"));
    assert_int_equal(lua_gettop(v->B), 0);
    lua_pushcfunction(v->B, not_in_stdlib);
    lua_setglobal(v->B, "custom");
    assert_int_equal(pl_transfer_decode(v->B, &w, 1, &got, err, sizeof err), 0);
    check(v->B, got, "assert(rawequal(..., custom))");
    pl_wire_free(&w);
}

/* ---- shared objects ---- */

static void test_shared_object(void **state)
{
    (void)state;
    int before = atomic_load(&destroyed);
    lua_State *A = newvm(1), *B = newvm(1), *C = newvm(0);
    tobj *o = tobj_new(7);
    pl_proxy_push(A, &o->base);
    lua_setglobal(A, "obj");
    assert_int_equal(refs_of(o), 2); /* ours, A's proxy */

    int n = run(A, "return obj, {a = obj, b = {obj}}");
    pl_wire w;
    char err[512];
    pl_wire_init(&w);
    assert_int_equal(pl_transfer_encode(A, -n, n, &SEND, &w, err, sizeof err), 0);
    lua_pop(A, n);
    assert_true(w.nrefs >= 1);
    size_t wire_refs = w.nrefs;
    assert_int_equal(refs_of(o), 2 + wire_refs);

    /* decoded twice into B: one proxy there, the same object */
    for (int k = 0; k < 2; k++) {
        int got;
        assert_int_equal(pl_transfer_decode(B, &w, 1, &got, err, sizeof err), 0);
        assert_int_equal(got, 2);
        assert_ptr_equal(pl_proxy_to(B, -2), &o->base);
        assert_ptr_equal(pl_proxy_test(B, -2, &tobj_type), &o->base);
        check(B, 2,
              "local o, t = ...\n"
              "assert(type(o) == 'userdata' and t.a == o and t.b[1] == o)\n"
              "held = o\n");
    }
    assert_int_equal(refs_of(o), 3 + wire_refs);

    /* a VM that does not know the type refuses it and pushes nothing */
    int got = 5, top = lua_gettop(C);
    assert_int_equal(pl_transfer_decode(C, &w, 1, &got, err, sizeof err), PL_EMALFORMED);
    assert_non_null(strstr(err, "TestObject"));
    assert_int_equal(lua_gettop(C), top);
    lua_close(C);

    /* a failed encode gives back the references it took */
    n = run(A, "return obj, coroutine.create(print)");
    pl_wire w2;
    pl_wire_init(&w2);
    assert_int_equal(pl_transfer_encode(A, -n, n, &SEND, &w2, err, sizeof err), PL_EINVAL);
    assert_int_equal(w2.nrefs, 0);
    assert_int_equal(refs_of(o), 3 + wire_refs);
    lua_pop(A, n);
    pl_wire_free(&w2);

    lua_close(A);
    lua_close(B);
    assert_int_equal(refs_of(o), 1 + wire_refs);
    pl_wire_free(&w);
    assert_int_equal(refs_of(o), 1);
    assert_int_equal(atomic_load(&destroyed), before);
    pl_shared_release(&o->base);
    assert_int_equal(atomic_load(&destroyed), before + 1);
}

/* ---- refusals ---- */

static void test_errors(void **state)
{
    vms *v = *state;
    lua_State *A = v->A;
    expect_encode_error(A, "return coroutine.create(print)",
                        "cannot transfer a value of type 'thread' (argument 2 to SendMessage): ",
                        "coroutine", NULL);
    expect_encode_error(A, "return 1, 2, coroutine.create(print)",
                        "cannot transfer a value of type 'thread' (argument 4 to SendMessage)",
                        NULL);
    expect_encode_error(A, "return {co = coroutine.create(print)}",
                        "cannot transfer a value of type 'thread' (argument 2 to SendMessage, at "
                        "key 'co')",
                        NULL);
    expect_encode_error(A, "return {1, 2, {x = coroutine.create(print)}}",
                        "(argument 2 to SendMessage, at [3].x)", NULL);
    expect_encode_error(A, "return {a = {['b c'] = {[7] = io.stdout}}}",
                        "type 'userdata' (argument 2 to SendMessage, at a[\"b c\"][7])", NULL);
    expect_encode_error(A, "local co = coroutine.create(print) return function() return co end",
                        "(argument 2 to SendMessage, at upvalue 'co')", NULL);
    expect_encode_error(A,
                        "local co = coroutine.create(print)\n"
                        "return {f = function() return co end}",
                        "(argument 2 to SendMessage, at f, upvalue 'co')", NULL);
    expect_encode_error(A, "return {[coroutine.create(print)] = 1}", "at [<key>]", NULL);
    expect_encode_error(A, "return io.stdout",
                        "cannot transfer a value of type 'userdata' (argument 2 to SendMessage): "
                        "this FILE* userdata belongs to the VM that made it; send a SharedTable "
                        "reference or plain data instead",
                        NULL);

    /* a C function that is not a library function (holder is not a library) */
    lua_newtable(A);
    lua_pushcfunction(A, not_in_stdlib);
    lua_setfield(A, -2, "cb");
    lua_setglobal(A, "holder");
    expect_encode_error(A, "return {cb = holder.cb}",
                        "cannot transfer a value of type 'function' (argument 2 to SendMessage, at "
                        "key 'cb'): it is a C function",
                        NULL);
    lua_pushlightuserdata(A, &destroyed);
    lua_setglobal(A, "ptr");
    expect_encode_error(A, "return ptr", "type 'light userdata' (argument 2 to SendMessage)", NULL);

    /* the exact text for the simplest case, and without an origin */
    int top = lua_gettop(A);
    lua_newthread(A);
    pl_wire w;
    char err[512];
    pl_wire_init(&w);
    assert_int_equal(pl_transfer_encode(A, -1, 1, &SEND, &w, err, sizeof err), PL_EINVAL);
    assert_string_equal(err, "cannot transfer a value of type 'thread' (argument 2 to "
                             "SendMessage): a coroutine cannot leave its VM; send the data it "
                             "needs and create the coroutine in the receiving VM");
    assert_int_equal(pl_transfer_encode(A, -1, 1, NULL, &w, err, sizeof err), PL_EINVAL);
    assert_non_null(strstr(err, "type 'thread' (value 1)"));
    /* a tiny error buffer is still terminated */
    char small[8];
    assert_int_equal(pl_transfer_encode(A, -1, 1, &SEND, &w, small, sizeof small), PL_EINVAL);
    assert_int_equal(strlen(small), 7);
    lua_settop(A, top);
    pl_wire_free(&w);
}

static void test_depth(void **state)
{
    vms *v = *state;
    lua_State *A = v->A, *B = v->B;
    static const char *chain = "local root = {} local t = root\n"
                               "for i = 2, %d do local c = {} t[1] = c t = c end\n"
                               "return root";
    char code[256];
    /* exactly the limit passes */
    snprintf(code, sizeof code, chain, PL_TRANSFER_MAX_DEPTH);
    int n = run(A, code);
    assert_int_equal(send(A, n, B), 1);
    lua_pop(B, 1);
    /* one more fails, in tables, keys and functions alike */
    snprintf(code, sizeof code, chain, PL_TRANSFER_MAX_DEPTH + 1);
    expect_encode_error(A, code, "nested deeper than 200 levels",
                        "(argument 2 to SendMessage, at ...", "[1][1]", NULL);
    expect_encode_error(A,
                        "local root = {} local t = root\n"
                        "for i = 1, 10000 do local c = {} t[1] = c t = c end\n"
                        "return 'x', root",
                        "nested deeper than 200 levels", "(argument 3 to SendMessage", NULL);
    expect_encode_error(A,
                        "local root = {} local t = root\n"
                        "for i = 1, 10000 do local c = {} t[c] = true t = c end\n"
                        "return root",
                        "nested deeper than 200 levels", NULL);
    expect_encode_error(A,
                        "local f = function() return 0 end\n"
                        "for i = 1, 300 do local g = f f = function() return g() + 1 end end\n"
                        "return f",
                        "nested deeper than 200 levels", "upvalue 'g'", NULL);
    assert_int_equal(lua_gettop(A), 0);

    /* the decoder checks depth too: 10000 nested TABLE records by hand */
    pl_wire w;
    pl_wire_init(&w);
    assert_int_equal(pl_wire_put_varint(&w, 1), PL_OK);
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(pl_wire_put_u8(&w, PL_WIRE_TABLE), PL_OK);
        assert_int_equal(pl_wire_put_varint(&w, 1), PL_OK);
        assert_int_equal(pl_wire_put_u32(&w, 0), PL_OK);
    }
    assert_int_equal(pl_wire_put_u8(&w, PL_WIRE_NIL), PL_OK);
    char err[256];
    int got;
    assert_int_equal(pl_transfer_decode(B, &w, 1, &got, err, sizeof err), PL_EMALFORMED);
    assert_non_null(strstr(err, "nesting deeper than 200 levels"));
    assert_int_equal(lua_gettop(B), 0);
    pl_wire_free(&w);
}

static void test_untrusted_refuses_functions(void **state)
{
    vms *v = *state;
    int n = run(v->A, "return 1, {f = function() return 1 end}");
    pl_wire w;
    char err[256];
    pl_wire_init(&w);
    assert_int_equal(pl_transfer_encode(v->A, -n, n, &SEND, &w, err, sizeof err), 0);
    lua_pop(v->A, n);
    int got;
    assert_int_equal(pl_transfer_decode(v->B, &w, 0, &got, err, sizeof err), PL_EMALFORMED);
    assert_non_null(strstr(err, "function"));
    assert_int_equal(lua_gettop(v->B), 0);
    assert_int_equal(pl_transfer_decode(v->B, &w, 1, &got, err, sizeof err), 0);
    assert_int_equal(got, 2);
    lua_settop(v->B, 0);
    pl_wire_free(&w);
}

/* Trusted wires with a valid function but a bad upvalue record: the
 * bytecode is loaded, the records around it are still checked. */
static void test_decode_rejects_bad_upvalues(void **state)
{
    vms *v = *state;
    int n = run(v->A, "local n = 5\n"
                      "local function inc() n = n + 1 end\n"
                      "local function get() return n end\n"
                      "return inc, get");
    pl_wire w;
    char err[256];
    pl_wire_init(&w);
    assert_int_equal(pl_transfer_encode(v->A, -n, n, &SEND, &w, err, sizeof err), 0);
    lua_pop(v->A, n);
    /* get's record ends with nup = 1, JOIN function 0 upvalue 1 */
    size_t end = w.len;
    assert_true(end > 4);
    static const unsigned char tail[] = {1, PL_WIRE_JOIN, 0, 1};
    assert_memory_equal(w.data + end - 4, tail, 4);
    static const struct {
        size_t at; /* offset from the end */
        unsigned char byte;
        const char *msg;
    } cases[] = {{1, 0, "missing upvalue"},      {1, 2, "missing upvalue"},
                 {2, 9, "unknown function"},     {2, 2, "unknown function"},
                 {4, 2, "data gives 2"},         {4, 0, "data gives 0"},
                 {3, PL_WIRE_CFUNC, "truncated"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        unsigned char keep = w.data[end - cases[i].at];
        w.data[end - cases[i].at] = cases[i].byte;
        int got = 3;
        assert_int_equal(pl_transfer_decode(v->B, &w, 1, &got, err, sizeof err), PL_EMALFORMED);
        if (!strstr(err, cases[i].msg))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].msg);
        assert_int_equal(got, 0);
        assert_int_equal(lua_gettop(v->B), 0);
        w.data[end - cases[i].at] = keep;
    }
    /* a join of get's upvalue to itself (id 1) is odd but harmless */
    w.data[end - 2] = 1;
    int got;
    assert_int_equal(pl_transfer_decode(v->B, &w, 1, &got, err, sizeof err), 0);
    lua_settop(v->B, 0);
    pl_wire_free(&w);
}

/* Hand-made bad wires: each is refused with a message, nothing pushed. */
/* pl_transfer_decode_raising (message delivery) gives the same values as
 * pl_transfer_decode: scalars and strings through its own pass, anything
 * else through the protected one. */
/* Encodes the values src returns in A. */
static void encode_src(lua_State *A, const char *src, pl_wire *w)
{
    int n = run(A, src);
    char err[512];
    pl_wire_init(w);
    if (pl_transfer_encode(A, -n, n, &SEND, w, err, sizeof err) != 0) fail_msg("encode: %s", err);
    lua_pop(A, n);
}

/* Decodes w as an lthread's start in B; stores the values as the globals
 * named name1, name2...; returns reach. */
static int decode_start_as(lua_State *B, const pl_wire *w, const char *name)
{
    int n = -1, reach = 0;
    char err[512];
    if (pl_transfer_decode_start(B, w, &n, &reach, err, sizeof err) != 0)
        fail_msg("decode: %s", err);
    for (int i = n; i >= 1; i--) {
        char g[32];
        snprintf(g, sizeof g, "%s%d", name, i);
        lua_setglobal(B, g);
    }
    return reach;
}

/* pl_transfer_decode_start: a start's function comes from the receiving
 * VM's cache when an earlier start loaded the same code and the cache was
 * reset since (that program ended); its upvalues are set anew, and the
 * reset clears them. What reaches the library tables is reported. */
static void test_start_function_cache(void **state)
{
    vms *v = *state;
    lua_State *A = v->A, *B = v->B;
    pl_wire w1, w2, twice, env, cf;
    run(A, "function make(k) return function() return k end end");
    encode_src(A, "return make(1)", &w1);
    encode_src(A, "return make(2)", &w2);
    encode_src(A, "return make(3), make(4)", &twice);
    encode_src(A, "return function() return x end", &env);
    encode_src(A, "return {p = print}", &cf);
    pl_transfer_fncache_open(B);
    assert_int_equal(decode_start_as(B, &w1, "F"), 0); /* loaded, kept: F1 */
    run(B, "first = F1");
    assert_int_equal(decode_start_as(B, &w2, "G"), 0); /* taken already: a new one */
    check(B, 0, "assert(G1 ~= first and G1() == 2 and first() == 1)");
    pl_transfer_fncache_reset(B);
    check(B, 0, "assert(first() == nil, 'the reset cleared its upvalues')");
    assert_int_equal(decode_start_as(B, &w2, "H"), 0);
    check(B, 0, "assert(H1 == first and H1() == 2, 'the cached function, upvalues set anew')");
    pl_transfer_fncache_reset(B);
    decode_start_as(B, &twice, "T");
    check(B, 0, "assert(T1 ~= T2 and T1() == 3 and T2() == 4)");
    assert_int_equal(decode_start_as(B, &env, "E"), 1);
    assert_int_equal(decode_start_as(B, &cf, "C"), 1);
    pl_wire_free(&w1);
    pl_wire_free(&w2);
    pl_wire_free(&twice);
    pl_wire_free(&env);
    pl_wire_free(&cf);
}

static void test_decode_raising(void **state)
{
    vms *v = *state;
    static const char *const sources[] = {
        "return 'a\\0b', '', 42, -0.0, 0.5, true, false, nil, ('x'):rep(5000), math.mininteger",
        "return 'k', {1, 'two', t = {}}, 3",
    };
    static const char *const checks[] = {
        "local a, e, i, z, h, t, f, n, big, m = ...\n"
        "assert(select('#', ...) == 10 and a == 'a\\0b' and #a == 3 and e == '')\n"
        "assert(math.type(i) == 'integer' and i == 42 and 1 / z < 0 and h == 0.5)\n"
        "assert(t == true and f == false and n == nil and big == ('x'):rep(5000))\n"
        "assert(m == math.mininteger)",
        "local k, t, three = ...\n"
        "assert(k == 'k' and t[1] == 1 and t[2] == 'two' and next(t.t) == nil and three == 3)",
    };
    for (size_t i = 0; i < sizeof sources / sizeof *sources; i++) {
        int n = run(v->A, sources[i]);
        pl_wire w;
        char err[512];
        pl_wire_init(&w);
        if (pl_transfer_encode(v->A, -n, n, &SEND, &w, err, sizeof err) != 0)
            fail_msg("encode: %s", err);
        lua_pop(v->A, n);
        int got = -1, top = lua_gettop(v->B);
        if (pl_transfer_decode_raising(v->B, &w, 1, &got, err, sizeof err) != 0)
            fail_msg("decode: %s", err);
        assert_int_equal(got, n);
        assert_int_equal(lua_gettop(v->B), top + n);
        check(v->B, n, checks[i]);
        pl_wire_free(&w);
    }
}

static void test_decode_rejects(void **state)
{
    vms *v = *state;
    static const struct {
        const char *bytes;
        size_t n;
        const char *msg;
    } cases[] = {
        {"", 0, "truncated"},
        {"\x01", 1, "exceeds"},
        {"\x05\x00", 2, "exceeds"}, /* count > what is left */
        {"\x01\x63", 2, "unknown tag 99"},
        {"\x01\x0b\x00\x01", 4, "unknown tag 11"}, /* JOIN outside a function */
        {"\x01\x05\x05"
         "abc",
         6, "truncated"},                      /* string longer than the data */
        {"\x01\x08\x00", 3, "back-reference"}, /* no table yet */
        {"\x01\x06\x00", 3, "shared object"},  /* no refs */
        {"\x01\x07\x00\x01\x00\x00\x00\x00\x01", 9, "invalid table key"},
        {"\x01\x07\x05\x00\x00\x00\x00\x00", 8, "exceed"},
        {"\x01\x07\x00\xff\xff\xff\xff\x00\x00", 9, "exceed"},
        {"\x01\x00\x00", 3, "after the last value"},
        {"\x01\x0c\x04math\x04nope", 12, "'math.nope' is not available"},
        {"\x01\x0c\x02_G\x05nopee", 11, "'nopee' is not available"},
        {"\x01\x04\x00\x00", 4, "truncated"},
    };
    /* both decoders: the raising one has its own pass for strings */
    for (size_t k = 0; k < 2 * (sizeof cases / sizeof *cases); k++) {
        size_t i = k / 2;
        pl_wire w;
        pl_wire_init(&w);
        assert_int_equal(pl_wire_put_raw(&w, cases[i].bytes, cases[i].n), PL_OK);
        char err[256] = "";
        int got = 9;
        int rc = k % 2 ? pl_transfer_decode_raising(v->B, &w, 0, &got, err, sizeof err)
                       : pl_transfer_decode(v->B, &w, 0, &got, err, sizeof err);
        assert_int_equal(rc, PL_EMALFORMED);
        if (!strstr(err, cases[i].msg))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].msg);
        assert_int_equal(got, 0);
        assert_int_equal(lua_gettop(v->B), 0);
        pl_wire_free(&w);
    }
    /* a good hand-made one: {[1] = "x", k = {}} with a cycle */
    static const unsigned char good[] = {1,
                                         PL_WIRE_TABLE,
                                         1,
                                         2,
                                         0,
                                         0,
                                         0,
                                         PL_WIRE_STRING,
                                         1,
                                         'x',
                                         PL_WIRE_STRING,
                                         1,
                                         'k',
                                         PL_WIRE_BACKREF,
                                         0,
                                         PL_WIRE_GLOBALS,
                                         PL_WIRE_CFUNC,
                                         4,
                                         'm',
                                         'a',
                                         't',
                                         'h',
                                         3,
                                         's',
                                         'i',
                                         'n'};
    pl_wire w;
    pl_wire_init(&w);
    assert_int_equal(pl_wire_put_raw(&w, good, sizeof good), PL_OK);
    char err[256];
    int got;
    if (pl_transfer_decode(v->B, &w, 0, &got, err, sizeof err) != 0) fail_msg("%s", err);
    check(v->B, got, "local t = ... assert(t[1] == 'x' and t.k == t and t[_G] == math.sin)");
    pl_wire_free(&w);
}

/* Scalars cost no Lua allocation on either side, and tables no identity
 * table in the receiver beyond what they need. */
static void test_scalars_do_not_allocate(void **state)
{
    vms *v = *state;
    lua_State *A = v->A, *B = v->B;
    lua_gc(A, LUA_GCSTOP);
    lua_gc(B, LUA_GCSTOP);
    lua_pushinteger(A, 42);
    lua_pushnumber(A, 2.5);
    lua_pushstring(A, "topic");
    lua_pushboolean(A, 1);
    pl_wire w;
    char err[128];
    pl_wire_init(&w);
    int kbA = lua_gc(A, LUA_GCCOUNT), bA = lua_gc(A, LUA_GCCOUNTB);
    for (int i = 0; i < 1000; i++) {
        pl_wire_reset(&w);
        assert_int_equal(pl_transfer_encode(A, -4, 4, &SEND, &w, err, sizeof err), 0);
    }
    assert_int_equal(lua_gc(A, LUA_GCCOUNT), kbA);
    assert_int_equal(lua_gc(A, LUA_GCCOUNTB), bA);
    lua_pop(A, 2);
    pl_wire_reset(&w);
    assert_int_equal(pl_transfer_encode(A, -2, 2, &SEND, &w, err, sizeof err), 0);
    int kbB = lua_gc(B, LUA_GCCOUNT), bB = lua_gc(B, LUA_GCCOUNTB);
    for (int i = 0; i < 1000; i++) {
        int got;
        assert_int_equal(pl_transfer_decode(B, &w, 1, &got, err, sizeof err), 0);
        assert_int_equal(got, 2);
        assert_int_equal(lua_tointeger(B, -2), 42);
        lua_pop(B, 2);
    }
    assert_int_equal(lua_gc(B, LUA_GCCOUNT), kbB);
    assert_int_equal(lua_gc(B, LUA_GCCOUNTB), bB);
    lua_settop(A, 0);
    lua_gc(A, LUA_GCRESTART);
    lua_gc(B, LUA_GCRESTART);
    pl_wire_free(&w);
}

/* ---- memory errors ---- */

typedef struct budget {
    long left; /* allocations still allowed; < 0: no limit */
} budget;

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    budget *b = ud;
    if (nsize == 0) {
        free(ptr);
        return NULL;
    }
    if (b->left >= 0 && nsize > (ptr ? osize : 0)) {
        if (b->left == 0) return NULL;
        b->left--;
    }
    return realloc(ptr, nsize);
}

/* Every allocation of a transfer failing in turn: each attempt either
 * succeeds or fails cleanly (nothing pushed, wire empty, state usable). */
static void test_memory_errors(void **state)
{
    (void)state;
    budget ba = {-1}, bb = {-1};
    lua_State *A = lua_newstate(limited_alloc, &ba), *B = lua_newstate(limited_alloc, &bb);
    *(void **)lua_getextraspace(A) = NULL; /* no VM: as newvm */
    *(void **)lua_getextraspace(B) = NULL;
    luaL_openlibs(A);
    luaL_openlibs(B);
    static const char *src =
        "local shared = {1, 2, 3}\n"
        "local n = 0\n"
        "local function inc() n = n + 1 return n end\n"
        "return 'a string of some length, not short', {s = shared, t = {shared}, f = inc,\n"
        "  p = print, [{}] = 'k', long = string.rep('z', 100)}, inc";
    static const char *chk = "local s, t, inc = ...\n"
                             "assert(s:find('some length') and t.s == t.t[1] and t.f == inc)\n"
                             "assert(inc() == 1 and t.p == print and #t.long == 100)";
    int n = run(A, src);
    int encoded = 0, decoded = 0;
    long enc_failures = 0, dec_failures = 0;
    for (long k = 0; k < 400 && !encoded; k++) {
        pl_wire w;
        char err[256];
        pl_wire_init(&w);
        ba.left = k;
        int rc = pl_transfer_encode(A, 1, n, &SEND, &w, err, sizeof err);
        ba.left = -1;
        assert_int_equal(lua_gettop(A), n);
        if (rc != 0) {
            assert_int_equal(w.len, 0);
            assert_non_null(strstr(err, "memory"));
            pl_wire_free(&w);
            enc_failures++;
            continue;
        }
        encoded = 1;
        for (long j = 0; j < 400 && !decoded; j++) {
            int got = -1;
            bb.left = j;
            rc = pl_transfer_decode(B, &w, 1, &got, err, sizeof err);
            bb.left = -1;
            if (rc != 0) {
                assert_int_equal(lua_gettop(B), 0);
                assert_int_equal(got, 0);
                dec_failures++;
                continue;
            }
            decoded = 1;
            assert_int_equal(got, 3);
            check(B, got, chk);
        }
        pl_wire_free(&w);
    }
    assert_true(encoded && decoded);
    /* the loops did go through failures at many points */
    assert_true(enc_failures > 5 && dec_failures > 5);
    lua_close(A);
    lua_close(B);
}

/* ---- several readers ---- */

typedef struct reader_arg {
    const pl_wire *w;
    int ok;
} reader_arg;

static void *reader_main(void *p)
{
    reader_arg *a = p;
    lua_State *L = newvm(1);
    a->ok = 1;
    for (int i = 0; i < 300; i++) {
        int got;
        char err[256];
        if (pl_transfer_decode(L, a->w, 1, &got, err, sizeof err) != 0 || got != 3 ||
            pl_proxy_test(L, 1, &tobj_type) == NULL) {
            a->ok = 0;
            break;
        }
        lua_settop(L, 0);
        if (i % 50 == 0) lua_gc(L, LUA_GCCOLLECT);
    }
    lua_close(L);
    return NULL;
}

/* One wire decoded by four threads at once (each with its own VM), as
 * when a message goes to several actors. */
static void test_concurrent_decode(void **state)
{
    (void)state;
    int before = atomic_load(&destroyed);
    lua_State *A = newvm(1);
    tobj *o = tobj_new(3);
    pl_proxy_push(A, &o->base);
    int n = 1 + run(A, "return {x = 1, y = {'a', 'b'}}, function(a) return a * 2 end");
    pl_wire w;
    char err[256];
    pl_wire_init(&w);
    assert_int_equal(pl_transfer_encode(A, 1, n, &SEND, &w, err, sizeof err), 0);
    lua_close(A);
    pthread_t th[4];
    reader_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].w = &w;
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_true(args[i].ok);
    }
    pl_wire_free(&w);
    assert_int_equal(refs_of(o), 1);
    pl_shared_release(&o->base);
    assert_int_equal(atomic_load(&destroyed), before + 1);
}

/* A maker for tobj_type's metatable that opens on first use: registers
 * it, then fills it in several steps (each may run out of memory). */
static int make_tobj_mt(lua_State *L)
{
    pl_proxy_newmetatable(L, &tobj_type);
    for (int i = 0; i < 8; i++) {
        lua_pushinteger(L, i);
        lua_setfield(L, -2, i % 2 ? "field_a_long_name_one" : "field_b_long_name_two");
    }
    lua_pushliteral(L, "complete");
    lua_setfield(L, -2, "made");
    lua_pop(L, 1);
    return 0;
}

static int push_tobj(lua_State *L)
{
    pl_proxy_push(L, lua_touserdata(L, 1));
    return 1;
}

/* Out of memory while a first-use metatable is made: the push fails, and
 * the next one (with memory) makes the whole metatable, never keeping a
 * half-made one (engine/proxy.c, make_metatable). */
static void test_lazy_metatable_out_of_memory(void **state)
{
    (void)state;
    tobj *o = tobj_new(3);
    int failed = 0;
    for (int limit = 0; limit < 200; limit++) {
        budget b = {-1};
        lua_State *L = lua_newstate(limited_alloc, &b);
        assert_non_null(L);
        *(void **)lua_getextraspace(L) = NULL; /* no VM: as newvm */
        luaL_openlibs(L);
        pl_proxy_lazy_metatable(L, &tobj_type, make_tobj_mt);
        b.left = limit;
        lua_pushcfunction(L, push_tobj);
        lua_pushlightuserdata(L, &o->base);
        int rc = lua_pcall(L, 1, 1, 0);
        b.left = -1;
        if (rc != LUA_OK) {
            failed++;
            lua_pop(L, 1);
            lua_pushcfunction(L, push_tobj); /* again, with memory */
            lua_pushlightuserdata(L, &o->base);
            assert_int_equal(lua_pcall(L, 1, 1, 0), LUA_OK);
        }
        assert_true(lua_getmetatable(L, -1));
        assert_int_equal(lua_getfield(L, -1, "made"), LUA_TSTRING); /* whole */
        lua_close(L);
        if (rc == LUA_OK) break;
    }
    assert_true(failed > 0);
    pl_shared_release(&o->base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_varints),
        cmocka_unit_test(test_wire_reader_bounds),
        cmocka_unit_test_setup_teardown(test_wire_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scalars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_float_bits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_string, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shape_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metatable_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_globals_table, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closure_counter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_upvalue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_shared_upvalues, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upvalue_joined_from_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recursive_function, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_is_receiver_globals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_function_line_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stdlib_functions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stdlib_alias, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stdlib_missing_in_receiver, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stdlib_map_refresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_global_cfunction, setup, teardown),
        cmocka_unit_test(test_shared_object),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_depth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_untrusted_refuses_functions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_rejects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_raising, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_function_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_rejects_bad_upvalues, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scalars_do_not_allocate, setup, teardown),
        cmocka_unit_test(test_memory_errors),
        cmocka_unit_test(test_lazy_metatable_out_of_memory),
        cmocka_unit_test(test_concurrent_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
