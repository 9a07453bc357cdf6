/*
 * sync.Queue: a queue between threads of any VMs, with Python 3.13's
 * queue.Queue semantics: FIFO, LIFO or priority order, an optional maxsize,
 * blocking put/get with timeouts, task_done/join, and shutdown.
 *
 * Items cross VMs by the transfer rules (engine/transfer.h): put encodes
 * the value outside the lock, get decodes it in the getter's VM. A getter
 * that waits on an empty queue is handed the next item directly by put, and
 * a putter that waits on a full queue has its item moved in by the get that
 * makes room, both under the queue's lock: waiters are served in arrival
 * order and no item is lost or taken twice. Errors are objects named Full,
 * Empty and ShutDown (lib/sync.h), so callers can tell them apart.
 */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "core/wire.h"
#include "engine/park.h"
#include "engine/proxy.h"
#include "engine/runtime.h"
#include "engine/transfer.h"
#include "lib/sync.h"

enum { ORDER_FIFO, ORDER_LIFO, ORDER_PRIORITY };
enum { WANT_GET, WANT_PUT, WANT_JOIN }; /* pl_waiter.kind */
#define SHUT ((long long)1)             /* pl_waiter.value of a waiter released by shutdown */

typedef struct item {
    pl_wire wire;
    int key_is_str;
    lua_Number key_num;
    char *key_str; /* malloc'd */
    size_t key_len;
    unsigned long long seq; /* arrival order: FIFO among equal keys */
} item;

typedef struct queue_obj {
    pl_waitobj w;
    int order;
    long maxsize; /* <= 0: unbounded */
    item **items; /* FIFO: a ring from head; LIFO: a stack; priority: a min-heap */
    size_t cap, head, n;
    unsigned long long next_seq;
    long unfinished; /* put and not yet task_done */
    int shutdown;
} queue_obj;

static void free_item(item *it)
{
    if (!it) return;
    pl_wire_free(&it->wire);
    free(it->key_str);
    free(it);
}

static void destroy_queue(pl_shared *obj)
{
    queue_obj *q = (queue_obj *)obj;
    for (size_t i = 0; i < q->n; i++)
        free_item(q->items[q->order == ORDER_FIFO ? (q->head + i) % q->cap : i]);
    free(q->items);
    pl_waitobj_destroy(&q->w);
    free(q);
}

static void queue_abandon(pl_waitobj *obj, pl_waiter *w);
static void make_queue_mt(void *L, const pl_shared_type *type);
static const pl_wait_ops queue_ops = {NULL, queue_abandon};
static const pl_shared_type queue_type = {"Queue", "parlua.Queue", destroy_queue, make_queue_mt};

static queue_obj *check_queue(lua_State *L)
{
    return pl_sync_check(L, 1, &queue_type);
}

/* ---- the item store (lock held) ---- */

/* a before b in a priority queue: smaller key, then earlier arrival */
static int before(const item *a, const item *b)
{
    if (a->key_is_str != b->key_is_str) return !a->key_is_str; /* numbers first */
    int c;
    if (a->key_is_str) {
        size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
        c = memcmp(a->key_str, b->key_str, n);
        if (c == 0) c = (a->key_len > b->key_len) - (a->key_len < b->key_len);
    } else {
        c = (a->key_num > b->key_num) - (a->key_num < b->key_num);
    }
    return c < 0 || (c == 0 && a->seq < b->seq);
}

