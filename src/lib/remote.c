/*
 * Actors on other ranks (lib/remote.h; docs/distributed.md):
 * parlua.rank(), parlua.ranks(), parlua.remote(rank, path) and the
 * RemoteActor it returns, whose SendMessage encodes the values as a local
 * SendMessage does (engine/transfer_*.c), writes their shared objects out
 * (remote_codec.c) and hands the bytes to the communication thread
 * (engine/dist.c). On the receiving rank the serial thread, between
 * frames, turns each message back into a message body and posts it to the
 * mailbox of the actor at its path, as if a local VM had sent it; and it
 * runs the termination waves when this rank has nothing left to do.
 *
 * Without MPI (one rank), parlua.remote(0, path) works the same way: its
 * messages go on a loopback list that the serial thread receives from.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/dist.h"
#include "engine/proxy.h"
#include "engine/sched.h"
#include "engine/transfer.h"
#include "lib/lib.h"
#include "lib/remote.h"

/* The largest message to another rank (its values' bytes and objects). */
#define MAX_MESSAGE ((size_t)1 << 30)

struct pl_remote_state {
    uv_mutex_t lock; /* the loopback list: a leaf */
    pl_dist_buf *head, *tail;
    /* the serial thread's */
    uint64_t received;
    int wave_running, have_prev;
    uint64_t prev[2];
    size_t undelivered, dropped;
    char example[512];
};

/* ---- remote references ---- */

static void ref_destroy(pl_shared *obj)
{
    free(obj);
}

static void make_mt(void *L, const pl_shared_type *type);

const pl_shared_type pl_remote_type = {"RemoteActor", "parlua.RemoteActor", ref_destroy, make_mt};

pl_remote_ref *pl_remote_ref_new(int rank, const char *path, size_t len)
{
    pl_remote_ref *ref = malloc(sizeof *ref + len + 1);
    if (!ref) return NULL;
    pl_shared_init(&ref->base, &pl_remote_type);
    ref->rank = rank;
    ref->len = len;
    memcpy(ref->path, path, len);
    ref->path[len] = '\0';
    return ref;
}

static pl_remote_ref *check_ref(lua_State *L, int idx)
{
    pl_shared *obj = pl_proxy_test(L, idx, &pl_remote_type);
    if (!obj) luaL_typeerror(L, idx, "RemoteActor");
    return (pl_remote_ref *)obj;
}

static int ranks_of(pl_runtime *rt)
{
    return rt->dist ? rt->dist->size : 1;
}

static int rank_of(pl_runtime *rt)
{
    return rt->dist ? rt->dist->rank : 0;
}

/* ---- sending ---- */

/* Hands a framed message to its rank (any thread). */
static void post(pl_runtime *rt, pl_dist_buf *b)
{
    if (rt->dist) {
        pl_dist_post(rt->dist, b); /* this rank too: the thread loops it back */
        return;
    }
    pl_remote_state *s = rt->remote;
    uv_mutex_lock(&s->lock);
    int was_empty = !s->head;
    pl_dist_buf_append(&s->head, &s->tail, b);
    uv_mutex_unlock(&s->lock);
    /* The serial thread takes the whole list after every sleep: writing on
     * each empty-to-full change (not only while it sleeps) loses no wake. */
    if (was_empty && rt->wake_fd >= 0) {
        uint64_t one = 1;
        ssize_t rc = write(rt->wake_fd, &one, sizeof one);
        (void)rc; /* a full counter wakes the sleeper anyway */
    }
}

static int send_error(lua_State *L, pl_remote_ref *ref, const char *why)
{
    return luaL_error(L, "SendMessage to actor \"%s\" on rank %d: %s", ref->path, ref->rank, why);
}

