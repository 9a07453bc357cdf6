/*
 * The transfer codec's writing half: Lua values of one VM into a pl_wire
 * (design: src/engine/transfer_internal.h; format: src/core/wire.h).
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

/* Registry key of this VM's map from library C function to its name. */
static const char CFMAP_KEY[] = "parlua.transfer.cfuncs";

#define PATH_CAP 100

typedef struct enc {
    lua_State *L;
    pl_wire *w;
    int identslot, cfslot; /* stack slots, nil until first needed */
    int have_ident, have_cfmap;
    int smallbase, nsmall; /* the first ids, in slots smallbase + id */
    int cfmap_fresh;       /* the map was rebuilt in this call */
    /* the first upvalues written, until the identity table holds them:
     * lua_upvalueid, then (function id << 8 | upvalue index) */
    void *uids[SMALL_IDS];
    lua_Integer uid_at[SMALL_IDS];
    int nuids;
    lua_Integer nextid;
    int depth;
    int failed;
    /* the error, in parts: what went wrong, where (built while the
     * recursion unwinds, innermost part first), and how to fix it */
    char what[96];
    char hint[256];
    char path[PATH_CAP];
    size_t pathpos; /* path lives in path[pathpos .. PATH_CAP-1] */
    int pathcut;
} enc;

static int fail(enc *e, const char *what, const char *hint)
{
    e->failed = 1;
    snprintf(e->what, sizeof e->what, "%s", what);
    snprintf(e->hint, sizeof e->hint, "%s", hint ? hint : "");
    return -1;
}

static int nomem(enc *e)
{
    return fail(e, "cannot transfer: not enough memory", NULL);
}

/* Prepends s to the error path; past PATH_CAP the outer part becomes "...". */
static void path_prepend(enc *e, const char *s)
{
    if (e->pathcut) return;
    size_t n = strlen(s);
    if (n + 3 > e->pathpos) {
        e->pathcut = 1;
        e->pathpos -= 3;
        memcpy(e->path + e->pathpos, "...", 3);
        return;
    }
    e->pathpos -= n;
    memcpy(e->path + e->pathpos, s, n);
}

static int is_ident(const char *s, size_t len)
{
    if (len == 0 || len > 40 || (s[0] >= '0' && s[0] <= '9')) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!(c == '_' || (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z'))) return 0;
    }
    return 1;
}

/* Adds the key at idx to the error path: .name, [3], ["a b"], [<table>]. */
static void path_key(enc *e, int idx)
{
    lua_State *L = e->L;
    char buf[64];
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len); /* a string already: no conversion */
        if (is_ident(s, len)) {
            snprintf(buf, sizeof buf, ".%s", s);
        } else {
            char esc[28];
            size_t j = 0;
            for (size_t i = 0; i < len && j < 24; i++)
                esc[j++] = (s[i] >= 32 && s[i] < 127 && s[i] != '"') ? s[i] : '?';
            esc[j] = 0;
            snprintf(buf, sizeof buf, "[\"%s%s\"]", esc, len > 24 ? "..." : "");
        }
        break;
    }
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            snprintf(buf, sizeof buf, "[%lld]", (long long)lua_tointeger(L, idx));
        else
            snprintf(buf, sizeof buf, "[%.14g]", (double)lua_tonumber(L, idx));
        break;
    case LUA_TBOOLEAN:
        snprintf(buf, sizeof buf, "[%s]", lua_toboolean(L, idx) ? "true" : "false");
        break;
    default:
        snprintf(buf, sizeof buf, "[<%s>]", luaL_typename(L, idx));
        break;
    }
    path_prepend(e, buf);
}

static void path_index(enc *e, lua_Integer i)
{
    char buf[32];
    snprintf(buf, sizeof buf, "[%lld]", (long long)i);
    path_prepend(e, buf);
}

static int put_value(enc *e, int idx);

