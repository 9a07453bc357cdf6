/*
 * Signals, attributes and WaitForChild (see signal.h for the design).
 *
 * Per instance, made on first use (get_ext):
 *   ext->lock guards attrs and conns; ext->children is WaitForChild's wait
 *   object (its own lock). Lock order: ext->lock is a leaf (nothing else
 *   is taken under it but malloc); a wait object's lock, then a VM's
 *   wake_lock (engine/park.h).
 * Lifetimes (reference counts, all atomic):
 *   ext: one for its instance, one per connection (a connection may be
 *        disconnected after its instance is gone).
 *   sigconn: one while it is on ext->conns, one for the Lua connection in
 *        its VM (released when that is collected), one per fire in
 *        progress. It retains its VM's Actor, so the VM is found (or known
 *        gone: actor->vm is NULL) when it fires.
 */
#include "lib/signal.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "core/sstring.h"
#include "engine/connection.h"
#include "engine/park.h"
#include "engine/proxy.h"
#include "engine/sched.h"
#include "engine/transfer.h"
#include "lib/lib.h"

/* ---- the per-instance part ---- */

enum { ATTR_BOOL, ATTR_INT, ATTR_FLOAT, ATTR_STRING };

typedef struct attrval {
    pl_sstring *name;
    int type;
    union {
        int b;
        lua_Integer i;
        lua_Number f;
        pl_sstring *s;
    } v;
} attrval;

typedef struct sigconn sigconn;

typedef struct ext {
    pl_instance_ext head; /* ops: free and copy, called by the instance tree */
    atomic_int refs;
    uv_mutex_t lock;
    attrval *attrs; /* lock */
    size_t nattrs, cap;
    sigconn *conns;       /* lock; in connection order */
    pl_waitobj *children; /* WaitForChild waits here */
} ext;

struct sigconn {
    atomic_int refs;
    atomic_int connected;
    sigconn *next; /* on ext->conns (lock) */
    ext *on;       /* retained */
    int sig, phase, once;
    pl_sstring *attr;   /* PL_SIG_ATTRIBUTE_NAMED's attribute, else NULL */
    pl_instance *actor; /* the connecting VM's Actor, retained; NULL: the main VM */
    uint64_t id;        /* names the Lua connection in its VM (PL_CONN_INSTANCE) */
};

static atomic_uint_fast64_t next_conn_id = 1;

static void ext_release(ext *e);

static void children_destroy(pl_shared *obj)
{
    pl_waitobj_destroy((pl_waitobj *)obj);
    free(obj);
}

static const pl_shared_type children_type = {"WaitForChild", NULL, children_destroy, NULL};

/* A WaitForChild ended without its continuation (task.cancel, Destroy of
 * its script, shutdown): drop the waiter's reference. */
static void children_abandon(pl_waitobj *obj, pl_waiter *w)
{
    pl_shared_release(&obj->base);
}

static const pl_wait_ops children_ops = {NULL, children_abandon};

static void attr_clear(attrval *a)
{
    if (a->name) pl_sstring_release(a->name);
    if (a->type == ATTR_STRING && a->v.s) pl_sstring_release(a->v.s);
    a->name = NULL;
}

static void sigconn_release(sigconn *c)
{
    /* acq_rel: the last releaser sees every other holder's writes */
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1) return;
    if (c->attr) pl_sstring_release(c->attr);
    if (c->actor) pl_shared_release(&c->actor->base);
    ext_release(c->on);
    free(c);
}

/* Takes c off its instance's list, once: returns 1 for the caller that
 * flipped connected (a fire claiming a once-connection), else 0. */
static int sigconn_disconnect(sigconn *c)
{
    int one = 1;
    /* acq_rel: pairs with fire's load, so a fire that sees 0 skips it */
    if (!atomic_compare_exchange_strong_explicit(&c->connected, &one, 0, memory_order_acq_rel,
                                                 memory_order_relaxed))
        return 0;
    ext *e = c->on;
    uv_mutex_lock(&e->lock);
    for (sigconn **p = &e->conns; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    uv_mutex_unlock(&e->lock);
    sigconn_release(c); /* the list's reference */
    return 1;
}

static void ext_release(ext *e)
{
    if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) != 1) return;
    for (size_t i = 0; i < e->nattrs; i++)
        attr_clear(&e->attrs[i]);
    free(e->attrs);
    pl_shared_release(&e->children->base);
    uv_mutex_destroy(&e->lock);
    free(e);
}

/* The instance is freed: its connections go (their Lua side in other VMs
 * stays until collected, and never runs: Connected is false). */
