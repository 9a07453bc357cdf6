/*
 * SharedTable in Lua: the global `SharedTable` (new, increment,
 * update, transaction, clone, cloneAndFreeze, isFrozen, size, clear), the
 * proxies' metamethods (indexing, assignment, #, pairs, tostring) and the
 * global `SharedTableRegistry`. The structure itself is src/core/stable.c;
 * docs/sharedtable.md is the user's page.
 *
 * Rules this file keeps:
 * - Nothing raises (longjmp) inside an epoch section or while this file
 *   holds a C reference that nothing else would release: a read copies out
 *   what it needs inside the section (short strings into a buffer; a long
 *   string or an object is retained and parked in a `hold` box, whose
 *   __gc releases it, while it is pushed), exits, then pushes. Pushing
 *   may run the GC, whose finalizers may run Lua code that reads a
 *   SharedTable again: each VM has one spare box (upvalue 2); a call that
 *   finds it busy (a nested call, or a push that raised and left it
 *   holding) makes a new one, before it holds anything.
 *   Conversions of Lua values report errors by return code, releasing what
 *   they made, and the caller raises afterwards.
 * - update and transaction call Lua: each attempt runs under lua_pcall with
 *   no section open; the table's fallback flag (after FALLBACK_AFTER failed
 *   attempts) is released on every path out, and the original error of the
 *   user's function is re-raised.
 *
 * Upvalues shared by every function of the library (made by
 * pl_make_sharedtable_mt, the first time a VM meets a SharedTable or names
 * the library): 1 the SharedTable metatable, 2 the VM's spare hold box,
 * 3 the iterator metatable, 4 the view metatable.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/grow.h"
#include "core/ptrmap.h"
#include "core/stable.h"
#include "engine/proxy.h"
#include "engine/runtime.h"
#include "engine/sched.h"
#include "engine/transfer.h"

/* Every error of this library is raised outside epoch sections (and with
 * no lock held): a longjmp out of a section would leave it open forever and
 * stop reclamation for every thread. */
#define st_error(L, ...) (pl_assert(!pl_epoch_in_section()), luaL_error(L, __VA_ARGS__))
#include "lib/lib.h"

#define UV_MT lua_upvalueindex(1)
#define UV_ITERMT lua_upvalueindex(3)
#define UV_VIEWMT lua_upvalueindex(4)

/* Failed attempts of update/transaction before taking the table's
 * fallback flag (see stable.h: pl_stable_excl_acquire). */
#define FALLBACK_AFTER 64
/* Strings up to this length are copied out of a section; longer ones are
 * retained instead (one atomic increment and decrement). */
#define SMALL_STRING 128
/* Nesting of plain tables converted to SharedTables (as for transfers). */
#define MAX_DEPTH PL_TRANSFER_MAX_DEPTH

static const char ITER_MT[] = "parlua.SharedTableIterator";
static const char VIEW_MT[] = "parlua.SharedTableView";
static const char HOLD_MT[] = "parlua.SharedTableHold";
static const char FROZEN_MSG[] = "attempt to modify a frozen SharedTable";
static const char IN_TXN_MSG[] =
    "cannot write to a SharedTable directly inside its own transaction or update "
    "(write through the transaction's view)";

/* ---- the runtime's registry and live tables ---- */

typedef struct reg_item {
    char *name;
    size_t len;
    pl_stable *t; /* one reference */
} reg_item;

struct pl_st_registry {
    uv_mutex_t lock; /* items; held only for array surgery, never while raising */
    reg_item *items;
    size_t n, cap;
    pl_stable_list live; /* every table made in this runtime */
};

static struct pl_st_registry *registry_of(lua_State *L)
{
    return pl_vm_of(L)->runtime->st_registry;
}

static pl_stable_list *live_of(lua_State *L)
{
    return &registry_of(L)->live;
}

void pl_sharedtable_free(pl_runtime *rt)
{
    struct pl_st_registry *r = rt->st_registry;
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->items[i].name);
        pl_stable_release(r->items[i].t);
    }
    free(r->items);
    uv_mutex_destroy(&r->lock);
    /* every VM is closed: clear the tables left (cycles), wait for
     * reclamation, so the instances they held reach the graveyard now */
    pl_stable_list_shutdown(&r->live);
    free(r);
    rt->st_registry = NULL;
}

pl_stable_list *pl_sharedtable_live(pl_runtime *rt)
{
    return &rt->st_registry->live;
}

/* ---- hold boxes: one C reference parked while Lua may raise ---- */

typedef struct hold {
    int busy;
    pl_sval v;
} hold;

static int hold_gc(lua_State *L)
{
    hold *h = lua_touserdata(L, 1);
    pl_sval_release(&h->v);
    h->v.tag = PL_SV_NIL;
    return 0;
}

/* A free box: the VM's spare, or a new one left on the stack. Call it
 * before holding anything (it may raise). */
static hold *hold_box(lua_State *L)
{
    hold *h = lua_touserdata(L, lua_upvalueindex(2));
    if (!h->busy) return h;
    h = lua_newuserdatauv(L, sizeof *h, 0);
    h->busy = 0;
    h->v.tag = PL_SV_NIL;
    luaL_setmetatable(L, HOLD_MT);
    return h;
}

/* Pushes the value v (one reference, given up) through box h. */
static void push_held(lua_State *L, hold *h, const pl_sval *v)
{
    h->v = *v;
    h->busy = 1; /* until the push returns: a raise leaves it to __gc */
    if (v->tag == PL_SV_STR)
        lua_pushlstring(L, v->u.s->data, v->u.s->len);
    else
        pl_proxy_push(L, v->u.o);
    h->busy = 0;
    h->v.tag = PL_SV_NIL;
    pl_sval_release(v);
}