/* The scalar types, shared by the fast path and put_value. */
PL_MUST_CHECK static int put_scalar(pl_wire *w, lua_State *L, int idx, int type)
{
    switch (type) {
    case LUA_TNIL:
        return pl_wire_put_u8(w, PL_WIRE_NIL);
    case LUA_TBOOLEAN:
        return pl_wire_put_u8(w, lua_toboolean(L, idx) ? PL_WIRE_TRUE : PL_WIRE_FALSE);
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            if (pl_wire_put_u8(w, PL_WIRE_INT) != 0) return -1;
            return pl_wire_put_int(w, (int64_t)lua_tointeger(L, idx));
        }
        if (pl_wire_put_u8(w, PL_WIRE_FLOAT) != 0) return -1;
        return pl_wire_put_double(w, (double)lua_tonumber(L, idx));
    default: { /* LUA_TSTRING */
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (pl_wire_put_u8(w, PL_WIRE_STRING) != 0) return -1;
        return pl_wire_put_bytes(w, s, len);
    }
    }
}

static int is_globals(lua_State *L, int idx)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    int same = lua_rawequal(L, idx, -1);
    lua_pop(L, 1);
    return same;
}

/* Moves the ids kept in stack slots into a new identity table. */
static void promote(enc *e)
{
    lua_State *L = e->L;
    lua_createtable(L, 0, 2 * SMALL_IDS);
    for (int i = 0; i < e->nsmall; i++) {
        lua_pushvalue(L, e->smallbase + i);
        lua_pushinteger(L, i);
        lua_rawset(L, -3);
    }
    for (int i = 0; i < e->nuids; i++) {
        lua_pushinteger(L, e->uid_at[i]);
        lua_rawsetp(L, -2, e->uids[i]);
    }
    lua_replace(L, e->identslot);
    e->have_ident = 1;
}

/* Where the upvalue uid (lua_upvalueid) was written: 1 and *at, or 0. */
static int find_uid(enc *e, void *uid, lua_Integer *at)
{
    lua_State *L = e->L;
    if (!e->have_ident) {
        for (int i = 0; i < e->nuids; i++) {
            if (e->uids[i] == uid) {
                *at = e->uid_at[i];
                return 1;
            }
        }
        return 0;
    }
    int found = lua_rawgetp(L, e->identslot, uid) == LUA_TNUMBER;
    if (found) *at = lua_tointeger(L, -1);
    lua_pop(L, 1);
    return found;
}

/* Notes that the upvalue uid is written at at (a function id << 8 | its
 * index). */
static void add_uid(enc *e, void *uid, lua_Integer at)
{
    if (!e->have_ident && e->nuids < SMALL_IDS) {
        e->uids[e->nuids] = uid;
        e->uid_at[e->nuids++] = at;
        return;
    }
    if (!e->have_ident) promote(e);
    lua_pushinteger(e->L, at);
    lua_rawsetp(e->L, e->identslot, uid);
}

/* Looks up the table or function at idx among those already written.
 * Returns 1 and its id if found; else gives it the next id and returns 0. */
static int remember(enc *e, int idx, lua_Integer *id)
{
    lua_State *L = e->L;
    if (!e->have_ident) {
        for (int i = 0; i < e->nsmall; i++) {
            if (lua_rawequal(L, idx, e->smallbase + i)) {
                *id = i;
                return 1;
            }
        }
        if (e->nsmall < SMALL_IDS) { /* ids so far are exactly 0 .. nsmall-1 */
            lua_pushvalue(L, idx);
            lua_replace(L, e->smallbase + e->nsmall);
            *id = e->nextid++;
            e->nsmall++;
            return 0;
        }
        promote(e);
    }
    lua_pushvalue(L, idx);
    if (lua_rawget(L, e->identslot) == LUA_TNUMBER) {
        *id = lua_tointeger(L, -1);
        lua_pop(L, 1);
        return 1;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, idx);
    lua_pushinteger(L, e->nextid);
    lua_rawset(L, e->identslot);
    *id = e->nextid++;
    return 0;
}

static int put_backref(enc *e, lua_Integer id)
{
    if (pl_wire_put_u8(e->w, PL_WIRE_BACKREF) != 0 || pl_wire_put_varint(e->w, (uint64_t)id) != 0)
        return nomem(e);
    return 0;
}

