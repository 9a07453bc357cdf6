/*
 * Permissions: sets, their algebra (copy, inherit, intersect, subset), the
 * checks with their one error format, allow tables (perm.h). Resolving
 * paths and opening them without following links: perm_path.c.
 */
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "engine/perm.h"

#include "core/status.h"
#include "engine/vm.h"

static const char *const cap_names[] = {"read",  "write",  "run",   "env",
                                        "spawn", "native", "debug", "exit"};
#define NCAPS (sizeof cap_names / sizeof *cap_names)

const char *pl_perms_name(int cap)
{
    for (unsigned i = 0; i < NCAPS; i++)
        if (cap == 1 << i) return cap_names[i];
    return "?";
}

/* ---- sets ---- */

static void list_clear(pl_pathlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->prefix[i]);
    free(l->prefix);
    l->prefix = NULL;
    l->n = 0;
    l->all = 0;
}

void pl_perms_none(pl_perms *p)
{
    memset(p, 0, sizeof *p);
}

void pl_perms_full(pl_perms *p)
{
    pl_perms_none(p);
    p->flags = PL_PERM_ALL;
    p->read.all = p->write.all = 1;
}

void pl_perms_free(pl_perms *p)
{
    list_clear(&p->read);
    list_clear(&p->write);
    p->flags = 0;
}

/* Appends a copy of s to l. PL_OK or PL_ENOMEM (l unchanged). */
static int list_add(pl_pathlist *l, const char *s, size_t len)
{
    char *copy = malloc(len + 1);
    char **grown = copy ? realloc(l->prefix, (l->n + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(copy);
        return PL_ENOMEM;
    }
    memcpy(copy, s, len);
    copy[len] = '\0';
    l->prefix = grown;
    l->prefix[l->n++] = copy;
    return PL_OK;
}

static int list_copy(pl_pathlist *dst, const pl_pathlist *src)
{
    dst->all = src->all;
    for (size_t i = 0; i < src->n; i++)
        if (list_add(dst, src->prefix[i], strlen(src->prefix[i])) != PL_OK) return PL_ENOMEM;
    return PL_OK;
}

int pl_perms_copy(pl_perms *dst, const pl_perms *src)
{
    pl_perms_none(dst);
    dst->flags = src->flags;
    if (list_copy(&dst->read, &src->read) != PL_OK ||
        list_copy(&dst->write, &src->write) != PL_OK) {
        pl_perms_free(dst);
        return PL_ENOMEM;
    }
    return PL_OK;
}

static int list_equal(const pl_pathlist *a, const pl_pathlist *b)
{
    if (a->all != b->all || a->n != b->n) return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->prefix[i], b->prefix[i]) != 0) return 0;
    return 1;
}

int pl_perms_equal(const pl_perms *a, const pl_perms *b)
{
    return a->flags == b->flags && list_equal(&a->read, &b->read) &&
           list_equal(&a->write, &b->write);
}

int pl_perms_inherit(const pl_perms *parent, pl_perms *child)
{
    int rc = pl_perms_copy(child, parent);
    child->flags &= ~(unsigned)PL_PERM_SPAWN;
    return rc;
}

/* 1 if the resolved path is prefix or lies under it, by whole components. */
static int under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    if (n == 1 && prefix[0] == '/') return 1;
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int list_allows(const pl_pathlist *l, const char *path)
{
    if (l->all) return 1;
    for (size_t i = 0; i < l->n; i++)
        if (under(path, l->prefix[i])) return 1;
    return 0;
}

static int list_has(const pl_pathlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->prefix[i], s) == 0) return 1;
    return 0;
}

/* out = the paths both a and b allow. */
static int list_intersect(const pl_pathlist *a, const pl_pathlist *b, pl_pathlist *out)
{
    if (a->all) return list_copy(out, b);
    if (b->all) return list_copy(out, a);
    for (int pass = 0; pass < 2; pass++) {
        const pl_pathlist *x = pass ? b : a, *y = pass ? a : b;
        for (size_t i = 0; i < x->n; i++)
            if (list_allows(y, x->prefix[i]) && !list_has(out, x->prefix[i]) &&
                list_add(out, x->prefix[i], strlen(x->prefix[i])) != PL_OK)
                return PL_ENOMEM;
    }
    return PL_OK;
}

