/*
 * The sandbox: Lua's standard functions that touch a capability, wrapped
 * in C when a VM opens, according to the VM's permission set (engine/perm.h,
 * docs/permissions.md).
 *
 * A VM's set never changes once its lua_State exists, so only what the set
 * restricts is wrapped: a VM with every permission keeps Lua's own
 * functions (lua5.4's behaviour exactly), a VM without `run` gets a checking
 * os.execute and io.popen, and so on. A wrapper holds the original as its
 * only upvalue; the original is then reachable from nowhere else
 * (package.loaded holds the same library tables, so it sees the wrappers;
 * the transfer codec names C functions by where package.loaded holds them,
 * so a closure sent here gets this VM's wrapper). Only the debug library
 * could read a C closure's upvalues, and it is absent unless `debug` is
 * granted (which gives away everything, as `native` does).
 *
 * Paths are checked after resolution, and the files themselves opened by
 * pl_perms_open (no symbolic link followed after the check). Files are made
 * as liolib makes them: a luaL_Stream under LUA_FILEHANDLE, so every file
 * method works on them.
 */
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <limits.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/runtime.h"
#include "lib/instance.h"
#include "lib/lib.h"

#define ORIGINAL lua_upvalueindex(1)

/* Runs the original function in this call's own frame, on its arguments:
 * an argument error then names the function as Lua's own would ("bad
 * argument #2 to 'open'"). The originals are light C functions (no
 * upvalues: checked by wrap), so running them here is what calling them
 * would do. */
static int call_original(lua_State *L)
{
    return lua_tocfunction(L, ORIGINAL)(L);
}

/* ---- files ---- */

static int stream_close(lua_State *L)
{
    luaL_Stream *p = luaL_checkudata(L, 1, LUA_FILEHANDLE);
    int ok = fclose(p->f) == 0;
    return luaL_fileresult(L, ok, NULL);
}

/* io.open's modes ([rwa]+?b*): the capabilities they need, the open(2)
 * flags; 0 for a mode io.open refuses. */
