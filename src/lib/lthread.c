/*
 * The lthread library (SPEC 7): go(), LThread handles, LThreadGroup and
 * parallel.map. The engine's half (the VM, its hook, its outcome) is in
 * engine/lthread.c; this file turns Lua calls into records and outcomes
 * back into Lua values.
 *
 * Joining parks the caller on the record (engine/park.h), so a join never
 * blocks a worker; the record's end wakes every joiner.
 */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "engine/lthread.h"
#include "engine/park.h"
#include "engine/proxy.h"
#include "engine/runtime.h"
#include "engine/sched.h"
#include "engine/transfer.h"
#include "lib/lib.h"
#include "lib/sync.h"

static void make_mt(void *L, const pl_shared_type *type);

static void destroy_lthread(pl_shared *obj)
{
    pl_lthread_destroy((pl_lthread *)obj);
}

static const pl_shared_type lthread_type = {"LThread", "parlua.LThread", destroy_lthread, make_mt};

/* ---- LThreadGroup ---- */

typedef struct group_obj {
    pl_shared base;
    uv_mutex_t lock;    /* guards items and n; never held while raising */
    pl_lthread **items; /* retained, in start order */
    size_t n, cap;
} group_obj;

static void destroy_group(pl_shared *obj)
{
    group_obj *g = (group_obj *)obj;
    for (size_t i = 0; i < g->n; i++)
        pl_shared_release(&g->items[i]->w.base);
    free(g->items);
    uv_mutex_destroy(&g->lock);
    free(g);
}

static const pl_shared_type group_type = {"LThreadGroup", "parlua.LThreadGroup", destroy_group,
                                          make_mt};

/* Adds lt to g (retained). PL_OK or PL_ENOMEM. */
static int group_add(group_obj *g, pl_lthread *lt)
{
    uv_mutex_lock(&g->lock);
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 8;
        pl_lthread **items = realloc(g->items, cap * sizeof *items);
        if (!items) {
            uv_mutex_unlock(&g->lock);
            return PL_ENOMEM;
        }
        g->items = items;
        g->cap = cap;
    }
    pl_shared_retain(&lt->w.base);
    g->items[g->n++] = lt;
    uv_mutex_unlock(&g->lock);
    return PL_OK;
}

/* The i-th member (retained by the caller now), or NULL past the end. */
static pl_lthread *group_at(group_obj *g, size_t i)
{
    uv_mutex_lock(&g->lock);
    pl_lthread *lt = i < g->n ? g->items[i] : NULL;
    if (lt) pl_shared_retain(&lt->w.base);
    uv_mutex_unlock(&g->lock);
    return lt;
}

static int new_group(lua_State *L)
{
    group_obj *g = pl_sync_alloc(L, sizeof *g, &group_type);
    uv_mutex_init(&g->lock);
    return pl_sync_push_new(L, &g->base);
}

/* ---- go ---- */

static const char *const option_names[] = {"globals", "allow", "group", "name", NULL};

/* Checks the options table at 2: known keys only, each of the right type.
 * Leaves globals, name, group and allow at 3..6 (nil when absent). */
static void check_options(lua_State *L)
{
    if (lua_isnoneornil(L, 2)) {
        lua_settop(L, 1);
        for (int i = 0; i < 5; i++)
            lua_pushnil(L);
        return;
    }
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        lua_pop(L, 1);
        int known = 0;
        if (lua_type(L, -1) == LUA_TSTRING)
            for (int i = 0; option_names[i]; i++)
                known |= strcmp(lua_tostring(L, -1), option_names[i]) == 0;
        if (!known)
            luaL_error(L, "go: unknown option %s (the options are globals, allow, group, name)",
                       luaL_tolstring(L, -1, NULL));
    }
    lua_getfield(L, 2, "globals");
    lua_getfield(L, 2, "name");
    lua_getfield(L, 2, "group");
    lua_getfield(L, 2, "allow");
    if (!lua_isnil(L, 3)) {
        if (!lua_istable(L, 3))
            luaL_error(L, "go: option 'globals' must be a table of names to values, got %s",
                       luaL_typename(L, 3));
        lua_pushnil(L);
        while (lua_next(L, 3)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "go: the keys of 'globals' must be names (strings), got a %s",
                           luaL_typename(L, -1));
        }
    }
    if (!lua_isnil(L, 4) && lua_type(L, 4) != LUA_TSTRING)
        luaL_error(L, "go: option 'name' must be a string, got %s", luaL_typename(L, 4));
    if (!lua_isnil(L, 5)) pl_sync_check(L, 5, &group_type);
    if (!lua_isnil(L, 6) && !lua_istable(L, 6))
        luaL_error(L, "go: option 'allow' must be a table of permissions, got %s",
                   luaL_typename(L, 6));
}