static void ext_free(pl_instance_ext *head)
{
    ext *e = (ext *)head;
    for (;;) {
        uv_mutex_lock(&e->lock);
        sigconn *c = e->conns;
        if (c) atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
        uv_mutex_unlock(&e->lock);
        if (!c) break;
        sigconn_disconnect(c);
        sigconn_release(c);
    }
    ext_release(e);
}

static ext *get_ext(pl_instance *inst, int create);

/* Clone copies the attributes. */
static int ext_copy(const pl_instance *from, pl_instance *to)
{
    ext *src = (ext *)atomic_load_explicit(&((pl_instance *)from)->ext, memory_order_acquire);
    if (!src) return 0;
    ext *dst = get_ext(to, 1);
    if (!dst) return -1;
    uv_mutex_lock(&src->lock);
    size_t n = src->nattrs;
    attrval *copy = n ? malloc(n * sizeof *copy) : NULL;
    if (copy) {
        memcpy(copy, src->attrs, n * sizeof *copy);
        for (size_t i = 0; i < n; i++) {
            pl_sstring_retain(copy[i].name);
            if (copy[i].type == ATTR_STRING) pl_sstring_retain(copy[i].v.s);
        }
    }
    uv_mutex_unlock(&src->lock);
    if (n && !copy) return -1;
    dst->attrs = copy; /* dst is new: nobody else sees it yet */
    dst->nattrs = dst->cap = n;
    return 0;
}

static const pl_instance_ext_ops ext_ops = {ext_free, ext_copy};

/* inst's ext, made if create (NULL: none, or out of memory). Any thread:
 * two makers race by compare-and-swap, the loser frees its own. */
static ext *get_ext(pl_instance *inst, int create)
{
    /* acquire: pairs with the release of the CAS below, so the ext's
     * fields are seen initialised */
    ext *e = (ext *)atomic_load_explicit(&inst->ext, memory_order_acquire);
    if (e || !create) return e;
    e = calloc(1, sizeof *e);
    pl_waitobj *children = calloc(1, sizeof *children);
    if (!e || !children) {
        free(e);
        free(children);
        return NULL;
    }
    e->head.ops = &ext_ops;
    atomic_init(&e->refs, 1);
    uv_mutex_init(&e->lock);
    pl_shared_init(&children->base, &children_type);
    pl_waitobj_init(children, &children_ops);
    e->children = children;
    pl_instance_ext *expected = NULL;
    if (atomic_compare_exchange_strong_explicit(&inst->ext, &expected, &e->head,
                                                memory_order_acq_rel, memory_order_acquire))
        return e;
    ext_release(e); /* another thread made one first */
    return (ext *)expected;
}

/* ---- attributes ---- */

/* Raises unless the name at idx is a valid attribute name (as Roblox:
 * letters, digits and underscores, at most 100, not starting with RBX). */
static const char *check_attr_name(lua_State *L, int idx, size_t *len)
{
    const char *name = luaL_checklstring(L, idx, len);
    int ok = *len > 0 && *len <= 100 && strncmp(name, "RBX", 3) != 0;
    for (size_t i = 0; ok && i < *len; i++) {
        unsigned char ch = (unsigned char)name[i];
        ok = ch == '_' || (ch >= '0' && ch <= '9') || ((ch | 32) >= 'a' && (ch | 32) <= 'z');
    }
    if (!ok)
        luaL_error(L,
                   "attribute name \"%s\" is not valid: use 1 to 100 letters, digits and "
                   "underscores, not starting with RBX",
                   name);
    return name;
}

static attrval *find_attr(ext *e, const char *name, size_t len, uint32_t hash)
{
    for (size_t i = 0; i < e->nattrs; i++)
        if (pl_sstring_eq(e->attrs[i].name, name, len, hash)) return &e->attrs[i];
    return NULL;
}

static void push_attr(lua_State *L, const attrval *a)
{
    switch (a->type) {
    case ATTR_BOOL:
        lua_pushboolean(L, a->v.b);
        break;
    case ATTR_INT:
        lua_pushinteger(L, a->v.i);
        break;
    case ATTR_FLOAT:
        lua_pushnumber(L, a->v.f);
        break;
    default:
        lua_pushlstring(L, a->v.s->data, a->v.s->len);
    }
}

static int attr_equal(const attrval *a, const attrval *b)
{
    if (a->type != b->type) return 0;
    switch (a->type) {
    case ATTR_BOOL:
        return a->v.b == b->v.b;
    case ATTR_INT:
        return a->v.i == b->v.i;
    case ATTR_FLOAT:
        return a->v.f == b->v.f;
    default:
        return a->v.s->len == b->v.s->len && memcmp(a->v.s->data, b->v.s->data, a->v.s->len) == 0;
    }
}