/* Enters one more level of tables/functions. */
static int enter(enc *e)
{
    if (++e->depth > PL_TRANSFER_MAX_DEPTH) {
        char what[96];
        snprintf(what, sizeof what,
                 "cannot transfer: tables and functions nested deeper than %d levels",
                 PL_TRANSFER_MAX_DEPTH);
        return fail(e, what, "flatten the data, or share it through a SharedTable");
    }
    if (!lua_checkstack(e->L, LEVEL_SLOTS)) return nomem(e);
    return 0;
}

static int put_table(enc *e, int idx)
{
    lua_State *L = e->L;
    pl_wire *w = e->w;
    if (is_globals(L, idx)) return pl_wire_put_u8(w, PL_WIRE_GLOBALS) ? nomem(e) : 0;
    lua_Integer id;
    if (remember(e, idx, &id)) return put_backref(e, id);
    if (enter(e) != 0) return -1;

    /* The array part t[1..narr] goes first without keys; narr is a border
     * (lua_rawlen), so holes inside it are written as NIL. */
    lua_Unsigned narr = lua_rawlen(L, idx);
    if (pl_wire_put_u8(w, PL_WIRE_TABLE) != 0 || pl_wire_put_varint(w, narr) != 0) return nomem(e);
    size_t countat = w->len; /* the pair count is known only at the end */
    if (pl_wire_put_u32(w, 0) != 0) return nomem(e);
    for (lua_Unsigned i = 1; i <= narr; i++) {
        lua_rawgeti(L, idx, (lua_Integer)i);
        if (put_value(e, lua_gettop(L)) != 0) {
            path_index(e, (lua_Integer)i);
            return -1;
        }
        lua_pop(L, 1);
    }
    uint64_t npairs = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int k = lua_gettop(L) - 1;
        if (lua_isinteger(L, k)) {
            lua_Integer i = lua_tointeger(L, k);
            if (i >= 1 && (lua_Unsigned)i <= narr) { /* already in the array part */
                lua_pop(L, 1);
                continue;
            }
        }
        if (put_value(e, k) != 0) {
            path_prepend(e, "[<key>]");
            return -1;
        }
        if (put_value(e, k + 1) != 0) {
            path_key(e, k);
            return -1;
        }
        lua_pop(L, 1);
        npairs++;
    }
    if (npairs > UINT32_MAX) return fail(e, "cannot transfer: a table has too many keys", NULL);
    pl_wire_store_u32(w->data + countat, (uint32_t)npairs);
    e->depth--;
    return 0;
}

int pl_wire_lua_writer(lua_State *L, const void *p, size_t sz, void *ud)
{
    (void)L;
    return pl_wire_put_raw(ud, p, sz) != 0;
}

/* The rank of a library in the name search: later ranks win. */
static int lib_rank(const char *lib)
{
    static const char *const std[] = {"coroutine", "debug",  "io",    "math", "os",
                                      "package",   "string", "table", "utf8"};
    if (strcmp(lib, "_G") == 0) return 1;
    for (size_t i = 0; i < sizeof std / sizeof *std; i++)
        if (strcmp(lib, std[i]) == 0) return 2;
    return 0;
}

/* Builds this VM's map from every C function found in the tables of
 * package.loaded to "lib\0name", stores it in the registry and pushes it.
 * A function reachable under several names gets the most standard one:
 * the standard libraries first, then the globals (_G, where the base
 * functions live), then any other library, so that an alias made by the
 * user (package.loaded.mine = {len = string.len, p = print}) does not make
 * string.len or print depend on "mine" being loaded in the receiving VM.
 * The caller ensures 2 * LEVEL_SLOTS free stack slots. */
