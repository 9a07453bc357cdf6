/*
 * Actor messaging (SPEC 3): SendMessage from any VM and phase,
 * BindToMessage / BindToMessageParallel in the actor's own VM, and the
 * delivery of messages to their handlers, each in a new runtime thread.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>

#include "lua/connection.h"
#include "lua/runtime.h"
#include "lua/transfer.h"

static void mark_phases(pl_vm *vm, int mask)
{
    for (int p = 0; p < 2; p++)
        if (mask > 0 && (mask & (1 << p))) pl_sched_mark(vm, p);
}

static int actor_send(lua_State *L)
{
    pl_instance *actor = pl_instance_check_class(L, 1, &pl_class_actor);
    size_t len;
    const char *topic = luaL_checklstring(L, 2, &len);
    pl_vm *vm = actor->vm;
    pl_msgbody *body = pl_msgbody_new(topic, len);
    if (!body) return luaL_error(L, "not enough memory");
    char err[512];
    pl_transfer_origin origin = {"SendMessage", 2};
    if (pl_transfer_encode(L, 3, lua_gettop(L) - 2, &origin, &body->wire, err, sizeof err) != 0) {
        pl_msgbody_free(body);
        return luaL_error(L, "%s", err);
    }
    pl_vm *me = pl_vm_of(L);
    /* Before posting: once posted, the body may be delivered and freed,
     * and its address (the flow's id) reused by another message. */
    if (me->tbuf) pl_trace_flow(me->tbuf, 's', "message", (uintptr_t)body);
    int mask = pl_mailbox_post(&vm->mailbox, body);
    if (mask < 0) {
        pl_msgbody_free(body);
        return luaL_error(L,
                          "SendMessage: actor \"%s\" already holds %d messages that wait for a "
                          "binding; bind topic \"%s\" with BindToMessage or "
                          "BindToMessageParallel before sending more",
                          actor->name, PL_MAILBOX_MAX_WAITING, topic);
    }
    me->stats.sent++;
    mark_phases(vm, mask);
    return 0;
}

static void on_bind_change(lua_State *L, const char *topic, size_t len, int phase, int delta)
{
    pl_vm *vm = pl_vm_of(L);
    int rc = pl_mailbox_bind(&vm->mailbox, topic, len, phase, delta);
    if (rc < 0) luaL_error(L, "not enough memory");
    if (rc > 0) vm->flush_mailbox = 1; /* flushed when this VM's threads have yielded */
}

static int bind_topic(lua_State *L, int phase, const char *fn)
{
    pl_instance *actor = pl_instance_check_class(L, 1, &pl_class_actor);
    size_t len;
    const char *topic = luaL_checklstring(L, 2, &len);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    pl_vm *vm = pl_vm_of(L);
    if (actor->vm != vm) {
        char *here = pl_vm_name(vm);
        lua_pushfstring(L,
                        "%s: only a script running in actor \"%s\" may bind to its messages "
                        "(this code runs in %s)",
                        fn, actor->name, here ? here : "another VM");
        free(here);
        return lua_error(L);
    }
    pl_conn_add(L, PL_CONN_MESSAGE, topic, len, phase, 3, on_bind_change);
    return 1;
}

static int actor_bind(lua_State *L)
{
    return bind_topic(L, PL_SERIAL, "BindToMessage");
}

static int actor_bind_parallel(lua_State *L)
{
    return bind_topic(L, PL_PARALLEL, "BindToMessageParallel");
}

/* Delivers one message under pcall: decode once, one thread per handler. */
static int deliver(lua_State *L)
{
    pl_msg *msg = lua_touserdata(L, 1);
    int phase = (int)lua_tointeger(L, 2);
    pl_vm *vm = pl_vm_of(L);
    pl_msgbody *body = msg->body;
    int handlers = pl_conn_push_handlers(L, PL_CONN_MESSAGE, body->topic, body->topic_len, phase);
    if (!handlers) {
        mark_phases(vm, pl_mailbox_reroute(&vm->mailbox, msg, phase));
        lua_pushboolean(L, 0); /* the mailbox kept it */
        return 1;
    }
    int n;
    char err[512];
    if (pl_transfer_decode(L, &body->wire, 1, &n, err, sizeof err) != 0)
        return luaL_error(L, "cannot deliver message \"%s\": %s", body->topic, err);
    pl_run_handlers(L, 3, handlers, 4, n);
    lua_pushboolean(L, 1);
    return 1;
}

void pl_actor_flush(pl_vm *vm)
{
    vm->flush_mailbox = 0;
    mark_phases(vm, pl_mailbox_flush(&vm->mailbox));
}

void pl_actor_dispatch(pl_vm *vm, int phase)
{
    lua_State *L = vm->L;
    pl_msg *msg = pl_mailbox_take(&vm->mailbox, phase);
    /* A flow ends when its message is taken: one clock read per batch.
     * Still before any of them is freed, so before an id can be reused. */
    uint64_t taken = vm->tbuf && msg ? pl_trace_now(vm->tbuf) : 0;
    while (msg) {
        pl_msg *next = msg->next; /* before the body can go */
        if (vm->tbuf) pl_trace_flow_at(vm->tbuf, 'f', "message", (uintptr_t)msg->body, taken);
        lua_pushcfunction(L, deliver);
        lua_pushlightuserdata(L, msg);
        lua_pushinteger(L, phase);
        int status = lua_pcall(L, 2, 1, 0);
        int kept = status == LUA_OK && !lua_toboolean(L, -1);
        if (status != LUA_OK) pl_report_error(vm, L, "message delivery failed");
        lua_pop(L, 1);
        if (status == LUA_OK && !kept) vm->stats.delivered++;
        if (!kept) pl_msg_done(msg);
        msg = next;
    }
}

static const pl_member actor_members[] = {
    {"SendMessage", PL_SAFE, NULL, NULL, actor_send},
    {"BindToMessage", PL_SAFE, NULL, NULL, actor_bind},
    {"BindToMessageParallel", PL_SAFE, NULL, NULL, actor_bind_parallel},
    {NULL, 0, NULL, NULL, NULL},
};

void pl_open_actor(lua_State *L)
{
    pl_open_connection(L);
    pl_register_members(L, &pl_class_actor, actor_members);
}
