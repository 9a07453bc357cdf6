/*
 * Actor messaging: SendMessage from any VM and phase,
 * BindToMessage / BindToMessageParallel in the actor's own VM, and the
 * delivery of messages to their handlers, each in a new runtime thread.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/connection.h"
#include "engine/runtime.h"
#include "engine/sched.h"
#include "engine/transfer.h"
#include "lib/instance.h"
#include "lib/lib.h"
#include "lib/signal.h"

/* Marks the phases in a mask from the mailbox; its PL_MAILBOX_FLUSH bit
 * asks for a flush once this VM's threads have yielded. */
static void mark_phases(pl_vm *vm, int mask)
{
    if (mask <= 0) return;
    for (int p = 0; p < 2; p++)
        if (mask & (1 << p)) pl_sched_mark(vm, p);
    if (mask & PL_MAILBOX_FLUSH) vm->flush_mailbox = 1;
}

/* Raises SendMessage's error for a refused post (no lock held). */
static int send_refused(lua_State *L, pl_vm *vm, pl_instance *actor, const char *topic, size_t len,
                        int why)
{
    char quoted[128];
    pl_topic_quote(quoted, sizeof quoted, topic, len);
    if (why == PL_ENOMEM)
        return luaL_error(L,
                          "SendMessage: not enough memory for a message to actor \"%s\" "
                          "(topic \"%s\")",
                          actor->name, quoted);
    size_t limit = vm->mailbox.max_waiting_bytes ? vm->mailbox.max_waiting_bytes
                                                 : PL_MAILBOX_DEFAULT_WAITING_BYTES;
    char sizes[64]; /* lua_pushfstring has no %.1f */
    snprintf(sizes, sizeof sizes, "limit %.1f MiB", (double)limit / 1048576.0);
    return luaL_error(L,
                      "SendMessage: actor \"%s\" already holds the most messages that may wait "
                      "for a binding (%s); bind topic \"%s\" with BindToMessage or "
                      "BindToMessageParallel before sending more, or raise the limit "
                      "(parlua --mailbox-limit MiB, parlua_config.max_waiting_bytes)",
                      actor->name, sizes, quoted);
}

static int actor_send(lua_State *L)
{
    pl_instance *actor = pl_instance_self(L);
    size_t len;
    const char *topic = lua_tolstring(L, 2, &len);
    if (!topic) topic = luaL_checklstring(L, 2, &len); /* raises */
    pl_vm *vm = actor->vm;
    /* A destroyed Actor runs nothing any more: its messages are dropped, as
     * in Roblox (docs/guide.md). Its VM goes (vm NULL) between phases only. */
    if (!vm || pl_vm_dead(vm)) return 0;
    pl_msgbody *body = pl_msgbody_new(topic, len);
    if (!body) return send_refused(L, vm, actor, topic, len, PL_ENOMEM);
    char err[512];
    pl_transfer_origin origin = {"SendMessage", 2};
    if (pl_transfer_encode(L, 3, lua_gettop(L) - 2, &origin, &body->wire, err, sizeof err) != 0) {
        pl_msgbody_free(body);
        return luaL_error(L, "%s", err);
    }
    pl_vm *me = pl_vm_of(L);
    /* Before posting: once posted, the body may be delivered and freed,
     * and its address (the flow's id) reused by another message. */
    if (me->tbuf) pl_trace_flow(me->tbuf, 's', "message", body->flow);
    int mask = pl_mailbox_post(&vm->mailbox, &body);
    if (mask < 0) {
        pl_msgbody_free(body);
        return send_refused(L, vm, actor, topic, len, mask);
    }
    me->stats.sent++;
    mark_phases(vm, mask);
    return 0;
}

/* The handlers of the last topic delivered in each phase, kept from one
 * dispatch to the next (a message at a time, as in a round trip, would
 * otherwise look them up and intern the topic again for every message).
 * A full userdata made on the first delivery and kept in the registry's
 * array part under a reference the VM records (one array slot where a
 * registry key is a hash chain): user values 2p+1 the handlers
 * (pl_conn_push_handlers: a connection or an array of them), 2p+2 the
 * topic string, which anchors the bytes that topic[p] points to. Every
 * binding and unbinding empties it (on_bind_change), so it never hands
 * out a stale list nor keeps a disconnected handler alive. Owner only,
 * like the handler lists. */