/* ---- keys and values from Lua ---- */

/* The key at idx as a lookup key (no shared string). 0, or -1 with the
 * reason in err. */
static int to_key(lua_State *L, int idx, pl_skey *k, char *err, size_t errsz)
{
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        k->ik = PL_SKEY_STR | pl_str_hash(s, len);
        k->str = s;
        k->len = len;
        k->s = NULL;
        return 0;
    }
    case LUA_TNUMBER: {
        int isint;
        lua_Integer i = lua_tointegerx(L, idx, &isint);
        if (isint && i >= 0 && (uint64_t)i <= PL_SKEY_MAX_INT) {
            *k = pl_skey_int((uint32_t)i);
            return 0;
        }
        if (isint)
            snprintf(err, errsz, "invalid SharedTable key %lld (integer keys go from 0 to 2^32-1)",
                     (long long)i);
        else
            snprintf(err, errsz,
                     "invalid SharedTable key %.14g (a number key must be an integer from 0 to "
                     "2^32-1)",
                     (double)lua_tonumber(L, idx));
        return -1;
    }
    default:
        snprintf(err, errsz,
                 "invalid SharedTable key of type '%s' (keys are strings and integers from 0 to "
                 "2^32-1)",
                 luaL_typename(L, idx));
        return -1;
    }
}

/* The key at idx, with a shared string for a key too long to be stored
 * inline (PL_SKEY_INLINE). On success the caller owns k->s (if not NULL). */
static int to_store_key(lua_State *L, int idx, pl_skey *k, char *err, size_t errsz)
{
    if (to_key(L, idx, k, err, errsz) != 0) return -1;
    if (k->str && k->len > PL_SKEY_INLINE) {
        k->s = pl_sstring_new_hashed(k->str, k->len, (uint32_t)k->ik);
        if (!k->s) {
            snprintf(err, errsz, "not enough memory");
            return -1;
        }
    }
    return 0;
}

/* A readable name for the type of the value at idx: __name for userdata. */
static const char *type_name(lua_State *L, int idx, char *buf, size_t bufsz)
{
    const char *name = luaL_typename(L, idx);
    if (lua_type(L, idx) == LUA_TUSERDATA) {
        int t = luaL_getmetafield(L, idx, "__name"); /* pushes nothing when absent */
        if (t == LUA_TSTRING) {
            snprintf(buf, bufsz, "%s", lua_tostring(L, -1));
            name = buf;
        }
        if (t != LUA_TNIL) lua_pop(L, 1);
    }
    return name;
}

/* Converting plain tables: the tables met so far on this conversion
 * (Lua table -> SharedTable; NULL while its conversion is under way, so
 * meeting it again is a cycle). */
typedef struct conv {
    lua_State *L;
    pl_stable_list *list;
    pl_ptrmap memo; /* Lua table (lua_topointer) -> pl_stable * */
    int depth;
    char err[256];
    char path[200]; /* key path to where the error happened, built on the way out */
} conv;

/* Puts the key at idx in front of cx->path (".name", "[3]"). */
static void path_prepend(conv *cx, int idx)
{
    char seg[64];
    lua_State *L = cx->L;
    if (lua_type(L, idx) == LUA_TSTRING)
        snprintf(seg, sizeof seg, ".%.50s", lua_tostring(L, idx));
    else if (lua_isinteger(L, idx))
        snprintf(seg, sizeof seg, "[%lld]", (long long)lua_tointeger(L, idx));
    else
        snprintf(seg, sizeof seg, "[%s]", luaL_typename(L, idx));
    size_t a = strlen(seg), b = strlen(cx->path);
    if (a + b >= sizeof cx->path) return;
    memmove(cx->path + a, cx->path, b + 1);
    memcpy(cx->path, seg, a);
}

static int conv_table(conv *cx, int idx, pl_stable **out);

/* The value at idx as a stored value, owning one reference. 0, or -1 with
 * cx->err set (nothing left to release). */
static int conv_value(conv *cx, int idx, pl_sval *v)
{
    lua_State *L = cx->L;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        v->tag = PL_SV_NIL;
        return 0;
    case LUA_TBOOLEAN:
        v->tag = PL_SV_BOOL;
        v->u.b = lua_toboolean(L, idx);
        return 0;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            v->tag = PL_SV_INT;
            v->u.i = lua_tointeger(L, idx);
        } else {
            v->tag = PL_SV_FLOAT;
            v->u.n = lua_tonumber(L, idx);
        }
        return 0;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        v->tag = PL_SV_STR;
        v->u.s = pl_sstring_new(s, len);
        if (v->u.s) return 0;
        snprintf(cx->err, sizeof cx->err, "not enough memory");
        return -1;
    }
    case LUA_TTABLE: {
        pl_stable *t;
        if (conv_table(cx, idx, &t) != 0) return -1;
        v->tag = PL_SV_TABLE;
        v->u.o = &t->base;
        return 0;
    }
    case LUA_TUSERDATA: {
        pl_shared *o = pl_proxy_to(L, idx);
        if (o) {
            pl_shared_retain(o);
            v->tag = o->type == &pl_stable_type ? PL_SV_TABLE : PL_SV_OBJ;
            v->u.o = o;
            return 0;
        }
    }
    /* fall through */
    default: {
        char buf[64];
        snprintf(cx->err, sizeof cx->err, "cannot store a value of type '%s' in a SharedTable",
                 type_name(L, idx, buf, sizeof buf));
        return -1;
    }
    }
}

static void release_entries(pl_sentry *es, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pl_sentry_release(&es[i]);
    free(es);
}

