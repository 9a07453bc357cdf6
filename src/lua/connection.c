#include "lua/connection.h"

#include <lauxlib.h>
#include <string.h>

static const char LISTS_KEY[] = "parlua.handlers";
static const char CONN_MT[] = "parlua.Connection";

typedef struct conn {
    int phase;
    int connected;
    pl_conn_change_fn on_change;
} conn;

/* Pushes the array of connections for (kind, name, phase); creates it if
 * create is set, else pushes nil when missing. */
static int push_list(lua_State *L, const char *kind, const char *name, size_t len, int phase,
                     int create)
{
    lua_getfield(L, LUA_REGISTRYINDEX, LISTS_KEY);
    lua_pushfstring(L, "%s:%d:", kind, phase);
    lua_pushlstring(L, name, len);
    lua_concat(L, 2);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, -3) == LUA_TNIL && create) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        lua_rawset(L, -5);
    }
    lua_replace(L, -3);
    lua_pop(L, 1);
    return !lua_isnil(L, -1);
}

void pl_conn_add(lua_State *L, const char *kind, const char *name, size_t len, int phase,
                 int fn_idx, pl_conn_change_fn on_change)
{
    fn_idx = lua_absindex(L, fn_idx);
    push_list(L, kind, name, len, phase, 1);
    conn *c = lua_newuserdatauv(L, sizeof *c, 3);
    c->phase = phase;
    c->connected = 1;
    c->on_change = on_change;
    luaL_setmetatable(L, CONN_MT);
    lua_pushvalue(L, fn_idx);
    lua_setiuservalue(L, -2, 1);
    lua_pushstring(L, kind);
    lua_setiuservalue(L, -2, 2);
    lua_pushlstring(L, name, len);
    lua_setiuservalue(L, -2, 3);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, (lua_Integer)lua_rawlen(L, -3) + 1);
    lua_remove(L, -2); /* the list */
    on_change(L, name, len, phase, 1);
}

int pl_conn_push_handlers(lua_State *L, const char *kind, const char *name, size_t len, int phase)
{
    if (!push_list(L, kind, name, len, phase, 0)) return 0;
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    if (n == 0) {
        lua_pop(L, 1);
        lua_pushnil(L);
        return 0;
    }
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -2, i);
        lua_getiuservalue(L, -1, 1);
        lua_rawseti(L, -3, i);
        lua_pop(L, 1);
    }
    lua_remove(L, -2);
    return 1;
}

static int conn_disconnect(lua_State *L)
{
    conn *c = luaL_checkudata(L, 1, CONN_MT);
    if (!c->connected) return 0;
    c->connected = 0;
    lua_getiuservalue(L, 1, 2);
    const char *kind = lua_tostring(L, -1);
    size_t len;
    lua_getiuservalue(L, 1, 3);
    const char *name = lua_tolstring(L, -1, &len);
    push_list(L, kind, name, len, c->phase, 1);
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
    c->on_change(L, name, len, c->phase, -1);
    return 0;
}

static int conn_index(lua_State *L)
{
    conn *c = luaL_checkudata(L, 1, CONN_MT);
    const char *key = luaL_checkstring(L, 2);
    if (strcmp(key, "Connected") == 0)
        lua_pushboolean(L, c->connected);
    else if (strcmp(key, "Disconnect") == 0)
        lua_pushcfunction(L, conn_disconnect);
    else
        return luaL_error(L, "%s is not a valid member of RBXScriptConnection", key);
    return 1;
}

void pl_open_connection(lua_State *L)
{
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LISTS_KEY);
    luaL_newmetatable(L, CONN_MT);
    lua_pushcfunction(L, conn_index);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "RBXScriptConnection");
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
}