static void build_cfmap(lua_State *L)
{
    lua_newtable(L);
    int map = lua_gettop(L);
    if (lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE) == LUA_TTABLE) {
        int loaded = map + 1;
        for (int pass = 0; pass < 3; pass++) {
            lua_pushnil(L);
            while (lua_next(L, loaded)) {
                size_t liblen;
                const char *lib =
                    lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &liblen) : NULL;
                if (!lib || lua_type(L, -1) != LUA_TTABLE || memchr(lib, 0, liblen) ||
                    lib_rank(lib) != pass) {
                    lua_pop(L, 1);
                    continue;
                }
                int libt = lua_gettop(L);
                lua_pushnil(L);
                while (lua_next(L, libt)) {
                    int k = lua_gettop(L) - 1;
                    if (lua_type(L, k) == LUA_TSTRING && lua_iscfunction(L, k + 1)) {
                        lua_pushvalue(L, k + 1);
                        lua_pushvalue(L, libt - 1);
                        lua_pushlstring(L, "", 1);
                        lua_pushvalue(L, k);
                        lua_concat(L, 3);
                        lua_rawset(L, map); /* map[fn] = lib .. "\0" .. name */
                    }
                    lua_pop(L, 1);
                }
                lua_pop(L, 1);
            }
        }
    }
    lua_pop(L, 1);
    lua_pushvalue(L, map);
    lua_setfield(L, LUA_REGISTRYINDEX, CFMAP_KEY);
}

/* A C function crosses by name if it is one of the libraries' functions. */
static int put_cfunction(enc *e, int idx)
{
    lua_State *L = e->L;
    if (!e->have_cfmap) {
        if (!lua_checkstack(L, 2 * LEVEL_SLOTS)) return nomem(e); /* build_cfmap uses 10 */
        if (lua_getfield(L, LUA_REGISTRYINDEX, CFMAP_KEY) != LUA_TTABLE) {
            lua_pop(L, 1);
            build_cfmap(L);
            e->cfmap_fresh = 1;
        }
        lua_replace(L, e->cfslot);
        e->have_cfmap = 1;
    }
    for (;;) {
        lua_pushvalue(L, idx);
        if (lua_rawget(L, e->cfslot) == LUA_TSTRING) break;
        lua_pop(L, 1);
        if (e->cfmap_fresh)
            return fail(e, "cannot transfer a value of type 'function'",
                        "it is a C function that is not one of the libraries' functions "
                        "(package.loaded); send a Lua function that calls it, or plain data");
        /* a library loaded since the map was made: rebuild it, once a call */
        build_cfmap(L);
        lua_replace(L, e->cfslot);
        e->cfmap_fresh = 1;
    }
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    size_t liblen = strlen(s);
    if (pl_wire_put_u8(e->w, PL_WIRE_CFUNC) != 0 || pl_wire_put_bytes(e->w, s, liblen) != 0 ||
        pl_wire_put_bytes(e->w, s + liblen + 1, len - liblen - 1) != 0)
        return nomem(e);
    lua_pop(L, 1);
    return 0;
}

/* A Lua function: its bytecode, then its upvalues by the same rules. An
 * upvalue shared with a function written earlier (same lua_upvalueid) is
 * written as a JOIN to that function's upvalue; _ENV becomes the
 * receiving VM's globals. */