static int mode_caps(const char *mode, int *flags)
{
    if (!mode[0]) return 0;
    int plus = mode[0] && mode[1] == '+';
    if (strspn(mode + 1 + plus, "b") != strlen(mode + 1 + plus)) return 0;
    switch (mode[0]) {
    case 'r':
        *flags = plus ? O_RDWR : O_RDONLY;
        return PL_PERM_READ | (plus ? PL_PERM_WRITE : 0);
    case 'w':
        *flags = (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC;
        return PL_PERM_WRITE | (plus ? PL_PERM_READ : 0);
    case 'a':
        *flags = (plus ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND;
        return PL_PERM_WRITE | (plus ? PL_PERM_READ : 0);
    }
    return 0;
}

/* Opens name with a valid io.open mode after the check (raises a denial):
 * pushes the file, or returns 0 with errno set (nothing pushed). */
static int open_checked(lua_State *L, const char *name, const char *mode)
{
    int flags = 0, caps = mode_caps(mode, &flags);
    if (!*name) { /* as fopen(""): resolving it would name the working directory */
        errno = ENOENT;
        return 0;
    }
    const char *resolved = pl_perms_check_path(L, caps, name, 0);
    /* The handle first, in its closed state, so running out of memory
     * cannot leak a descriptor (as liolib does). */
    luaL_Stream *p = lua_newuserdatauv(L, sizeof *p, 0);
    p->closef = NULL;
    p->f = NULL;
    luaL_setmetatable(L, LUA_FILEHANDLE);
    int fd = pl_perms_open(resolved, flags, 0666);
    if (fd < 0) {
        lua_pop(L, 2);
        return 0;
    }
    p->f = fdopen(fd, mode);
    if (!p->f) {
        int saved = errno;
        close(fd);
        lua_pop(L, 2);
        errno = saved;
        return 0;
    }
    p->closef = stream_close;
    lua_remove(L, -2); /* the resolved path */
    return 1;
}

static int io_open(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const char *mode = luaL_optstring(L, 2, "r");
    int flags, caps = mode_caps(mode, &flags);
    if (!caps || pl_perms_path_all(L, caps)) return call_original(L); /* it raises for a bad mode */
    return open_checked(L, name, mode) ? 1 : luaL_fileresult(L, 0, name);
}

/* io.lines(name) reads a file and closes it at the end: the file's own
 * lines iterator, closing the file when it returns nil. */
static int lines_next(lua_State *L)
{
    lua_settop(L, 0);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_call(L, 0, LUA_MULTRET);
    if (lua_gettop(L) == 0 || lua_isnil(L, 1)) {
        luaL_Stream *p = lua_touserdata(L, lua_upvalueindex(2));
        if (p->closef) {
            lua_CFunction cf = p->closef;
            p->closef = NULL; /* closed, as liolib marks it */
            lua_pushvalue(L, lua_upvalueindex(2));
            lua_pushcfunction(L, cf);
            lua_insert(L, -2);
            lua_call(L, 1, 0);
        }
    }
    return lua_gettop(L);
}

static int io_lines(lua_State *L)
{
    if (lua_isnoneornil(L, 1) || pl_perms_path_all(L, PL_PERM_READ)) return call_original(L);
    const char *name = luaL_checkstring(L, 1);
    if (!open_checked(L, name, "r")) /* as io.lines words it */
        return luaL_error(L, "cannot open file '%s' (%s)", name, strerror(errno));
    lua_replace(L, 1); /* file, formats... */
    int n = lua_gettop(L);
    luaL_getmetafield(L, 1, "__index");
    lua_getfield(L, -1, "lines");
    lua_remove(L, -2);
    lua_insert(L, 1); /* lines, file, formats... */
    lua_pushvalue(L, 2);
    lua_insert(L, 1);  /* file, lines, file, formats... */
    lua_call(L, n, 1); /* file, iterator */
    lua_pushvalue(L, 1);
    lua_pushcclosure(L, lines_next, 2);
    lua_pushnil(L);
    lua_pushnil(L);
    lua_pushvalue(L, 1); /* the to-be-closed value, as io.lines returns it */
    return 4;
}

/* io.input(name) / io.output(name): open here, then let the original set it. */
static int set_default_file(lua_State *L, const char *mode, int cap)
{
    if (lua_type(L, 1) != LUA_TSTRING || pl_perms_path_all(L, cap)) return call_original(L);
    const char *name = lua_tostring(L, 1);
    if (!open_checked(L, name, mode))
        return luaL_error(L, "cannot open file '%s' (%s)", name, strerror(errno));
    lua_replace(L, 1);
    return call_original(L);
}

static int io_input(lua_State *L)
{
    return set_default_file(L, "r", PL_PERM_READ);
}

static int io_output(lua_State *L)
{
    return set_default_file(L, "w", PL_PERM_WRITE);
}

/* ---- os ---- */

/* 1 if name's last component is "." or "..": removing or renaming it
 * always fails (EINVAL, EBUSY, ENOTEMPTY), so Lua's own may answer. */
static int ends_in_dots(const char *name)
{
    size_t end = strlen(name);
    while (end > 1 && name[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && name[start - 1] != '/')
        start--;
    return (end - start == 1 && name[start] == '.') ||
           (end - start == 2 && name[start] == '.' && name[start + 1] == '.');
}

/* The name to give unlinkat/renameat for the last component base of
 * name, in buf: with name's trailing slash kept, so the kernel applies its
 * rule (a trailing slash: a directory) as for Lua's own call. NULL with
 * errno ENAMETOOLONG if it does not fit (no component can be that long). */
static const char *last_name(char buf[NAME_MAX + 2], const char *base, const char *name)
{
    size_t n = strlen(name), b = strlen(base);
    if (b > NAME_MAX) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    memcpy(buf, base, b);
    buf[b] = '/';
    buf[b + (n && name[n - 1] == '/')] = '\0';
    return buf;
}

static int os_remove(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    /* "" and "x/.." name nothing removable: Lua's own fails, touching nothing */
    if (!*name || ends_in_dots(name) || pl_perms_path_all(L, PL_PERM_WRITE))
        return call_original(L);
    /* the link itself goes, not what it points to: its folder is checked */
    const char *resolved = pl_perms_check_path(L, PL_PERM_WRITE, name, 1);
    const char *base;
    char buf[NAME_MAX + 2];
    int dir = pl_perms_open_parent(resolved, &base);
    int ok = 0;
    if (dir >= 0 && (base = last_name(buf, base, name))) {
        ok = unlinkat(dir, base, 0) == 0;
        if (!ok && errno == EISDIR) ok = unlinkat(dir, base, AT_REMOVEDIR) == 0; /* as remove(3) */
        int saved = errno;
        close(dir);
        errno = saved;
    }
    return luaL_fileresult(L, ok, name);
}

static int os_rename(lua_State *L)
{
    const char *from = luaL_checkstring(L, 1), *to = luaL_checkstring(L, 2);
    if (!*from || !*to || ends_in_dots(from) || ends_in_dots(to) ||
        pl_perms_path_all(L, PL_PERM_WRITE))
        return call_original(L); /* those fail in Lua's own, touching nothing */
    const char *rfrom = pl_perms_check_path(L, PL_PERM_WRITE, from, 1);
    const char *rto = pl_perms_check_path(L, PL_PERM_WRITE, to, 1);
    const char *bfrom, *bto;
    char buf1[NAME_MAX + 2], buf2[NAME_MAX + 2];
    int dfrom = pl_perms_open_parent(rfrom, &bfrom), dto = -1, ok = 0;
    if (dfrom >= 0 && (dto = pl_perms_open_parent(rto, &bto)) >= 0 &&
        (bfrom = last_name(buf1, bfrom, from)) && (bto = last_name(buf2, bto, to)))
        ok = renameat(dfrom, bfrom, dto, bto) == 0;
    int saved = errno;
    if (dfrom >= 0) close(dfrom);
    if (dto >= 0) close(dto);
    errno = saved;
    return luaL_fileresult(L, ok, NULL); /* os.rename names no file */
}

static int os_tmpname(lua_State *L)
{
    if (!pl_perms_path_all(L, PL_PERM_WRITE))
        pl_perms_check_path(L, PL_PERM_WRITE, "/tmp/lua_XXXXXX", 0); /* where lua5.4 makes it */
    lua_settop(L, 0);
    return call_original(L);
}

static int os_getenv(lua_State *L)
{
    pl_perms_check(L, PL_PERM_ENV, luaL_checkstring(L, 1));
    return call_original(L);
}

static int os_execute(lua_State *L)
{
    /* os.execute() only asks whether there is a shell: nothing runs */
    if (!lua_isnoneornil(L, 1)) pl_perms_check(L, PL_PERM_RUN, luaL_checkstring(L, 1));
    return call_original(L);
}

static int io_popen(lua_State *L)
{
    pl_perms_check(L, PL_PERM_RUN, luaL_checkstring(L, 1));
    return call_original(L);
}

static int os_exit(lua_State *L)
{
    pl_perms_check(L, PL_PERM_EXIT, lua_isnoneornil(L, 1) ? "0" : luaL_tolstring(L, 1, NULL));
    lua_settop(L, 2);
    return call_original(L);
}

/* ---- loading code ---- */

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

/* Replaces t[name] (t at idx) by f with the old value as its upvalue. */
static void wrap(lua_State *L, int idx, const char *name, lua_CFunction f)
{
    idx = lua_absindex(L, idx);
    lua_getfield(L, idx, name);
    /* call_original runs it in the wrapper's frame: a light C function only */
    pl_assert(lua_iscfunction(L, -1) && !lua_getupvalue(L, -1, 1));
    lua_pushcclosure(L, f, 1);
    lua_setfield(L, idx, name);
}

static void wrap_field(lua_State *L, const char *lib, const char *name, lua_CFunction f)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, lib);
    if (lua_type(L, -1) == LUA_TTABLE) wrap(L, -1, name, f);
    lua_pop(L, 2);
}

/* The package library's parts that search and load. */
static void wrap_package(lua_State *L, int restrict_read, int native)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "package");
    int pkg = lua_gettop(L);
    if (restrict_read) wrap(L, pkg, "searchpath", package_searchpath);
    if (!native) wrap(L, pkg, "loadlib", package_loadlib);
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
    lua_pop(L, 3);
}

