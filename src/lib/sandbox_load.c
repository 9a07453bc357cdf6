/*
 * The sandbox's loaders: load, loadfile, dofile, require's searchers,
 * package.searchpath and package.loadlib, as a VM's permissions need them
 * (sandbox.c has the rest). Files are read with `read` checked and opened
 * without following a link planted after the check (pl_perms_open); a
 * binary chunk needs `native`, found by its first byte (after a UTF-8 BOM
 * and a '#' line, as luaL_loadfilex looks) before any of it is loaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/runtime.h"
#include "lib/lib.h"
#include "lib/sandbox.h"

#define call_original pl_sandbox_call_original

/* Reads a file for lua_load: what was read ahead (BOM and comment checks)
 * first, then the rest. */
typedef struct file_reader {
    FILE *f;
    size_t ahead;
    char buf[BUFSIZ];
} file_reader;

static const char *read_file(lua_State *L, void *ud, size_t *size)
{
    (void)L;
    file_reader *r = ud;
    if (r->ahead) {
        *size = r->ahead;
        r->ahead = 0;
        return r->buf;
    }
    if (feof(r->f)) return NULL;
    *size = fread(r->buf, 1, sizeof r->buf, r->f);
    return r->buf;
}

#define BINARY_DENIED (-1)

/* Loads the chunk in r->f (named chunkname) as loadfile does: a UTF-8 BOM
 * and a first line starting with '#' are skipped (the line kept as an
 * empty one). r is a file_reader userdata at the top of L, which stays.
 * Returns lua_load's status (function or message pushed), LUA_ERRFILE
 * after a read error (message pushed), or BINARY_DENIED (nothing pushed)
 * for a binary chunk that mode allows and the VM may not load (no
 * `native`): the caller closes the file, then raises the denial. Raises
 * nothing itself except out of memory. */
static int load_stream(lua_State *L, file_reader *r, const char *chunkname, const char *mode)
{
    FILE *f = r->f;
    r->ahead = 0;
    int c = getc(f);
    if (c == 0xEF && (c = getc(f)) == 0xBB && (c = getc(f)) == 0xBF) c = getc(f); /* BOM */
    if (c == '#') {
        while ((c = getc(f)) != EOF && c != '\n')
            ;
        if (c == '\n') r->buf[r->ahead++] = '\n', c = getc(f);
    }
    if (c == LUA_SIGNATURE[0]) { /* binary, even after a '#' line (as luaL_loadfilex) */
        if (!pl_perms_has(L, PL_PERM_NATIVE) && (!mode || strchr(mode, 'b'))) return BINARY_DENIED;
        r->ahead = 0; /* the chunk starts here */
    }
    if (c != EOF) r->buf[r->ahead++] = (char)c;
    int status = lua_load(L, read_file, r, chunkname, mode);
    if (ferror(f)) {
        int saved = errno;
        lua_pop(L, 1);
        lua_pushfstring(L, "cannot read %s: %s", chunkname + 1, strerror(saved));
        status = LUA_ERRFILE;
    }
    return status;
}

static file_reader *new_reader(lua_State *L)
{
    file_reader *r = lua_newuserdatauv(L, sizeof *r, 0);
    r->f = NULL;
    r->ahead = 0;
    return r;
}

/* loadfile's work, checked: pushes the function or an error message and
 * returns the status; raises the denials. name NULL: standard input. */
static int load_file(lua_State *L, const char *name, const char *mode)
{
    file_reader *r = new_reader(L);
    if (!name) {
        r->f = stdin;
        int st = load_stream(L, r, "=stdin", mode);
        clearerr(stdin);
        if (st == BINARY_DENIED) pl_perms_check(L, PL_PERM_NATIVE, "binary chunk stdin");
        lua_remove(L, -2);
        return st;
    }
    if (!*name) { /* names no file, as fopen("") */
        lua_pop(L, 1);
        lua_pushfstring(L, "cannot open %s: %s", name, strerror(ENOENT));
        return LUA_ERRFILE;
    }
    const char *resolved = pl_perms_check_path(L, PL_PERM_READ, name, 0);
    lua_pushfstring(L, "@%s", name);
    int fd = pl_perms_open(resolved, O_RDONLY, 0);
    r->f = fd >= 0 ? fdopen(fd, "r") : NULL;
    if (!r->f) {
        int saved = errno;
        if (fd >= 0) close(fd);
        lua_pop(L, 3);
        lua_pushfstring(L, "cannot open %s: %s", name, strerror(saved));
        return LUA_ERRFILE;
    }
    int st = load_stream(L, r, lua_tostring(L, -1), mode);
    fclose(r->f);
    if (st == BINARY_DENIED) {
        lua_pushfstring(L, "binary chunk %s", resolved);
        pl_perms_check(L, PL_PERM_NATIVE, lua_tostring(L, -1));
    }
    lua_replace(L, -4); /* over the reader; then drop the path and the chunk name */
    lua_pop(L, 2);
    return st;
}

