/*
 * The shared objects of a message between ranks (src/lib/remote_codec.c):
 * SharedTables become frozen copies with their shape, Actors and
 * RemoteActors remote references, anything else is refused with a message;
 * the decoder survives any bytes (random mutations of real messages) and
 * frees what it built when it fails (ASan checks the leaks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lauxlib.h>

#include "engine/proxy.h"
#include "engine/runtime.h"
#include "engine/transfer.h"
#include "lib/remote.h"
#include "parlua.h"

static const pl_transfer_origin SEND = {"SendMessage", 2};

/* Runs chunk in the main VM; its results stay on the stack. */
static lua_State *run(parlua_runtime *rt, const char *chunk, int nres)
{
    lua_State *L = parlua_main_state(rt);
    if (luaL_loadstring(L, chunk) != LUA_OK || lua_pcall(L, 0, nres, 0) != LUA_OK)
        fail_msg("%s", lua_tostring(L, -1));
    return L;
}

static parlua_runtime *new_runtime(void)
{
    parlua_config cfg;
    parlua_config_init(&cfg);
    cfg.workers = 1;
    cfg.mpi = -1;
    parlua_runtime *rt = parlua_new(&cfg);
    assert_non_null(rt);
    return rt;
}

/* Encodes the value on top of L's stack for another rank: the object
 * records into out (the local wire's bytes are not needed here). */
static int encode_top(lua_State *L, pl_wire *out, char *err, size_t errlen)
{
    pl_wire vals;
    pl_wire_init(&vals);
    assert_int_equal(pl_transfer_encode(L, lua_gettop(L), 1, &SEND, &vals, err, errlen), PL_OK);
    int rc = pl_remote_encode_refs(&vals, 3, out, err, errlen);
    /* the local wire's bytes follow the object records in the real frame;
     * here the test keeps them after, as its own message */
    if (rc == PL_OK) PL_CANNOT_FAIL(pl_wire_put_bytes(out, vals.data, vals.len));
    pl_wire_free(&vals);
    return rc;
}

/* Decodes what encode_top wrote and pushes the value. */
static int decode_push(parlua_runtime *rt, lua_State *L, const unsigned char *p, size_t len)
{
    pl_wire view = {(unsigned char *)p, len, len, NULL, NULL, 0, 0};
    pl_wire_reader r;
    pl_wire_reader_init(&r, &view);
    uint64_t n;
    pl_wire got;
    pl_wire_init(&got);
    int rc = pl_wire_get_varint(&r, &n) != 0 ? PL_EMALFORMED : PL_OK;
    if (rc == PL_OK) rc = pl_remote_decode_refs(rt, &r, n, &got);
    const unsigned char *bytes;
    size_t blen;
    if (rc == PL_OK && pl_wire_get_bytes(&r, &bytes, &blen) != 0) rc = PL_EMALFORMED;
    if (rc == PL_OK && (pl_wire_remaining(&r) || got.nrefs != n)) rc = PL_EMALFORMED;
    if (rc == PL_OK) rc = pl_wire_put_raw(&got, bytes, blen) != 0 ? PL_ENOMEM : PL_OK;
    char err[256];
    int count;
    /* 0: no bytecode is trusted (the fuzz mutates bytes; no function here) */
    if (rc == PL_OK) rc = pl_transfer_decode(L, &got, 0, &count, err, sizeof err);
    pl_wire_free(&got);
    return rc;
}

/* The value on top of L's stack, popped, crosses "ranks" into the global
 * got. */
static void cross_to_got(parlua_runtime *rt, lua_State *L)
{
    pl_wire out;
    pl_wire_init(&out);
    char err[512];
    assert_int_equal(encode_top(L, &out, err, sizeof err), PL_OK);
    lua_pop(L, 1);
    assert_int_equal(decode_push(rt, L, out.data, out.len), PL_OK);
    lua_setglobal(L, "got");
    pl_wire_free(&out);
}

static void shape_and_frozen(void **state)
{
    (void)state;
    parlua_runtime *rt = new_runtime();
    lua_State *L = run(rt,
                       "local st = SharedTable.new({n = 7, f = 0.5, yes = true, [3] = 'three',"
                       "  a_rather_long_key_of_more_than_sixteen_bytes = 'long'})\n"
                       "local sub = SharedTable.new({v = 'deep'})\n"
                       "sub.up = st; st.sub = sub; st.again = sub\n"
                       "st.who = parlua.remote(0, 'Workspace.Somebody')\n"
                       "return {t = st, u = sub}",
                       1);
    cross_to_got(rt, L);
    run(rt,
        "local st, sub = got.t, got.u\n"
        "assert(SharedTable.isFrozen(st) and SharedTable.isFrozen(sub))\n"
        "assert(st.n == 7 and math.type(st.n) == 'integer' and st.f == 0.5 and st.yes)\n"
        "assert(st[3] == 'three' and st.a_rather_long_key_of_more_than_sixteen_bytes == 'long')\n"
        "assert(st.sub == sub and st.again == sub and sub.up == st and sub.v == 'deep')\n"
        "assert(st.who.Rank == 0 and st.who.Path == 'Workspace.Somebody')\n"
        "assert(not pcall(function() st.x = 1 end))\n"
        "got = nil",
        0);
    parlua_free(rt);
}

