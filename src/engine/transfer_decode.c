/*
 * The transfer codec's reading half: a pl_wire into fresh values of another
 * VM (design: src/engine/transfer_internal.h; format: src/core/wire.h). Every
 * byte is checked; bytecode is loaded only from trusted wires.
 */
#include "engine/transfer.h"

#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/proxy.h"
#include "engine/transfer_internal.h"

typedef struct dec {
    lua_State *L;
    pl_wire_reader r;
    int trust;
    int idslot, have_ids; /* ids from SMALL_IDS on: idslot[id + 1] */
    int smallbase;        /* ids below SMALL_IDS: slot smallbase + id */
    lua_Integer nids;
    int depth;
    int n; /* values decoded */
    int failed;
    int reach;   /* made the globals, a C function or a shared object */
    int fncache; /* stack slot of the function cache (pl_transfer_decode_start), or 0 */
    char msg[200];
} dec;

static int bad(dec *d, const char *fmt, ...)
{
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    d->failed = 1;
    snprintf(d->msg, sizeof d->msg, "%s (at byte %zu)", what, pl_wire_offset(&d->r));
    return -1;
}

static int truncated(dec *d)
{
    return bad(d, "truncated data");
}

static int get_value(dec *d);

/* Gives the value on top the next id. */
static void record_id(dec *d)
{
    lua_State *L = d->L;
    lua_pushvalue(L, -1);
    if (d->nids < SMALL_IDS) {
        lua_replace(L, d->smallbase + (int)d->nids++);
        return;
    }
    if (!d->have_ids) {
        lua_newtable(L);
        lua_replace(L, d->idslot);
        d->have_ids = 1;
    }
    lua_rawseti(L, d->idslot, ++d->nids); /* id k lives at index k + 1 */
}

/* Pushes the value with the given id; 0, or -1 if there is none. */
static int push_id(dec *d, uint64_t id)
{
    if (id >= (uint64_t)d->nids) return -1;
    if (id < SMALL_IDS)
        lua_pushvalue(d->L, d->smallbase + (int)id);
    else
        lua_rawgeti(d->L, d->idslot, (lua_Integer)id + 1);
    return 0;
}

static int dec_enter(dec *d)
{
    if (++d->depth > PL_TRANSFER_MAX_DEPTH)
        return bad(d, "nesting deeper than %d levels", PL_TRANSFER_MAX_DEPTH);
    if (!lua_checkstack(d->L, LEVEL_SLOTS)) return bad(d, "out of stack space");
    return 0;
}

static int get_table(dec *d)
{
    lua_State *L = d->L;
    uint64_t narr;
    uint32_t npairs;
    if (dec_enter(d) != 0) return -1;
    if (pl_wire_get_varint(&d->r, &narr) != 0 || pl_wire_get_u32(&d->r, &npairs) != 0)
        return truncated(d);
    /* every value takes at least one byte, so the counts cannot exceed
     * what is left; this also bounds the size hints below */
    size_t left = pl_wire_remaining(&d->r);
    if (narr > left || npairs > left / 2 || narr + 2 * (uint64_t)npairs > left)
        return bad(d, "table counts exceed the data");
    lua_createtable(L, narr > MAX_TABLE_HINT ? MAX_TABLE_HINT : (int)narr,
                    npairs > MAX_TABLE_HINT ? MAX_TABLE_HINT : (int)npairs);
    record_id(d);
    int t = lua_gettop(L);
    for (uint64_t i = 1; i <= narr; i++) {
        if (get_value(d) != 0) return -1;
        if (lua_isnil(L, -1))
            lua_pop(L, 1);
        else
            lua_rawseti(L, t, (lua_Integer)i);
    }
    for (uint32_t i = 0; i < npairs; i++) {
        if (get_value(d) != 0) return -1;
        if (lua_isnil(L, -1) ||
            (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1) && isnan(lua_tonumber(L, -1))))
            return bad(d, "invalid table key (nil or NaN)");
        if (get_value(d) != 0) return -1;
        if (lua_isnil(L, -1))
            lua_pop(L, 2);
        else
            lua_rawset(L, t);
    }
    d->depth--;
    return 0;
}

typedef struct chunk {
    const unsigned char *p;
    size_t n;
} chunk;

