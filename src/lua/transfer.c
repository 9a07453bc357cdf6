/*
 * Value transfer between VMs (SPEC 5). Writes Lua values to a pl_wire in
 * the format documented in src/core/wire.h, and reads them back into
 * another lua_State.
 *
 * Failure handling. Any Lua API call that allocates can raise a memory
 * error (a longjmp), so everything that may allocate runs inside lua_pcall
 * of a C function, with a context struct passed as a light userdata; the
 * caller's side only cleans up afterwards (the wire is truncated back, the
 * stack is reset). Expected failures (a coroutine in the data, bad bytes)
 * are not Lua errors: the workers return -1 after writing a message into
 * the context, so the error text is built in C without allocating.
 *
 * Speed. A message made only of nil, booleans, numbers and strings (the
 * common case) is encoded without lua_pcall: reading those values cannot
 * raise. It costs one reservation of the wire and no Lua allocation.
 * Tables and functions get ids so that cycles and shared sub-tables keep
 * their shape; the first SMALL_IDS of them are kept in stack slots, and an
 * identity table (a Lua allocation) is made only past that, or when a Lua
 * function needs it for its upvalue ids. The map of library functions is
 * built on the first C function and cached in the registry. On the
 * receiving side, a message of nil, booleans and numbers is pushed without
 * lua_pcall too (pushing those cannot raise); anything else is decoded
 * under lua_pcall.
 *
 * Trust. Bytecode is only ever produced by pl_transfer_encode in this same
 * process, and lua_load on hostile bytecode can crash the VM, so the
 * decoder runs lua_load only when the caller says the wire came from the
 * encoder (trust_bytecode). Everything else in the wire is validated
 * whatever the flag: bounds, tags, reference and back-reference indices,
 * counts, depth, upvalue indices.
 */
#include "lua/transfer.h"

#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lua/proxy.h"

/* Registry key of this VM's map from library C function to its name. */
static const char CFMAP_KEY[] = "parlua.transfer.cfuncs";

/* Stack slots each nesting level may use, checked with lua_checkstack. */
#define LEVEL_SLOTS 8

/* The first SMALL_IDS tables and functions of a message are kept in stack
 * slots and found by a linear scan, so a message with a table or two needs
 * no identity table (a Lua table allocation) on either side. */
#define SMALL_IDS 8

/* Largest size hint given to lua_createtable from a count in the wire:
 * a bigger table is still decoded, it just grows as it fills. */
#define MAX_TABLE_HINT (1 << 20)