static int m_get_attribute(lua_State *L)
{
    pl_instance *inst = pl_instance_self(L);
    size_t len;
    const char *name = luaL_checklstring(L, 2, &len);
    ext *e = get_ext(inst, 0);
    if (!e) return lua_pushnil(L), 1;
    uint32_t hash = pl_str_hash(name, len);
    uv_mutex_lock(&e->lock);
    attrval *a = find_attr(e, name, len, hash), copy;
    if (a) {
        copy = *a; /* copied whole under the lock: never torn */
        if (copy.type == ATTR_STRING) pl_sstring_retain(copy.v.s);
    }
    uv_mutex_unlock(&e->lock);
    if (!a) return lua_pushnil(L), 1;
    if (copy.type == ATTR_STRING) {
        /* the string is ours now; pushing may raise (out of memory): keep
         * it referenced by a to-be-released slot first */
        lua_pushlstring(L, copy.v.s->data, copy.v.s->len); /* may leak one string on OOM */
        pl_sstring_release(copy.v.s);
    } else {
        push_attr(L, &copy);
    }
    return 1;
}

static int m_get_attributes(lua_State *L)
{
    pl_instance *inst = pl_instance_self(L);
    lua_newtable(L);
    ext *e = get_ext(inst, 0);
    if (!e) return 1;
    uv_mutex_lock(&e->lock);
    size_t n = e->nattrs;
    attrval *copy = n ? malloc(n * sizeof *copy) : NULL;
    if (copy) {
        memcpy(copy, e->attrs, n * sizeof *copy);
        for (size_t i = 0; i < n; i++) {
            pl_sstring_retain(copy[i].name);
            if (copy[i].type == ATTR_STRING) pl_sstring_retain(copy[i].v.s);
        }
    }
    uv_mutex_unlock(&e->lock);
    if (n && !copy) return luaL_error(L, "not enough memory");
    for (size_t i = 0; i < n; i++) {
        lua_pushlstring(L, copy[i].name->data, copy[i].name->len);
        push_attr(L, &copy[i]);
        lua_rawset(L, -3);
        attr_clear(&copy[i]);
    }
    free(copy);
    return 1;
}

/* Fires AttributeChanged(name) and GetAttributeChangedSignal(name). */
static void fire_attr_changed(lua_State *L, pl_instance *inst, const char *name, size_t len)
{
    if (!pl_signal_connected(inst, PL_SIG_ATTRIBUTE_CHANGED) &&
        !pl_signal_connected(inst, PL_SIG_ATTRIBUTE_NAMED))
        return;
    lua_pushlstring(L, name, len);
    pl_signal_fire(L, inst, PL_SIG_ATTRIBUTE_CHANGED, NULL, 0, lua_gettop(L), 1);
    pl_signal_fire(L, inst, PL_SIG_ATTRIBUTE_NAMED, name, len, lua_gettop(L), 0);
    lua_pop(L, 1);
}

static int m_set_attribute(lua_State *L)
{
    pl_instance *inst = pl_instance_self(L);
    size_t len;
    const char *name = check_attr_name(L, 2, &len);
    attrval nv = {NULL, ATTR_BOOL, {0}};
    int t = lua_type(L, 3), remove = t == LUA_TNIL || t == LUA_TNONE;
    switch (t) {
    case LUA_TNIL:
    case LUA_TNONE:
        break;
    case LUA_TBOOLEAN:
        nv.v.b = lua_toboolean(L, 3);
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, 3)) {
            nv.type = ATTR_INT;
            nv.v.i = lua_tointeger(L, 3);
        } else {
            nv.type = ATTR_FLOAT;
            nv.v.f = lua_tonumber(L, 3);
        }
        break;
    case LUA_TSTRING: {
        size_t slen;
        const char *s = lua_tolstring(L, 3, &slen);
        nv.type = ATTR_STRING;
        if (!(nv.v.s = pl_sstring_new(s, slen))) return luaL_error(L, "not enough memory");
        break;
    }
    default:
        return luaL_error(L,
                          "SetAttribute: attribute \"%s\" cannot hold a %s value (attributes "
                          "hold nil, booleans, numbers and strings)",
                          name, luaL_typename(L, 3));
    }
    uint32_t hash = pl_str_hash(name, len);
    ext *e = get_ext(inst, 1);
    if (!e || (!remove && !(nv.name = pl_sstring_new_hashed(name, len, hash)))) {
        attr_clear(&nv);
        return luaL_error(L, "not enough memory");
    }
    attrval old = {NULL, ATTR_BOOL, {0}};
    int changed = 1, nomem = 0;
    uv_mutex_lock(&e->lock);
    attrval *a = find_attr(e, name, len, hash);
    if (a && remove) {
        old = *a;
        *a = e->attrs[--e->nattrs];
    } else if (a) {
        changed = !attr_equal(a, &nv);
        old = *a;
        old.name = nv.name; /* keep the stored name; release the new one */
        nv.name = a->name;
        *a = nv;
    } else if (remove) {
        changed = 0;
    } else {
        attrval *grown = e->nattrs < e->cap
                             ? e->attrs
                             : pl_grow(e->attrs, &e->cap, e->nattrs + 1, sizeof *e->attrs);
        if (grown) {
            e->attrs = grown;
            e->attrs[e->nattrs++] = nv;
        } else {
            nomem = 1;
        }
    }
    uv_mutex_unlock(&e->lock);
    if (nomem) {
        attr_clear(&nv);
        return luaL_error(L, "not enough memory");
    }
    attr_clear(&old);
    if (changed) fire_attr_changed(L, inst, name, len);
    return 0;
}

