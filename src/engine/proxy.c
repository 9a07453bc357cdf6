#include "engine/proxy.h"

#include <lauxlib.h>

#include "engine/vm.h"

static const char CACHE_KEY[] = "parlua.proxies";
/* Registry table: proxy metatable -> its pl_shared_type (light userdata).
 * A value is a proxy when its metatable is a key here: identity, never a
 * field of the metatable that user code could set on any other one. */
static const char TYPES_KEY[] = "parlua.proxy_types";

static int proxy_gc(lua_State *L)
{
    pl_shared **slot = lua_touserdata(L, 1);
    /* its address may go to another userdata now (pl_proxy_seen_at); a
     * spare state being closed has no VM (vmpool.c) and no entries */
    pl_ctx *ctx = pl_ctx_of(L);
    if (slot && ctx) {
        pl_proxy_seen *e = pl_proxy_seen_at(ctx->vm, slot);
        if (e->ud == slot) e->ud = NULL;
    }
    if (slot && *slot) {
        pl_shared *obj = *slot;
        *slot = NULL;
        pl_shared_release(obj);
    }
    return 0;
}

/* Pushes the weak-valued cache table, creating it on first use. */
static void push_cache(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, CACHE_KEY) == LUA_TTABLE) return;
    lua_pop(L, 1);
    lua_createtable(L, 0, 4); /* an actor's first few (script, its Actor): no rehash each */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, CACHE_KEY);
}

/* Makes type's metatable in L, the first object of its type there: the
 * type's own maker, or the function pl_proxy_lazy_metatable registered
 * (popped here). */
static void make_metatable(lua_State *L, const pl_shared_type *type)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, type) == LUA_TFUNCTION) {
        lua_pushvalue(L, -1);
        if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
            /* out of memory half way: the maker stays registered, not a
             * half-made metatable (nor under its registry name) */
            lua_pushvalue(L, -2);
            lua_rawsetp(L, LUA_REGISTRYINDEX, type);
            lua_pushnil(L);
            lua_setfield(L, LUA_REGISTRYINDEX, type->metatable);
            lua_error(L);
        }
        lua_pop(L, 1);
    } else {
        lua_pop(L, 1);
        if (type->make_metatable) type->make_metatable(L, type);
    }
}

void pl_proxy_lazy_metatable(lua_State *L, const pl_shared_type *type, lua_CFunction make)
{
    lua_pushcfunction(L, make);
    lua_rawsetp(L, LUA_REGISTRYINDEX, type);
}

void pl_proxy_prepare(lua_State *L, const pl_shared_type *type)
{
    push_cache(L);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, type) != LUA_TTABLE) make_metatable(L, type);
    lua_pop(L, 2);
}

void pl_proxy_push(lua_State *L, pl_shared *obj)
{
    push_cache(L);
    if (lua_rawgetp(L, -1, obj) != LUA_TNIL) {
        lua_remove(L, -2);
        return;
    }
    lua_pop(L, 1);
    pl_shared **slot = lua_newuserdatauv(L, sizeof *slot, 0);
    *slot = NULL; /* safe state first: a failing setmetatable leaves nothing to release */
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, obj->type) != LUA_TTABLE) {
        lua_pop(L, 1); /* the first object of its type in this VM */
        make_metatable(L, obj->type);
        lua_rawgetp(L, LUA_REGISTRYINDEX, obj->type);
    }
    lua_setmetatable(L, -2); /* the metatable, by address */
    pl_shared_retain(obj);
    *slot = obj;
    lua_pushvalue(L, -1);
    lua_rawsetp(L, -3, obj);
    lua_remove(L, -2);
}

int pl_proxy_cached(lua_State *L, pl_shared *obj)
{
    if (!lua_checkstack(L, 2)) return 1; /* cannot look: say yes (the safe answer) */
    int top = lua_gettop(L), found = 0;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, CACHE_KEY) == LUA_TTABLE &&
        lua_rawgetp(L, -1, obj) == LUA_TUSERDATA) {
        pl_shared **slot = lua_touserdata(L, -1);
        found = slot && *slot == obj;
    }
    lua_settop(L, top);
    return found;
}

pl_shared *pl_proxy_to(lua_State *L, int idx)
{
    if (lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx)) return NULL;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, TYPES_KEY) != LUA_TTABLE) {
        lua_pop(L, 2);
        return NULL;
    }
    lua_pushvalue(L, -2);
    int is_proxy = lua_rawget(L, -2) == LUA_TLIGHTUSERDATA;
    lua_pop(L, 3);
    if (!is_proxy) return NULL;
    pl_shared **slot = lua_touserdata(L, idx);
    return *slot;
}

int pl_proxy_known(lua_State *L, const pl_shared_type *type)
{
    if (type->make_metatable) return 1;
    int t = lua_rawgetp(L, LUA_REGISTRYINDEX, type);
    int known = t == LUA_TTABLE || t == LUA_TFUNCTION; /* made, or made on first use */
    lua_pop(L, 1);
    return known;
}

pl_shared *pl_proxy_test(lua_State *L, int idx, const pl_shared_type *type)
{
    pl_shared **slot = lua_touserdata(L, idx);
    if (!slot || !lua_getmetatable(L, idx)) return NULL;
    lua_rawgetp(L, LUA_REGISTRYINDEX, type);
    int same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same ? *slot : NULL;
}

void pl_proxy_newmetatable(lua_State *L, const pl_shared_type *type)
{
    /* room for __gc, __name and what the maker adds (at most six
     * metamethods): a metatable made whole, never rehashed as it grows */
    lua_createtable(L, 0, 8);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, type->metatable);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, type); /* also by address, for fast checks */
    lua_pushcfunction(L, proxy_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushstring(L, type->name);
    lua_setfield(L, -2, "__name");
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, TYPES_KEY) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 4);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, TYPES_KEY);
    }
    lua_pushvalue(L, -2);
    lua_pushlightuserdata(L, (void *)type);
    lua_rawset(L, -3);
    lua_pop(L, 1);
}