typedef struct hcache {
    int n[2];             /* handlers cached per phase; -1: none cached */
    const char *topic[2]; /* the cached topic's bytes (user value 2p+2) */
    size_t topic_len[2];
    unsigned gen; /* changed by every lookup and emptying */
} hcache;

/* Whether body goes to the topic cached for phase p. */
static int cached_topic(const hcache *hc, int p, const pl_msgbody *body)
{
    return hc->topic_len[p] == body->topic_len &&
           memcmp(hc->topic[p], body->topic, body->topic_len) == 0;
}

/* Pushes this VM's handler cache, made if missing. */
static hcache *push_hcache(lua_State *L)
{
    pl_vm *vm = pl_vm_of(L);
    if (vm->msg_cache_ref > 0) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, vm->msg_cache_ref);
        return lua_touserdata(L, -1);
    }
    hcache *hc = lua_newuserdatauv(L, sizeof *hc, 4);
    hc->n[0] = hc->n[1] = -1;
    hc->gen = 0;
    lua_pushvalue(L, -1);
    vm->msg_cache_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return hc;
}

/* Empties the handler cache, if this VM has one (a binding changed). */
static void clear_hcache(lua_State *L)
{
    pl_vm *vm = pl_vm_of(L);
    if (vm->msg_cache_ref <= 0) return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->msg_cache_ref);
    hcache *hc = lua_touserdata(L, -1);
    for (int i = 1; i <= 4; i++) {
        lua_pushnil(L);
        lua_setiuservalue(L, -2, i);
    }
    hc->n[0] = hc->n[1] = -1;
    hc->gen++;
    lua_pop(L, 1);
}

static void on_bind_change(lua_State *L, const char *topic, size_t len, int phase, int delta,
                           void *ud)
{
    pl_vm *vm = pl_vm_of(L);
    int rc = pl_mailbox_bind(&vm->mailbox, topic, len, phase, delta);
    if (rc < 0) luaL_error(L, "not enough memory");
    /* messages of a phase that lost its last binding moved: mark where
     * they went; a flush comes when this VM's threads have yielded */
    mark_phases(vm, rc);
    clear_hcache(L);
}