void pl_open_sandbox(lua_State *L)
{
    int read_all = pl_perms_path_all(L, PL_PERM_READ);
    int write_all = pl_perms_path_all(L, PL_PERM_WRITE);
    int native = pl_perms_has(L, PL_PERM_NATIVE);
    if (!read_all || !write_all) {
        wrap_field(L, "io", "open", io_open);
        wrap_field(L, "io", "lines", io_lines);
        wrap_field(L, "io", "input", io_input);
        wrap_field(L, "io", "output", io_output);
    }
    if (!write_all) {
        wrap_field(L, "os", "remove", os_remove);
        wrap_field(L, "os", "rename", os_rename);
        wrap_field(L, "os", "tmpname", os_tmpname);
    }
    if (!read_all || !native) {
        luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
        lua_getfield(L, -1, "_G");
        lua_pushcfunction(L, base_loadfile); /* whole replacements: no original kept */
        lua_setfield(L, -2, "loadfile");
        lua_pushcfunction(L, base_dofile);
        lua_setfield(L, -2, "dofile");
        lua_pop(L, 2);
    }
    if (!native) wrap_field(L, "_G", "load", base_load);
    if (!pl_perms_has(L, PL_PERM_RUN)) {
        wrap_field(L, "os", "execute", os_execute);
        wrap_field(L, "io", "popen", io_popen);
    }
    if (!pl_perms_has(L, PL_PERM_ENV)) wrap_field(L, "os", "getenv", os_getenv);
    if (!pl_perms_has(L, PL_PERM_EXIT)) wrap_field(L, "os", "exit", os_exit);
    wrap_package(L, !read_all, native);
}