static void setmsg(char *buf, size_t len, const char *fmt, ...)
{
    if (!buf || !len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* --------------------------------------------------------------------
 * Encoding
 * -------------------------------------------------------------------- */

#define PATH_CAP 100

typedef struct enc {
    lua_State *L;
    pl_wire *w;
    int identslot, cfslot; /* stack slots, nil until first needed */
    int have_ident, have_cfmap;
    int smallbase, nsmall; /* the first ids, in slots smallbase + id */
    int cfmap_fresh;       /* the map was rebuilt in this call */
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
static int put_scalar(pl_wire *w, lua_State *L, int idx, int type)
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
    lua_replace(L, e->identslot);
    e->have_ident = 1;
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

static int dump_writer(lua_State *L, const void *p, size_t sz, void *ud)
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
    if (!e->have_ident) promote(e); /* upvalue ids are kept there */

    if (pl_wire_put_u8(w, PL_WIRE_FUNCTION) != 0) return nomem(e);
    size_t sizeat = w->len; /* the code size is known after the dump */
    if (pl_wire_put_u32(w, 0) != 0) return nomem(e);
    lua_pushvalue(L, idx);
    int rc = lua_dump(L, dump_writer, w, 0); /* not stripped: tracebacks keep lines */
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
        if (lua_rawgetp(L, e->identslot, uid) == LUA_TNUMBER) {
            lua_Integer packed = lua_tointeger(L, -1);
            lua_pop(L, 2);
            if (pl_wire_put_u8(w, PL_WIRE_JOIN) != 0 ||
                pl_wire_put_varint(w, (uint64_t)(packed >> 8)) != 0 ||
                pl_wire_put_u8(w, (unsigned)(packed & 0xff)) != 0)
                return nomem(e);
            continue;
        }
        lua_pop(L, 1);
        lua_pushinteger(L, id << 8 | i); /* Lua functions have at most 255 upvalues */
        lua_rawsetp(L, e->identslot, uid);
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
    first = lua_absindex(L, first);

    /* Fast path: only scalars. Reading them cannot raise, so no pcall; one
     * reservation covers the whole message. */
    size_t need = PL_WIRE_VARINT_MAX;
    int simple = 1;
    unsigned char types[16]; /* saves asking again in the second pass */
    for (int i = 0; i < n && simple; i++) {
        int type = lua_type(L, first + i);
        if (i < (int)sizeof types) types[i] = (unsigned char)type;
        switch (type) {
        case LUA_TNIL:
        case LUA_TBOOLEAN:
            need += 1;
            break;
        case LUA_TNUMBER:
            need += 1 + PL_WIRE_VARINT_MAX;
            break;
        case LUA_TSTRING: {
            size_t len = lua_rawlen(L, first + i);
            if (len > SIZE_MAX / 2 - need) goto nomem;
            need += 1 + PL_WIRE_VARINT_MAX + len;
            break;
        }
        default:
            simple = 0;
        }
    }
    if (simple) {
        if (pl_wire_reserve(out, need) != 0) goto nomem;
        pl_wire_put_varint(out, (uint64_t)n);
        for (int i = 0; i < n; i++) /* cannot fail: reserved */
            put_scalar(out, L, first + i,
                       i < (int)sizeof types ? types[i] : lua_type(L, first + i));
        return 0;
    }

    enc e;
    e.L = L;
    e.w = out;
    e.identslot = e.cfslot = 0;
    e.have_ident = e.have_cfmap = e.cfmap_fresh = 0;
    e.smallbase = e.nsmall = 0;
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
        return -1;
    }
    lua_pushcfunction(L, encode_main);
    lua_pushlightuserdata(L, &e);
    for (int i = 0; i < n; i++)
        lua_pushvalue(L, first + i);
    int status = lua_pcall(L, n + 1, 1, 0);
    if (status == LUA_OK && !e.failed) {
        lua_settop(L, top);
        return 0;
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
    return -1;

nomem:
    pl_wire_truncate(out, len0, nrefs0);
    setmsg(err, errlen, "cannot transfer: not enough memory");
    return -1;
}

/* --------------------------------------------------------------------
 * Decoding
 * -------------------------------------------------------------------- */

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
    if (lua_load(L, chunk_reader, &c, "=(transferred function)", "b") != LUA_OK) {
        const char *m = lua_tostring(L, -1);
        return bad(d, "bad bytecode: %s", m ? m : "?");
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
        lua_pushlstring(L, (const char *)lib, liblen);
        ok = lua_rawget(L, -2) == LUA_TTABLE;
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
        if (luaL_getmetatable(L, obj->type->metatable) != LUA_TTABLE)
            return bad(d, "the receiving VM does not know the type %s", obj->type->name);
        lua_pop(L, 1);
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
        lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
        return 0;
    case PL_WIRE_CFUNC:
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

/* Unprotected attempt for messages of nil, booleans and numbers, whose
 * pushes cannot raise. Returns 1 when it decoded everything, 0 when the
 * message needs the full decoder (nothing left pushed either way). */
static int decode_simple(lua_State *L, const pl_wire *w, int *n)
{
    pl_wire_reader r;
    pl_wire_reader_init(&r, w);
    uint64_t count;
    if (pl_wire_get_varint(&r, &count) != 0 || count > pl_wire_remaining(&r) ||
        count > INT_MAX / 2 || !lua_checkstack(L, (int)count))
        return 0;
    int top = lua_gettop(L);
    for (uint64_t i = 0; i < count; i++) {
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
        default:
            goto slow;
        }
    }
    if (pl_wire_remaining(&r) != 0) goto slow;
    *n = (int)count;
    return 1;
slow:
    lua_settop(L, top);
    return 0;
}

int pl_transfer_decode(lua_State *L, const pl_wire *w, int trust_bytecode, int *n, char *err,
                       size_t errlen)
{
    *n = 0;
    if (decode_simple(L, w, n)) return 0;
    int top = lua_gettop(L);
    if (!lua_checkstack(L, 4)) {
        setmsg(err, errlen, "cannot decode transferred values: out of stack space");
        return -1;
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
    d.msg[0] = 0;
    lua_pushcfunction(L, decode_main);
    lua_pushlightuserdata(L, &d);
    int status = lua_pcall(L, 1, LUA_MULTRET, 0);
    if (status == LUA_OK && !d.failed) {
        *n = lua_gettop(L) - top;
        return 0;
    }
    if (d.failed) {
        setmsg(err, errlen, "cannot decode transferred values: %s", d.msg);
    } else {
        const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error";
        setmsg(err, errlen, "cannot decode transferred values: %s", msg);
    }
    lua_settop(L, top);
    return -1;
}