/* ---- the signal object ---- */

static const char SIGNAL_MT[] = "parlua.Signal";
static const char SIGNAL_TOPIC[2][24] = {"\001parlua.signal.serial", "\001parlua.signal.par"};
static const char BOUND_KEY[] = "parlua.signal.bound";

typedef struct lsignal {
    pl_instance *inst; /* retained; NULL: Heartbeat */
    int sig;
    pl_sstring *attr;
} lsignal;

static const char *const signal_names[] = {"Heartbeat",  "ChildAdded",       "ChildRemoved",
                                           "Destroying", "AttributeChanged", "AttributeChanged",
                                           "Event"};

static int signal_gc(lua_State *L)
{
    lsignal *s = lua_touserdata(L, 1);
    if (s->inst) pl_shared_release(&s->inst->base);
    if (s->attr) pl_sstring_release(s->attr);
    s->inst = NULL;
    s->attr = NULL;
    return 0;
}

static int signal_tostring(lua_State *L);
static int signal_index(lua_State *L);

/* Sets the Signal metatable on the userdata on top, made the first time. */
static void set_signal_mt(lua_State *L)
{
    static const luaL_Reg meta[] = {{"__index", signal_index},
                                    {"__gc", signal_gc},
                                    {"__tostring", signal_tostring},
                                    {NULL, NULL}};
    if (luaL_newmetatable(L, SIGNAL_MT)) {
        luaL_setfuncs(L, meta, 0);
        lua_pushliteral(L, "RBXScriptSignal");
        lua_setfield(L, -2, "__name");
    }
    lua_setmetatable(L, -2);
}

void pl_signal_push(lua_State *L, pl_instance *inst, int sig, const char *attr, size_t len)
{
    lsignal *s = lua_newuserdatauv(L, sizeof *s, 0);
    s->inst = NULL;
    s->attr = NULL;
    s->sig = sig;
    set_signal_mt(L);
    if (attr && !(s->attr = pl_sstring_new(attr, len))) luaL_error(L, "not enough memory");
    s->inst = inst;
    if (inst) pl_shared_retain(&inst->base);
}

static int signal_tostring(lua_State *L)
{
    lsignal *s = luaL_checkudata(L, 1, SIGNAL_MT);
    lua_pushfstring(L, "Signal %s", signal_names[s->sig]);
    return 1;
}

/* ---- connecting ---- */

static void inst_change(lua_State *L, const char *name, size_t len, int phase, int delta, void *ud)
{
    if (delta < 0) sigconn_disconnect(ud);
}

/* The Lua connection was collected (its VM closed): it can never run. */
static void inst_free(void *ud)
{
    sigconn_disconnect(ud);
    sigconn_release(ud);
}

static int inst_alive(void *ud)
{
    /* relaxed: a snapshot for Connected; firing synchronises by itself */
    return atomic_load_explicit(&((sigconn *)ud)->connected, memory_order_relaxed);
}

static const pl_conn_ops inst_ops = {inst_change, inst_free, inst_alive};

/* Binds this VM's internal signal topic for phase, once per VM. */
static void bind_topic(lua_State *L, pl_vm *vm, int phase)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, BOUND_KEY);
    int bound = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (bound & (1 << phase)) return;
    const char *topic = SIGNAL_TOPIC[phase];
    if (pl_mailbox_bind(&vm->mailbox, topic, strlen(topic), phase, 1) < 0)
        luaL_error(L, "not enough memory");
    lua_pushinteger(L, bound | (1 << phase));
    lua_rawsetp(L, LUA_REGISTRYINDEX, BOUND_KEY);
}

int pl_signal_is_topic(const char *topic, size_t len)
{
    return len > 0 && topic[0] == '\001' &&
           (strcmp(topic, SIGNAL_TOPIC[0]) == 0 || strcmp(topic, SIGNAL_TOPIC[1]) == 0);
}

