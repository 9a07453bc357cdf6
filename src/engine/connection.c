#include "engine/connection.h"

#include <lauxlib.h>
#include <string.h>

#include "engine/runtime.h"

/* Registry key (by address) of the VM's Connection metatable: no name to
 * intern when the VM's first connection makes it. */
static const char CONN_MT = 0;

typedef struct conn {
    int kind, phase;
    int connected;
    int once;
    const pl_conn_ops *ops;
    void *ud;
    pl_instance *script; /* the Script whose thread connected it, retained; NULL: none */
    unsigned script_gen; /* script->run_gen when it connected */
} conn;

static int conn_index(lua_State *L);
static int conn_gc(lua_State *L);

/* The connection at idx, else raises. */
static conn *check_conn(lua_State *L, int idx)
{
    int ok = lua_type(L, idx) == LUA_TUSERDATA && lua_getmetatable(L, idx);
    if (ok) {
        lua_rawgetp(L, LUA_REGISTRYINDEX, &CONN_MT);
        ok = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    if (!ok) luaL_typeerror(L, idx, "RBXScriptConnection");
    return lua_touserdata(L, idx);
}

/* Pushes the VM's table of handler lists (at kind * 2 + phase + 1, a
 * table by name for each kind and phase, made on its first connection),
 * made on the first connection and kept in the registry's array part
 * under a reference the VM records: a busy VM reads it at every delivery,
 * and a reference is one array slot where a registry key is a hash chain.
 * With create unset, pushes nil when there are none and returns 0. */
static int push_lists(lua_State *L, int create)
{
    pl_vm *vm = pl_vm_of(L);
    if (vm->conn_lists_ref > 0) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, vm->conn_lists_ref);
        return 1;
    }
    if (!create) {
        lua_pushnil(L);
        return 0;
    }
    lua_createtable(L, PL_CONN_KINDS * 2 + 2, 0); /* + Heartbeat's slots */
    lua_pushvalue(L, -1);
    vm->conn_lists_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 1;
}

/* Heartbeat's lists (kind SIGNAL, one per phase) are also kept at fixed
 * slots of the lists table, after the kinds' tables, and never forgotten:
 * every frame fires Heartbeat in every busy VM, most of them not run since
 * the last frame, and an array slot is one cache miss where interning the
 * name and looking it up are several. */
#define HEARTBEAT_SLOT(phase) (PL_CONN_KINDS * 2 + (phase) + 1)
static int is_heartbeat(int kind, const char *name, size_t len)
{
    return kind == PL_CONN_SIGNAL && len == 9 && memcmp(name, "Heartbeat", 9) == 0;
}

/* Pushes the array of connections for (kind, name, phase). With create
 * unset, pushes nil when there is none and returns 0. */
static int push_list(lua_State *L, int kind, const char *name, size_t len, int phase, int create)
{
    if (!push_lists(L, create)) return 0;
    if (is_heartbeat(kind, name, len)) {
        if (lua_rawgeti(L, -1, HEARTBEAT_SLOT(phase)) != LUA_TNIL || !create) {
            lua_replace(L, -2); /* as lua_remove(L, -2), without a rotation */
            return !lua_isnil(L, -1);
        }
        lua_pop(L, 1); /* the first connection: made below, then kept in its slot */
    }
    if (lua_rawgeti(L, -1, kind * 2 + phase + 1) == LUA_TNIL) { /* lists, kind's table */
        if (!create) {
            lua_replace(L, -2); /* nil where the lists were */
            return 0;
        }
        lua_pop(L, 1);            /* the kind's first connection in this phase */
        lua_createtable(L, 0, 1); /* room for its first name: no rehash to add it */
        lua_pushvalue(L, -1);
        lua_rawseti(L, -3, kind * 2 + phase + 1);
    }
    lua_pushlstring(L, name, len);
    if (lua_rawget(L, -2) == LUA_TNIL && create) {
        lua_pop(L, 1);
        lua_createtable(L, 1, 0); /* room for its first connection */
        lua_pushlstring(L, name, len);
        lua_pushvalue(L, -2);
        lua_rawset(L, -4);
        if (is_heartbeat(kind, name, len)) {
            lua_pushvalue(L, -1);
            lua_rawseti(L, -4, HEARTBEAT_SLOT(phase));
        }
    }
    lua_replace(L, -3); /* the list where the lists were; the kind's table above it */
    lua_pop(L, 1);
    return !lua_isnil(L, -1);
}