static const char *chunk_reader(lua_State *L, void *ud, size_t *size)
{
    (void)L;
    chunk *c = ud;
    *size = c->n;
    c->n = 0;
    return *size ? (const char *)c->p : NULL;
}

/* The function cache (pl_transfer_fncache_open), a table in the
 * registry: for each entry i in 1..FNCACHE, [i] the code, [FNCACHE + i]
 * the function loaded from it, [2 * FNCACHE + i] true while a program
 * has it; [3 * FNCACHE + 1] the entry the next new code replaces. All in
 * its array part: setting them allocates nothing. */
static const char FNCACHE_KEY = 0;
enum { FNCACHE = 4, FNCACHE_NEXT = 3 * FNCACHE + 1 };
/* Longer code is loaded each time: the cache holds a copy of its bytes. */
#define FNCACHE_MAX_CODE 4096

/* Pushes the cached function loaded from code, marked taken; 0 when
 * there is none free. */
static int fncache_take(dec *d, const unsigned char *code, size_t len)
{
    lua_State *L = d->L;
    for (int i = 1; i <= FNCACHE; i++) {
        if (lua_rawgeti(L, d->fncache, i) != LUA_TSTRING) { /* filled in order */
            lua_pop(L, 1);
            return 0;
        }
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        int same = n == len && memcmp(s, code, len) == 0;
        lua_pop(L, 1);
        if (!same) continue;
        int taken = lua_rawgeti(L, d->fncache, 2 * FNCACHE + i) != LUA_TNIL;
        lua_pop(L, 1);
        if (taken) continue; /* by this same program: it gets a new one */
        lua_pushboolean(L, 1);
        lua_rawseti(L, d->fncache, 2 * FNCACHE + i);
        lua_rawgeti(L, d->fncache, FNCACHE + i);
        return 1;
    }
    return 0;
}

/* Keeps the function on top (loaded from code) in the cache, taken, in
 * place of the entry loaded longest ago. */
static void fncache_put(dec *d, const unsigned char *code, size_t len)
{
    lua_State *L = d->L;
    int i = (int)lua_tointeger(L, (lua_rawgeti(L, d->fncache, FNCACHE_NEXT), -1));
    lua_pop(L, 1);
    if (i < 1 || i > FNCACHE) i = 1;
    lua_pushlstring(L, (const char *)code, len);
    lua_rawseti(L, d->fncache, i);
    lua_pushvalue(L, -1);
    lua_rawseti(L, d->fncache, FNCACHE + i);
    lua_pushboolean(L, 1);
    lua_rawseti(L, d->fncache, 2 * FNCACHE + i);
    lua_pushinteger(L, i % FNCACHE + 1);
    lua_rawseti(L, d->fncache, FNCACHE_NEXT);
}

void pl_transfer_fncache_open(lua_State *L)
{
    lua_createtable(L, FNCACHE_NEXT, 0);
    lua_pushinteger(L, 1);
    lua_rawseti(L, -2, FNCACHE_NEXT);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &FNCACHE_KEY);
}

void pl_transfer_fncache_reset(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &FNCACHE_KEY) != LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    int cache = lua_gettop(L);
    for (int i = 1; i <= FNCACHE; i++) {
        int taken = lua_rawgeti(L, cache, 2 * FNCACHE + i) != LUA_TNIL;
        lua_pop(L, 1);
        if (!taken) continue; /* its upvalues were cleared when it was last given back */
        lua_rawgeti(L, cache, FNCACHE + i);
        for (int k = 1;; k++) {
            lua_pushnil(L);
            if (!lua_setupvalue(L, -2, k)) { /* past the last: nothing popped */
                lua_pop(L, 1);
                break;
            }
        }
        lua_pop(L, 1);
        lua_pushnil(L);
        lua_rawseti(L, cache, 2 * FNCACHE + i);
    }
    lua_pop(L, 1);
}