/* Appends s (n bytes) to the name being built in buf (size bytes, at
 * *at), cut where it is full; always terminated. */
static void name_put(char *buf, size_t size, size_t *at, const char *s, size_t n)
{
    if (*at + n >= size) n = size - 1 - *at;
    memcpy(buf + *at, s, n);
    *at += n;
    buf[*at] = 0;
}

/* The same for the decimal digits of v. */
static void name_put_number(char *buf, size_t size, size_t *at, unsigned long long v)
{
    char digits[24];
    size_t n = sizeof digits;
    do {
        digits[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    name_put(buf, size, at, digits + n, sizeof digits - n);
}

/* The lthread's name: the option, else where its function was defined (or
 * its path), after its number: "#N at file:line", "#N path". Built by
 * hand: snprintf was a tenth of go's cost. */
static void set_name(lua_State *L, pl_lthread *lt)
{
    char *buf = lt->name;
    size_t size = sizeof lt->name, at = 0, len;
    buf[0] = 0;
    if (lua_type(L, 4) == LUA_TSTRING) {
        const char *s = lua_tolstring(L, 4, &len);
        name_put(buf, size, &at, s, strnlen(s, len)); /* up to a NUL, as %s */
        return;
    }
    name_put(buf, size, &at, "#", 1);
    name_put_number(buf, size, &at, (unsigned long long)lt->seq);
    if (lua_type(L, 1) == LUA_TFUNCTION) {
        lua_Debug ar;
        lua_pushvalue(L, 1);
        lua_getinfo(L, ">S", &ar);
        name_put(buf, size, &at, " at ", 4);
        name_put(buf, size, &at, ar.short_src, strlen(ar.short_src));
        name_put(buf, size, &at, ":", 1);
        if (ar.linedefined < 0) { /* -1 for a C function: "%d" wrote it */
            name_put(buf, size, &at, "-", 1);
            ar.linedefined = -ar.linedefined;
        }
        name_put_number(buf, size, &at, (unsigned long long)ar.linedefined);
    } else {
        const char *s = lua_tolstring(L, 1, &len);
        name_put(buf, size, &at, " ", 1);
        name_put(buf, size, &at, s, strnlen(s, len));
    }
}

/* Copies the caller's package.path and package.cpath for the new VM. */
static void copy_search_paths(lua_State *L, pl_lthread *lt)
{
    pl_push_search_paths(L);
    for (int i = 0; i < 2; i++)
        if (lua_type(L, i - 2) == LUA_TSTRING) /* NULL (no memory too): the default */
            lt->search_path[i] = strdup(lua_tostring(L, i - 2));
    lua_pop(L, 2);
}

/* go(fn_or_path [, opts]) -> LThread */
static int go(lua_State *L)
{
    int t = lua_type(L, 1);
    if (t != LUA_TFUNCTION && t != LUA_TSTRING)
        return luaL_typeerror(L, 1, "function or path of a Lua file");
    check_options(L);
    group_obj *group = lua_isnil(L, 5) ? NULL : pl_sync_check(L, 5, &group_type);
    /* spawn checked, then exactly what allow lists or the caller's set
     * minus spawn (SPEC 8, 12); raises before anything is made */
    pl_perms perms;
    pl_perms_for_lthread(L, lua_isnil(L, 6) ? 0 : 6, &perms, "go");
    /* What the new VM starts with, checked before anything is made: a value
     * that cannot cross fails here, naming it. */
    pl_wire start;
    pl_wire_init(&start);
    char err[512];
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 3);
    pl_transfer_origin origin = {"go", 1};
    int rc = pl_transfer_encode(L, 7, 2, &origin, &start, err, sizeof err);
    lua_settop(L, 6);
    if (rc != PL_OK) {
        pl_wire_free(&start);
        pl_perms_free(&perms);
        if (rc == PL_ENOMEM) return luaL_error(L, "not enough memory");
        return luaL_error(L, "go: %s", err);
    }
    pl_runtime *rt = pl_vm_of(L)->runtime;
    pl_lthread *lt = calloc(1, sizeof *lt);
    if (!lt) {
        pl_wire_free(&start);
        pl_perms_free(&perms);
        return luaL_error(L, "not enough memory");
    }
    pl_shared_init(&lt->w.base, &lthread_type);
    pl_lthread_init(lt, rt);
    lt->start = start; /* moved in */
    set_name(L, lt);
    copy_search_paths(L, lt);
    if (group && group_add(group, lt) != PL_OK) {
        pl_perms_free(&perms);
        lt->state = PL_LT_CANCELLED; /* never ran: nothing to report */
        pl_shared_release(&lt->w.base);
        return luaL_error(L, "not enough memory");
    }
    if (pl_lthread_launch(lt, &perms) != PL_OK) {
        lt->state = PL_LT_CANCELLED; /* never ran: nothing to report */
        pl_shared_release(&lt->w.base);
        return luaL_error(L, "not enough memory");
    }
    return pl_sync_push_new(L, &lt->w.base);
}

/* ---- joining ---- */

enum { JOIN_WAIT_RESULT, JOIN_RESULT, JOIN_CLOSE };
static const char *const join_names[] = {"LThread:wait_result", "LThread:result",
                                         "LThread's __close"};

static pl_lthread *check_lthread(lua_State *L)
{
    return pl_sync_check(L, 1, &lthread_type);
}

/* Pushes the values of lt's outcome wire; returns how many. Raises when
 * out of memory. */
static int push_outcome(lua_State *L, pl_lthread *lt)
{
    if (lt->outcome.len == 0) return 0;
    char err[256];
    int n = 0;
    int rc = pl_transfer_decode(L, &lt->outcome, 1, &n, err, sizeof err);
    if (rc != PL_OK) return luaL_error(L, "%s", err);
    return n;
}

/* Pushes lt's error value (FAILED): the value itself, else its text. */
static void push_error_value(lua_State *L, pl_lthread *lt)
{
    if (push_outcome(L, lt) == 0) lua_pushstring(L, lt->message ? lt->message : "?");
}

/* Raises lt's error in the caller: a string gets the lthread's traceback
 * appended (the caller's own traceback follows it when uncaught); any
 * other error value is raised as it is, so err.name and such still work. */
static int raise_failure(lua_State *L, pl_lthread *lt)
{
    push_error_value(L, lt);
    if (lua_type(L, -1) == LUA_TSTRING && lt->traceback) {
        lua_pushfstring(L, "\n[lthread '%s'] %s", lt->name, lt->traceback);
        lua_concat(L, 2);
    }
    return lua_error(L);
}

static void push_cancelled(lua_State *L, pl_lthread *lt)
{
    pl_sync_push_error(L, "Cancelled", "lthread '%s' was cancelled", lt->name);
}

/* The join's answer, once lt ended or the wait timed out. */
static int join_result(lua_State *L, pl_lthread *lt, int mode)
{
    uv_mutex_lock(&lt->w.lock);
    int state = lt->state;
    if (state != PL_LT_RUNNING) lt->observed = 1;
    uv_mutex_unlock(&lt->w.lock); /* the outcome is read-only from here (lthread.h) */
    switch (state) {
    case PL_LT_RUNNING: /* timed out */
        if (mode == JOIN_RESULT)
            return pl_sync_raise(L, "Timeout", "lthread '%s' is still running", lt->name);
        lua_pushnil(L);
        pl_sync_push_error(L, "Timeout", "lthread '%s' is still running", lt->name);
        return 2;
    case PL_LT_DONE: {
        if (mode == JOIN_CLOSE) return 0;
        int n = push_outcome(L, lt);
        if (mode == JOIN_RESULT) return n;
        lua_settop(L, lua_gettop(L) - n + (n > 0)); /* the first value only */
        if (n == 0) lua_pushnil(L);
        lua_pushnil(L);
        return 2;
    }
    case PL_LT_FAILED:
        if (mode != JOIN_WAIT_RESULT) return raise_failure(L, lt);
        lua_pushnil(L);
        push_error_value(L, lt);
        return 2;
    default: /* cancelled */
        if (mode == JOIN_CLOSE) return 0;
        if (mode == JOIN_RESULT) {
            push_cancelled(L, lt);
            return lua_error(L);
        }
        lua_pushnil(L);
        push_cancelled(L, lt);
        return 2;
    }
}

static int join_k(lua_State *L, int status, lua_KContext mode)
{
    (void)status;
    pl_park_end(L);
    return join_result(L, check_lthread(L), (int)mode);
}

static int join(lua_State *L, int mode)
{
    pl_lthread *lt = check_lthread(L);
    double timeout = mode == JOIN_CLOSE ? -1 : pl_sync_timeout(L, 2, join_names[mode]);
    lua_settop(L, 1);
    for (int prepared = 0;; prepared = 1) {
        uv_mutex_lock(&lt->w.lock);
        if (lt->state != PL_LT_RUNNING || timeout == 0) {
            uv_mutex_unlock(&lt->w.lock);
            return join_result(L, lt, mode);
        }
        if (prepared) break;
        pl_park_prepare_unlocking(L, &lt->w, 0, join_names[mode]);
    }
    return pl_park(L, &pl_ctx_of(L)->rt->wait, timeout, mode, join_k);
}

static int lt_wait_result(lua_State *L)
{
    return join(L, JOIN_WAIT_RESULT);
}

static int lt_result(lua_State *L)
{
    return join(L, JOIN_RESULT);
}

static int lt_close(lua_State *L)
{
    return join(L, JOIN_CLOSE);
}

static int lt_done(lua_State *L)
{
    pl_lthread *lt = check_lthread(L);
    uv_mutex_lock(&lt->w.lock);
    int done = lt->state != PL_LT_RUNNING;
    uv_mutex_unlock(&lt->w.lock);
    lua_pushboolean(L, done);
    return 1;
}

static int lt_cancel(lua_State *L)
{
    lua_pushboolean(L, pl_lthread_cancel(check_lthread(L)));
    return 1;
}

static int lt_name(lua_State *L)
{
    lua_pushstring(L, check_lthread(L)->name);
    return 1;
}

static const char *const state_names[] = {"running", "done", "failed", "cancelled"};

static int lt_tostring(lua_State *L)
{
    pl_lthread *lt = check_lthread(L);
    uv_mutex_lock(&lt->w.lock);
    int state = lt->state;
    uv_mutex_unlock(&lt->w.lock);
    lua_pushfstring(L, "LThread '%s' (%s)", lt->name, state_names[state]);
    return 1;
}

/* ---- LThreadGroup methods ---- */

static group_obj *check_group(lua_State *L)
{
    return pl_sync_check(L, 1, &group_type);
}

/* Once every member ended: [2] is the results table being built. Raises
 * one error listing every failure, else returns the table. */
static int group_results(lua_State *L, group_obj *g)
{
    lua_settop(L, 1);
    lua_newtable(L); /* 2: results */
    luaL_Buffer b;
    int failures = 0;
    size_t i = 0;
    pl_lthread *lt;
    lua_newtable(L); /* 3: failure lines */
    while ((lt = group_at(g, i++))) {
        uv_mutex_lock(&lt->w.lock);
        int state = lt->state;
        lt->observed = 1;
        uv_mutex_unlock(&lt->w.lock);
        if (state == PL_LT_DONE) {
            int n = push_outcome(L, lt);
            if (n > 1) lua_pop(L, n - 1);
            if (n > 0) lua_rawseti(L, 2, (lua_Integer)i);
        } else {
            lua_pushfstring(L, "  [%d] lthread '%s': %s", (int)i, lt->name,
                            lt->message ? lt->message : state_names[state]);
            lua_rawseti(L, 3, ++failures);
        }
        pl_shared_release(&lt->w.base);
    }
    if (!failures) {
        lua_settop(L, 2);
        return 1;
    }
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "%d of %d lthreads failed:", failures, (int)(i - 1));
    luaL_addvalue(&b);
    for (int k = 1; k <= failures; k++) {
        luaL_addchar(&b, '\n');
        lua_rawgeti(L, 3, k);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    return lua_error(L);
}

/* Waits for the members from the ctx-th on; parks on the first running. */
static int group_wait_from(lua_State *L, size_t i);

static int group_wait_k(lua_State *L, int status, lua_KContext i)
{
    (void)status;
    pl_park_end(L);
    return group_wait_from(L, (size_t)i);
}

static int group_wait_from(lua_State *L, size_t i)
{
    group_obj *g = check_group(L);
    pl_lthread *lt;
    for (; (lt = group_at(g, i)); i++) {
        for (int prepared = 0;; prepared = 1) {
            uv_mutex_lock(&lt->w.lock);
            if (lt->state != PL_LT_RUNNING) {
                uv_mutex_unlock(&lt->w.lock);
                break;
            }
            if (prepared) {
                /* the group keeps lt alive while the waiter is parked on it */
                pl_shared_release(&lt->w.base);
                return pl_park(L, &pl_ctx_of(L)->rt->wait, -1, (lua_KContext)i, group_wait_k);
            }
            uv_mutex_unlock(&lt->w.lock);
            pl_park_check(L, "LThreadGroup:wait_results");
            pl_park_prepare(L, &lt->w, 0);
        }
        pl_shared_release(&lt->w.base);
    }
    return group_results(L, g);
}

static int group_wait_results(lua_State *L)
{
    check_group(L);
    lua_settop(L, 1);
    return group_wait_from(L, 0);
}

static int group_cancel_all(lua_State *L)
{
    group_obj *g = check_group(L);
    int n = 0;
    pl_lthread *lt;
    for (size_t i = 0; (lt = group_at(g, i)); i++) {
        n += pl_lthread_cancel(lt);
        pl_shared_release(&lt->w.base);
    }
    lua_pushinteger(L, n);
    return 1;
}

static int group_size(lua_State *L)
{
    group_obj *g = check_group(L);
    uv_mutex_lock(&g->lock);
    size_t n = g->n;
    uv_mutex_unlock(&g->lock);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

static int group_tostring(lua_State *L)
{
    group_obj *g = check_group(L);
    uv_mutex_lock(&g->lock);
    size_t n = g->n;
    uv_mutex_unlock(&g->lock);
    lua_pushfstring(L, "LThreadGroup (%d lthreads)", (int)n);
    return 1;
}

/* ---- metatables ---- */

static void make_mt(void *state, const pl_shared_type *type)
{
    lua_State *L = state;
    static const luaL_Reg lthread_methods[] = {
        {"wait_result", lt_wait_result}, {"result", lt_result}, {"done", lt_done},
        {"cancel", lt_cancel},           {"name", lt_name},     {NULL, NULL},
    };
    static const luaL_Reg group_methods[] = {
        {"wait_results", group_wait_results},
        {"cancel_all", group_cancel_all},
        {"size", group_size},
        {NULL, NULL},
    };
    int is_group = type == &group_type;
    pl_proxy_newmetatable(L, type);
    lua_newtable(L);
    luaL_setfuncs(L, is_group ? group_methods : lthread_methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, is_group ? group_tostring : lt_tostring);
    lua_setfield(L, -2, "__tostring");
    if (is_group) {
        lua_pushcfunction(L, group_size);
        lua_setfield(L, -2, "__len");
    } else {
        lua_pushcfunction(L, lt_close);
        lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
}

/* ---- parallel.map ---- */

/* Written in Lua on go(): the serial probe decides whether spreading the
 * work can pay, then the rest goes out in batches, one lthread each.
 * Arguments: go, the worker count, the clock. */
static const char map_source[] =
    "local go, workers, now = ...\n"
    "local function batch()\n"
    "  local items, fn, n, base = __parlua_map_items, __parlua_map_fn, __parlua_map_n,\n"
    "    __parlua_map_base\n"
    "  local out = {n = n}\n"
    "  for k = 1, n do\n"
    "    local ok, r = pcall(fn, items[k])\n"
    "    if not ok then error({index = base + k, message = r}, 0) end\n"
    "    out[k] = r\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "local function fail(i, msg)\n"
    "  error(('parallel.map: item %d: %s'):format(i, tostring(msg)), 3)\n"
    "end\n"
    "local function serial(list, fn, results, from, to)\n"
    "  local i = from\n" /* one pcall for the run: as fast as a plain loop */
    "  local ok, err = pcall(function()\n"
    "    local res, f, l = results, fn, list\n"
    "    for j = from, to do i = j; res[j] = f(l[j]) end\n"
    "  end)\n"
    "  if not ok then fail(i, err) end\n"
    "end\n"
    "return function(list, fn, opts)\n"
    "  if type(list) ~= 'table' then\n"
    "    error('parallel.map: argument 1 must be a list (table), got ' .. type(list), 2)\n"
    "  end\n"
    "  if type(fn) ~= 'function' then\n"
    "    error('parallel.map: argument 2 must be a function, got ' .. type(fn), 2)\n"
    "  end\n"
    "  if opts ~= nil and type(opts) ~= 'table' then\n"
    "    error('parallel.map: argument 3 must be a table of options, got ' .. type(opts), 2)\n"
    "  end\n"
    "  opts = opts or {}\n"
    "  local size = opts.batch\n"
    "  if size ~= nil and (math.type(size) ~= 'integer' or size < 1) then\n"
    "    error('parallel.map: option batch must be an integer >= 1', 2)\n"
    "  end\n"
    "  local n, results, i, w = #list, {}, 1, workers()\n"
    "  if opts.probe ~= false then\n"
    "    local t0, k = now(), 1\n" /* runs of 1, 2, 4... items, for 1 ms */
    "    while i <= n do\n"
    "      local to = math.min(n, i + k - 1)\n"
    "      serial(list, fn, results, i, to)\n"
    "      i, k = to + 1, k * 2\n"
    "      if now() - t0 > 0.001 then break end\n"
    "    end\n"
    "    if i > n then return results end\n"
    "    local rest, per = n - i + 1, (now() - t0) / (i - 1)\n"
    "    if w < 2 or per * rest * (1 - 1 / w) < 2e-6 * rest + 5e-4 then\n"
    "      serial(list, fn, results, i, n)\n"
    "      return results\n"
    "    end\n"
    "  end\n"
    "  size = size or math.max(1, math.ceil((n - i + 1) / (w * 4)))\n"
    "  local handles, firsts = {}, {}\n"
    "  for lo = i, n, size do\n"
    "    local hi = math.min(n, lo + size - 1)\n"
    "    handles[#handles + 1] = go(batch, {name = ('parallel.map items %d-%d'):format(lo, hi),\n"
    "      globals = {__parlua_map_items = table.move(list, lo, hi, 1, {}),\n"
    "                 __parlua_map_fn = fn, __parlua_map_n = hi - lo + 1,\n"
    "                 __parlua_map_base = lo - 1}})\n"
    "    firsts[#handles] = lo\n"
    "  end\n"
    "  for b, h in ipairs(handles) do\n"
    "    local out, err = h:wait_result()\n"
    "    if err ~= nil then\n"
    "      for k = b + 1, #handles do handles[k]:cancel() end\n"
    "      for k = b + 1, #handles do handles[k]:wait_result() end\n"
    "      if type(err) == 'table' and err.index then fail(err.index, err.message) end\n"
    "      fail(firsts[b], err)\n"
    "    end\n"
    "    table.move(out, 1, out.n, firsts[b], results)\n"
    "  end\n"
    "  return results\n"
    "end\n";

static const char MAP_KEY[] = "parlua.parallel.map";

static int time_now(lua_State *L)
{
    lua_pushnumber(L, pl_now(pl_vm_of(L)->runtime));
    return 1;
}

static int worker_count(lua_State *L)
{
    lua_pushinteger(L, pl_pool_size(pl_vm_of(L)->runtime->pool));
    return 1;
}

static int map_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    return lua_gettop(L);
}

static int parallel_map(lua_State *L)
{
    if (lua_getfield(L, LUA_REGISTRYINDEX, MAP_KEY) != LUA_TFUNCTION) { /* first use in this VM */
        lua_pop(L, 1);
        if (luaL_loadbuffer(L, map_source, sizeof map_source - 1, "=parallel.map") != LUA_OK)
            return lua_error(L);
        lua_pushcfunction(L, go);
        lua_pushcfunction(L, worker_count);
        lua_pushcfunction(L, time_now);
        lua_call(L, 3, 1);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, MAP_KEY);
    }
    lua_insert(L, 1);
    /* with a continuation: the joins inside park the caller */
    lua_callk(L, lua_gettop(L) - 1, LUA_MULTRET, 0, map_k);
    return map_k(L, LUA_OK, 0);
}

void pl_open_lthread(lua_State *L)
{
    lua_register(L, "go", go);
    lua_register(L, "LThreadGroup", new_group);
}

int pl_push_parallel(lua_State *L)
{
    static const luaL_Reg parallel[] = {{"map", parallel_map}, {NULL, NULL}};
    luaL_newlib(L, parallel);
    return 1;
}