static int ref_send(lua_State *L)
{
    pl_remote_ref *ref = check_ref(L, 1);
    size_t tlen;
    const char *topic = luaL_checklstring(L, 2, &tlen);
    pl_vm *me = pl_vm_of(L);
    pl_runtime *rt = me->runtime;
    if (ref->rank >= ranks_of(rt)) /* a reference from a bigger job, kept somewhere */
        return send_error(L, ref, "no such rank in this job (parlua.ranks() says how many)");
    char err[512];
    pl_wire vals, msg;
    pl_wire_init(&vals);
    pl_wire_init(&msg);
    pl_transfer_origin origin = {"SendMessage", 2};
    if (pl_transfer_encode(L, 3, lua_gettop(L) - 2, &origin, &vals, err, sizeof err) != 0) {
        pl_wire_free(&vals);
        return luaL_error(L, "%s", err);
    }
    int rc = pl_wire_put_bytes(&msg, ref->path, ref->len) != 0 ||
                     pl_wire_put_bytes(&msg, topic, tlen) != 0 ||
                     pl_wire_put_bytes(&msg, vals.data, vals.len) != 0
                 ? PL_ENOMEM
                 : pl_remote_encode_refs(&vals, rank_of(rt), &msg, err, sizeof err);
    pl_wire_free(&vals); /* drops the objects' references: msg has them as bytes */
    pl_dist_buf *b = NULL;
    if (rc == PL_OK && msg.len <= MAX_MESSAGE) {
        b = malloc(sizeof *b + PL_WIRE_VARINT_MAX + msg.len);
        if (b) { /* the frame: length, then the message */
            pl_wire frame;
            pl_wire_init_inline(&frame, b->data, PL_WIRE_VARINT_MAX + msg.len);
            PL_CANNOT_FAIL(pl_wire_put_bytes(&frame, msg.data, msg.len)); /* room reserved */
            b->len = frame.len;
            b->rank = ref->rank;
        }
    }
    size_t len = msg.len;
    pl_wire_free(&msg);
    if (rc == PL_EINVAL) return send_error(L, ref, err);
    if (rc == PL_OK && len > MAX_MESSAGE) {
        snprintf(err, sizeof err,
                 "the message takes %zu bytes, more than the %zu a message to another rank may "
                 "take; send it in parts",
                 len, MAX_MESSAGE);
        return send_error(L, ref, err);
    }
    if (!b) return luaL_error(L, "not enough memory");
    post(rt, b);
    me->stats.sent++;
    return 0;
}

/* ---- the Lua side ---- */

static int ref_index(lua_State *L)
{
    pl_remote_ref *ref = check_ref(L, 1);
    const char *key = luaL_checkstring(L, 2);
    if (strcmp(key, "SendMessage") == 0)
        lua_pushcfunction(L, ref_send);
    else if (strcmp(key, "Rank") == 0)
        lua_pushinteger(L, ref->rank);
    else if (strcmp(key, "Path") == 0)
        lua_pushlstring(L, ref->path, ref->len);
    else
        return luaL_error(L,
                          "'%s' is not a member of RemoteActor (it has SendMessage, Rank and "
                          "Path; bind to messages in the actor's own script, on rank %d)",
                          key, ref->rank);
    return 1;
}

static int ref_tostring(lua_State *L)
{
    pl_remote_ref *ref = check_ref(L, 1);
    lua_pushfstring(L, "RemoteActor %s on rank %d", ref->path, ref->rank);
    return 1;
}

static int ref_eq(lua_State *L)
{
    pl_shared *a = pl_proxy_test(L, 1, &pl_remote_type), *b = pl_proxy_test(L, 2, &pl_remote_type);
    pl_remote_ref *x = (pl_remote_ref *)a, *y = (pl_remote_ref *)b;
    lua_pushboolean(L, x && y && x->rank == y->rank && x->len == y->len &&
                           memcmp(x->path, y->path, x->len) == 0);
    return 1;
}

static void make_mt(void *state, const pl_shared_type *type)
{
    lua_State *L = state;
    pl_proxy_newmetatable(L, type);
    static const luaL_Reg mm[] = {
        {"__index", ref_index}, {"__tostring", ref_tostring}, {"__eq", ref_eq}, {NULL, NULL}};
    luaL_setfuncs(L, mm, 0);
    lua_pop(L, 1);
}

static int parlua_rank(lua_State *L)
{
    lua_pushinteger(L, rank_of(pl_vm_of(L)->runtime));
    return 1;
}

static int parlua_ranks(lua_State *L)
{
    lua_pushinteger(L, ranks_of(pl_vm_of(L)->runtime));
    return 1;
}

