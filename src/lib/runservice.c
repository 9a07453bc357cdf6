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
#include "lib/signal.h"

static const char HEARTBEAT[] = "Heartbeat";

static void on_heartbeat_change(lua_State *L, const char *name, size_t len, int phase, int delta,
                                void *ud)
{
    pl_heartbeat_count(pl_vm_of(L), phase, delta);
}

/* Heartbeat is a signal like the others (lib/signal.c: Connect,
 * ConnectParallel, Once, Wait); its connections live in the VM's handler
 * list "Heartbeat" and run when the scheduler marks the VM's Heartbeat due. */
const pl_conn_ops pl_heartbeat_ops = {on_heartbeat_change, NULL, NULL};

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
    pl_signal_push(L, NULL, PL_SIG_HEARTBEAT, NULL, 0);
    return 1;
}

const pl_member pl_runservice_members[] = {
    {"Heartbeat", PL_SAFE, get_heartbeat, NULL, NULL, PL_MEMBER_SIGNAL,
     "fires once per frame with the seconds since the previous frame"},
    {NULL, 0, NULL, NULL, NULL, 0, NULL},
};