int pl_sandbox_loadfile(lua_State *L, const char *name, const char *mode)
{
    if (pl_perms_path_all(L, PL_PERM_READ) && pl_perms_has(L, PL_PERM_NATIVE))
        return luaL_loadfilex(L, name, mode);
    return load_file(L, name, mode);
}

static int base_loadfile(lua_State *L)
{
    const char *name = luaL_optstring(L, 1, NULL);
    const char *mode = luaL_optstring(L, 2, NULL);
    int env = !lua_isnone(L, 3) ? 3 : 0;
    if (load_file(L, name, mode) != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    if (env) {
        lua_pushvalue(L, env);
        if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
    }
    return 1;
}

static int dofile_done(lua_State *L, int status, lua_KContext ctx)
{
    (void)status;
    (void)ctx;
    return lua_gettop(L) - 1;
}

static int base_dofile(lua_State *L)
{
    const char *name = luaL_optstring(L, 1, NULL);
    lua_settop(L, 1);
    if (load_file(L, name, NULL) != LUA_OK) return lua_error(L);
    lua_callk(L, 0, LUA_MULTRET, 0, dofile_done); /* a chunk that yields works, as in lua5.4 */
    return dofile_done(L, 0, 0);
}

/* load(chunk) without `native`: a binary chunk is a denial. A reader
 * function's first piece is looked at by this reader in between. */
typedef struct load_guard {
    int first_done, binary;
} load_guard;

static int guarded_reader(lua_State *L)
{
    load_guard *g = lua_touserdata(L, lua_upvalueindex(2));
    if (g->binary) return 0;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_call(L, 0, 1);
    if (!g->first_done) {
        g->first_done = 1;
        size_t len;
        const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
        if (s && len && s[0] == LUA_SIGNATURE[0]) {
            g->binary = 1;
            return 0; /* ends the chunk; the denial is raised after */
        }
    }
    return 1;
}

static int base_load(lua_State *L)
{
    const char *mode = luaL_optstring(L, 3, "bt");
    if (!strchr(mode, 'b')) return call_original(L); /* Lua refuses binary chunks itself */
    size_t len;
    const char *s = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &len) : NULL;
    if (s) {
        if (len && s[0] == LUA_SIGNATURE[0]) pl_perms_check(L, PL_PERM_NATIVE, "binary chunk");
        return call_original(L);
    }
    if (lua_type(L, 1) != LUA_TFUNCTION) return call_original(L); /* raises as load does */
    load_guard *g = lua_newuserdatauv(L, sizeof *g, 0);
    g->first_done = g->binary = 0;
    lua_pushvalue(L, 1);
    lua_rotate(L, -2, 1);
    lua_pushcclosure(L, guarded_reader, 2); /* it keeps g alive through the load */
    lua_replace(L, 1);
    int n = call_original(L);
    if (g->binary) pl_perms_check(L, PL_PERM_NATIVE, "binary chunk");
    return n;
}

/* ---- require and package ---- */

/* Searches path for name as package.searchpath does, skipping the files
 * this VM may not read (said so in the message). Returns a descriptor of
 * the file found (its name pushed), or -1 (the message pushed). */
static int search_path(lua_State *L, const char *name, const char *path, const char *sep,
                       const char *rep)
{
    luaL_checkstack(L, 6, "require");
    if (*sep)
        name = luaL_gsub(L, name, sep, rep);
    else
        lua_pushstring(L, name);
    lua_pushliteral(L, "");
    int msg = lua_gettop(L);
    const char *p = path;
    for (;;) {
        size_t n = strcspn(p, LUA_PATH_SEP);
        if (n) {
            lua_pushlstring(L, p, n);
            const char *cand = luaL_gsub(L, lua_tostring(L, -1), LUA_PATH_MARK, name);
            lua_remove(L, -2);
            char resolved[PATH_MAX];
            int allowed = 0, fd = -1;
            if (pl_perms_resolve(cand, 0, resolved) == 0) {
                allowed = pl_perms_allows(pl_perms_of(L), PL_PERM_READ, resolved);
                if (allowed) fd = pl_perms_open(resolved, O_RDONLY, 0);
            }
            if (fd >= 0) {
                lua_replace(L, msg - 1); /* the name found, where the module name was */
                lua_settop(L, msg - 1);
                return fd;
            }
            lua_pushvalue(L, msg);
            lua_pushstring(L, *lua_tostring(L, msg) ? "\n\tno file '" : "no file '");
            lua_pushvalue(L, -3);
            lua_pushstring(L, allowed ? "'" : "' (permission denied: read)");
            lua_concat(L, 4);
            lua_replace(L, msg);
            lua_pop(L, 1);
        }
        p += n;
        if (!*p) break;
        p++;
    }
    lua_replace(L, msg - 1);
    lua_settop(L, msg - 1);
    return -1;
}