static void heap_up(item **h, size_t i)
{
    item *x = h[i];
    while (i > 0 && before(x, h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = x;
}

static void heap_down(item **h, size_t n, size_t i)
{
    item *x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(h[c + 1], h[c])) c++;
        if (!before(h[c], x)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

/* Makes room for one more item: PL_OK or PL_ENOMEM (nothing changed). */
static int reserve(queue_obj *q)
{
    if (q->n < q->cap) return PL_OK;
    size_t old = q->cap;
    item **grown = pl_grow(q->items, &q->cap, q->n + 1, sizeof *grown);
    if (!grown) return PL_ENOMEM;
    q->items = grown;
    if (q->order == ORDER_FIFO && q->head + q->n > old) { /* unwrap the ring */
        size_t wrapped = q->head + q->n - old;
        memmove(q->items + old, q->items, wrapped * sizeof *q->items);
        /* the new room holds at least as many as wrapped, since cap >= 2 old */
    }
    return PL_OK;
}

/* Adds it (room reserved); front: put back where the next get takes it. */
static void store(queue_obj *q, item *it, int front)
{
    pl_assert(q->n < q->cap);
    it->seq = front ? 0 : ++q->next_seq;
    switch (q->order) {
    case ORDER_FIFO:
        if (front) {
            q->head = (q->head + q->cap - 1) % q->cap;
            q->items[q->head] = it;
        } else {
            q->items[(q->head + q->n) % q->cap] = it;
        }
        break;
    case ORDER_LIFO:
        q->items[q->n] = it; /* the top is the end, front or not */
        break;
    default:
        q->items[q->n] = it;
        heap_up(q->items, q->n);
        break;
    }
    q->n++;
}

static item *take(queue_obj *q)
{
    pl_assert(q->n > 0);
    item *it;
    switch (q->order) {
    case ORDER_FIFO:
        it = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        break;
    case ORDER_LIFO:
        it = q->items[q->n - 1];
        break;
    default:
        it = q->items[0];
        q->items[0] = q->items[q->n - 1];
        if (q->n > 1) heap_down(q->items, q->n - 1, 0);
        break;
    }
    q->n--;
    if (q->n == 0) q->head = 0;
    return it;
}

static int is_full(const queue_obj *q)
{
    return q->maxsize > 0 && q->n >= (size_t)q->maxsize;
}

/* The first waiter of a kind (the list mixes getters, putters, joiners). */
static pl_waiter *first_of(queue_obj *q, int kind)
{
    pl_list_each(it, &q->w.waiters)
    {
        pl_waiter *w = pl_container_of(it, pl_waiter, link);
        if (w->kind == kind) return w;
    }
    return NULL;
}

/* With the lock held, after an item left: moves waiting putters' items in
 * while there is room. */
static void admit_putters(queue_obj *q)
{
    pl_waiter *w;
    while (!is_full(q) && (w = first_of(q, WANT_PUT))) {
        if (reserve(q) != PL_OK) break; /* out of memory: they keep waiting */
        store(q, w->payload, 0);
        w->payload = NULL;
        q->unfinished++;
        pl_wake(w);
    }
}

static void wake_all(queue_obj *q, int kind, long long value)
{
    pl_waiter *w;
    while ((w = first_of(q, kind))) {
        w->value = value;
        pl_wake(w);
    }
}

static void queue_abandon(pl_waitobj *obj, pl_waiter *w)
{
    queue_obj *q = (queue_obj *)obj;
    if (w->kind == WANT_PUT) { /* an item still here was never stored */
        free_item(w->payload);
        w->payload = NULL;
    }
    if (w->kind != WANT_GET || !w->payload) return;
    item *it = w->payload;
    w->payload = NULL;
    uv_mutex_lock(&q->w.lock);
    pl_waiter *getter = first_of(q, WANT_GET);
    if (getter) { /* another getter waits: it takes the item instead */
        getter->payload = it;
        pl_wake(getter);
        it = NULL;
    } else if (reserve(q) == PL_OK) {
        store(q, it, 1); /* back at the front: the next get takes it */
        it = NULL;
    }
    uv_mutex_unlock(&q->w.lock);
    free_item(it); /* only when out of memory */
}

/* ---- Lua ---- */

static int sync_queue(lua_State *L)
{
    long maxsize = 0;
    int order = ORDER_FIFO;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_getfield(L, 1, "maxsize");
        if (!lua_isnil(L, -1)) {
            if (!lua_isinteger(L, -1))
                return luaL_error(L, "sync.Queue: maxsize must be an integer (0 or less: no "
                                     "limit)");
            maxsize = (long)lua_tointeger(L, -1);
        }
        lua_getfield(L, 1, "order");
        if (!lua_isnil(L, -1)) {
            const char *o = lua_tostring(L, -1);
            if (o && strcmp(o, "fifo") == 0)
                order = ORDER_FIFO;
            else if (o && strcmp(o, "lifo") == 0)
                order = ORDER_LIFO;
            else if (o && strcmp(o, "priority") == 0)
                order = ORDER_PRIORITY;
            else
                return luaL_error(L,
                                  "sync.Queue: order must be \"fifo\", \"lifo\" or "
                                  "\"priority\", got %s",
                                  luaL_tolstring(L, -1, NULL));
        }
        lua_settop(L, 1);
    }
    queue_obj *q = pl_sync_alloc(L, sizeof *q, &queue_type);
    pl_waitobj_init(&q->w, &queue_ops);
    q->order = order;
    q->maxsize = maxsize;
    return pl_sync_push_new(L, &q->w.base);
}

/* The priority key of the value at idx: the value itself for a number or a
 * string, its [1] for a table. Raises for anything else. */
static void set_key(lua_State *L, int idx, item *it)
{
    int top = lua_gettop(L);
    int t = lua_type(L, idx);
    if (t == LUA_TTABLE) {
        lua_rawgeti(L, idx, 1);
        idx = lua_gettop(L);
        t = lua_type(L, idx);
    }
    if (t == LUA_TNUMBER) {
        it->key_num = lua_tonumber(L, idx);
    } else if (t == LUA_TSTRING) {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        it->key_str = malloc(len + 1);
        if (!it->key_str) luaL_error(L, "not enough memory");
        memcpy(it->key_str, s, len);
        it->key_len = len;
        it->key_is_str = 1;
    } else {
        luaL_error(L,
                   "Queue:put: a priority queue orders items by a number or string key: the "
                   "item itself, or item[1] for a table (got %s)",
                   luaL_typename(L, idx));
    }
    lua_settop(L, top);
}

/* The item being made by a put, between make_item and own_item: a slot
 * in a userdata kept in the registry, one per VM and reused by every put
 * (a userdata with a finalizer per put made every put cost a finalizer
 * run, and a producer's heap grew to hundreds of KB of them). When make_item
 * raises (a value that cannot cross, out of memory), the item stays in the
 * slot: the next put frees it, or the slot's __gc when the VM closes. */
static const char ANCHOR_KEY = 0;

static int anchor_gc(lua_State *L)
{
    item **slot = lua_touserdata(L, 1);
    free_item(*slot);
    *slot = NULL;
    return 0;
}

static item **anchor_slot(lua_State *L)
{
    item **slot;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &ANCHOR_KEY) == LUA_TUSERDATA) {
        slot = lua_touserdata(L, -1);
        lua_pop(L, 1); /* the registry keeps it */
        return slot;
    }
    lua_pop(L, 1);
    slot = lua_newuserdatauv(L, sizeof *slot, 0);
    *slot = NULL;
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, anchor_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &ANCHOR_KEY);
    return slot;
}