/* A new SharedTable from the plain table at idx, deeply (nested plain
 * tables become SharedTables; the same table met twice becomes one
 * SharedTable; a cycle is an error). */
static int conv_table(conv *cx, int idx, pl_stable **out)
{
    lua_State *L = cx->L;
    idx = lua_absindex(L, idx);
    const void *lt = lua_topointer(L, idx);
    pl_ptrmap_slot *m = pl_ptrmap_find(&cx->memo, lt);
    if (m) {
        pl_stable *met = m->value;
        if (!met) {
            snprintf(cx->err, sizeof cx->err,
                     "cannot convert a table that contains itself to a SharedTable (a cycle)");
            return -1;
        }
        pl_stable_retain(met);
        *out = met;
        return 0;
    }
    if (cx->depth >= MAX_DEPTH) {
        snprintf(cx->err, sizeof cx->err, "tables nested deeper than %d levels", MAX_DEPTH);
        return -1;
    }
    int added;
    if (!lua_checkstack(L, 4) || !pl_ptrmap_add(&cx->memo, lt, &added)) {
        snprintf(cx->err, sizeof cx->err, "not enough memory");
        return -1;
    }
    cx->depth++;
    pl_sentry *es = NULL;
    size_t n = 0, cap = 0;
    int failed = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        pl_sentry *grown = pl_grow(es, &cap, n + 1, sizeof *grown);
        if (grown) {
            es = grown;
        } else {
            snprintf(cx->err, sizeof cx->err, "not enough memory");
            failed = 1;
        }
        pl_skey k;
        if (!failed && to_store_key(L, -2, &k, cx->err, sizeof cx->err) != 0) failed = 1;
        if (!failed) {
            pl_sentry_setkey(&es[n], &k); /* the array owns k.s */
            es[n].v.tag = PL_SV_NIL;
            n++; /* counted now, so a failure below releases the key */
            if (conv_value(cx, -1, &es[n - 1].v) != 0) failed = 1;
        }
        if (failed) {
            path_prepend(cx, -2);
            lua_pop(L, 2);
            break;
        }
        lua_pop(L, 1);
    }
    cx->depth--;
    pl_snode *root = NULL;
    if (!failed && pl_snode_build(es, n, &root) != PL_OK) {
        snprintf(cx->err, sizeof cx->err, "not enough memory");
        failed = 1;
    }
    release_entries(es, n); /* the nodes took their own references */
    if (failed) return -1;
    pl_stable *t = pl_stable_new(root, 0, cx->list);
    if (!t) {
        pl_snode_release(root);
        snprintf(cx->err, sizeof cx->err, "not enough memory");
        return -1;
    }
    pl_ptrmap_find(&cx->memo, lt)->value = t; /* the slot may have moved */
    *out = t;
    return 0;
}

static void conv_init(conv *cx, lua_State *L)
{
    cx->L = L;
    cx->list = live_of(L);
    cx->memo = (pl_ptrmap)PL_PTRMAP_INIT;
    cx->depth = 0;
    cx->err[0] = cx->path[0] = '\0';
}

/* The value at idx as a stored value (owning a reference), or raises. */
static void check_value(lua_State *L, int idx, pl_sval *v)
{
    conv cx;
    conv_init(&cx, L);
    int rc = conv_value(&cx, idx, v);
    pl_ptrmap_free(&cx.memo);
    if (rc == 0) return;
    if (cx.path[0])
        st_error(L, "%s (at key %s)", cx.err, cx.path[0] == '.' ? cx.path + 1 : cx.path);
    st_error(L, "%s", cx.err);
}

/* ---- pushing values ---- */

/* Pushes a value that stays alive meanwhile (an entry of a retained root,
 * or a transaction's write set): raising is harmless. */
static void push_live(lua_State *L, const pl_sval *v)
{
    if (!v) {
        lua_pushnil(L);
        return;
    }
    switch (v->tag) {
    case PL_SV_BOOL:
        lua_pushboolean(L, v->u.b);
        break;
    case PL_SV_INT:
        lua_pushinteger(L, v->u.i);
        break;
    case PL_SV_FLOAT:
        lua_pushnumber(L, v->u.n);
        break;
    case PL_SV_STR:
        lua_pushlstring(L, v->u.s->data, v->u.s->len);
        break;
    case PL_SV_TABLE:
    case PL_SV_OBJ:
        pl_proxy_push(L, v->u.o);
        break;
    default:
        lua_pushnil(L);
        break;
    }
}

/* A value copied out of a section. */
typedef struct outval {
    pl_sval v; /* STR (unless copied), TABLE, OBJ: one reference */
    int copied;
    size_t len;
    char buf[SMALL_STRING];
} outval;

/* In a section: copies v out. */
static inline void copy_out(outval *o, const pl_sval *v)
{
    if (!v) {
        o->v.tag = PL_SV_NIL;
        return;
    }
    o->v = pl_sval_load(v); /* a number may be incremented in place meanwhile */
    o->copied = 0;
    if (v->tag < PL_SV_STR) return; /* a scalar: nothing to hold */
    if (v->tag == PL_SV_STR && v->u.s->len <= SMALL_STRING) {
        o->len = v->u.s->len;
        memcpy(o->buf, v->u.s->data, o->len);
        o->copied = 1;
    } else {
        pl_sval_retain(v);
    }
}

/* Outside the section: pushes o, releasing its reference even if the push
 * raises (through h, from hold_box). */