int pl_perms_intersect(const pl_perms *a, const pl_perms *b, pl_perms *out)
{
    pl_perms_none(out);
    out->flags = a->flags & b->flags;
    static const int caps[] = {PL_PERM_READ, PL_PERM_WRITE};
    for (int i = 0; i < 2; i++) {
        if (!(out->flags & (unsigned)caps[i])) continue;
        pl_pathlist *o = i ? &out->write : &out->read;
        if (list_intersect(i ? &a->write : &a->read, i ? &b->write : &b->read, o) != PL_OK) {
            pl_perms_free(out);
            return PL_ENOMEM;
        }
        if (!o->all && o->n == 0) out->flags &= ~(unsigned)caps[i];
    }
    return PL_OK;
}

static int list_subset(const pl_pathlist *inner, const pl_pathlist *outer)
{
    if (outer->all) return 1;
    if (inner->all) return 0;
    for (size_t i = 0; i < inner->n; i++)
        if (!list_allows(outer, inner->prefix[i])) return 0;
    return 1;
}

int pl_perms_subset(const pl_perms *inner, const pl_perms *outer)
{
    if (inner->flags & ~outer->flags) return 0;
    if ((inner->flags & PL_PERM_READ) && !list_subset(&inner->read, &outer->read)) return 0;
    if ((inner->flags & PL_PERM_WRITE) && !list_subset(&inner->write, &outer->write)) return 0;
    return 1;
}

int pl_perms_allows(const pl_perms *p, int cap, const char *resolved)
{
    if ((cap & PL_PERM_READ) && !((p->flags & PL_PERM_READ) && list_allows(&p->read, resolved)))
        return 0;
    if ((cap & PL_PERM_WRITE) && !((p->flags & PL_PERM_WRITE) && list_allows(&p->write, resolved)))
        return 0;
    return 1;
}

int pl_perms_add_path(pl_perms *p, int cap, const char *path)
{
    pl_pathlist *l = cap == PL_PERM_WRITE ? &p->write : &p->read;
    p->flags |= (unsigned)cap;
    if (!path) {
        list_clear(l);
        l->all = 1;
        return PL_OK;
    }
    if (!*path) return PL_EINVAL;
    char out[PATH_MAX];
    if (pl_perms_resolve(path, 0, out) != 0) return errno == ENOMEM ? PL_ENOMEM : PL_EINVAL;
    if (l->all || list_has(l, out)) return PL_OK;
    return list_add(l, out, strlen(out));
}

/* ---- checks ---- */

const pl_perms *pl_perms_of(lua_State *L)
{
    return &pl_vm_of(L)->perms;
}

int pl_perms_has(lua_State *L, int cap)
{
    return (pl_perms_of(L)->flags & (unsigned)cap) != 0;
}

int pl_perms_path_all(lua_State *L, int cap)
{
    const pl_perms *p = pl_perms_of(L);
    if ((cap & PL_PERM_READ) && !((p->flags & PL_PERM_READ) && p->read.all)) return 0;
    if ((cap & PL_PERM_WRITE) && !((p->flags & PL_PERM_WRITE) && p->write.all)) return 0;
    return 1;
}

/* Pushes what p allows of cap, for the denial's parentheses. */
static void push_allowed(lua_State *L, const pl_perms *p, int cap)
{
    const char *name = pl_perms_name(cap);
    const pl_pathlist *l = cap == PL_PERM_READ ? &p->read : &p->write;
    if (!(p->flags & (unsigned)cap)) {
        lua_pushfstring(L, "%s not granted", name);
        return;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "allowed: %s under ", name);
    luaL_addvalue(&b);
    for (size_t i = 0; i < l->n; i++) {
        if (i) luaL_addstring(&b, ", ");
        luaL_addstring(&b, l->prefix[i]);
    }
    luaL_pushresult(&b);
}

static int deny(lua_State *L, int cap, const char *target)
{
    const pl_perms *p = pl_perms_of(L);
    if (cap == PL_PERM_READ || cap == PL_PERM_WRITE)
        push_allowed(L, p, cap);
    else
        lua_pushfstring(L, "%s not granted", pl_perms_name(cap));
    return luaL_error(L, "permission denied: %s %s (%s)", pl_perms_name(cap), target,
                      lua_tostring(L, -1));
}

void pl_perms_check(lua_State *L, int cap, const char *target)
{
    if (!pl_perms_has(L, cap)) deny(L, cap, target);
}

const char *pl_perms_check_path(lua_State *L, int cap, const char *path, int nofollow_final)
{
    char out[PATH_MAX];
    if (pl_perms_resolve(path, nofollow_final, out) != 0) {
        if (errno == ENOMEM) luaL_error(L, "not enough memory");
        luaL_error(L, "cannot check the permission for '%s': %s", path, strerror(errno));
    }
    const pl_perms *p = pl_perms_of(L);
    static const int caps[] = {PL_PERM_READ, PL_PERM_WRITE};
    for (int i = 0; i < 2; i++) {
        if (!(cap & caps[i])) continue;
        const pl_pathlist *l = i ? &p->write : &p->read;
        if (!(p->flags & (unsigned)caps[i]) || !list_allows(l, out)) deny(L, caps[i], out);
    }
    return lua_pushstring(L, out);
}

