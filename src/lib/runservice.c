/*
 * RunService and its Heartbeat signal: handlers connected with Connect run
 * in the serial phase of every frame, those connected with ConnectParallel
 * in the parallel phase; both get the seconds since the last frame.
 */
#include <lauxlib.h>
#include <string.h>

#include "engine/connection.h"
#include "engine/runtime.h"
#include "engine/sched.h"
#include "lib/instance.h"
#include "lib/lib.h"

static const char SIGNAL_MT[] = "parlua.Signal";
static const char HEARTBEAT[] = "Heartbeat";

static void on_heartbeat_change(lua_State *L, const char *name, size_t len, int phase, int delta)
{
    pl_heartbeat_count(pl_vm_of(L), phase, delta);
}

static int connect_heartbeat(lua_State *L, int phase)
{
    luaL_checkudata(L, 1, SIGNAL_MT);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    if (phase == PL_PARALLEL && !pl_vm_of(L)->actor)
        return luaL_error(L, "ConnectParallel can only be called from a script that is a "
                             "descendant of an Actor (use Connect)");
    pl_conn_add(L, PL_CONN_SIGNAL, HEARTBEAT, sizeof HEARTBEAT - 1, phase, 2, on_heartbeat_change);
    return 1;
}

static int signal_connect(lua_State *L)
{
    return connect_heartbeat(L, PL_SERIAL);
}

static int signal_connect_parallel(lua_State *L)
{
    return connect_heartbeat(L, PL_PARALLEL);
}

static int fire(lua_State *L)
{
    pl_vm *vm = pl_vm_of(L);
    int phase = (int)lua_tointeger(L, 1);
    int n = pl_conn_push_handlers(L, PL_CONN_SIGNAL, HEARTBEAT, sizeof HEARTBEAT - 1, phase);
    lua_pushnumber(L, vm->heartbeat_dt);
    pl_run_handlers(L, 2, n, 3, 1);
    return 0;
}

void pl_heartbeat_fire(pl_vm *vm, int phase)
{
    lua_State *L = vm->L;
    lua_pushcfunction(L, fire);
    lua_pushinteger(L, phase);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        pl_report_error(vm, L, "Heartbeat failed");
        lua_pop(L, 1);
    }
}

static int get_heartbeat(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, "parlua.Heartbeat") == LUA_TNIL) {
        lua_pop(L, 1);
        lua_newuserdatauv(L, 1, 0);
        luaL_setmetatable(L, SIGNAL_MT);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, "parlua.Heartbeat");
    }
    return 1;
}

static int signal_index(lua_State *L)
{
    const char *key = luaL_checkstring(L, 2);
    if (strcmp(key, "Connect") == 0)
        lua_pushcfunction(L, signal_connect);
    else if (strcmp(key, "ConnectParallel") == 0)
        lua_pushcfunction(L, signal_connect_parallel);
    else
        return luaL_error(L, "%s is not a valid member of RBXScriptSignal", key);
    return 1;
}

const pl_member pl_runservice_members[] = {
    {"Heartbeat", PL_SAFE, get_heartbeat, NULL, NULL, PL_MEMBER_SIGNAL,
     "fires once per frame with the seconds since the previous frame"},
    {NULL, 0, NULL, NULL, NULL, 0, NULL},
};

void pl_open_runservice(lua_State *L)
{
    luaL_newmetatable(L, SIGNAL_MT);
    lua_pushcfunction(L, signal_index);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "RBXScriptSignal");
    lua_setfield(L, -2, "__name");
    lua_pop(L, 1);
}