static void push_out(lua_State *L, hold *h, outval *o)
{
    switch (o->v.tag) {
    case PL_SV_NIL:
        lua_pushnil(L);
        return;
    case PL_SV_BOOL:
        lua_pushboolean(L, o->v.u.b);
        return;
    case PL_SV_INT:
        lua_pushinteger(L, o->v.u.i);
        return;
    case PL_SV_FLOAT:
        lua_pushnumber(L, o->v.u.n);
        return;
    case PL_SV_STR:
        if (o->copied) {
            lua_pushlstring(L, o->buf, o->len);
            return;
        }
        break;
    default:
        break;
    }
    push_held(L, h, &o->v);
}

/* ---- checks ---- */

/* The SharedTable at idx, or raises. Every function of this file has the
 * SharedTable metatable as upvalue 1: comparing with it is cheaper than
 * pl_proxy_test's registry lookup. */
static pl_stable *check_st(lua_State *L, int idx)
{
    pl_stable **slot = lua_touserdata(L, idx);
    if (slot && lua_getmetatable(L, idx)) {
        int same = lua_rawequal(L, -1, UV_MT);
        lua_pop(L, 1);
        if (same && *slot) return *slot;
    }
    luaL_typeerror(L, idx, "SharedTable");
    return NULL;
}

/* For the metamethods: the table at 1. */
static pl_stable *self_st(lua_State *L)
{
    return check_st(L, 1);
}

static void check_writable(lua_State *L, pl_stable *t)
{
    if (t->frozen) st_error(L, "%s", FROZEN_MSG);
    if (pl_stable_txn_open(t)) st_error(L, "%s", IN_TXN_MSG);
}

static void raise_rc(lua_State *L, int rc)
{
    if (rc == PL_EFROZEN) st_error(L, "%s", FROZEN_MSG);
    st_error(L, "not enough memory");
}

static void check_key(lua_State *L, int idx, pl_skey *k)
{
    char err[160];
    if (to_key(L, idx, k, err, sizeof err) != 0) st_error(L, "%s", err);
}

static void check_store_key(lua_State *L, int idx, pl_skey *k)
{
    char err[160];
    if (to_store_key(L, idx, k, err, sizeof err) != 0) st_error(L, "%s", err);
}

/* ---- metamethods ---- */

static int st_index(lua_State *L)
{
    pl_stable *t = self_st(L);
    pl_skey k;
    char err[160];
    if (to_key(L, 2, &k, err, sizeof err) != 0) return st_error(L, "%s", err);
    hold *h = hold_box(L);
    outval o;
    pl_epoch_enter();
    copy_out(&o, pl_snode_find(pl_stable_root(t), &k));
    pl_epoch_exit();
    push_out(L, h, &o);
    return 1;
}

static int st_newindex(lua_State *L)
{
    pl_stable *t = self_st(L);
    check_writable(L, t);
    pl_skey k;
    check_key(L, 2, &k);
    pl_sval v;
    check_value(L, 3, &v);
    int rc = pl_stable_set(t, &k, &v); /* makes the key's shared string if it is new */
    pl_sval_release(&v);
    if (rc != PL_OK) raise_rc(L, rc);
    return 0;
}

/* A border of root (section or retained root): as Lua's # for a table
 * without an array part, n with root[n] ~= nil and root[n+1] == nil, or 0;
 * for a sequence, its length. O(log n) lookups. */
static lua_Integer border(const pl_snode *root)
{
    pl_skey k = pl_skey_int(1);
    if (!pl_snode_find(root, &k)) return 0;
    uint64_t i = 1, j = 2;
    for (;;) {
        if (j > PL_SKEY_MAX_INT) {
            j = PL_SKEY_MAX_INT + 1; /* keys stop below 2^32: absent */
            break;
        }
        k = pl_skey_int((uint32_t)j);
        if (!pl_snode_find(root, &k)) break;
        i = j;
        j *= 2;
    }
    while (j - i > 1) { /* root[i] present, root[j] absent */
        uint64_t m = i + (j - i) / 2;
        k = pl_skey_int((uint32_t)m);
        if (pl_snode_find(root, &k))
            i = m;
        else
            j = m;
    }
    return (lua_Integer)i;
}

static int st_len(lua_State *L)
{
    pl_stable *t = self_st(L);
    pl_epoch_enter();
    lua_Integer n = border(pl_stable_root(t));
    pl_epoch_exit();
    lua_pushinteger(L, n);
    return 1;
}

static int st_tostring(lua_State *L)
{
    pl_stable *t = self_st(L);
    lua_pushfstring(L, "SharedTable: %p", (void *)t);
    return 1;
}

/* Iterators walk a retained root (a snapshot): no section needed. */
typedef struct iter {
    pl_snode *root;
    pl_scursor c;
} iter;

static int iter_gc(lua_State *L)
{
    iter *it = lua_touserdata(L, 1);
    pl_snode_release(it->root);
    it->root = NULL;
    it->c.depth = 0;
    return 0;
}

static int iter_next(lua_State *L)
{
    iter *it = lua_touserdata(L, 1);
    const pl_sentry *e = pl_scursor_next(&it->c);
    if (!e) {
        iter_gc(L); /* done: let the snapshot go now */
        return 0;
    }
    if (pl_sentry_is_str(e))
        lua_pushlstring(L, pl_sentry_kdata(e), e->klen);
    else
        lua_pushinteger(L, (lua_Integer)e->ik);
    push_live(L, &e->v);
    return 2;
}

/* Pushes iter_next and a new, empty iterator (its __gc releases the root
 * set later), for __pairs: the caller sets it->root, then calls
 * start_iter. */
static iter *push_iter(lua_State *L)
{
    luaL_checkstack(L, 4, NULL);
    lua_pushcfunction(L, iter_next);
    iter *it = lua_newuserdatauv(L, sizeof *it, 0);
    it->root = NULL;
    it->c.depth = 0;
    lua_pushvalue(L, UV_ITERMT); /* both callers have the library's upvalues */
    lua_setmetatable(L, -2);
    return it;
}

