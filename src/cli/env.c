/*
 * LUA_INIT and -E, as lua5.4 handles them (lua.c: handle_luainit, and
 * the registry's LUA_NOENV, which only luaopen_package reads).
 */
#include "cli/env.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LUA_INIT_5_4, as lua.c names it */
#define INIT_VAR "LUA_INIT_" LUA_VERSION_MAJOR "_" LUA_VERSION_MINOR

/* Reports a failed parlua_run_* that did not report itself (a load error). */
static int failed(parlua_runtime *rt, int errors, const char *progname)
{
    if (parlua_error_count(rt) == errors)
        fprintf(stderr, "%s: %s\n", progname, parlua_last_error(rt));
    return 1;
}

int pl_cli_ignore_env(parlua_runtime *rt, const char *progname)
{
    lua_State *L = parlua_main_state(rt);
    if (!lua_checkstack(L, 3)) return failed(rt, -1, progname);
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV"); /* as lua.c: for a later luaopen_package */
    lua_pushliteral(L, LUA_PATH_DEFAULT);
    lua_pushliteral(L, LUA_CPATH_DEFAULT);
    int errors = parlua_error_count(rt);
    if (parlua_run_chunk(rt, "package.path, package.cpath = ...", "=(command line)", 2) !=
        PARLUA_OK)
        return failed(rt, errors, progname);
    return 0;
}

/* The text of a file, NUL-terminated, with a first line starting with '#'
 * blanked (as luaL_loadfile skips it, keeping line numbers); NULL with
 * errno set when it cannot be read. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len - 1, f);
        if (ferror(f) || feof(f)) break;
        char *more = realloc(buf, cap *= 2);
        if (!more) free(buf);
        buf = more;
    }
    int bad = !buf || ferror(f);
    int saved = buf ? errno : ENOMEM;
    fclose(f);
    if (bad) {
        free(buf);
        errno = saved;
        return NULL;
    }
    buf[len] = '\0';
    if (buf[0] == '#')
        for (char *p = buf; *p && *p != '\n'; p++)
            *p = ' ';
    return buf;
}

int pl_cli_lua_init(parlua_runtime *rt, const char *progname)
{
    const char *name = "=" INIT_VAR;
    const char *init = getenv(INIT_VAR);
    if (!init) {
        name = "=LUA_INIT";
        init = getenv("LUA_INIT");
    }
    if (!init) return 0;
    int errors = parlua_error_count(rt);
    if (init[0] != '@')
        return parlua_run_string(rt, init, name) == PARLUA_OK ? 0 : failed(rt, errors, progname);
    char *text = read_file(init + 1);
    if (!text) {
        fprintf(stderr, "%s: cannot open %s: %s\n", progname, init + 1, strerror(errno));
        return 1;
    }
    size_t len = strlen(init + 1) + 2;
    char *chunkname = malloc(len);
    int rc = PARLUA_NOMEM;
    if (chunkname) {
        snprintf(chunkname, len, "@%s", init + 1);
        rc = parlua_run_string(rt, text, chunkname);
    }
    free(chunkname);
    free(text);
    return rc == PARLUA_OK ? 0 : failed(rt, errors, progname);
}