/* A new item holding the value at idx, left in the VM's anchor slot
 * (returned) until own_item takes it; raises if the value cannot cross. */
static item **make_item(lua_State *L, queue_obj *q, int idx)
{
    item **slot = anchor_slot(L);
    free_item(*slot); /* an earlier put raised while making its item */
    *slot = NULL;
    item *it = calloc(1, sizeof *it);
    if (!it) luaL_error(L, "not enough memory");
    pl_wire_init(&it->wire);
    *slot = it;
    if (q->order == ORDER_PRIORITY) set_key(L, idx, it);
    char err[512];
    pl_transfer_origin origin = {"Queue:put", 2};
    if (pl_transfer_encode(L, idx, 1, &origin, &it->wire, err, sizeof err) != 0)
        luaL_error(L, "%s", err);
    return slot;
}

/* The caller now owns the item make_item made (no Lua call: the queue's
 * lock may be held). */
static item *own_item(item **slot)
{
    item *it = *slot;
    *slot = NULL;
    return it;
}

/* block (argument bidx, default true) and timeout (argument bidx + 1):
 * the seconds to wait, -1 for ever, 0 for not at all. */
static double wait_arg(lua_State *L, int bidx, const char *fn)
{
    int block = lua_isnoneornil(L, bidx) ? 1 : lua_toboolean(L, bidx);
    double timeout = pl_sync_timeout(L, bidx + 1, fn);
    return block ? timeout : 0;
}

static int shut_error(lua_State *L, queue_obj *q, const char *fn)
{
    return pl_sync_raise(L, "ShutDown", "%s: Queue#%d is shut down", fn, (int)q->w.id);
}

