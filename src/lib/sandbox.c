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
 *
 * This file: installing, files (io), the os functions. sandbox_load.c:
 * loading code. sandbox_script.c: where a Script may start.
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
#include "lib/lib.h"
#include "lib/sandbox.h"

#define call_original pl_sandbox_call_original

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

/* ---- installing ---- */

void pl_sandbox_wrap(lua_State *L, int idx, const char *name, lua_CFunction f)
{
    idx = lua_absindex(L, idx);
    lua_getfield(L, idx, name);
    /* call_original runs it in the wrapper's frame: a light C function only */
    pl_assert(lua_iscfunction(L, -1) && !lua_getupvalue(L, -1, 1));
    lua_pushcclosure(L, f, 1);
    lua_setfield(L, idx, name);
}

void pl_sandbox_wrap_field(lua_State *L, const char *lib, const char *name, lua_CFunction f)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, lib);
    if (lua_type(L, -1) == LUA_TTABLE) pl_sandbox_wrap(L, -1, name, f);
    lua_pop(L, 2);
}

int pl_push_io(lua_State *L)
{
    luaopen_io(L);
    int io = lua_gettop(L);
    if (!pl_perms_path_all(L, PL_PERM_READ) || !pl_perms_path_all(L, PL_PERM_WRITE)) {
        pl_sandbox_wrap(L, io, "open", io_open);
        pl_sandbox_wrap(L, io, "lines", io_lines);
        pl_sandbox_wrap(L, io, "input", io_input);
        pl_sandbox_wrap(L, io, "output", io_output);
    }
    if (!pl_perms_has(L, PL_PERM_RUN)) pl_sandbox_wrap(L, io, "popen", io_popen);
    return 1;
}

void pl_sandbox_wrap_os(lua_State *L, int os)
{
    if (!pl_perms_path_all(L, PL_PERM_WRITE)) {
        pl_sandbox_wrap(L, os, "remove", os_remove);
        pl_sandbox_wrap(L, os, "rename", os_rename);
        pl_sandbox_wrap(L, os, "tmpname", os_tmpname);
    }
    if (!pl_perms_has(L, PL_PERM_RUN)) pl_sandbox_wrap(L, os, "execute", os_execute);
    if (!pl_perms_has(L, PL_PERM_ENV)) pl_sandbox_wrap(L, os, "getenv", os_getenv);
    if (!pl_perms_has(L, PL_PERM_EXIT)) pl_sandbox_wrap(L, os, "exit", os_exit);
}
