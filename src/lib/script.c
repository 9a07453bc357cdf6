/*
 * Scripts: starting a Script instance in the VM of its closest Actor (or
 * the main VM), in a runtime thread that belongs to it, so that the global
 * `script` names it while that thread runs (vm.c, switch_script). Scripts
 * of one VM share its globals, as in lua5.4, and _ENV == _G. Also the main
 * script and -e.
 */
#include <errno.h>
#include <lauxlib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/codecache.h"
#include "core/grow.h"
#include "core/sstring.h"
#include "engine/proxy.h"
#include "engine/runtime.h"
#include "engine/sched.h"
#include "engine/transfer.h"
#include "lib/instance.h"
#include "lib/lib.h"

/* One rule for Script.Source, Script.Path and the main script: Lua source
 * text only, whatever the VM's permissions (load() takes a binary chunk
 * with `native`). Replaces Lua's terse message with one that says so. */
static int refuse_binary(lua_State *L, int rc, const char *what)
{
    if (rc != LUA_OK && lua_type(L, -1) == LUA_TSTRING &&
        strstr(lua_tostring(L, -1), "attempt to load a binary chunk")) {
        lua_pop(L, 1);
        lua_pushfstring(L,
                        "cannot load %s: it is a precompiled (binary) chunk; a Script runs Lua "
                        "source text only (give the .lua source instead)",
                        what);
    }
    return rc;
}

/* The text of a script read from standard input once (see parlua_run_file),
 * without a first line starting with '#' (kept as an empty line, so line
 * numbers hold), as lua5.4 reads it. */
static int load_stdin_text(lua_State *L, pl_instance *script)
{
    const char *s = script->source ? script->source : "";
    size_t len = script->source_len;
    if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3, len -= 3; /* UTF-8 BOM */
    if (len && s[0] == '#') {
        const char *nl = memchr(s, '\n', len);
        len = nl ? len - (size_t)(nl - s) : 0;
        s = nl ? nl : s;
    }
    return refuse_binary(L, luaL_loadbufferx(L, s, len, "=stdin", "t"), "stdin");
}

/* ---- Compiled scripts (docs/design.md, "Compiled scripts") ----
 *
 * A Source compiled once is kept, process-wide (core/codecache.c), as the
 * binary chunk lua_dump made of it, keyed by the source text alone: the
 * text is all the compiler reads besides the chunk name, and the chunk
 * name is put in at each load. A later load of the same text (another
 * actor's copy of the script, say) reads that chunk instead of parsing.
 *
 * A Lua 5.4 binary chunk begins with a header of fixed size (the signature
 * "\x1bLua", a version and a format byte, 6 bytes that catch text-mode
 * conversions, 3 size bytes, a lua_Integer and a lua_Number), then the
 * main function's upvalue count (one byte), then its source name: a size
 * (the name's length + 1, in 7-bit groups, most significant first, the
 * last group's byte with its top bit set) and the name's bytes. Functions
 * nested in the chunk store no name of their own (theirs is the main
 * function's) and take the main function's when loaded. So the cache keeps
 * the chunk without the name, and each load hands lua_load the part before
 * it, the script's own name, then the rest: error messages and tracebacks
 * name the script that runs, with the lines of its text (the chunk is not
 * stripped). */

#if LUA_VERSION_NUM == 504
#define NAME_AT (4 + 2 + 6 + 3 + sizeof(lua_Integer) + sizeof(lua_Number) + 1)
#define CACHE_SCRIPTS 1
#else /* another binary format: always compile */
#define NAME_AT 0
#define CACHE_SCRIPTS 0
#endif

#define SIZE_BYTES ((sizeof(size_t) * 8 + 6) / 7) /* the longest size field */

/* Writes the size field of a name of len bytes; returns its length. */
static size_t put_name_size(unsigned char *out, size_t len)
{
    unsigned char groups[SIZE_BYTES];
    size_t n = 0, x = len + 1;
    do {
        groups[n++] = (unsigned char)(x & 0x7f);
        x >>= 7;
    } while (x);
    for (size_t i = 0; i < n; i++)
        out[i] = groups[n - 1 - i];
    out[n - 1] |= 0x80;
    return n;
}