static int put_k(lua_State *L, int status, lua_KContext ctx)
{
    queue_obj *q = check_queue(L);
    pl_wait_outcome end = pl_park_end(L);
    if (end.granted && end.value != SHUT) return 0; /* a get moved it in */
    free_item(end.payload); /* not stored: timed out or shut down (NULL: dropped already) */
    if (!end.waited) return luaL_error(L, "Queue:put: the wait was ended from outside");
    if (end.granted) return shut_error(L, q, "Queue:put");
    return pl_sync_raise(L, "Full",
                         "Queue:put: Queue#%d stayed full (maxsize %d) until the "
                         "timeout",
                         (int)q->w.id, (int)q->maxsize);
}

static int do_put(lua_State *L, double timeout)
{
    queue_obj *q = check_queue(L);
    luaL_checkany(L, 2);
    if (timeout != 0) pl_park_check(L, "Queue:put");
    item **slot = make_item(L, q, 2);
    /* The waiter is prepared only once the queue was found full (it reads
     * the caller's position for deadlock reports: most of a put's cost
     * when done for every put), with the lock released, then the queue is
     * looked at again (as do_get does). */
    pl_waiter *w = NULL;
    for (int prepared = 0;; prepared = 1) {
        uv_mutex_lock(&q->w.lock);
        if (q->shutdown) {
            uv_mutex_unlock(&q->w.lock);
            free_item(own_item(slot));
            return shut_error(L, q, "Queue:put");
        }
        pl_waiter *getter = first_of(q, WANT_GET);
        if (getter) { /* the queue is empty and someone waits: hand it over */
            getter->payload = own_item(slot);
            q->unfinished++;
            pl_wake(getter);
            uv_mutex_unlock(&q->w.lock);
            return 0;
        }
        if (!is_full(q)) {
            if (reserve(q) != PL_OK) {
                uv_mutex_unlock(&q->w.lock);
                free_item(own_item(slot));
                return luaL_error(L, "not enough memory");
            }
            store(q, own_item(slot), 0);
            q->unfinished++;
            uv_mutex_unlock(&q->w.lock);
            return 0;
        }
        if (timeout == 0) {
            uv_mutex_unlock(&q->w.lock);
            free_item(own_item(slot));
            return pl_sync_raise(L, "Full", "Queue:put: Queue#%d is full (maxsize %d)",
                                 (int)q->w.id, (int)q->maxsize);
        }
        if (prepared) break;
        /* may raise (the item stays in the anchor slot: make_item) */
        w = pl_park_prepare_unlocking(L, &q->w, WANT_PUT, "Queue:put");
    }
    w->payload = own_item(slot); /* the get that makes room moves it in */
    return pl_park(L, w, timeout, 0, put_k);
}

static int queue_put(lua_State *L)
{
    double timeout = wait_arg(L, 3, "Queue:put");
    lua_settop(L, 2);
    return do_put(L, timeout);
}

static int queue_put_nowait(lua_State *L)
{
    lua_settop(L, 2);
    return do_put(L, 0);
}

/* Pushes the item's value and frees it. */
static int push_item(lua_State *L, item *it)
{
    char err[512];
    int n = 0;
    int rc = pl_transfer_decode(L, &it->wire, 1, &n, err, sizeof err);
    free_item(it);
    if (rc != 0) return luaL_error(L, "Queue:get: %s", err);
    return n;
}

static int get_k(lua_State *L, int status, lua_KContext ctx)
{
    queue_obj *q = check_queue(L);
    pl_wait_outcome end = pl_park_end(L);
    if (end.granted && end.payload) return push_item(L, end.payload);
    if (!end.waited) return luaL_error(L, "Queue:get: the wait was ended from outside");
    if (end.granted) return shut_error(L, q, "Queue:get");
    return pl_sync_raise(L, "Empty", "Queue:get: Queue#%d stayed empty until the timeout",
                         (int)q->w.id);
}

static int do_get(lua_State *L, double timeout)
{
    queue_obj *q = check_queue(L);
    pl_waiter *w = NULL;
    for (int prepared = 0;; prepared = 1) {
        uv_mutex_lock(&q->w.lock);
        if (q->n > 0) {
            item *it = take(q);
            admit_putters(q);
            uv_mutex_unlock(&q->w.lock);
            return push_item(L, it);
        }
        if (q->shutdown) {
            uv_mutex_unlock(&q->w.lock);
            return shut_error(L, q, "Queue:get");
        }
        if (timeout == 0) {
            uv_mutex_unlock(&q->w.lock);
            return pl_sync_raise(L, "Empty", "Queue:get: Queue#%d is empty", (int)q->w.id);
        }
        if (prepared) break;
        w = pl_park_prepare_unlocking(L, &q->w, WANT_GET, "Queue:get");
    }
    return pl_park(L, w, timeout, 0, get_k);
}

