/*
 * The proxies a VM checked last (pl_vm.proxy_seen, engine/vm.h): an entry
 * gives its object back only for the same userdata, the same metatable
 * and the same first word; a proxy's finalizer empties its entry, so an
 * address freed and given to another userdata is never taken for it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lualib.h>

#include "engine/proxy.h"
#include "engine/vm.h"

typedef struct sobj {
    pl_shared base;
} sobj;

static int destroyed;

static void sobj_destroy(pl_shared *obj)
{
    destroyed++;
    free(obj);
}

static const pl_shared_type sobj_type = {"SeenObject", "parlua.test.SeenObject", sobj_destroy,
                                         NULL};

static pl_vm vm; /* zeroed: no entries */

static lua_State *newvm(void)
{
    lua_State *L = luaL_newstate();
    assert_non_null(L);
    vm.ctx.vm = &vm;
    *(pl_ctx **)lua_getextraspace(L) = &vm.ctx;
    pl_proxy_newmetatable(L, &sobj_type);
    lua_pop(L, 1);
    return L;
}

static sobj *sobj_new(void)
{
    sobj *o = malloc(sizeof *o);
    assert_non_null(o);
    pl_shared_init(&o->base, &sobj_type);
    return o;
}

static void test_entry(void **state)
{
    (void)state;
    lua_State *L = newvm();
    sobj *o = sobj_new(), *other = sobj_new();
    pl_proxy_push(L, &o->base);
    pl_proxy_push(L, &other->base);
    pl_shared_release(&o->base); /* the proxies hold them */
    pl_shared_release(&other->base);
    void *ud = lua_touserdata(L, -2), *ud2 = lua_touserdata(L, -1);
    lua_getmetatable(L, -1);
    const void *mt = lua_topointer(L, -1);
    lua_pop(L, 1);
    const int mtx = 0; /* another metatable's address */

    assert_null(pl_proxy_seen_get(&vm, ud, mt)); /* nothing recorded */
    assert_null(pl_proxy_seen_get(&vm, NULL, mt));
    pl_proxy_seen_put(&vm, ud, &o->base, mt);
    assert_ptr_equal(pl_proxy_seen_get(&vm, ud, mt), &o->base);
    assert_null(pl_proxy_seen_get(&vm, ud, &mtx)); /* checked against another metatable */
    if (pl_proxy_seen_at(&vm, ud2) != pl_proxy_seen_at(&vm, ud))
        assert_null(pl_proxy_seen_get(&vm, ud2, mt)); /* never checked */

    /* another userdata's first word at that address: not the object */
    pl_shared **slot = ud;
    *slot = &other->base;
    assert_null(pl_proxy_seen_get(&vm, ud, mt));
    *slot = &o->base;
    assert_ptr_equal(pl_proxy_seen_get(&vm, ud, mt), &o->base);

    /* the finalizer empties the entry (and only its own) */
    pl_proxy_seen_put(&vm, ud2, &other->base, mt);
    int shared_entry = pl_proxy_seen_at(&vm, ud2) == pl_proxy_seen_at(&vm, ud);
    lua_pop(L, 1); /* drops the proxy of other */
    lua_gc(L, LUA_GCCOLLECT, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    assert_int_equal(destroyed, 1);
    assert_null(pl_proxy_seen_at(&vm, ud2)->ud);
    if (!shared_entry) assert_ptr_equal(pl_proxy_seen_get(&vm, ud, mt), &o->base);
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    assert_int_equal(destroyed, 2);
    for (int i = 0; i < PL_PROXY_SEEN; i++)
        assert_null(vm.proxy_seen[i].ud);
    lua_close(L);
}

/* A state with no VM (a spare being closed, vmpool.c): finalizers touch
 * no entry. */
static void test_no_vm(void **state)
{
    (void)state;
    lua_State *L = luaL_newstate();
    assert_non_null(L);
    *(void **)lua_getextraspace(L) = NULL;
    pl_proxy_newmetatable(L, &sobj_type);
    lua_pop(L, 1);
    sobj *o = sobj_new();
    pl_proxy_push(L, &o->base);
    pl_shared_release(&o->base);
    destroyed = 0;
    lua_close(L);
    assert_int_equal(destroyed, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry),
        cmocka_unit_test(test_no_vm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