/* After a successful compile of src (the function on top of L, compiled
 * with chunk name `name`): keeps its binary chunk, without the name, for
 * the next load of the same text. Best effort: out of memory or a chunk
 * not laid out as expected only means no entry. Raises nothing. */
static void remember(lua_State *L, const char *src, size_t len, uint32_t hash, const char *name)
{
    if (!CACHE_SCRIPTS || pl_codecache_limit() == 0) return;
    /* room for most chunks at once: a chunk is a few times its text */
    size_t cap = len < 4096 ? 4 * len + 256 : 2 * len;
    pl_wire b;
    pl_wire_init(&b);
    if (pl_wire_reserve(&b, cap) != 0) return;
    if (lua_dump(L, pl_wire_lua_writer, &b, 0) != 0) { /* 0: keep lines and names */
        pl_wire_free(&b);
        return;
    }
    unsigned char field[SIZE_BYTES];
    size_t name_len = strlen(name), field_len = put_name_size(field, name_len);
    size_t name_end = NAME_AT + field_len + name_len;
    if (b.len >= name_end && memcmp(b.data, LUA_SIGNATURE, sizeof LUA_SIGNATURE - 1) == 0 &&
        memcmp(b.data + NAME_AT, field, field_len) == 0 &&
        memcmp(b.data + NAME_AT + field_len, name, name_len) == 0) {
        memmove(b.data + NAME_AT, b.data + name_end, b.len - name_end); /* the name out */
        (void)pl_codecache_put(src, len, hash, b.data, b.len - (name_end - NAME_AT), NAME_AT);
    }
    pl_wire_free(&b);
}

/* lua_load's reader over a cached chunk with a name put in: the pieces in
 * order. */
typedef struct chunk_reader {
    const char *piece[4];
    size_t len[4];
    int next;
} chunk_reader;

static const char *read_chunk(lua_State *L, void *ud, size_t *size)
{
    (void)L;
    chunk_reader *r = ud;
    if (r->next == 4) {
        *size = 0;
        return NULL;
    }
    *size = r->len[r->next];
    return r->piece[r->next++];
}

/* Loads a cached chunk as if compiled with chunk name `name` (name_len
 * bytes). Its only failure is out of memory: lua_load's message, as a
 * compile gives. */
static int load_cached(lua_State *L, const pl_code *code, const char *name, size_t name_len)
{
    unsigned char field[SIZE_BYTES];
    /* no piece is empty (lua_load would take it for the end): the header
     * and the function's fields around the name are never empty */
    chunk_reader r = {
        {(const char *)code->bytes, (const char *)field, name,
         (const char *)code->bytes + code->mark},
        {code->mark, put_name_size(field, name_len), name_len, code->len - code->mark},
        0};
    /* mode "b": these bytes are lua_dump's, kept by remember; a script's
     * own text is only ever loaded as text */
    return lua_load(L, read_chunk, &r, name, "b");
}

/* Compiles (or finds compiled) the text of a Script or ModuleScript with
 * Source, named after its place in the tree. Pushes the function, or the
 * error message and returns lua_load's status. */
static int load_source(lua_State *L, pl_instance *script)
{
    const char *src = script->source ? script->source : "";
    size_t len = script->source_len;
    /* "=" and the full name; in a full userdata when it is too long for
     * the stack buffer, so that an error raised from here leaks nothing */
    char small[256], *name = small;
    size_t name_len = pl_instance_full_name_to(script, small + 1, sizeof small - 1);
    if (name_len + 2 > sizeof small) {
        name = lua_newuserdatauv(L, name_len + 2, 0);
        pl_instance_full_name_to(script, name + 1, name_len + 1);
    }
    name[0] = '=';
    uint32_t hash = pl_str_hash(src, len);
    pl_code *code = CACHE_SCRIPTS ? pl_codecache_get(src, len, hash) : NULL;
    int rc;
    if (code) {
        rc = load_cached(L, code, name, name_len + 1);
        pl_code_release(code);
    } else {
        rc = luaL_loadbufferx(L, src, len, name, "t");
        if (rc == LUA_OK) remember(L, src, len, hash, name);
        refuse_binary(L, rc, name + 1);
    }
    if (name != small) lua_remove(L, -2);
    return rc;
}