static int get_function(dec *d)
{
    lua_State *L = d->L;
    if (!d->trust) return bad(d, "a function in data not produced by the encoder is refused");
    if (dec_enter(d) != 0) return -1;
    uint32_t codelen;
    chunk c;
    if (pl_wire_get_u32(&d->r, &codelen) != 0 || pl_wire_get_raw(&d->r, codelen, &c.p) != 0)
        return truncated(d);
    c.n = codelen;
    /* a start's own values (depth 1): the body; its upvalues are all set
     * below, as in a function just loaded */
    int cached = d->fncache && d->depth == 1 && codelen <= FNCACHE_MAX_CODE;
    const unsigned char *code = c.p;
    if (!cached || !fncache_take(d, code, codelen)) {
        if (lua_load(L, chunk_reader, &c, "=(transferred function)", "b") != LUA_OK) {
            const char *m = lua_tostring(L, -1);
            return bad(d, "bad bytecode: %s", m ? m : "?");
        }
        if (cached) fncache_put(d, code, codelen);
    }
    record_id(d);
    int f = lua_gettop(L);
    lua_Debug ar;
    lua_pushvalue(L, f);
    lua_getinfo(L, ">u", &ar);
    unsigned nup;
    if (pl_wire_get_u8(&d->r, &nup) != 0) return truncated(d);
    if (nup != ar.nups) return bad(d, "function has %d upvalues, data gives %u", ar.nups, nup);
    for (int i = 1; i <= (int)nup; i++) {
        if (pl_wire_remaining(&d->r) && *d->r.p == PL_WIRE_JOIN) {
            uint64_t id;
            unsigned k;
            d->r.p++;
            if (pl_wire_get_varint(&d->r, &id) != 0 || pl_wire_get_u8(&d->r, &k) != 0)
                return truncated(d);
            if (push_id(d, id) != 0) return bad(d, "upvalue joins an unknown function");
            if (lua_type(L, -1) != LUA_TFUNCTION || lua_iscfunction(L, -1))
                return bad(d, "upvalue joins a value that is not a Lua function");
            lua_pushvalue(L, -1);
            lua_getinfo(L, ">u", &ar);
            if (k < 1 || k > ar.nups) return bad(d, "upvalue joins a missing upvalue");
            lua_upvaluejoin(L, f, i, -1, (int)k);
            lua_pop(L, 1);
            continue;
        }
        if (get_value(d) != 0) return -1;
        lua_setupvalue(L, f, i);
    }
    d->depth--;
    return 0;
}

static const char OPENER_KEY = 0; /* registry: pl_transfer_set_opener's function */

void pl_transfer_set_opener(lua_State *L, lua_CFunction open_module)
{
    lua_pushcfunction(L, open_module);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &OPENER_KEY);
}

/* Pushes package.loaded[lib] (at loaded), opened now if the VM opens it
 * on first use (pl_transfer_set_opener). */
static int push_library(lua_State *L, int loaded, const unsigned char *lib, size_t liblen)
{
    lua_pushlstring(L, (const char *)lib, liblen);
    if (lua_rawget(L, loaded) == LUA_TTABLE) return 1;
    lua_pop(L, 1);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &OPENER_KEY) != LUA_TFUNCTION) return 0;
    lua_pushlstring(L, (const char *)lib, liblen);
    lua_call(L, 1, 1);
    return lua_type(L, -1) == LUA_TTABLE;
}

static int get_cfunction(dec *d)
{
    lua_State *L = d->L;
    const unsigned char *lib, *name;
    size_t liblen, namelen;
    if (pl_wire_get_bytes(&d->r, &lib, &liblen) != 0 ||
        pl_wire_get_bytes(&d->r, &name, &namelen) != 0)
        return truncated(d);
    /* raw reads: decoding never runs the receiving VM's code */
    int ok = lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE) == LUA_TTABLE;
    if (ok) {
        ok = push_library(L, lua_gettop(L), lib, liblen);
        if (ok) {
            lua_pushlstring(L, (const char *)name, namelen);
            ok = lua_rawget(L, -2) == LUA_TFUNCTION;
            lua_replace(L, -3);
        }
    }
    if (!ok) {
        int g = liblen == 2 && memcmp(lib, "_G", 2) == 0;
        return bad(d, "function '%.*s%s%.*s' is not available in the receiving VM",
                   g ? 0 : (int)(liblen > 40 ? 40 : liblen), (const char *)lib, g ? "" : ".",
                   (int)(namelen > 40 ? 40 : namelen), (const char *)name);
    }
    lua_pop(L, 1);
    return 0;
}