/* Connects the function at fn_idx to the signal at 1; pushes the connection. */
static void connect_signal(lua_State *L, int fn_idx, int phase, int once)
{
    lsignal *s = luaL_checkudata(L, 1, SIGNAL_MT);
    luaL_checktype(L, fn_idx, LUA_TFUNCTION);
    pl_vm *vm = pl_vm_of(L);
    if (phase == PL_PARALLEL && !vm->actor)
        luaL_error(L, "ConnectParallel can only be called from a script that is a "
                      "descendant of an Actor (use Connect)");
    if (!s->inst) {
        pl_conn_add(L, PL_CONN_SIGNAL, "Heartbeat", 9, phase, fn_idx, &pl_heartbeat_ops, NULL,
                    once);
        return;
    }
    bind_topic(L, vm, phase);
    ext *e = get_ext(s->inst, 1);
    sigconn *c = e ? calloc(1, sizeof *c) : NULL;
    if (!c) luaL_error(L, "not enough memory");
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    c->on = e;
    c->sig = s->sig;
    c->phase = phase;
    c->once = once;
    if (s->attr) {
        pl_sstring_retain(s->attr);
        c->attr = s->attr;
    }
    c->actor = vm->actor;
    if (c->actor) pl_shared_retain(&c->actor->base);
    /* relaxed: only uniqueness matters */
    c->id = atomic_fetch_add_explicit(&next_conn_id, 1, memory_order_relaxed);
    /* The Lua side first: if it raises, only the Lua connection's reference
     * exists, and its __gc drops it (not connected: nothing to unlink). */
    atomic_init(&c->refs, 1);
    atomic_init(&c->connected, 0);
    pl_conn_add(L, PL_CONN_INSTANCE, (const char *)&c->id, sizeof c->id, phase, fn_idx, &inst_ops,
                c, once);
    /* published: now on the instance's list, in connection order */
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    atomic_store_explicit(&c->connected, 1, memory_order_relaxed);
    uv_mutex_lock(&e->lock);
    sigconn **p = &e->conns;
    while (*p)
        p = &(*p)->next;
    *p = c;
    uv_mutex_unlock(&e->lock);
}

static int signal_connect(lua_State *L)
{
    connect_signal(L, 2, PL_SERIAL, 0);
    return 1;
}

static int signal_connect_parallel(lua_State *L)
{
    connect_signal(L, 2, PL_PARALLEL, 0);
    return 1;
}

static int signal_once(lua_State *L)
{
    connect_signal(L, 2, pl_vm_of(L)->phase, 1);
    return 1;
}

/* ---- Wait: a once-connection whose handler wakes the waiting thread ---- */

static void waitobj_destroy(pl_shared *obj)
{
    pl_waitobj_destroy((pl_waitobj *)obj);
    free(obj);
}

static const pl_shared_type wait_type = {"Signal", NULL, waitobj_destroy, NULL};

static void wait_abandon(pl_waitobj *obj, pl_waiter *w)
{
    (void)obj;
    (void)w;
}

static const pl_wait_ops wait_ops = {NULL, wait_abandon};

/* A full userdata holding a reference to a wait object. */
static int waitbox_gc(lua_State *L)
{
    pl_waitobj **box = lua_touserdata(L, 1);
    if (*box) pl_shared_release(&(*box)->base);
    *box = NULL;
    return 0;
}

/* The handler: upvalue 1 the box, 2 the table for the values. */
static int wait_handler(lua_State *L)
{
    int n = lua_gettop(L);
    pl_waitobj *obj = *(pl_waitobj **)lua_touserdata(L, lua_upvalueindex(1));
    lua_pushvalue(L, lua_upvalueindex(2));
    for (int i = 1; i <= n; i++) {
        lua_pushvalue(L, i);
        lua_rawseti(L, -2, i);
    }
    lua_pushinteger(L, n);
    lua_setfield(L, -2, "n");
    uv_mutex_lock(&obj->lock);
    pl_waiter *w = pl_waiter_first(obj);
    if (w) pl_wake(w);
    uv_mutex_unlock(&obj->lock);
    return 0;
}

/* Stack of the waiting thread: 1 signal, 2 box, 3 values table, 4 connection. */
static int wait_k(lua_State *L, int status, lua_KContext ctx)
{
    pl_wait_outcome out = pl_park_end(L);
    if (!out.waited || !out.granted) return 0;
    lua_getfield(L, 3, "n");
    int n = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    luaL_checkstack(L, n, "too many values");
    for (int i = 1; i <= n; i++)
        lua_rawgeti(L, 3, i);
    return n;
}