static int load_script(lua_State *L, pl_instance *script)
{
    if (script->path && strcmp(script->path, "-") == 0) {
        if (script->source) return load_stdin_text(L, script); /* read by parlua_run_file */
        return refuse_binary(L, luaL_loadfilex(L, NULL, "t"), "stdin");
    }
    if (script->path) /* read checked: raises permission denied */
        return refuse_binary(L, pl_sandbox_loadfile(L, script->path, "t"), script->path);
    return load_source(L, script);
}

/* Runs in the target VM under pcall: loads the script and makes its thread. */
static int prepare(lua_State *L)
{
    pl_instance *script = lua_touserdata(L, 1);
    int nargs = (int)lua_tointeger(L, 2);
    lua_settop(L, 2 + nargs);
    if (load_script(L, script) != LUA_OK) return lua_error(L);
    lua_insert(L, 3); /* function below the arguments */
    pl_rthread *th = pl_rthread_new(L, nargs);
    if (!th) return luaL_error(L, "not enough memory");
    pl_rthread_set_script(th, script);
    lua_pushlightuserdata(L, th);
    return 1;
}

/* The main script "-" is standard input: read it whole now, into Source,
 * so that a clone of the script (script:Clone()) runs the same text instead
 * of reading the exhausted stream again. */
static int read_stdin(pl_runtime *rt, pl_instance *script)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len - 1, stdin);
        if (ferror(stdin)) {
            pl_runtime_set_error(rt, "cannot read stdin: %s", strerror(errno));
            free(buf);
            return PARLUA_ERROR;
        }
        if (feof(stdin)) break;
        char *more = pl_grow(buf, &cap, cap + 1, 1);
        if (!more) free(buf);
        buf = more;
    }
    if (!buf) {
        pl_runtime_set_error(rt, "not enough memory to read stdin");
        return PARLUA_NOMEM;
    }
    buf[len] = '\0';
    script->source = buf;
    script->source_len = len;
    return PARLUA_OK;
}

/* Runs a prepared main-script thread of vm now: PARLUA_ERROR when its first
 * run died of an uncaught error (already reported, and in last_error). */
static int run_first(pl_vm *vm, pl_rthread *th)
{
    return pl_sched_run_now(vm, th) ? PARLUA_ERROR : PARLUA_OK;
}

int pl_script_start(pl_runtime *rt, pl_instance *script, int nargs, lua_State *args_from)
{
    pl_instance *actor = pl_instance_actor_of(script);
    pl_vm *vm = actor ? actor->vm : &rt->main;
    script->started = 1;
    if (!vm || pl_vm_dead(vm)) return 0; /* a destroyed Actor runs nothing (never in game) */
    int made = pl_vm_ensure_state(vm);
    if (made != PL_OK) { /* the host's failure was reported with its message */
        if (made == PL_ENOMEM)
            pl_runtime_set_error(rt, "not enough memory to start %s", script->name);
        return -1;
    }
    lua_State *L = vm->L;
    lua_checkstack(L, nargs + 4);
    lua_pushcfunction(L, prepare);
    lua_pushlightuserdata(L, script);
    lua_pushinteger(L, nargs);
    if (args_from == L)
        lua_rotate(L, -(nargs + 3), 3); /* the arguments were already on L: move them up */
    else if (nargs)
        lua_xmove(args_from, L, nargs);
    if (lua_pcall(L, 2 + nargs, 1, 0) != LUA_OK) {
        if (args_from) { /* the main script: its caller reports, as lua5.4 does */
            pl_runtime_set_error(rt, "%s", lua_tostring(L, -1));
            lua_pop(L, 1);
        } else {
            pl_report_error(vm, L, "cannot start script");
            lua_pop(L, 1);
        }
        return -1;
    }
    pl_rthread *th = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (args_from) return run_first(vm, th); /* accounted and traced */
    pl_sched_ready(vm, th, PL_SERIAL);
    return 0;
}