/* Lua's standard libraries, as luaL_openlibs opens them, except debug for
 * a VM without the `debug` permission: it never exists there. */
void pl_open_std(lua_State *L)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},          {LUA_LOADLIBNAME, luaopen_package},
        {LUA_COLIBNAME, luaopen_coroutine}, {LUA_TABLIBNAME, luaopen_table},
        {LUA_IOLIBNAME, luaopen_io},        {LUA_OSLIBNAME, luaopen_os},
        {LUA_STRLIBNAME, luaopen_string},   {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8},    {LUA_DBLIBNAME, luaopen_debug},
    };
    int debug = pl_perms_has(L, PL_PERM_DEBUG);
    for (size_t i = 0; i < sizeof libs / sizeof *libs; i++) {
        if (libs[i].func == luaopen_debug && !debug) continue;
        luaL_requiref(L, libs[i].name, libs[i].func, 1);
        lua_pop(L, 1);
    }
}

/* ---- Scripts started by a less trusted VM ---- */

/* Raises unless a Script placed at inst (not started) may run in the VM
 * of actor (NULL: the main VM, only when in_game) with the running VM's
 * rights: that VM must have no permission the running VM lacks.
 * Otherwise a VM could run code of its choosing with more rights, by
 * writing a Script and putting it where a wider VM runs it. */
static void check_script(lua_State *L, const pl_instance *inst, const pl_instance *actor,
                         int in_game, const pl_perms *mine)
{
    if (!actor && !in_game) return; /* where it runs is decided by whoever places it */
    pl_runtime *rt = pl_vm_of(L)->runtime;
    const pl_vm *vm = actor ? actor->vm : &rt->main;
    if (!vm || pl_perms_subset(&vm->perms, mine)) return;
    char *where = actor ? pl_instance_full_name(actor) : NULL;
    lua_pushfstring(L, "Script %s", inst->name);
    lua_pushfstring(L, "it would run in %s%s, which has permissions this VM lacks",
                    actor ? "actor " : "the main VM",
                    where   ? where
                    : actor ? actor->name
                            : "");
    free(where);
    luaL_error(L, "permission denied: spawn %s (%s)", lua_tostring(L, -2), lua_tostring(L, -1));
}

static void check_scripts(lua_State *L, const pl_instance *inst, const pl_instance *actor,
                          int in_game, const pl_perms *mine)
{
    if (inst->cls == &pl_class_actor) actor = inst;
    if (inst->cls == &pl_class_script && !inst->started)
        check_script(L, inst, actor, in_game, mine);
    for (const pl_instance *c = inst->first_child; c; c = c->next_sibling)
        check_scripts(L, c, actor, in_game, mine);
}

static int is_full(const pl_perms *p)
{
    return p->flags == PL_PERM_ALL && p->read.all && p->write.all;
}

void pl_sandbox_check_parent(lua_State *L, pl_instance *inst, pl_instance *parent)
{
    const pl_perms *mine = pl_perms_of(L);
    if (!parent || is_full(mine)) return;
    const pl_instance *top = parent;
    while (top->parent)
        top = top->parent;
    const pl_instance *actor =
        parent->cls == &pl_class_actor ? parent : pl_instance_actor_of(parent);
    check_scripts(L, inst, actor, top->is_root, mine);
}

void pl_sandbox_check_script_write(lua_State *L, pl_instance *script)
{
    const pl_perms *mine = pl_perms_of(L);
    if (is_full(mine) || script->started) return;
    const pl_instance *top = script;
    while (top->parent)
        top = top->parent;
    check_script(L, script, pl_instance_actor_of(script), top->is_root, mine);
}