static int queue_get(lua_State *L)
{
    return do_get(L, wait_arg(L, 2, "Queue:get"));
}

static int queue_get_nowait(lua_State *L)
{
    return do_get(L, 0);
}

static int queue_task_done(lua_State *L)
{
    queue_obj *q = check_queue(L);
    uv_mutex_lock(&q->w.lock);
    if (q->unfinished <= 0) {
        uv_mutex_unlock(&q->w.lock);
        return luaL_error(L,
                          "Queue:task_done() called more times than items were put in "
                          "Queue#%d (call it once per item taken with get)",
                          (int)q->w.id);
    }
    if (--q->unfinished == 0) wake_all(q, WANT_JOIN, 0);
    uv_mutex_unlock(&q->w.lock);
    return 0;
}

static int join_k(lua_State *L, int status, lua_KContext ctx)
{
    lua_pushboolean(L, pl_park_end(L).granted);
    return 1;
}

static int queue_join(lua_State *L)
{
    queue_obj *q = check_queue(L);
    double timeout = pl_sync_timeout(L, 2, "Queue:join");
    pl_waiter *w = NULL;
    for (int prepared = 0;; prepared = 1) {
        uv_mutex_lock(&q->w.lock);
        if (q->unfinished == 0 || timeout == 0) {
            int done = q->unfinished == 0;
            uv_mutex_unlock(&q->w.lock);
            lua_pushboolean(L, done);
            return 1;
        }
        if (prepared) break;
        w = pl_park_prepare_unlocking(L, &q->w, WANT_JOIN, "Queue:join");
    }
    return pl_park(L, w, timeout, 0, join_k);
}

static int queue_shutdown(lua_State *L)
{
    queue_obj *q = check_queue(L);
    int immediate = lua_toboolean(L, 2);
    uv_mutex_lock(&q->w.lock);
    q->shutdown = 1;
    if (immediate) {
        while (q->n > 0) {
            free_item(take(q));
            q->unfinished--;
        }
        if (q->unfinished <= 0) {
            q->unfinished = 0;
            wake_all(q, WANT_JOIN, 0);
        }
    }
    wake_all(q, WANT_GET, SHUT);
    pl_waiter *w;
    while ((w = first_of(q, WANT_PUT))) { /* their items stay theirs: put_k frees them */
        w->value = SHUT;
        pl_wake(w);
    }
    uv_mutex_unlock(&q->w.lock);
    return 0;
}

static int queue_count(lua_State *L, int what)
{
    queue_obj *q = check_queue(L);
    uv_mutex_lock(&q->w.lock);
    size_t n = q->n;
    int full = is_full(q);
    uv_mutex_unlock(&q->w.lock);
    if (what == 0)
        lua_pushinteger(L, (lua_Integer)n);
    else
        lua_pushboolean(L, what == 1 ? n == 0 : full);
    return 1;
}

static int queue_qsize(lua_State *L)
{
    return queue_count(L, 0);
}

static int queue_empty(lua_State *L)
{
    return queue_count(L, 1);
}

static int queue_full(lua_State *L)
{
    return queue_count(L, 2);
}

static int queue_tostring(lua_State *L)
{
    queue_obj *q = check_queue(L);
    lua_pushfstring(L, "Queue#%d", (int)q->w.id);
    return 1;
}

static const luaL_Reg queue_methods[] = {
    {"put", queue_put},
    {"get", queue_get},
    {"put_nowait", queue_put_nowait},
    {"get_nowait", queue_get_nowait},
    {"qsize", queue_qsize},
    {"empty", queue_empty},
    {"full", queue_full},
    {"task_done", queue_task_done},
    {"join", queue_join},
    {"shutdown", queue_shutdown},
    {NULL, NULL},
};

/* queue_type.make_metatable: the first time a VM meets a Queue. */
static void make_queue_mt(void *state, const pl_shared_type *type)
{
    lua_State *L = state;
    pl_proxy_newmetatable(L, type);
    luaL_newlib(L, queue_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, queue_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
}

void pl_open_sync_queue(lua_State *L)
{
    lua_pushcfunction(L, sync_queue);
    lua_setfield(L, -2, "Queue");
}