static int put_function(enc *e, int idx)
{
    lua_State *L = e->L;
    pl_wire *w = e->w;
    if (lua_iscfunction(L, idx)) return put_cfunction(e, idx);
    lua_Integer id;
    if (remember(e, idx, &id)) return put_backref(e, id);
    if (enter(e) != 0) return -1;

    if (pl_wire_put_u8(w, PL_WIRE_FUNCTION) != 0) return nomem(e);
    size_t sizeat = w->len; /* the code size is known after the dump */
    if (pl_wire_put_u32(w, 0) != 0) return nomem(e);
    lua_pushvalue(L, idx);
    int rc = lua_dump(L, pl_wire_lua_writer, w, 0); /* not stripped: tracebacks keep lines */
    lua_pop(L, 1);
    if (rc != 0) return nomem(e);
    size_t code = w->len - sizeat - 4;
    if (code > UINT32_MAX) return fail(e, "cannot transfer: a function is too large", NULL);
    pl_wire_store_u32(w->data + sizeat, (uint32_t)code);

    lua_Debug ar;
    lua_pushvalue(L, idx);
    lua_getinfo(L, ">u", &ar);
    if (pl_wire_put_u8(w, ar.nups) != 0) return nomem(e);
    for (int i = 1; i <= ar.nups; i++) {
        const char *name = lua_getupvalue(L, idx, i);
        if (name && strcmp(name, "_ENV") == 0) {
            lua_pop(L, 1);
            if (pl_wire_put_u8(w, PL_WIRE_GLOBALS) != 0) return nomem(e);
            continue;
        }
        void *uid = lua_upvalueid(L, idx, i);
        lua_Integer packed;
        if (find_uid(e, uid, &packed)) {
            lua_pop(L, 1);
            if (pl_wire_put_u8(w, PL_WIRE_JOIN) != 0 ||
                pl_wire_put_varint(w, (uint64_t)(packed >> 8)) != 0 ||
                pl_wire_put_u8(w, (unsigned)(packed & 0xff)) != 0)
                return nomem(e);
            continue;
        }
        add_uid(e, uid, id << 8 | i); /* Lua functions have at most 255 upvalues */
        if (put_value(e, lua_gettop(L)) != 0) {
            char buf[64];
            snprintf(buf, sizeof buf, ", upvalue '%.40s'", name && *name ? name : "?");
            path_prepend(e, buf);
            return -1;
        }
        lua_pop(L, 1);
    }
    e->depth--;
    return 0;
}

static int put_userdata(enc *e, int idx)
{
    lua_State *L = e->L;
    pl_shared *obj = pl_proxy_to(L, idx);
    if (obj) {
        size_t i;
        if (pl_wire_add_ref(e->w, obj, &i) != 0) return nomem(e);
        if (pl_wire_put_u8(e->w, PL_WIRE_SHARED) != 0 || pl_wire_put_varint(e->w, i) != 0)
            return nomem(e);
        return 0;
    }
    char hint[200];
    const char *name = NULL;
    if (luaL_getmetafield(L, idx, "__name") == LUA_TSTRING) name = lua_tostring(L, -1);
    snprintf(hint, sizeof hint,
             "%s%.40s%s belongs to the VM that made it; send a SharedTable reference or plain "
             "data instead",
             name ? "this " : "this userdata", name ? name : "", name ? " userdata" : "");
    return fail(e, "cannot transfer a value of type 'userdata'", hint);
}

static int put_value(enc *e, int idx)
{
    lua_State *L = e->L;
    int type = lua_type(L, idx);
    switch (type) {
    case LUA_TNIL:
    case LUA_TBOOLEAN:
    case LUA_TNUMBER:
    case LUA_TSTRING:
        return put_scalar(e->w, L, idx, type) ? nomem(e) : 0;
    case LUA_TTABLE:
        return put_table(e, idx);
    case LUA_TFUNCTION:
        return put_function(e, idx);
    case LUA_TUSERDATA:
        return put_userdata(e, idx);
    case LUA_TLIGHTUSERDATA:
        return fail(e, "cannot transfer a value of type 'light userdata'",
                    "a raw C pointer means nothing to another VM; send plain data instead");
    case LUA_TTHREAD:
        return fail(e, "cannot transfer a value of type 'thread'",
                    "a coroutine cannot leave its VM; send the data it needs and create the "
                    "coroutine in the receiving VM");
    default:
        return fail(e, "cannot transfer a value of this type", NULL);
    }
}

/* Runs under lua_pcall: [1] the enc, [2..] the values. Our own failures
 * return normally with e->failed set; only Lua's memory errors raise. */
static int encode_main(lua_State *L)
{
    enc *e = lua_touserdata(L, 1);
    int n = lua_gettop(L) - 1;
    lua_pushnil(L);
    e->identslot = lua_gettop(L);
    lua_pushnil(L);
    e->cfslot = lua_gettop(L);
    if (!lua_checkstack(L, SMALL_IDS + LEVEL_SLOTS)) return nomem(e), 0;
    e->smallbase = lua_gettop(L) + 1;
    lua_settop(L, lua_gettop(L) + SMALL_IDS);
    if (pl_wire_put_varint(e->w, (uint64_t)n) != 0) return nomem(e), 0;
    for (int i = 0; i < n; i++) {
        if (put_value(e, i + 2) != 0) {
            lua_pushinteger(L, i); /* which argument failed, read by the caller */
            return 1;
        }
    }
    return 0;
}