static int signal_wait(lua_State *L)
{
    luaL_checkudata(L, 1, SIGNAL_MT);
    pl_park_check(L, "Signal:Wait()");
    lua_settop(L, 1);
    pl_waitobj **box = lua_newuserdatauv(L, sizeof *box, 0); /* 2 */
    *box = NULL;
    lua_newtable(L); /* 3: a metatable for the box */
    lua_pushcfunction(L, waitbox_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, 2);
    pl_waitobj *obj = calloc(1, sizeof *obj);
    if (!obj) return luaL_error(L, "not enough memory");
    pl_shared_init(&obj->base, &wait_type);
    pl_waitobj_init(obj, &wait_ops);
    *box = obj;
    lua_newtable(L); /* 3: the values */
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_pushcclosure(L, wait_handler, 2);        /* 4 */
    connect_signal(L, 4, pl_vm_of(L)->phase, 1); /* 5: the connection */
    lua_remove(L, 4);
    pl_waiter *w = pl_park_prepare(L, obj, 0);
    uv_mutex_lock(&obj->lock);
    return pl_park(L, w, -1, 0, wait_k);
}

static int signal_index(lua_State *L)
{
    luaL_checkudata(L, 1, SIGNAL_MT);
    const char *key = luaL_checkstring(L, 2);
    static const luaL_Reg methods[] = {
        {"Connect", signal_connect},
        {"ConnectParallel", signal_connect_parallel},
        {"Once", signal_once},
        {"Wait", signal_wait},
        {NULL, NULL},
    };
    for (const luaL_Reg *m = methods; m->name; m++) {
        if (strcmp(key, m->name) == 0) {
            lua_pushcfunction(L, m->func);
            return 1;
        }
    }
    return luaL_error(L, "%s is not a valid member of RBXScriptSignal", key);
}

/* ---- firing ---- */

int pl_signal_connected(pl_instance *inst, int sig)
{
    ext *e = get_ext(inst, 0);
    if (!e) return 0;
    uv_mutex_lock(&e->lock);
    int any = 0;
    for (sigconn *c = e->conns; c && !any; c = c->next)
        any = c->sig == sig;
    uv_mutex_unlock(&e->lock);
    return any;
}

static int matches(const sigconn *c, int sig, const char *attr, size_t len)
{
    return c->sig == sig &&
           (!attr || (c->attr && c->attr->len == len && memcmp(c->attr->data, attr, len) == 0));
}

/* Posts one delivery of conn c (the values at first..first+nargs-1); 0, or
 * -1 with err set when a value cannot cross. With bye, tells the
 * connection's VM instead that its source let go of it (Destroy): the
 * Lua side is disconnected there, after the deliveries posted before. */
static int post(lua_State *L, sigconn *c, int first, int nargs, int bye, char *err, size_t errlen)
{
    pl_runtime *rt = pl_vm_of(L)->runtime;
    pl_vm *vm = c->actor ? c->actor->vm : &rt->main;
    if (!vm || pl_vm_dead(vm)) { /* its VM is gone: the connection with it */
        (void)sigconn_disconnect(c);
        return 0;
    }
    const char *topic = SIGNAL_TOPIC[c->phase];
    pl_msgbody *body = pl_msgbody_new(topic, strlen(topic));
    if (!body) return snprintf(err, errlen, "not enough memory"), -1;
    lua_pushinteger(L, bye ? -(lua_Integer)c->id : (lua_Integer)c->id); /* ids are > 0 */
    for (int i = 0; i < nargs; i++)
        lua_pushvalue(L, first + i);
    pl_transfer_origin origin = {signal_names[c->sig], 1};
    int rc =
        pl_transfer_encode(L, lua_gettop(L) - nargs, nargs + 1, &origin, &body->wire, err, errlen);
    lua_pop(L, nargs + 1);
    if (rc != PL_OK) {
        pl_msgbody_free(body);
        return -1;
    }
    int mask = pl_mailbox_post(&vm->mailbox, &body);
    if (mask < 0) { /* the topic is bound: only out of memory */
        pl_msgbody_free(body);
        return snprintf(err, errlen, "not enough memory"), -1;
    }
    for (int p = 0; p < 2; p++)
        if (mask & (1 << p)) pl_sched_mark(vm, p);
    return 0;
}