void pl_script_added(void *runtime, pl_instance *script)
{
    if (script->disabled) return; /* starts when Enabled becomes true */
    pl_script_start(runtime, script, 0, NULL);
}

/* ---- Script.Enabled ---- */

static int get_enabled(lua_State *L)
{
    lua_pushboolean(L, !pl_instance_check(L, 1)->disabled);
    return 1;
}

/* false stops the script (as Destroy does: its threads, connections and
 * bindings); true starts it again from the top when it is in the game. */
static int set_enabled(lua_State *L)
{
    pl_instance *script = pl_instance_check(L, 1);
    if (!lua_isboolean(L, 2))
        return luaL_error(L, "Property Script.Enabled must be a boolean, got %s",
                          luaL_typename(L, 2));
    int enable = lua_toboolean(L, 2);
    pl_runtime *rt = pl_vm_of(L)->runtime;
    if (enable == !script->disabled) return 0;
    script->disabled = !enable;
    if (!enable) {
        script->run_gen++;
        int was_started = script->started;
        script->started = 0;
        pl_instance *actor = pl_instance_actor_of(script);
        pl_vm *vm = actor ? actor->vm : &rt->main;
        if (was_started && vm) pl_instance_stop_scripts(rt, &vm, 1, 0);
    } else if (!script->started && pl_instance_in_game(script) &&
               script->parent_locked != PL_LOCKED_DESTROYED) {
        if (pl_script_start(rt, script, 0, NULL) != 0) {
            const char *msg = rt->last_error;
            return luaL_error(L, "cannot start %s: %s", script->name, msg);
        }
    }
    return 0;
}

const pl_member pl_scriptclass_members[] = {
    {"Enabled", PL_READ_PARALLEL, get_enabled, set_enabled, NULL, 0,
     "false stops the script (its threads, connections and bindings, as Destroy does) or "
     "keeps it from starting; true starts it again, from the top, when it is in the game"},
    {NULL, 0, NULL, NULL, NULL, 0, NULL},
};

/* ---- require(moduleScript) ---- */

static const char MODULES_KEY[] = "parlua.modules";
static char loading; /* the value of a module being loaded (cycle detection) */

/* Stack: 1 the ModuleScript, 2 this VM's module cache, 3 the Script that
 * required it (light userdata, retained), then what the module returned. */
static int require_k(lua_State *L, int status, lua_KContext ctx)
{
    pl_vm *vm = pl_vm_of(L);
    pl_instance *prev = lua_touserdata(L, 3);
    pl_vm_switch_script(vm, L, prev);
    if (prev) pl_shared_release(&prev->base);
    lua_pushnil(L);
    lua_replace(L, 3); /* released: never again */
    pl_instance *mod = pl_instance_check(L, 1);
    if (status != LUA_OK && status != LUA_YIELD) { /* it raised: forget it, raise on */
        lua_pushvalue(L, 1);
        lua_pushnil(L);
        lua_rawset(L, 2);
        return lua_error(L);
    }
    int n = lua_gettop(L) - 3;
    if (n != 1) {
        lua_pushvalue(L, 1);
        lua_pushnil(L);
        lua_rawset(L, 2);
        return luaL_error(L,
                          "require: ModuleScript %s returned %d values (module code must "
                          "return exactly one value)",
                          mod->name, n);
    }
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 4);
    lua_rawset(L, 2);
    return 1;
}

/* require(x): a ModuleScript runs once per VM, its value cached there;
 * anything else goes to Lua's require (upvalue 1). */