/* Returns __pairs' three results: iter_next, the iterator, nil. */
static int start_iter(lua_State *L, iter *it)
{
    pl_scursor_init(&it->c, it->root);
    lua_pushnil(L);
    return 3;
}

static int st_pairs(lua_State *L)
{
    pl_stable *t = self_st(L);
    iter *it = push_iter(L);
    it->root = pl_stable_snapshot(t); /* nothing raises from here on */
    return start_iter(L, it);
}

/* ---- the library ---- */

/* Pushes the proxy of t and drops the caller's reference, even if the
 * push raises (h from hold_box, taken before t was made). */
static void push_owned(lua_State *L, hold *h, pl_stable *t)
{
    pl_sval v = {PL_SV_TABLE, {.o = &t->base}};
    push_held(L, h, &v);
}

static int st_new(lua_State *L)
{
    hold *h = hold_box(L);
    pl_stable *t;
    if (lua_isnoneornil(L, 1)) {
        t = pl_stable_new(NULL, 0, live_of(L));
        if (!t) return st_error(L, "not enough memory");
    } else {
        luaL_checktype(L, 1, LUA_TTABLE);
        conv cx;
        conv_init(&cx, L);
        int rc = conv_table(&cx, 1, &t);
        pl_ptrmap_free(&cx.memo);
        if (rc != 0) {
            if (cx.path[0])
                return st_error(L, "SharedTable.new: %s (at key %s)", cx.err,
                                cx.path[0] == '.' ? cx.path + 1 : cx.path);
            return st_error(L, "SharedTable.new: %s", cx.err);
        }
    }
    push_owned(L, h, t);
    return 1;
}

static int st_increment(lua_State *L)
{
    pl_stable *t = check_st(L, 1);
    pl_skey k;
    check_key(L, 2, &k);
    pl_sval d;
    if (lua_type(L, 3) != LUA_TNUMBER) return luaL_typeerror(L, 3, "number");
    if (lua_isinteger(L, 3)) {
        d.tag = PL_SV_INT;
        d.u.i = lua_tointeger(L, 3);
    } else {
        d.tag = PL_SV_FLOAT;
        d.u.n = lua_tonumber(L, 3);
    }
    check_writable(L, t);
    pl_sval old;
    int rc = pl_stable_increment(t, &k, &d, &old);
    if (rc == PL_EABSENT || rc == PL_ENOTNUM) {
        lua_settop(L, 2);
        return st_error(L, "SharedTable.increment: key '%s' %s", luaL_tolstring(L, 2, NULL),
                        rc == PL_EABSENT ? "holds nil, not a number" : "does not hold a number");
    }
    if (rc != PL_OK) raise_rc(L, rc);
    if (old.tag == PL_SV_INT)
        lua_pushinteger(L, old.u.i);
    else
        lua_pushnumber(L, old.u.n);
    return 1;
}

/* Transaction views. */
typedef struct view {
    pl_stxn x;
    int active;      /* inside the user's function */
    pl_sstring *key; /* update: the key, shared */
} view;

static int view_gc(lua_State *L)
{
    view *vw = lua_touserdata(L, 1);
    pl_stxn_free(&vw->x);
    if (vw->key) pl_sstring_release(vw->key);
    vw->key = NULL;
    vw->active = 0;
    return 0;
}

static view *check_view(lua_State *L)
{
    view *vw = luaL_checkudata(L, 1, VIEW_MT);
    if (!vw->active)
        st_error(L, "a SharedTable transaction view was used after its transaction ended");
    return vw;
}

static int view_index(lua_State *L)
{
    view *vw = check_view(L);
    pl_skey k;
    char err[160];
    if (to_key(L, 2, &k, err, sizeof err) != 0) return st_error(L, "%s", err);
    hold *h = hold_box(L);
    int rc;
    const pl_sval *v = pl_stxn_get(&vw->x, &k, &rc);
    if (rc != PL_OK) return st_error(L, "not enough memory");
    /* held, not pushed in place: a finalizer run by the push could write
     * to this view and drop the value */
    outval o;
    copy_out(&o, v);
    push_out(L, h, &o);
    return 1;
}

static int view_newindex(lua_State *L)
{
    view *vw = check_view(L);
    if (vw->x.t->frozen) return st_error(L, "%s", FROZEN_MSG);
    pl_skey k;
    check_store_key(L, 2, &k);
    conv cx;
    conv_init(&cx, L);
    pl_sval v;
    int rc = conv_value(&cx, 3, &v);
    pl_ptrmap_free(&cx.memo);
    if (rc != 0) {
        if (k.s) pl_sstring_release(k.s);
        if (cx.path[0])
            return st_error(L, "%s (at key %s)", cx.err, cx.path[0] == '.' ? cx.path + 1 : cx.path);
        return st_error(L, "%s", cx.err);
    }
    rc = pl_stxn_put(&vw->x, &k, &v);
    if (k.s) pl_sstring_release(k.s);
    pl_sval_release(&v);
    if (rc != PL_OK) raise_rc(L, rc);
    return 0;
}

static int view_len(lua_State *L)
{
    view *vw = check_view(L);
    int rc;
    pl_snode *root = pl_stxn_materialize(&vw->x, &rc);
    if (rc != PL_OK) return st_error(L, "not enough memory");
    lua_Integer n = border(root);
    pl_snode_release(root);
    lua_pushinteger(L, n);
    return 1;
}