static int parlua_remote(lua_State *L)
{
    pl_runtime *rt = pl_vm_of(L)->runtime;
    lua_Integer rank = luaL_checkinteger(L, 1);
    size_t len;
    const char *path = luaL_checklstring(L, 2, &len);
    int n = ranks_of(rt);
    if (rank < 0 || rank >= n)
        return luaL_error(L,
                          "parlua.remote: rank %I is out of range: this job has %d rank%s (0 to "
                          "%d; parlua.ranks() says how many)",
                          rank, n, n == 1 ? "" : "s", n - 1);
    if (len == 0 || memchr(path, '\0', len))
        return luaL_error(L, "parlua.remote: the path must name an actor, as GetFullName does "
                             "(e.g. \"Workspace.Worker3\")");
    if (!lua_checkstack(L, 4)) return luaL_error(L, "not enough memory");
    pl_remote_ref *ref = pl_remote_ref_new((int)rank, path, len);
    if (!ref) return luaL_error(L, "not enough memory");
    pl_proxy_push(L, &ref->base);  /* may raise only for memory: ref then leaks */
    pl_shared_release(&ref->base); /* the proxy holds it now */
    return 1;
}

void pl_remote_add_funcs(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"rank", parlua_rank}, {"ranks", parlua_ranks}, {"remote", parlua_remote}, {NULL, NULL}};
    luaL_setfuncs(L, funcs, 0);
}

/* ---- receiving ---- */

pl_instance *pl_remote_find_path(pl_runtime *rt, const char *path, size_t len)
{
    pl_instance *inst = rt->game;
    if (len >= 5 && memcmp(path, "game.", 5) == 0) path += 5, len -= 5;
    char name[256];
    while (inst && len) {
        const char *dot = memchr(path, '.', len);
        size_t n = dot ? (size_t)(dot - path) : len;
        if (n == 0 || n >= sizeof name) return NULL;
        memcpy(name, path, n);
        name[n] = '\0';
        inst = pl_instance_find_child(inst, name, 0);
        path += n + (dot != NULL);
        len -= n + (dot != NULL);
    }
    return inst;
}

static void note_undelivered(pl_remote_state *s, int from, const char *path, size_t plen,
                             const char *topic, size_t tlen, const char *why)
{
    if (!s->undelivered++) {
        char quoted[128];
        pl_topic_quote(quoted, sizeof quoted, topic, tlen);
        snprintf(s->example, sizeof s->example, "topic \"%s\" from rank %d to \"%.*s\": %s", quoted,
                 from, (int)(plen > 200 ? 200 : plen), path, why);
    }
}

/* One message from rank `from`: to its actor's mailbox. */
static void receive_one(pl_runtime *rt, int from, const unsigned char *p, size_t len)
{
    pl_remote_state *s = rt->remote;
    pl_wire view = {(unsigned char *)p, len, len, NULL, NULL, 0, 0};
    pl_wire_reader r;
    pl_wire_reader_init(&r, &view);
    const unsigned char *path, *topic, *data;
    size_t plen, tlen, dlen;
    uint64_t nrefs;
    if (pl_wire_get_bytes(&r, &path, &plen) != 0 || pl_wire_get_bytes(&r, &topic, &tlen) != 0 ||
        pl_wire_get_bytes(&r, &data, &dlen) != 0 || pl_wire_get_varint(&r, &nrefs) != 0) {
        s->dropped++;
        return;
    }
    pl_msgbody *body = pl_msgbody_new((const char *)topic, tlen);
    int rc = body ? PL_OK : PL_ENOMEM;
    if (rc == PL_OK) rc = pl_wire_put_raw(&body->wire, data, dlen) != 0 ? PL_ENOMEM : PL_OK;
    if (rc == PL_OK) rc = pl_remote_decode_refs(rt, &r, nrefs, &body->wire);
    if (rc == PL_OK && pl_wire_remaining(&r)) rc = PL_EMALFORMED;
    if (rc != PL_OK) {
        if (body) pl_msgbody_free(body);
        s->dropped++;
        return;
    }
    pl_instance *inst = pl_remote_find_path(rt, (const char *)path, plen);
    const char *why = !inst                                    ? "no instance has that path"
                      : !pl_instance_is(inst, &pl_class_actor) ? "that instance is not an Actor"
                                                               : NULL;
    pl_vm *vm = why ? NULL : inst->vm;
    if (!vm || pl_vm_dead(vm)) { /* a destroyed Actor drops its messages, as locally */
        if (why)
            note_undelivered(s, from, (const char *)path, plen, (const char *)topic, tlen, why);
        pl_msgbody_free(body);
        return;
    }
    int mask = pl_mailbox_post(&vm->mailbox, &body);
    if (mask < 0) {
        note_undelivered(s, from, (const char *)path, plen, (const char *)topic, tlen,
                         "its mailbox refused it (out of memory, or --mailbox-limit reached)");
        pl_msgbody_free(body);
        return;
    }
    pl_actor_mark(vm, mask);
}