/* ---- allow tables ---- */

static int cap_by_name(const char *s)
{
    for (unsigned i = 0; i < NCAPS; i++)
        if (strcmp(s, cap_names[i]) == 0) return 1 << i;
    return 0;
}

/* Pushes the parent's paths of cap as one string, for messages. */
static const char *parent_paths(lua_State *L, const pl_perms *parent, int cap)
{
    if (!(parent->flags & (unsigned)cap))
        return lua_pushfstring(L, "it has no %s permission", pl_perms_name(cap));
    const pl_pathlist *l = cap == PL_PERM_READ ? &parent->read : &parent->write;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "it may ");
    luaL_addstring(&b, pl_perms_name(cap));
    luaL_addstring(&b, " only under ");
    for (size_t i = 0; i < l->n; i++) {
        if (i) luaL_addstring(&b, ", ");
        luaL_addstring(&b, l->prefix[i]);
    }
    luaL_pushresult(&b);
    return lua_tostring(L, -1);
}

/* Resolves the path at the top of L's stack and appends it to the table at
 * list, after checking the parent allows it (raises otherwise). */
static void allow_path(lua_State *L, int list, const pl_perms *parent, int cap, const char *what)
{
    const char *path = lua_tostring(L, -1);
    if (!*path) luaL_error(L, "%s: allow.%s holds an empty path", what, pl_perms_name(cap));
    char out[PATH_MAX];
    if (pl_perms_resolve(path, 0, out) != 0) {
        if (errno == ENOMEM) luaL_error(L, "not enough memory");
        luaL_error(L, "%s: allow.%s: cannot resolve '%s': %s", what, pl_perms_name(cap), path,
                   strerror(errno));
    }
    const pl_pathlist *pl = cap == PL_PERM_READ ? &parent->read : &parent->write;
    if (!(parent->flags & (unsigned)cap) || !list_allows(pl, out))
        luaL_error(L,
                   "%s: allow grants %s under %s, which this VM does not have (%s); allow can "
                   "only narrow permissions",
                   what, pl_perms_name(cap), out, parent_paths(L, parent, cap));
    lua_pushstring(L, out);
    lua_rawseti(L, list, (lua_Integer)lua_rawlen(L, list) + 1);
    lua_pop(L, 1); /* the path */
}

/* One entry of an allow table: key at -2, value at -1; lists at base. */
static void allow_entry(lua_State *L, int base, const pl_perms *parent, unsigned *flags,
                        const char *what)
{
    if (lua_type(L, -2) != LUA_TSTRING)
        luaL_error(L,
                   "%s: allow's keys are permission names (read, write, run, env, spawn, "
                   "native, debug, exit), got a %s key",
                   what, luaL_typename(L, -2));
    const char *name = lua_tostring(L, -2);
    int cap = cap_by_name(name);
    if (!cap)
        luaL_error(L,
                   "%s: allow.%s is not a permission (known: read, write, run, env, spawn, "
                   "native, debug, exit)",
                   what, name);
    int paths = cap == PL_PERM_READ || cap == PL_PERM_WRITE;
    int t = lua_type(L, -1);
    if (t == LUA_TBOOLEAN) {
        if (!lua_toboolean(L, -1)) return;
        const pl_pathlist *pl = cap == PL_PERM_READ ? &parent->read : &parent->write;
        if (!(parent->flags & (unsigned)cap) || (paths && !pl->all))
            luaL_error(L,
                       "%s: allow grants %s%s, which this VM does not have (%s); allow can only "
                       "narrow permissions",
                       what, name, paths ? " everywhere" : "",
                       paths ? parent_paths(L, parent, cap) : "it lacks it");
        *flags |= (unsigned)cap;
        if (paths) { /* everywhere: the list slot becomes true */
            lua_pushboolean(L, 1);
            lua_rawseti(L, base, cap == PL_PERM_READ ? 1 : 2);
        }
        return;
    }
    if (!paths || (t != LUA_TSTRING && t != LUA_TTABLE))
        luaL_error(L, "%s: allow.%s must be %s, got %s", what, name,
                   paths ? "true, a path or a list of paths" : "a boolean", luaL_typename(L, -1));
    *flags |= (unsigned)cap;
    lua_rawgeti(L, base, cap == PL_PERM_READ ? 1 : 2);
    int list = lua_gettop(L);
    if (lua_type(L, list) != LUA_TTABLE) { /* already everywhere (cannot happen twice) */
        lua_pop(L, 1);
        return;
    }
    if (t == LUA_TSTRING) {
        lua_pushvalue(L, -2);
        allow_path(L, list, parent, cap, what);
    } else {
        lua_Integer n = (lua_Integer)lua_rawlen(L, list - 1);
        for (lua_Integer i = 1; i <= n; i++) {
            if (lua_rawgeti(L, list - 1, i) != LUA_TSTRING)
                luaL_error(L, "%s: allow.%s[%d] must be a path (a string), got %s", what, name,
                           (int)i, luaL_typename(L, -1));
            allow_path(L, list, parent, cap, what);
        }
    }
    lua_settop(L, list - 1);
}