static void refusals(void **state)
{
    (void)state;
    parlua_runtime *rt = new_runtime();
    static const struct {
        const char *make, *part;
    } cases[] = {
        {"return sync.Mutex()", "cannot send a Mutex to another rank"},
        {"return {sync.Event()}", "cannot send a Event to another rank"},
        {"local f = Instance.new('Folder'); f.Name = 'F'; return f",
         "cannot send the Instance \"F\" to another rank: only Actors cross ranks"},
        {"local a = Instance.new('Actor'); a.Name = 'Loose'; return a",
         "cannot send the Actor \"Loose\" to another rank: it is not in the game"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lua_State *L = run(rt, cases[i].make, 1);
        pl_wire out;
        pl_wire_init(&out);
        char err[512] = "";
        assert_int_equal(encode_top(L, &out, err, sizeof err), PL_EINVAL);
        if (!strstr(err, cases[i].part)) fail_msg("'%s' lacks '%s'", err, cases[i].part);
        pl_wire_free(&out);
        lua_pop(L, 1);
    }
    /* an Actor in the game: a reference to it on this rank (3 here) */
    lua_State *L = run(rt,
                       "local a = Instance.new('Actor'); a.Name = 'In'; a.Parent = workspace;"
                       "return a",
                       1);
    cross_to_got(rt, L);
    run(rt, "assert(got.Rank == 3 and got.Path == 'Workspace.In', tostring(got)); got = nil", 0);
    parlua_free(rt);
}

/* A reference to a rank this job does not have (made in a bigger job and
 * kept) refuses to send, naming the rank. */
static void rank_out_of_job(void **state)
{
    (void)state;
    parlua_runtime *rt = new_runtime();
    lua_State *L = parlua_main_state(rt);
    pl_remote_ref *ref = pl_remote_ref_new(5, "Workspace.X", 11);
    assert_non_null(ref);
    pl_proxy_push(L, &ref->base);
    pl_shared_release(&ref->base);
    lua_setglobal(L, "far");
    run(rt,
        "local ok, err = pcall(far.SendMessage, far, 'x', 1)\n"
        "assert(not ok and err:find('SendMessage to actor \"Workspace.X\" on rank 5: no such rank "
        "in this job', 1, true), err)\n"
        "far = nil",
        0);
    parlua_free(rt);
}

/* Random mutations of a real message: decoding fails cleanly or succeeds. */
static void mutations(void **state)
{
    (void)state;
    parlua_runtime *rt = new_runtime();
    lua_State *L = run(rt,
                       "local st = SharedTable.new({1, 2, 'x', k = 'v', n = {a = 1}})\n"
                       "st.n.self = st.n; st.r = parlua.remote(0, 'Workspace.A')\n"
                       "return {st, st.n, 'tail'}",
                       1);
    pl_wire out;
    pl_wire_init(&out);
    char err[512];
    assert_int_equal(encode_top(L, &out, err, sizeof err), PL_OK);
    lua_pop(L, 1);
    unsigned char *copy = malloc(out.len);
    assert_non_null(copy);
    srand(12345);
    int ok = 0, failed = 0;
    for (int round = 0; round < 20000; round++) {
        memcpy(copy, out.data, out.len);
        int edits = 1 + rand() % 3;
        for (int e = 0; e < edits; e++)
            copy[(size_t)rand() % out.len] = (unsigned char)rand();
        size_t len = rand() % 4 == 0 ? (size_t)rand() % out.len : out.len;
        int top = lua_gettop(L);
        if (decode_push(rt, L, copy, len) == PL_OK)
            ok++;
        else
            failed++;
        lua_settop(L, top);
    }
    assert_true(failed > 0);
    (void)ok;
    free(copy);
    pl_wire_free(&out);
    lua_gc(L, LUA_GCCOLLECT, 0);
    parlua_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shape_and_frozen),
        cmocka_unit_test(refusals),
        cmocka_unit_test(rank_out_of_job),
        cmocka_unit_test(mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