void pl_signal_fire(lua_State *L, pl_instance *inst, int sig, const char *attr, size_t len,
                    int first, int nargs)
{
    ext *e = get_ext(inst, 0);
    if (!e) return;
    first = lua_absindex(L, first);
    luaL_checkstack(L, nargs + 4, "too many signal arguments");
    /* Snapshot the connections, retained, in order; a once-connection is
     * claimed here (only one fire runs it). */
    sigconn *stack[16], **list = stack;
    size_t n = 0, cap = 16;
    int nomem = 0;
    uv_mutex_lock(&e->lock);
    for (sigconn *c = e->conns; c; c = c->next) {
        if (!matches(c, sig, attr, len)) continue;
        if (n == cap) {
            sigconn **more = malloc(2 * cap * sizeof *more);
            if (!more) {
                nomem = 1;
                break;
            }
            memcpy(more, list, n * sizeof *more);
            if (list != stack) free(list);
            list = more;
            cap *= 2;
        }
        atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
        list[n++] = c;
    }
    uv_mutex_unlock(&e->lock);
    char err[512] = "";
    int failed = nomem;
    for (size_t i = 0; i < n; i++) {
        sigconn *c = list[i];
        /* a once-connection is claimed by one fire only: no other posts to it */
        int go = c->once ? sigconn_disconnect(c)
                         : atomic_load_explicit(&c->connected, memory_order_acquire);
        if (!failed && go && post(L, c, first, nargs, 0, err, sizeof err) != 0) failed = 1;
        sigconn_release(c);
    }
    if (list != stack) free(list);
    if (nomem) luaL_error(L, "not enough memory");
    if (failed) luaL_error(L, "%s", err);
}

void pl_signal_deliver(lua_State *L, int phase, int first, int n)
{
    if (n < 1 || !lua_isinteger(L, first)) return;
    lua_Integer given = lua_tointeger(L, first);
    uint64_t id = (uint64_t)(given < 0 ? -given : given);
    int nh = pl_conn_push_handlers(L, PL_CONN_INSTANCE, (const char *)&id, sizeof id, phase);
    if (nh && given < 0) /* its source let go of it: only the Lua side is left */
        pl_conn_disconnect(L, -1);
    else if (nh)
        pl_run_handlers(L, lua_gettop(L), nh, first + 1, n - 1);
}

void pl_signal_disconnect_all(lua_State *L, pl_instance *inst)
{
    ext *e = get_ext(inst, 0);
    if (!e) return;
    for (;;) {
        uv_mutex_lock(&e->lock);
        sigconn *c = e->conns;
        if (c) atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
        uv_mutex_unlock(&e->lock);
        if (!c) return;
        char err[64];
        /* its VM drops the Lua side (out of memory: it stays, never runs) */
        if (sigconn_disconnect(c)) (void)post(L, c, 0, 0, 1, err, sizeof err);
        sigconn_release(c);
    }
}

/* ---- WaitForChild ---- */

void pl_signal_children_changed(pl_instance *parent)
{
    ext *e = get_ext(parent, 0);
    if (!e) return;
    pl_waitobj *obj = e->children;
    uv_mutex_lock(&obj->lock);
    pl_waiter *w;
    while ((w = pl_waiter_first(obj)))
        pl_wake(w);
    uv_mutex_unlock(&obj->lock);
}

/* Roblox warns once after 5 seconds of an infinite wait. */
#define WARN_AFTER 5.0

static int wait_child_k(lua_State *L, int status, lua_KContext ctx);

/* Stack: 1 instance, 2 name, 3 timeout (or nil), 4 deadline (or nil), 5
 * warned. Looks for the child; else parks until a child is added or renamed,
 * the timeout or the warning's time. */
static int wait_child(lua_State *L)
{
    pl_instance *inst = pl_instance_check(L, 1);
    const char *name = lua_tostring(L, 2);
    pl_instance *child = pl_instance_find_child(inst, name, 0);
    if (child) {
        pl_instance_push(L, child);
        return 1;
    }
    pl_runtime *rt = pl_vm_of(L)->runtime;
    double now = pl_now(rt), wait;
    if (!lua_isnil(L, 4)) {
        wait = lua_tonumber(L, 4) - now;
        if (wait <= 0) return lua_pushnil(L), 1;
    } else if (!lua_toboolean(L, 5)) {
        wait = lua_tonumber(L, 6) + WARN_AFTER - now;
        if (wait <= 0) {
            char *full = pl_instance_full_name(inst);
            lua_Debug ar;
            char where[160] = "?";
            if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline > 0)
                snprintf(where, sizeof where, "%s:%d", ar.short_src, ar.currentline);
            uv_mutex_lock(&rt->error_lock);
            fprintf(stderr,
                    "parlua: warning: infinite yield possible on '%s:WaitForChild(\"%s\")' "
                    "at %s\n",
                    full ? full : inst->name, name, where);
            uv_mutex_unlock(&rt->error_lock);
            free(full);
            lua_pushboolean(L, 1);
            lua_replace(L, 5);
            wait = -1;
        }
    } else {
        wait = -1;
    }
    pl_park_check(L, "WaitForChild");
    ext *e = get_ext(inst, 1);
    if (!e) return luaL_error(L, "not enough memory");
    pl_waitobj *obj = e->children;
    pl_waiter *w = pl_park_prepare(L, obj, 0);
    pl_shared_retain(&obj->base); /* the waiter's; released by the continuation or abandon */
    uv_mutex_lock(&obj->lock);
    return pl_park(L, w, wait, 0, wait_child_k);
}