static int get_value(dec *d)
{
    lua_State *L = d->L;
    pl_wire_reader *r = &d->r;
    unsigned tag;
    if (pl_wire_get_u8(r, &tag) != 0) return truncated(d);
    switch (tag) {
    case PL_WIRE_NIL:
        lua_pushnil(L);
        return 0;
    case PL_WIRE_FALSE:
    case PL_WIRE_TRUE:
        lua_pushboolean(L, tag == PL_WIRE_TRUE);
        return 0;
    case PL_WIRE_INT: {
        int64_t i;
        if (pl_wire_get_int(r, &i) != 0) return truncated(d);
        lua_pushinteger(L, (lua_Integer)i);
        return 0;
    }
    case PL_WIRE_FLOAT: {
        double x;
        if (pl_wire_get_double(r, &x) != 0) return truncated(d);
        lua_pushnumber(L, (lua_Number)x);
        return 0;
    }
    case PL_WIRE_STRING: {
        const unsigned char *s;
        size_t len;
        if (pl_wire_get_bytes(r, &s, &len) != 0) return truncated(d);
        lua_pushlstring(L, (const char *)s, len);
        return 0;
    }
    case PL_WIRE_SHARED: {
        pl_shared *obj;
        if (pl_wire_get_ref(r, &obj) != 0) return bad(d, "bad shared object index");
        /* without its metatable the proxy would have no __gc and leak */
        if (!pl_proxy_known(L, obj->type))
            return bad(d, "the receiving VM does not know the type %s", obj->type->name);
        d->reach = 1; /* its methods are C functions */
        pl_proxy_push(L, obj);
        return 0;
    }
    case PL_WIRE_TABLE:
        return get_table(d);
    case PL_WIRE_BACKREF: {
        uint64_t id;
        if (pl_wire_get_varint(r, &id) != 0) return truncated(d);
        if (push_id(d, id) != 0) return bad(d, "back-reference to an unknown id");
        return 0;
    }
    case PL_WIRE_FUNCTION:
        return get_function(d);
    case PL_WIRE_GLOBALS:
        d->reach = 1;
        lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
        return 0;
    case PL_WIRE_CFUNC:
        d->reach = 1;
        return get_cfunction(d);
    default:
        d->r.p--; /* report the tag's own offset */
        return bad(d, "unknown tag %u", tag);
    }
}

/* Reads the count and checks the stack for it; 0 or -1. */
static int get_count(dec *d)
{
    uint64_t n;
    if (pl_wire_get_varint(&d->r, &n) != 0) return truncated(d);
    if (n > pl_wire_remaining(&d->r)) return bad(d, "value count exceeds the data");
    if (n > INT_MAX - 2 * LEVEL_SLOTS || !lua_checkstack(d->L, (int)n + 2 * LEVEL_SLOTS))
        return bad(d, "too many values (%llu)", (unsigned long long)n);
    d->n = (int)n;
    return 0;
}

/* Runs under lua_pcall: [1] the dec; returns the values. */
static int decode_main(lua_State *L)
{
    dec *d = lua_touserdata(L, 1);
    if (d->fncache) { /* asked for: its slot, if L has one */
        d->fncache =
            lua_rawgetp(L, LUA_REGISTRYINDEX, &FNCACHE_KEY) == LUA_TTABLE ? lua_gettop(L) : 0;
    }
    lua_pushnil(L);
    d->idslot = lua_gettop(L);
    if (!lua_checkstack(L, SMALL_IDS + LEVEL_SLOTS)) {
        bad(d, "out of stack space");
        return 0;
    }
    d->smallbase = lua_gettop(L) + 1;
    lua_settop(L, lua_gettop(L) + SMALL_IDS);
    if (get_count(d) != 0) return 0;
    for (int i = 0; i < d->n; i++)
        if (get_value(d) != 0) return 0;
    if (pl_wire_remaining(&d->r) != 0) {
        bad(d, "unexpected bytes after the last value");
        return 0;
    }
    return d->n;
}

/* Unprotected attempt for messages of values that need no protected call:
 * nil, booleans, numbers, and with may_raise strings too (lua_pushlstring
 * raises when out of memory). Returns 1 when it decoded everything, 0
 * when the message needs the full decoder (nothing left pushed). */