static size_t receive_list(pl_runtime *rt, pl_dist_buf *b)
{
    size_t n = 0;
    while (b) {
        pl_wire view = {b->data, b->len, b->len, NULL, NULL, 0, 0};
        pl_wire_reader r;
        pl_wire_reader_init(&r, &view);
        while (pl_wire_remaining(&r)) {
            const unsigned char *p;
            size_t len;
            if (pl_wire_get_bytes(&r, &p, &len) != 0) {
                rt->remote->dropped++;
                break;
            }
            receive_one(rt, b->rank, p, len);
            n++;
        }
        pl_dist_buf *next = b->next;
        free(b);
        b = next;
    }
    return n;
}

size_t pl_remote_receive(pl_runtime *rt)
{
    pl_remote_state *s = rt->remote;
    size_t n = 0;
    if (rt->dist) n += receive_list(rt, pl_dist_take_inbound(rt->dist));
    uv_mutex_lock(&s->lock);
    pl_dist_buf *local = s->head;
    s->head = s->tail = NULL;
    uv_mutex_unlock(&s->lock);
    n += receive_list(rt, local);
    s->received += n;
    return n;
}

/* ---- termination ---- */

int pl_remote_idle(pl_runtime *rt)
{
    pl_remote_state *s = rt->remote;
    pl_dist *d = rt->dist;
    if (!d) return 1;
    if (pl_remote_receive(rt)) return 0; /* work again */
    if (!s->wave_running) {
        /* Read while this rank is passive: nothing runs, nothing is ready.
         * relaxed: every increment was made by a VM run that the pool's
         * hand-over (or this thread itself) ordered before this point. */
        uint64_t mine[2] = {atomic_load_explicit(&d->sent, memory_order_relaxed), s->received};
        pl_dist_wave_start(d, mine);
        s->wave_running = 1;
    }
    uint64_t sum[2];
    if (pl_dist_wave_result(d, sum)) {
        s->wave_running = 0;
        /* Two waves in a row with the same totals, sent == received: see
         * docs/design.md, "Distributed jobs" for why the job is then over. */
        if (sum[0] == sum[1] && s->have_prev && s->prev[0] == sum[0] && s->prev[1] == sum[1]) {
            pl_dist_terminated(d);
            return 1;
        }
        s->prev[0] = sum[0];
        s->prev[1] = sum[1];
        s->have_prev = 1;
        return 0;
    }
    pl_sched_idle(rt, -1, 0, 1); /* until a batch or the wave's result comes */
    return 0;
}

/* ---- the runtime's state and reports ---- */

int pl_remote_init(pl_runtime *rt)
{
    pl_remote_state *s = calloc(1, sizeof *s);
    if (!s) return PL_ENOMEM;
    uv_mutex_init(&s->lock);
    rt->remote = s;
    return PL_OK;
}

void pl_remote_free(pl_runtime *rt)
{
    pl_remote_state *s = rt->remote;
    if (!s) return;
    pl_dist_buf_free_all(s->head);
    uv_mutex_destroy(&s->lock);
    free(s);
    rt->remote = NULL;
}

void pl_remote_report(pl_runtime *rt)
{
    pl_remote_state *s = rt->remote;
    if (!s) return;
    if (s->undelivered)
        fprintf(stderr,
                "%s: %zu message%s sent with parlua.remote %s never delivered: no Actor at the "
                "path on this rank (e.g. %s)\n",
                pl_report_name(rt), s->undelivered, s->undelivered == 1 ? "" : "s",
                s->undelivered == 1 ? "was" : "were", s->example);
    if (s->dropped)
        fprintf(stderr, "%s: %zu message%s from other ranks dropped: malformed or out of memory\n",
                pl_report_name(rt), s->dropped, s->dropped == 1 ? "" : "s");
}

void pl_remote_stats(pl_runtime *rt, FILE *f)
{
    pl_dist *d = rt->dist;
    if (!d) return;
    fprintf(f, "%s: rank %d of %d (%s): %llu messages sent with parlua.remote, %llu received\n",
            pl_report_name(rt), d->rank, d->size, d->tp->name,
            (unsigned long long)atomic_load(&d->sent), (unsigned long long)rt->remote->received);
}