static int view_pairs(lua_State *L)
{
    view *vw = check_view(L);
    iter *it = push_iter(L);
    int rc;
    it->root = pl_stxn_materialize(&vw->x, &rc);
    if (rc != PL_OK) return st_error(L, "not enough memory");
    return start_iter(L, it);
}

static int view_tostring(lua_State *L)
{
    lua_pushfstring(L, "SharedTableView: %p", lua_touserdata(L, 1));
    return 1;
}

static view *new_view(lua_State *L, pl_stable *t)
{
    view *vw = lua_newuserdatauv(L, sizeof *vw, 0);
    pl_stxn_init(&vw->x);
    vw->x.t = t;
    vw->active = 0;
    vw->key = NULL;
    lua_pushvalue(L, UV_VIEWMT);
    lua_setmetatable(L, -2);
    return vw;
}

/* The retry loop of update and transaction. attempt(L) runs under
 * lua_pcall with the view at 1 and the caller's arguments after it;
 * it begins the view's transaction and leaves results on the stack. Its
 * results are returned when the commit succeeds; an error is re-raised
 * after cleaning up. vw is at view_idx; t is retained by the caller's
 * proxy (argument 1). */
static int run_attempts(lua_State *L, pl_stable *t, view *vw, int view_idx, lua_CFunction attempt,
                        int nargs_from, int nargs)
{
    if (pl_stable_txn_open(t))
        return st_error(L, "a SharedTable transaction or update is already running on this "
                           "table in this thread");
    luaL_checkstack(L, nargs + 4, NULL);
    if (pl_stable_txn_push(t) != 0)
        return st_error(L, "SharedTable transactions nested too deeply");
    int held = 0;
    for (int attempts = 1;; attempts++) {
        int base = lua_gettop(L);
        lua_pushcfunction(L, attempt);
        lua_pushvalue(L, view_idx);
        for (int i = 0; i < nargs; i++)
            lua_pushvalue(L, nargs_from + i);
        pl_stxn_begin(&vw->x, t);
        vw->active = 1;
        int status = lua_pcall(L, nargs + 1, LUA_MULTRET, 0);
        vw->active = 0;
        int rc = status == LUA_OK ? pl_stxn_commit(&vw->x) : PL_OK;
        if (status != LUA_OK || rc != PL_ECONFLICT) {
            pl_stxn_reset(&vw->x);
            pl_stable_txn_pop();
            if (held) pl_stable_excl_release(t);
            if (status != LUA_OK) return lua_error(L); /* the function's own error */
            if (rc != PL_OK) raise_rc(L, rc);
            return lua_gettop(L) - base;
        }
        lua_settop(L, base);
        pl_stxn_reset(&vw->x);
        if (attempts == FALLBACK_AFTER) held = pl_stable_excl_acquire(t);
    }
}

/* update: view at 1, function at 2, key at 3. */
static int update_attempt(lua_State *L)
{
    view *vw = lua_touserdata(L, 1);
    pl_skey k;
    check_key(L, 3, &k);
    k.s = vw->key;
    int rc;
    const pl_sval *old = pl_stxn_get(&vw->x, &k, &rc);
    if (rc != PL_OK) return st_error(L, "not enough memory");
    lua_pushvalue(L, 2);
    push_live(L, old);
    lua_call(L, 1, 1);
    pl_sval v;
    conv cx;
    conv_init(&cx, L);
    rc = conv_value(&cx, -1, &v);
    pl_ptrmap_free(&cx.memo);
    if (rc != 0) {
        if (cx.path[0])
            return st_error(L, "SharedTable.update: %s (at key %s)", cx.err,
                            cx.path[0] == '.' ? cx.path + 1 : cx.path);
        return st_error(L, "SharedTable.update: %s", cx.err);
    }
    rc = pl_stxn_put(&vw->x, &k, &v);
    pl_sval_release(&v);
    if (rc != PL_OK) raise_rc(L, rc);
    return 0;
}

/* update's fast path, for a key holding nil, a boolean or a number (a
 * counter, a flag): fn runs directly on the value read (no view, no
 * transaction: a scalar needs no reference kept) and its result is stored
 * by pl_stable_cas, which succeeds only while the key still holds that
 * value; on a conflict fn runs again, and after FALLBACK_AFTER attempts
 * the table's fallback flag is taken as run_attempts does. */
typedef struct fast_call {
    conv cx;
    pl_sval v; /* fn's result, converted (one reference) */
    int bad;   /* the result could not be stored: cx.err says why */
} fast_call;

/* Under lua_pcall: fn at 1, the old value at 2, the fast_call at 3. Calls
 * fn and converts its result; nothing raises after the conversion, so a
 * raise (fn's error, or out of memory) leaves nothing to release. */
static int fast_attempt(lua_State *L)
{
    fast_call *fc = lua_touserdata(L, 3);
    lua_settop(L, 2);
    lua_call(L, 1, 1);
    conv_init(&fc->cx, L);
    fc->bad = conv_value(&fc->cx, -1, &fc->v);
    pl_ptrmap_free(&fc->cx.memo);
    return 0;
}

/* Function at 3, the key k (from argument 2). Returns 1 when done, 0 when
 * the key holds something else (the general path then runs; nothing was
 * called). fn's error propagates with nothing changed. */