/* Writes the final message: what (argument N to WHAT, at PATH): hint. */
static void encode_error(enc *e, const pl_transfer_origin *origin, int i, char *err, size_t errlen)
{
    const char *path = e->path + e->pathpos;
    char where[PATH_CAP + 32] = "";
    if (*path) {
        size_t plen = strlen(path);
        if (path[0] == '.' && is_ident(path + 1, plen - 1)) {
            snprintf(where, sizeof where, ", at key '%s'", path + 1);
        } else {
            if (path[0] == '.' && path[1] != '.')
                path++;
            else if (path[0] == ',' && path[1] == ' ')
                path += 2;
            snprintf(where, sizeof where, ", at %s", path);
        }
    }
    char origin_text[128];
    if (origin && origin->what)
        snprintf(origin_text, sizeof origin_text, "argument %d to %s", origin->first_argno + i,
                 origin->what);
    else
        snprintf(origin_text, sizeof origin_text, "value %d", i + 1);
    setmsg(err, errlen, "%s (%s%s)%s%s", e->what, origin_text, where, e->hint[0] ? ": " : "",
           e->hint);
}

int pl_transfer_encode(lua_State *L, int first, int n, const pl_transfer_origin *origin,
                       pl_wire *out, char *err, size_t errlen)
{
    size_t len0 = out->len, nrefs0 = out->nrefs;
    if (n < 0) n = 0;
    if (first <= 0) first = lua_absindex(L, first); /* (positive: already absolute) */

    /* Fast path: only scalars, in one pass. Reading them cannot raise, so
     * no pcall. At the first value of another type, what it wrote is
     * undone and the general encoder starts over. */
    if (pl_wire_put_varint(out, (uint64_t)n) != 0) goto nomem;
    for (int i = 0; i < n; i++) {
        int type = lua_type(L, first + i);
        if (type != LUA_TNIL && type != LUA_TBOOLEAN && type != LUA_TNUMBER &&
            type != LUA_TSTRING) {
            pl_wire_truncate(out, len0, nrefs0);
            goto general;
        }
        if (put_scalar(out, L, first + i, type) != 0) goto nomem;
    }
    return 0;

general:;
    enc e;
    e.L = L;
    e.w = out;
    e.identslot = e.cfslot = 0;
    e.have_ident = e.have_cfmap = e.cfmap_fresh = 0;
    e.smallbase = e.nsmall = 0;
    e.nuids = 0;
    e.nextid = 0;
    e.depth = 0;
    e.failed = 0;
    e.what[0] = e.hint[0] = 0;
    e.pathpos = PATH_CAP - 1;
    e.path[PATH_CAP - 1] = 0;
    e.pathcut = 0;
    int top = lua_gettop(L);
    if (n > INT_MAX - 8 || !lua_checkstack(L, n + 8)) {
        setmsg(err, errlen, "cannot transfer %d values: out of stack space or memory", n);
        return PL_ENOMEM;
    }
    lua_pushcfunction(L, encode_main);
    lua_pushlightuserdata(L, &e);
    for (int i = 0; i < n; i++)
        lua_pushvalue(L, first + i);
    int status = lua_pcall(L, n + 1, 1, 0);
    if (status == LUA_OK && !e.failed) {
        lua_settop(L, top);
        return PL_OK;
    }
    if (e.failed) {
        int i = status == LUA_OK && lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 0;
        encode_error(&e, origin, i, err, errlen);
    } else {
        const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error";
        setmsg(err, errlen, "cannot transfer: %s", msg);
    }
    lua_settop(L, top);
    pl_wire_truncate(out, len0, nrefs0);
    return e.failed ? PL_EINVAL : PL_ENOMEM; /* a value that cannot cross, or Lua ran out */

nomem:
    pl_wire_truncate(out, len0, nrefs0);
    setmsg(err, errlen, "cannot transfer: not enough memory");
    return PL_ENOMEM;
}