static int bind_topic(lua_State *L, int phase, const char *fn)
{
    pl_instance *actor = pl_instance_self(L);
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
    static const pl_conn_ops ops = {on_bind_change, NULL, NULL};
    pl_conn_add(L, PL_CONN_MESSAGE, topic, len, phase, 3, &ops, NULL, 0);
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

/* A batch of messages (the mailbox's batch of the phase) delivered under
 * one lua_pcall; after an error the caller reports it, drops the message
 * that raised and calls again for the rest. The batch stays in the
 * mailbox so that a handler unbinding a topic moves the rest of its
 * messages in order (mailbox.c, I2). */
typedef struct batch {
    pl_vm *vm;
    int phase;
    pl_msg *current; /* the one being delivered, if it raises */
    uint64_t taken;  /* when the batch was taken (trace flows) */
    /* The batch runner (run_batch, below): */
    struct hcache *hc;  /* the VM's handler cache */
    unsigned gen;       /* hc->gen when the runner's one handler was looked up */
    pl_msg *running;    /* the message whose handler the runner called: when that
                           handler yields or raises, run_batch finishes the message */
    pl_msg *pending;    /* taken by the runner but not for its handler: deliver_batch's next */
    int pending_failed; /* pending's values did not decode: pending_err says why */
    char pending_err[512];
} batch;

/* Stack layout of deliver_batch: */
enum {
    B_BATCH = 1,    /* the batch (light userdata) */
    B_CACHE = 2,    /* the handler cache */
    B_HANDLERS = 3, /* the handlers of the cached topic of the phase (nil if none) */
    B_ARGS = 4      /* each message's decoded values */
};

/* A signal fired for a connection in this VM (lib/signal.c): runs its
 * handler. B_HANDLERS stays as it is. */
static void deliver_signal(lua_State *L, batch *b, pl_msg *msg)
{
    pl_vm *vm = b->vm;
    lua_settop(L, B_HANDLERS);
    int n;
    char err[512];
    b->current = msg; /* out of memory may raise here: the message is dropped */
    if (pl_transfer_decode_raising(L, &msg->body->wire, 1, &n, err, sizeof err) != 0) {
        b->current = NULL;
        lua_pushfstring(L, "cannot deliver a signal: %s", err);
        pl_report_error(vm, L, "signal delivery failed");
        lua_settop(L, B_HANDLERS);
        pl_msg_done(msg);
        return;
    }
    pl_msg_delivered(msg);
    pl_signal_deliver(L, b->phase, B_ARGS, n);
    b->current = NULL;
    lua_settop(L, B_HANDLERS);
    pl_msg_done(msg);
}

/* Looks up the handlers of body's topic into B_HANDLERS and records them
 * in the cache; returns how many there are. */
static int lookup_handlers(lua_State *L, hcache *hc, int phase, const pl_msgbody *body)
{
    lua_settop(L, B_CACHE);
    hc->n[phase] = -1; /* until both user values are set (memory may run out) */
    hc->gen++;
    int n = pl_conn_push_handlers(L, PL_CONN_MESSAGE, body->topic, body->topic_len, phase);
    if (!n) lua_pushnil(L);
    lua_pushvalue(L, B_HANDLERS);
    lua_setiuservalue(L, B_CACHE, 2 * phase + 1);
    const char *topic = lua_pushlstring(L, body->topic, body->topic_len);
    lua_setiuservalue(L, B_CACHE, 2 * phase + 2); /* anchors topic */
    hc->topic[phase] = topic;
    hc->topic_len[phase] = body->topic_len;
    hc->n[phase] = n;
    return n;
}

/* Reports that msg's values could not be decoded (err) and drops it. */
static void undeliverable(lua_State *L, batch *b, pl_msg *msg, const char *err)
{
    pl_msgbody *body = msg->body;
    b->current = NULL;
    char quoted[128];
    pl_topic_quote(quoted, sizeof quoted, body->topic, body->topic_len);
    lua_pushfstring(L, "cannot deliver message \"%s\": %s", quoted, err);
    pl_report_error(b->vm, L, "message delivery failed");
    lua_settop(L, B_HANDLERS);
    pl_msg_done(msg);
}

/* After a handler of the message ran (or yielded, or raised). */
static void finish(pl_vm *vm, pl_msg *msg)
{
    vm->stats.delivered++;
    pl_msg_done(msg);
}

/* The continuation of a handler the batch runner called, when it yielded:
 * the coroutine is the handler's alone from then on (the runner moved on to
 * a new one), so it ends with the handler, returning what the handler
 * returned, as a coroutine whose main function is the handler would. */
static int batch_k(lua_State *co, int status, lua_KContext base)
{
    (void)status;
    return lua_gettop(co) - (int)base;
}

/* Stack layout of pl_actor_batch_runner: */
enum {
    R_BATCH = 1, /* the batch (light userdata) */
    R_CONN = 2,  /* the handler's connection */
    R_FN = 3,    /* its function (a connection's never changes) */
    R_CALL = 4   /* a copy of it and the message's values, for the call */
};

/* The bottom of a handler coroutine that delivers a run of messages for
 * one handler, calling it once per message without a lua_resume each:
 * b->current and the messages that follow it in the phase's batch, as
 * long as they go to the same cached topic and handler (same hc->gen).
 * Called with the batch, the connection and b->current's decoded values.
 * It stops, the coroutine finishing, at the end of the batch, at a message
 * it cannot deliver (left in b->pending for deliver_batch), and after a
 * handler that called coroutine.running(). A handler that yields or
 * raises leaves the runner's C frame behind: the coroutine is that
 * handler's (its thread parks, or dies and is reported as any handler's;
 * pl_traceback hides the frame), and run_batch starts a new runner for
 * the rest. Its own errors (memory) are the delivery's: th->batch_code is
 * set while its own code runs. */
int pl_actor_batch_runner(lua_State *co)
{
    batch *b = lua_touserdata(co, R_BATCH);
    pl_vm *vm = b->vm;
    pl_rthread *th = pl_ctx_of(co)->rt;
    hcache *hc = b->hc;
    int p = b->phase;
    pl_msg *msg = b->current;
    /* lua_resume left LUA_MINSTACK free slots above the values, and decode
     * makes room for its values and more: the pushes below fit */
    lua_getiuservalue(co, R_CONN, 1);
    lua_pushvalue(co, -1);
    lua_rotate(co, R_FN, 2); /* once per run: each message's call copies it */
    for (;;) {
        int nargs = lua_gettop(co) - R_CALL;
        pl_instance *script = NULL;
        if (pl_conn_check(co, R_CONN, &script)) {
            if (pl_vm_dead(vm)) { /* a handler destroyed this VM's Actor */
                lua_settop(co, R_FN);
                b->current = NULL;
                finish(vm, msg);
                break;
            }
            if (script != th->script) {
                pl_rthread_set_script(th, script);
                pl_vm_switch_script(vm, co, script);
            }
            b->current = NULL;
            b->running = msg;
            th->batch_code = 0;
            lua_callk(co, nargs, LUA_MULTRET, R_FN, batch_k);
            th->batch_code = 1;
            b->running = NULL;
        }
        lua_settop(co, R_FN);
        b->current = NULL;
        finish(vm, msg);
        /* coroutine.running() handed the coroutine out: it serves no other
         * handler (base.c) */
        if (!th->reusable || pl_vm_dead(vm)) break;
        if (!(msg = pl_mailbox_next(&vm->mailbox, p))) break;
        pl_msgbody *body = msg->body;
        if (vm->tbuf) pl_trace_flow_at(vm->tbuf, 'f', "message", body->flow, b->taken);
        if (pl_signal_is_topic(body->topic, body->topic_len) || hc->gen != b->gen ||
            !cached_topic(hc, p, body)) {
            b->pending = msg; /* another topic or handlers: deliver_batch's */
            break;
        }
        lua_pushvalue(co, R_FN);
        b->current = msg; /* out of memory may raise here: the message is dropped */
        int n;
        if (pl_transfer_decode_raising(co, &body->wire, 1, &n, b->pending_err,
                                       sizeof b->pending_err) != 0) {
            b->current = NULL;
            b->pending = msg; /* reported by deliver_batch */
            b->pending_failed = 1;
            break;
        }
        pl_msg_delivered(msg); /* before a handler can unbind the other phase (I3) */
    }
    th->batch_code = 0; /* the coroutine may serve a plain handler next (spare) */
    return 0;
}

/* Delivers msg, the cached topic's one handler at B_HANDLERS, its n values
 * at B_ARGS, and the messages after it the runner can take, in a handler
 * coroutine running pl_actor_batch_runner. */
static void run_batch(lua_State *L, batch *b, hcache *hc, unsigned gen, int n)
{
    luaL_checkstack(L, 4, "too many handler arguments");
    lua_pushcfunction(L, pl_actor_batch_runner);
    lua_pushlightuserdata(L, b);
    lua_pushvalue(L, B_HANDLERS);
    lua_rotate(L, B_ARGS, 3); /* below the values */
    /* of the handler's Script once it runs (the runner sets it) */
    pl_rthread *th = pl_handler_thread(L, n + 2, NULL);
    if (!th) luaL_error(L, "not enough memory");
    b->hc = hc;
    b->gen = gen;
    b->running = NULL;
    th->batch_code = 1;
    int rc = pl_rthread_resume(th, L);
    if (b->running) { /* its handler yielded or raised: the message is done */
        finish(b->vm, b->running);
        b->running = NULL;
    }
    if (rc == 2) lua_error(L); /* the runner's own error: b->current is dropped */
    lua_settop(L, B_HANDLERS);
}

static int deliver_batch(lua_State *L)
{
    batch *b = lua_touserdata(L, B_BATCH);
    pl_vm *vm = b->vm;
    lua_settop(L, B_BATCH);
    hcache *hc = push_hcache(L);
    /* B_HANDLERS holds the handlers of the cache's topic while hc->gen is
     * still gen: a binding changed or another lookup ran (a nested
     * delivery) when it is not */
    int p = b->phase, nhandlers = hc->n[p];
    unsigned gen = hc->gen;
    if (nhandlers >= 0) {
        lua_getiuservalue(L, B_CACHE, 2 * p + 1);
    } else {
        lua_settop(L, B_HANDLERS);
        gen--; /* none: looked up first */
    }
    for (;;) {
        pl_msg *msg = b->pending; /* taken by a runner, traced already */
        if (msg) {
            b->pending = NULL;
        } else {
            if (pl_vm_dead(vm) || !(msg = pl_mailbox_next(&vm->mailbox, b->phase))) break;
            if (vm->tbuf) pl_trace_flow_at(vm->tbuf, 'f', "message", msg->body->flow, b->taken);
        }
        b->current = msg;
        pl_msgbody *body = msg->body;
        if (b->pending_failed) { /* the runner could not decode it */
            b->pending_failed = 0;
            undeliverable(L, b, msg, b->pending_err);
            continue;
        }
        if (pl_signal_is_topic(body->topic, body->topic_len)) { /* a signal's delivery */
            deliver_signal(L, b, msg);
            continue;
        }
        if (hc->gen != gen || !cached_topic(hc, p, body)) {
            nhandlers = lookup_handlers(L, hc, p, body);
            gen = hc->gen;
        }
        b->current = NULL;
        if (!nhandlers) { /* the mailbox keeps it (I2 makes this rare) */
            /* quoted first: a reroute that fails has freed the body */
            char quoted[128];
            pl_topic_quote(quoted, sizeof quoted, body->topic, body->topic_len);
            int mask = pl_mailbox_reroute(&vm->mailbox, msg, b->phase);
            if (mask == PL_ENOMEM) {
                lua_pushfstring(L, "message \"%s\" dropped: not enough memory to keep it", quoted);
                pl_report_error(vm, L, "message delivery failed");
                lua_settop(L, B_HANDLERS);
            }
            mark_phases(vm, mask);
            continue;
        }
        int n;
        char err[512];
        b->current = msg; /* out of memory may raise here: the message is dropped */
        if (pl_transfer_decode_raising(L, &body->wire, 1, &n, err, sizeof err) != 0) {
            undeliverable(L, b, msg, err);
            continue;
        }
        pl_msg_delivered(msg); /* before a handler can unbind the other phase (I3) */
        /* One handler and the next message for it too: this one and the
         * next ones in one coroutine (a lone message goes the plain way,
         * which costs less for one) */
        pl_msg *after = pl_mailbox_peek(&vm->mailbox, p);
        if (nhandlers == 1 && after && cached_topic(hc, p, after->body)) {
            run_batch(L, b, hc, gen, n);
            continue;
        }
        pl_run_handlers(L, B_HANDLERS, nhandlers, B_ARGS, n);
        b->current = NULL;
        lua_settop(L, B_HANDLERS);
        finish(vm, msg);
    }
    return 0;
}

void pl_actor_mark(pl_vm *vm, int mask)
{
    mark_phases(vm, mask);
}

void pl_actor_flush(pl_vm *vm)
{
    vm->flush_mailbox = 0;
    mark_phases(vm, pl_mailbox_flush(&vm->mailbox));
}

void pl_actor_dispatch(pl_vm *vm, int phase)
{
    lua_State *L = vm->L;
    batch b; /* not zeroed whole: pending_err is written before it is read */
    b.vm = vm;
    b.phase = phase;
    b.current = b.running = b.pending = NULL;
    b.taken = 0;
    b.hc = NULL;
    b.gen = 0;
    b.pending_failed = 0;
    size_t n = pl_mailbox_take(&vm->mailbox, phase);
    /* A flow ends when its message is taken: one clock read per batch.
     * Still before any of them is freed, so before an id can be reused. */
    if (vm->tbuf && n) b.taken = pl_trace_now(vm->tbuf);
    /* the owner's: no lock; a message a runner left pending is delivered
     * first (it was taken while the VM was alive, and nothing ran since) */
    while ((pl_mailbox_peek(&vm->mailbox, phase) || b.pending) && !pl_vm_dead(vm)) {
        lua_pushcfunction(L, deliver_batch);
        lua_pushlightuserdata(L, &b);
        if (lua_pcall(L, 1, 0, 0) != LUA_OK) { /* out of memory, mostly */
            pl_report_error(vm, L, "message delivery failed");
            lua_pop(L, 1);
            if (b.current) pl_msg_done(b.current);
            b.current = NULL;
        }
    }
    /* Killed by a handler: pl_vm_kill dropped the rest of the batch. */
    if (b.pending) pl_msg_done(b.pending);
}

const pl_member pl_actor_members[] = {
    {"SendMessage", PL_SAFE, NULL, NULL, actor_send, PL_MEMBER_LTHREAD,
     "`(topic, ...)`: sends the values (transferred) to the actor's handlers of `topic`"},
    {"BindToMessage", PL_SAFE, NULL, NULL, actor_bind, 0,
     "`(topic, fn)`: runs `fn(...)` in the serial phase for each message (the actor's own VM "
     "only); returns a connection"},
    {"BindToMessageParallel", PL_SAFE, NULL, NULL, actor_bind_parallel, 0,
     "the same, in the parallel phase"},
    {NULL, 0, NULL, NULL, NULL, 0, NULL},
};