static int update_fast(lua_State *L, pl_stable *t, const pl_skey *k)
{
    enum { GENERAL, DONE, FN_ERROR, BAD_VALUE, FAILED } out = GENERAL;
    if (pl_stable_txn_open(t))
        return st_error(L, "a SharedTable transaction or update is already running on this "
                           "table in this thread");
    luaL_checkstack(L, 5, NULL);
    if (pl_stable_txn_push(t) != 0)
        return st_error(L, "SharedTable transactions nested too deeply");
    int held = 0, rc = PL_OK;
    fast_call fc;
    for (int attempts = 1;; attempts++) {
        pl_sval old = {PL_SV_NIL, {0}};
        pl_epoch_enter();
        const pl_sval *cur = pl_snode_find(pl_stable_root(t), k);
        if (cur) old = pl_sval_load(cur); /* may be incremented in place meanwhile */
        pl_epoch_exit();
        if (old.tag >= PL_SV_STR) break; /* a value with a reference: the general path */
        lua_pushcfunction(L, fast_attempt);
        lua_pushvalue(L, 3);
        push_live(L, &old); /* a scalar: pushing it allocates nothing */
        lua_pushlightuserdata(L, &fc);
        if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
            out = FN_ERROR;
            break;
        }
        if (fc.bad) {
            out = BAD_VALUE;
            break;
        }
        rc = pl_stable_cas(t, k, &old, &fc.v);
        pl_sval_release(&fc.v);
        if (rc != PL_ECONFLICT) {
            out = rc == PL_OK ? DONE : FAILED;
            break;
        }
        if (attempts == FALLBACK_AFTER) held = pl_stable_excl_acquire(t);
    }
    pl_stable_txn_pop();
    if (held) pl_stable_excl_release(t);
    switch (out) {
    case FN_ERROR:
        return lua_error(L); /* fn's own error */
    case BAD_VALUE:
        if (fc.cx.path[0])
            return st_error(L, "SharedTable.update: %s (at key %s)", fc.cx.err,
                            fc.cx.path[0] == '.' ? fc.cx.path + 1 : fc.cx.path);
        return st_error(L, "SharedTable.update: %s", fc.cx.err);
    case FAILED:
        raise_rc(L, rc);
        return 0;
    default:
        return out == DONE;
    }
}

static int st_update(lua_State *L)
{
    pl_stable *t = check_st(L, 1);
    pl_skey k;
    check_key(L, 2, &k);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    lua_settop(L, 3);
    check_writable(L, t);
    if (update_fast(L, t, &k)) return 0;
    view *vw = new_view(L, t); /* 4 */
    if (k.str && k.len > PL_SKEY_INLINE &&
        !(vw->key = pl_sstring_new_hashed(k.str, k.len, (uint32_t)k.ik)))
        return st_error(L, "not enough memory");
    /* attempt arguments: view, function, key */
    lua_pushvalue(L, 3);
    lua_pushvalue(L, 2);
    run_attempts(L, t, vw, 4, update_attempt, 5, 2);
    return 0;
}

/* transaction: view at 1, function at 2. */
static int txn_attempt(lua_State *L)
{
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 1);
    lua_call(L, 1, LUA_MULTRET);
    return lua_gettop(L) - 2;
}

static int st_transaction(lua_State *L)
{
    pl_stable *t = check_st(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    view *vw = new_view(L, t); /* 3 */
    return run_attempts(L, t, vw, 3, txn_attempt, 2, 1);
}

static int clone_common(lua_State *L, int frozen)
{
    pl_stable *t = check_st(L, 1);
    int deep = lua_toboolean(L, 2);
    hold *h = hold_box(L);
    pl_stable *c = pl_stable_clone(t, deep, frozen);
    if (!c) return st_error(L, "not enough memory");
    push_owned(L, h, c);
    return 1;
}

static int st_clone(lua_State *L)
{
    return clone_common(L, 0);
}

static int st_clone_and_freeze(lua_State *L)
{
    return clone_common(L, 1);
}

static int st_is_frozen(lua_State *L)
{
    lua_pushboolean(L, check_st(L, 1)->frozen);
    return 1;
}

static int st_size(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)pl_stable_size(check_st(L, 1)));
    return 1;
}

static int st_clear(lua_State *L)
{
    pl_stable *t = check_st(L, 1);
    check_writable(L, t);
    int rc = pl_stable_clear(t);
    if (rc != PL_OK) raise_rc(L, rc);
    return 0;
}

/* ---- SharedTableRegistry ---- */

static void check_registry_self(lua_State *L, const char *method)
{
    if (!lua_rawequal(L, 1, lua_upvalueindex(5)))
        st_error(L, "call it as SharedTableRegistry:%s(name, ...)", method);
}

static reg_item *reg_find(struct pl_st_registry *r, const char *name, size_t len)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->items[i].len == len && memcmp(r->items[i].name, name, len) == 0) return &r->items[i];
    return NULL;
}

/* Appends name -> t (retained) with the lock held; the name goes into
 * *copy (malloc'd by the caller, len + 1 bytes), which is taken (set to
 * NULL) on success. Returns 0, or -1 when out of memory (nothing changed). */
static int reg_add(struct pl_st_registry *r, char **copy, const char *name, size_t len,
                   pl_stable *t)
{
    reg_item *items = pl_grow(r->items, &r->cap, r->n + 1, sizeof *items);
    if (!items) return PL_ENOMEM;
    r->items = items;
    memcpy(*copy, name, len);
    (*copy)[len] = '\0';
    pl_stable_retain(t);
    r->items[r->n++] = (reg_item){*copy, len, t};
    *copy = NULL;
    return 0;
}

static int reg_get(lua_State *L)
{
    check_registry_self(L, "GetSharedTable");
    size_t len;
    const char *name = luaL_checklstring(L, 2, &len);
    struct pl_st_registry *r = registry_of(L);
    hold *h = hold_box(L);
    /* made before taking the lock, dropped if someone else made it first */
    pl_stable *fresh = pl_stable_new(NULL, 0, &r->live);
    char *copy = malloc(len + 1);
    pl_stable *t = NULL;
    uv_mutex_lock(&r->lock);
    reg_item *it = reg_find(r, name, len);
    if (it) {
        t = it->t;
        pl_stable_retain(t);
    } else if (fresh && copy && reg_add(r, &copy, name, len, fresh) == 0) {
        t = fresh; /* ours, from pl_stable_new; reg_add took the registry's */
        fresh = NULL;
    }
    uv_mutex_unlock(&r->lock);
    free(copy);
    if (fresh) pl_stable_release(fresh);
    if (!t) return st_error(L, "not enough memory");
    push_owned(L, h, t);
    return 1;
}