/* Copies the resolved list (a table of strings or true) into l. */
static int list_from(lua_State *L, int idx, pl_pathlist *l)
{
    if (lua_type(L, idx) == LUA_TBOOLEAN) {
        l->all = 1;
        return PL_OK;
    }
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        int rc = list_has(l, s) ? PL_OK : list_add(l, s, len);
        lua_pop(L, 1);
        if (rc != PL_OK) return rc;
    }
    return PL_OK;
}

void pl_perms_from_allow(lua_State *L, int allow_idx, const pl_perms *parent, pl_perms *out,
                         const char *what)
{
    allow_idx = lua_absindex(L, allow_idx);
    pl_perms_none(out);
    if (lua_type(L, allow_idx) != LUA_TTABLE)
        luaL_error(L,
                   "%s: allow must be a table of permissions (e.g. {read = {\"/data\"}}), got %s",
                   what, luaL_typename(L, allow_idx));
    luaL_checkstack(L, 8, "allow");
    /* Everything is resolved and checked into Lua values first, so an
     * error leaves nothing allocated; then copied into out. */
    lua_createtable(L, 2, 0);
    int base = lua_gettop(L);
    lua_newtable(L);
    lua_rawseti(L, base, 1);
    lua_newtable(L);
    lua_rawseti(L, base, 2);
    unsigned flags = 0;
    lua_pushnil(L);
    while (lua_next(L, allow_idx)) {
        allow_entry(L, base, parent, &flags, what);
        lua_pop(L, 1);
    }
    out->flags = flags;
    lua_rawgeti(L, base, 1);
    lua_rawgeti(L, base, 2);
    if (list_from(L, base + 1, &out->read) != PL_OK ||
        list_from(L, base + 2, &out->write) != PL_OK) {
        pl_perms_free(out);
        luaL_error(L, "not enough memory");
    }
    if (!out->read.all && out->read.n == 0) out->flags &= ~(unsigned)PL_PERM_READ; /* read = {} */
    if (!out->write.all && out->write.n == 0) out->flags &= ~(unsigned)PL_PERM_WRITE;
    lua_settop(L, base - 1);
}

void pl_perms_for_lthread(lua_State *L, int allow_idx, pl_perms *out, const char *what)
{
    pl_perms_check(L, PL_PERM_SPAWN, "lthread");
    const pl_perms *mine = pl_perms_of(L);
    if (allow_idx && !lua_isnoneornil(L, allow_idx))
        pl_perms_from_allow(L, allow_idx, mine, out, what);
    else if (pl_perms_inherit(mine, out) != PL_OK)
        luaL_error(L, "not enough memory");
}

/* ---- the set as a table ---- */

static void push_list(lua_State *L, const pl_perms *p, int cap)
{
    const pl_pathlist *l = cap == PL_PERM_READ ? &p->read : &p->write;
    if (!(p->flags & (unsigned)cap)) {
        lua_pushboolean(L, 0);
    } else if (l->all) {
        lua_pushboolean(L, 1);
    } else {
        lua_createtable(L, (int)l->n, 0);
        for (size_t i = 0; i < l->n; i++) {
            lua_pushstring(L, l->prefix[i]);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
    }
}

void pl_perms_push(lua_State *L, const pl_perms *p)
{
    lua_createtable(L, 0, (int)NCAPS);
    for (unsigned i = 0; i < NCAPS; i++) {
        int cap = 1 << i;
        if (cap == PL_PERM_READ || cap == PL_PERM_WRITE)
            push_list(L, p, cap);
        else
            lua_pushboolean(L, (p->flags & (unsigned)cap) != 0);
        lua_setfield(L, -2, cap_names[i]);
    }
}