static int decode_simple(lua_State *L, const pl_wire *w, int *n, int may_raise)
{
    pl_wire_reader r;
    pl_wire_reader_init(&r, w);
    uint64_t count;
    if (pl_wire_get_varint(&r, &count) != 0 || count > pl_wire_remaining(&r) ||
        count > INT_MAX / 2 || (count && !lua_checkstack(L, (int)count)))
        return 0;
    uint64_t i = 0; /* values pushed: popped again on the slow path */
    for (; i < count; i++) {
        unsigned tag;
        int64_t iv;
        double fv;
        if (pl_wire_get_u8(&r, &tag) != 0) goto slow;
        switch (tag) {
        case PL_WIRE_NIL:
            lua_pushnil(L);
            break;
        case PL_WIRE_FALSE:
        case PL_WIRE_TRUE:
            lua_pushboolean(L, tag == PL_WIRE_TRUE);
            break;
        case PL_WIRE_INT:
            if (pl_wire_get_int(&r, &iv) != 0) goto slow;
            lua_pushinteger(L, (lua_Integer)iv);
            break;
        case PL_WIRE_FLOAT:
            if (pl_wire_get_double(&r, &fv) != 0) goto slow;
            lua_pushnumber(L, (lua_Number)fv);
            break;
        case PL_WIRE_STRING: {
            const unsigned char *bytes;
            size_t len;
            if (!may_raise || pl_wire_get_bytes(&r, &bytes, &len) != 0) goto slow;
            lua_pushlstring(L, (const char *)bytes, len);
            break;
        }
        default:
            goto slow;
        }
    }
    if (pl_wire_remaining(&r) != 0) goto slow;
    *n = (int)count;
    return 1;
slow:
    lua_pop(L, (int)i);
    return 0;
}

/* reach: NULL, or an lthread's start (pl_transfer_decode_start): set,
 * and the function cache used. */
static int decode(lua_State *L, const pl_wire *w, int trust_bytecode, int *n, int *reach, char *err,
                  size_t errlen, int may_raise)
{
    *n = 0;
    if (decode_simple(L, w, n, may_raise)) return PL_OK;
    int top = lua_gettop(L);
    if (!lua_checkstack(L, 4)) {
        setmsg(err, errlen, "cannot decode transferred values: out of stack space");
        return PL_ENOMEM;
    }
    dec d;
    d.L = L;
    pl_wire_reader_init(&d.r, w);
    d.trust = trust_bytecode;
    d.idslot = d.smallbase = 0;
    d.have_ids = 0;
    d.nids = 0;
    d.depth = 0;
    d.n = 0;
    d.failed = 0;
    d.reach = 0;
    d.fncache = reach != NULL; /* only a start passes reach */
    d.msg[0] = 0;
    lua_pushcfunction(L, decode_main);
    lua_pushlightuserdata(L, &d);
    int status = lua_pcall(L, 1, LUA_MULTRET, 0);
    if (d.reach && reach) *reach = 1; /* even when it failed half way */
    if (status == LUA_OK && !d.failed) {
        *n = lua_gettop(L) - top;
        return PL_OK;
    }
    if (d.failed) {
        setmsg(err, errlen, "cannot decode transferred values: %s", d.msg);
    } else {
        const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error";
        setmsg(err, errlen, "cannot decode transferred values: %s", msg);
    }
    lua_settop(L, top);
    return d.failed ? PL_EMALFORMED : PL_ENOMEM;
}

int pl_transfer_decode(lua_State *L, const pl_wire *w, int trust_bytecode, int *n, char *err,
                       size_t errlen)
{
    return decode(L, w, trust_bytecode, n, NULL, err, errlen, 0);
}

int pl_transfer_decode_start(lua_State *L, const pl_wire *w, int *n, int *reach, char *err,
                             size_t errlen)
{
    return decode(L, w, 1, n, reach, err, errlen, 0);
}

int pl_transfer_decode_raising(lua_State *L, const pl_wire *w, int trust_bytecode, int *n,
                               char *err, size_t errlen)
{
    return decode(L, w, trust_bytecode, n, NULL, err, errlen, 1);
}