static int require_any(lua_State *L)
{
    pl_shared *obj = pl_proxy_test(L, 1, &pl_instance_type);
    if (!obj) {
        int n = lua_gettop(L);
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_insert(L, 1);
        lua_call(L, n, LUA_MULTRET);
        return lua_gettop(L);
    }
    pl_instance *mod = (pl_instance *)obj;
    pl_vm *vm = pl_vm_of(L);
    if (pl_vm_is_lthread(vm))
        return luaL_error(L, "require(ModuleScript) cannot be used from an lthread (an lthread "
                             "may only use SendMessage of an Instance): require the module by "
                             "its path instead");
    if (mod->cls != &pl_class_modulescript)
        return luaL_error(L, "require: expected a ModuleScript or a module name, got %s \"%s\"",
                          mod->cls->name, mod->name);
    lua_settop(L, 1);
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, MODULES_KEY) != LUA_TTABLE) { /* 2: the first */
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, MODULES_KEY);
    }
    lua_pushvalue(L, 1);
    if (lua_rawget(L, 2) != LUA_TNIL) {
        if (lua_touserdata(L, -1) == &loading)
            return luaL_error(L,
                              "require: ModuleScript %s was required while it was still "
                              "loading (modules that require each other form a cycle)",
                              mod->name);
        return 1;
    }
    lua_pop(L, 1);
    if (load_script(L, mod) != LUA_OK) /* 3: the chunk */
        return luaL_error(L, "require: %s", lua_tostring(L, -1));
    lua_pushvalue(L, 1);
    lua_pushlightuserdata(L, &loading);
    lua_rawset(L, 2);
    pl_instance *prev = vm->script_now; /* module code sees its ModuleScript as `script` */
    if (prev) pl_shared_retain(&prev->base);
    lua_pushlightuserdata(L, prev);
    lua_insert(L, 3); /* 3: the requirer, 4: the chunk */
    pl_vm_switch_script(vm, L, mod);
    int status = lua_pcallk(L, 0, LUA_MULTRET, 0, 0, require_k);
    return require_k(L, status, 0);
}

void pl_open_script(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushcclosure(L, require_any, 1);
    lua_setglobal(L, "require");
}

int pl_script_run_file(pl_runtime *rt, const char *path, int nargs)
{
    lua_State *L = rt->main.L;
    pl_instance *script = pl_instance_new(&pl_class_script, pl_vm_token(&rt->main), &rt->graveyard);
    if (!script || !(script->path = strdup(path))) {
        if (script) pl_shared_release(&script->base);
        lua_pop(L, nargs);
        return PARLUA_NOMEM;
    }
    int read = strcmp(path, "-") == 0 ? read_stdin(rt, script) : PARLUA_OK;
    if (read != PARLUA_OK) {
        pl_shared_release(&script->base);
        lua_pop(L, nargs);
        return read;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 4 && strcmp(base + len - 4, ".lua") == 0) len -= 4;
    pl_instance_set_name(script, base, len); /* keeps "Script" if out of memory */
    script->started = 1;                     /* joining game must not start it a second time */
    int rc = pl_instance_set_parent(script, rt->game);
    pl_shared_release(&script->base); /* game holds it */
    if (rc != PL_OK) {
        lua_pop(L, nargs);
        return PARLUA_NOMEM;
    }
    return pl_script_start(rt, script, nargs, L) == 0 ? PARLUA_OK : PARLUA_ERROR;
}

static int prepare_string(lua_State *L)
{
    const char *source = lua_touserdata(L, 1);
    const char *name = lua_touserdata(L, 2);
    int nargs = (int)lua_tointeger(L, 3);
    lua_remove(L, 3);
    if (luaL_loadbufferx(L, source, strlen(source), name, "t") != LUA_OK) return lua_error(L);
    lua_insert(L, 3); /* the function below its arguments */
    pl_rthread *th = pl_rthread_new(L, nargs);
    if (!th) return luaL_error(L, "not enough memory");
    lua_pushlightuserdata(L, th);
    return 1;
}

int pl_script_run_chunk(pl_runtime *rt, const char *source, const char *name, int nargs)
{
    lua_State *L = rt->main.L;
    if (!lua_checkstack(L, 4)) {
        lua_pop(L, nargs);
        return PARLUA_NOMEM;
    }
    lua_pushcfunction(L, prepare_string);
    lua_pushlightuserdata(L, (void *)source);
    lua_pushlightuserdata(L, (void *)name);
    lua_pushinteger(L, nargs);
    lua_rotate(L, -(nargs + 4), 4); /* the arguments were already on L: move them up */
    if (lua_pcall(L, 3 + nargs, 1, 0) != LUA_OK) {
        pl_runtime_set_error(rt, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return PARLUA_ERROR;
    }
    pl_rthread *th = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return run_first(&rt->main, th);
}