static int package_searchpath(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1), *path = luaL_checkstring(L, 2);
    const char *sep = luaL_optstring(L, 3, "."), *rep = luaL_optstring(L, 4, LUA_DIRSEP);
    int fd = search_path(L, name, path, sep, rep);
    if (fd >= 0) {
        close(fd);
        return 1;
    }
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
}

/* package.searchers[2]: Lua files, found by package.path among the files
 * this VM may read, loaded as source unless it has `native`. Upvalue 1:
 * the package table (as Lua's own searcher). */
static int search_lua(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_settop(L, 1);
    lua_getfield(L, lua_upvalueindex(1), "path");
    const char *path = lua_tostring(L, 2);
    if (!path) return luaL_error(L, "'package.path' must be a string");
    file_reader *r = new_reader(L); /* before any descriptor is open (it may raise) */
    luaL_checkstack(L, 8, "require");
    int fd = search_path(L, name, path, ".", LUA_DIRSEP);
    if (fd < 0) return 1; /* the message */
    const char *file = lua_tostring(L, -1);
    const char *chunkname = lua_pushfstring(L, "@%s", file);
    r->f = fdopen(fd, "r");
    int st = r->f ? load_stream(L, r, chunkname, NULL) : LUA_ERRFILE;
    if (r->f)
        fclose(r->f);
    else
        close(fd), lua_pushstring(L, strerror(errno));
    if (st == BINARY_DENIED) {
        lua_pushfstring(L, "binary chunk %s", file);
        pl_perms_check(L, PL_PERM_NATIVE, lua_tostring(L, -1));
    }
    if (st != LUA_OK)
        return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, file,
                          lua_tostring(L, -1));
    lua_pushvalue(L, -3); /* the file name: the loader's second argument */
    return 2;
}

/* package.searchers[3] and [4] without `native`: C modules are not
 * searched (nothing is opened), and require's message says why. */
static int search_c_refused(lua_State *L)
{
    lua_pushfstring(L, "permission denied: native %s (native not granted)", luaL_checkstring(L, 1));
    return 1;
}

/* package.searchers[4] without `native`: [3] said it already. */
static int search_croot_refused(lua_State *L)
{
    (void)L;
    return 0;
}

static int package_loadlib(lua_State *L)
{
    pl_perms_check(L, PL_PERM_NATIVE, luaL_checkstring(L, 1));
    return call_original(L);
}

/* require "debug" in a VM without `debug`: package.preload.debug says why. */
static int debug_refused(lua_State *L)
{
    pl_perms_check(L, PL_PERM_DEBUG, "library");
    return 0;
}

/* ---- installing ---- */

void pl_sandbox_wrap_loaders(lua_State *L)
{
    int restrict_read = !pl_perms_path_all(L, PL_PERM_READ);
    int native = pl_perms_has(L, PL_PERM_NATIVE);
    if (restrict_read || !native) {
        luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
        lua_getfield(L, -1, "_G");
        lua_pushcfunction(L, base_loadfile); /* whole replacements: no original kept */
        lua_setfield(L, -2, "loadfile");
        lua_pushcfunction(L, base_dofile);
        lua_setfield(L, -2, "dofile");
        lua_pop(L, 2);
    }
    if (!native) pl_sandbox_wrap_field(L, "_G", "load", base_load);
}

void pl_sandbox_wrap_package(lua_State *L, int pkg)
{
    pkg = lua_absindex(L, pkg);
    int restrict_read = !pl_perms_path_all(L, PL_PERM_READ);
    int native = pl_perms_has(L, PL_PERM_NATIVE);
    if (restrict_read) pl_sandbox_wrap(L, pkg, "searchpath", package_searchpath);
    if (!native) pl_sandbox_wrap(L, pkg, "loadlib", package_loadlib);
    lua_getfield(L, pkg, "searchers");
    if (restrict_read || !native) {
        lua_pushvalue(L, pkg);
        lua_pushcclosure(L, search_lua, 1);
        lua_rawseti(L, -2, 2);
    }
    if (!native) {
        lua_pushcfunction(L, search_c_refused);
        lua_rawseti(L, -2, 3);
        lua_pushcfunction(L, search_croot_refused);
        lua_rawseti(L, -2, 4);
    }
    lua_pop(L, 1);
    lua_getfield(L, pkg, "preload");
    if (!pl_perms_has(L, PL_PERM_DEBUG)) {
        lua_pushcfunction(L, debug_refused);
        lua_setfield(L, -2, "debug");
    }
    lua_pop(L, 1);
}