static int wait_child_k(lua_State *L, int status, lua_KContext ctx)
{
    pl_rthread *th = pl_ctx_of(L)->rt;
    pl_waitobj *obj = th ? th->wait.on : NULL;
    pl_wait_outcome out = pl_park_end(L);
    if (!out.waited) return 0; /* ended from outside: abandon released it */
    pl_shared_release(&obj->base);
    return wait_child(L);
}

static int m_wait_for_child(lua_State *L)
{
    pl_instance_self(L);
    luaL_checkstring(L, 2);
    lua_settop(L, 3);
    double now = pl_now(pl_vm_of(L)->runtime);
    if (lua_isnil(L, 3)) {
        lua_pushnil(L); /* 4: no deadline */
    } else {
        double t = luaL_checknumber(L, 3);
        lua_pushnumber(L, now + (isnan(t) || t < 0 ? 0 : t));
    }
    lua_pushboolean(L, 0);  /* 5: warned */
    lua_pushnumber(L, now); /* 6: the start */
    return wait_child(L);
}

/* ---- members ---- */

static int get_child_added(lua_State *L)
{
    pl_signal_push(L, pl_instance_self(L), PL_SIG_CHILD_ADDED, NULL, 0);
    return 1;
}

static int get_child_removed(lua_State *L)
{
    pl_signal_push(L, pl_instance_self(L), PL_SIG_CHILD_REMOVED, NULL, 0);
    return 1;
}

static int get_destroying(lua_State *L)
{
    pl_signal_push(L, pl_instance_self(L), PL_SIG_DESTROYING, NULL, 0);
    return 1;
}

static int get_attribute_changed(lua_State *L)
{
    pl_signal_push(L, pl_instance_self(L), PL_SIG_ATTRIBUTE_CHANGED, NULL, 0);
    return 1;
}

static int m_get_attribute_changed_signal(lua_State *L)
{
    size_t len;
    const char *name = check_attr_name(L, 2, &len);
    pl_signal_push(L, pl_instance_self(L), PL_SIG_ATTRIBUTE_NAMED, name, len);
    return 1;
}

const pl_member pl_signal_members[] = {
    {"GetAttribute", PL_SAFE, NULL, NULL, m_get_attribute, 0,
     "`(name)`: the attribute's value, or nil"},
    {"SetAttribute", PL_LOCAL_SAFE, NULL, NULL, m_set_attribute, 0,
     "`(name, value)`: sets (nil: removes) an attribute: nil, a boolean, a number or a string"},
    {"GetAttributes", PL_SAFE, NULL, NULL, m_get_attributes, 0,
     "a table of every attribute, name -> value"},
    {"WaitForChild", PL_UNSAFE, NULL, NULL, m_wait_for_child, 0,
     "`(name [, timeout])`: the child named `name`, waiting (the thread parks) until there is "
     "one; nil after `timeout` seconds; without a timeout, warns once after 5 s"},
    {"ChildAdded", PL_SAFE, get_child_added, NULL, NULL, PL_MEMBER_SIGNAL,
     "fires with the child when a child is added"},
    {"ChildRemoved", PL_SAFE, get_child_removed, NULL, NULL, PL_MEMBER_SIGNAL,
     "fires with the child when a child is removed"},
    {"Destroying", PL_SAFE, get_destroying, NULL, NULL, PL_MEMBER_SIGNAL,
     "fires when Destroy is called on the instance or an ancestor"},
    {"AttributeChanged", PL_SAFE, get_attribute_changed, NULL, NULL, PL_MEMBER_SIGNAL,
     "fires with the attribute's name when an attribute changes"},
    {"GetAttributeChangedSignal", PL_SAFE, NULL, NULL, m_get_attribute_changed_signal, 0,
     "`(name)`: a signal that fires when that attribute changes"},
    {NULL, 0, NULL, NULL, NULL, 0, NULL},
};

/* ---- BindableEvent ---- */

static int get_event(lua_State *L)
{
    pl_signal_push(L, pl_instance_self(L), PL_SIG_EVENT, NULL, 0);
    return 1;
}

static int m_fire(lua_State *L)
{
    pl_instance *inst = pl_instance_self(L);
    pl_signal_fire(L, inst, PL_SIG_EVENT, NULL, 0, 2, lua_gettop(L) - 1);
    return 0;
}

const pl_member pl_bindable_members[] = {
    {"Fire", PL_SAFE, NULL, NULL, m_fire, 0,
     "`(...)`: fires Event with the values (transferred to each handler's VM, as messages are)"},
    {"Event", PL_SAFE, get_event, NULL, NULL, PL_MEMBER_SIGNAL, "fires with Fire's values"},
    {NULL, 0, NULL, NULL, NULL, 0, NULL},
};