void pl_conn_add(lua_State *L, int kind, const char *name, size_t len, int phase, int fn_idx,
                 const pl_conn_ops *ops, void *ud, int once)
{
    fn_idx = lua_absindex(L, fn_idx);
    push_list(L, kind, name, len, phase, 1);
    conn *c = lua_newuserdatauv(L, sizeof *c, 2);
    c->kind = kind;
    c->phase = phase;
    c->connected = 1;
    c->once = once;
    c->ops = ops;
    c->ud = NULL;
    c->script = NULL;
    static const luaL_Reg meta[] = {{"__index", conn_index}, {"__gc", conn_gc}, {NULL, NULL}};
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &CONN_MT) != LUA_TTABLE) { /* the VM's first one */
        lua_pop(L, 1);
        lua_createtable(L, 0, 3); /* made whole: not rehashed as it fills */
        luaL_setfuncs(L, meta, 0);
        lua_pushliteral(L, "RBXScriptConnection");
        lua_setfield(L, -2, "__name");
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &CONN_MT);
    }
    lua_setmetatable(L, -2);
    c->ud = ud; /* after the metatable: its __gc frees */
    c->script = pl_vm_of(L)->script_now;
    if (c->script) {
        pl_instance_hold_local(c->script);
        c->script_gen = c->script->run_gen;
    }
    lua_pushvalue(L, fn_idx);
    lua_setiuservalue(L, -2, 1);
    lua_pushlstring(L, name, len);
    lua_setiuservalue(L, -2, 2);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, (lua_Integer)lua_rawlen(L, -3) + 1);
    lua_remove(L, -2); /* the list */
    ops->change(L, name, len, phase, 1, ud);
}

int pl_conn_push_handlers(lua_State *L, int kind, const char *name, size_t len, int phase)
{
    if (!push_list(L, kind, name, len, phase, 0)) {
        lua_pop(L, 1);
        return 0;
    }
    int n = (int)lua_rawlen(L, -1);
    if (n == 1) {
        lua_rawgeti(L, -1, 1);
        lua_remove(L, -2);
    } else if (n > 1) {
        lua_createtable(L, n, 0);
        for (int i = 1; i <= n; i++) {
            lua_rawgeti(L, -2, i);
            lua_rawseti(L, -2, i);
        }
        lua_remove(L, -2);
    } else {
        lua_pop(L, 1);
    }
    return n;
}

static int conn_gc(lua_State *L)
{
    conn *c = lua_touserdata(L, 1);
    if (c->script) pl_instance_drop_local(c->script);
    c->script = NULL;
    if (c->ud && c->ops->free) c->ops->free(c->ud);
    c->ud = NULL;
    return 0;
}

static int alive(const conn *c)
{
    return c->connected && (!c->ud || !c->ops->alive || c->ops->alive(c->ud));
}

/* Whether c's Script stopped since c connected (its handlers never run). */
static int script_stopped(const conn *c)
{
    return c->script && c->script->run_gen != c->script_gen;
}