static int reg_set(lua_State *L)
{
    check_registry_self(L, "SetSharedTable");
    size_t len;
    const char *name = luaL_checklstring(L, 2, &len);
    pl_stable *t = lua_isnoneornil(L, 3) ? NULL : check_st(L, 3);
    struct pl_st_registry *r = registry_of(L);
    char *copy = t ? malloc(len + 1) : NULL;
    if (t && !copy) return st_error(L, "not enough memory");
    pl_stable *old = NULL;
    int ok = 1;
    uv_mutex_lock(&r->lock);
    reg_item *it = reg_find(r, name, len);
    if (it) {
        old = it->t;
        if (t) {
            pl_stable_retain(t);
            it->t = t;
        } else {
            free(it->name);
            *it = r->items[--r->n];
        }
    } else if (t) {
        ok = reg_add(r, &copy, name, len, t) == 0;
    }
    uv_mutex_unlock(&r->lock);
    free(copy);
    if (old) pl_stable_release(old);
    if (!ok) return st_error(L, "not enough memory");
    return 0;
}

/* ---- opening ---- */

static const luaL_Reg lib[] = {
    {"new", st_new},
    {"increment", st_increment},
    {"update", st_update},
    {"transaction", st_transaction},
    {"clone", st_clone},
    {"cloneAndFreeze", st_clone_and_freeze},
    {"isFrozen", st_is_frozen},
    {"size", st_size},
    {"clear", st_clear},
    {NULL, NULL},
};

static const luaL_Reg meta[] = {
    {"__index", st_index}, {"__newindex", st_newindex}, {"__len", st_len},
    {"__pairs", st_pairs}, {"__tostring", st_tostring}, {NULL, NULL},
};

static const luaL_Reg view_meta[] = {
    {"__index", view_index},
    {"__newindex", view_newindex},
    {"__len", view_len},
    {"__pairs", view_pairs},
    {"__tostring", view_tostring},
    {"__gc", view_gc},
    {NULL, NULL},
};

static const luaL_Reg registry_methods[] = {
    {"GetSharedTable", reg_get},
    {"SetSharedTable", reg_set},
    {NULL, NULL},
};

/* Pushes the four shared upvalues. */
int pl_sharedtable_init(pl_runtime *rt)
{
    /* Made in parlua_new before any VM exists, read by every VM after (the
     * threads that run VMs start later, which orders it before their reads). */
    struct pl_st_registry *r = calloc(1, sizeof *r);
    if (!r) return PL_ENOMEM;
    uv_mutex_init(&r->lock);
    pl_stable_list_init(&r->live);
    rt->st_registry = r;
    return PL_OK;
}

/* Registry key (by address) of the VM's spare hold box (upvalue 2). */
static const char SPARE_KEY = 0;

/* Pushes the four upvalues of the library's functions: the SharedTable
 * metatable, the spare hold box, the iterator and view metatables. */
static void push_upvalues(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &pl_stable_type);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &SPARE_KEY);
    luaL_getmetatable(L, ITER_MT);
    luaL_getmetatable(L, VIEW_MT);
}

int pl_make_sharedtable_mt(lua_State *L)
{
    int base = lua_gettop(L);
    pl_proxy_newmetatable(L, &pl_stable_type);            /* base+1 */
    hold *spare = lua_newuserdatauv(L, sizeof *spare, 0); /* base+2 */
    spare->busy = 0;
    spare->v.tag = PL_SV_NIL;
    luaL_newmetatable(L, HOLD_MT);
    lua_pushcfunction(L, hold_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &SPARE_KEY);
    luaL_newmetatable(L, ITER_MT); /* base+3 */
    lua_pushcfunction(L, iter_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushliteral(L, "SharedTableIterator"); /* for messages, instead of the registry name */
    lua_setfield(L, -2, "__name");
    luaL_newmetatable(L, VIEW_MT); /* base+4 */
    lua_pushliteral(L, "SharedTableView");
    lua_setfield(L, -2, "__name");
    lua_settop(L, base);

    luaL_getmetatable(L, VIEW_MT);
    push_upvalues(L);
    luaL_setfuncs(L, view_meta, 4);
    lua_pop(L, 1);

    lua_rawgetp(L, LUA_REGISTRYINDEX, &pl_stable_type);
    push_upvalues(L);
    luaL_setfuncs(L, meta, 4);
    lua_pop(L, 1);
    return 0;
}

/* Pushes the upvalues, the metatables made first if this VM has none. */
static void push_upvalues_made(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &pl_stable_type) != LUA_TTABLE) pl_make_sharedtable_mt(L);
    lua_pop(L, 1);
    push_upvalues(L);
}

int pl_push_sharedtable_lib(lua_State *L)
{
    luaL_newlibtable(L, lib);
    push_upvalues_made(L);
    luaL_setfuncs(L, lib, 4);
    return 1;
}

int pl_push_sharedtable_registry(lua_State *L)
{
    lua_newtable(L);
    push_upvalues_made(L);
    lua_pushvalue(L, -5); /* upvalue 5: the registry table itself, to check self */
    luaL_setfuncs(L, registry_methods, 5);
    return 1;
}