static int conn_disconnect(lua_State *L)
{
    conn *c = check_conn(L, 1);
    if (!c->connected) return 0;
    c->connected = 0;
    size_t len;
    lua_getiuservalue(L, 1, 2);
    const char *name = lua_tolstring(L, -1, &len);
    push_list(L, c->kind, name, len, c->phase, 1);
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        int found = lua_rawequal(L, -1, 1);
        lua_pop(L, 1);
        if (found) {
            for (; i < n; i++) { /* close the gap, keeping order */
                lua_rawgeti(L, -1, i + 1);
                lua_rawseti(L, -2, i);
            }
            lua_pushnil(L);
            lua_rawseti(L, -2, n);
            break;
        }
    }
    if (lua_rawlen(L, -1) == 0 && !is_heartbeat(c->kind, name, len)) {
        /* forget the name: per-request topics come and go */
        push_lists(L, 1);
        lua_rawgeti(L, -1, c->kind * 2 + c->phase + 1);
        lua_pushlstring(L, name, len);
        lua_pushnil(L);
        lua_rawset(L, -3);
        lua_pop(L, 2);
    }
    c->ops->change(L, name, len, c->phase, -1, c->ud);
    return 0;
}

void pl_conn_disconnect(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_pushcfunction(L, conn_disconnect);
    lua_pushvalue(L, idx);
    lua_call(L, 1, 0);
}

/* pl_conn_check's body, inlined into both callers (a handler's start is
 * on every Heartbeat and message). idx: absolute. */
static inline int conn_check(lua_State *L, int idx, pl_instance **script)
{
    conn *c = lua_touserdata(L, idx);
    /* A delivery posted before its source let go (Destroy) still runs; the
     * connection goes after it. */
    int run = c->connected && !script_stopped(c);
    if (c->connected && (c->once || !run || !alive(c))) { /* disconnect it now */
        luaL_checkstack(L, 2, NULL);
        lua_pushcfunction(L, conn_disconnect);
        lua_pushvalue(L, idx);
        lua_call(L, 1, 0);
    }
    if (run) *script = c->script;
    return run;
}

int pl_conn_check(lua_State *L, int idx, pl_instance **script)
{
    return conn_check(L, idx, script); /* idx: absolute (the runner's) */
}

int pl_conn_start(lua_State *L, int idx, pl_instance **script)
{
    idx = lua_absindex(L, idx);
    int run = conn_check(L, idx, script);
    if (run) lua_getiuservalue(L, idx, 1);
    return run;
}

int pl_conn_drop_stopped(lua_State *L)
{
    int lists = lua_gettop(L) + 1;
    if (!push_lists(L, 0)) {
        lua_pop(L, 1);
        return 0;
    }
    lua_newtable(L); /* the connections to drop: not while walking the lists */
    int drop = lua_gettop(L);
    lua_Integer n = 0;
    for (int i = 1; i <= PL_CONN_KINDS * 2; i++) {
        if (lua_rawgeti(L, lists, i) == LUA_TNIL) { /* no connection of that kind and phase */
            lua_pop(L, 1);
            continue;
        }
        lua_pushnil(L);
        while (lua_next(L, -2)) { /* name -> array of connections */
            lua_Integer len = (lua_Integer)lua_rawlen(L, -1);
            for (lua_Integer k = 1; k <= len; k++) {
                lua_rawgeti(L, -1, k);
                if (script_stopped(lua_touserdata(L, -1)))
                    lua_rawseti(L, drop, ++n);
                else
                    lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    for (lua_Integer k = 1; k <= n; k++) {
        lua_pushcfunction(L, conn_disconnect);
        lua_rawgeti(L, drop, k);
        lua_call(L, 1, 0);
    }
    lua_settop(L, lists - 1);
    return 0;
}

static int conn_index(lua_State *L)
{
    conn *c = check_conn(L, 1);
    const char *key = luaL_checkstring(L, 2);
    if (strcmp(key, "Connected") == 0)
        lua_pushboolean(L, alive(c) && !script_stopped(c));
    else if (strcmp(key, "Disconnect") == 0)
        lua_pushcfunction(L, conn_disconnect);
    else
        return luaL_error(L, "%s is not a valid member of RBXScriptConnection", key);
    return 1;
}
