/*
 * `package` on first use (lazy.c): a new VM has `require` but no package
 * library until code names `package` or calls `require` with a name.
 * Lua's package library is about 1.7 KB of every VM's heap and a fifth of
 * opening one, and most actors never require a module.
 *
 * Until then, `require` (the Script searcher's wrapper, script.c) holds
 * first_require, which makes the library and calls its `require`. Search
 * paths given to a VM before (an actor's copy of the main VM's, an
 * lthread's from go) wait in pl_vm.search_paths (engine/vm.c), in C, and
 * are set when it opens.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>

#include "engine/vm.h"
#include "lib/lib.h"

static const char REAL_REQUIRE = 0; /* registry: package's own require */

int pl_push_package(lua_State *L)
{
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS); /* 1 */
    lua_pushliteral(L, "require");
    lua_rawget(L, 1); /* 2: _G.require as it is (the program may have set it) */
    lua_pushcfunction(L, luaopen_package); /* not luaL_requiref: package.loaded's */
    lua_call(L, 0, 1);                     /* __index would come back here. 3; sets _G.require */
    lua_pushliteral(L, "require");
    lua_rawget(L, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &REAL_REQUIRE);
    lua_pushliteral(L, "require");
    lua_pushvalue(L, 2);
    lua_rawset(L, 1); /* _G.require as it was */
    /* search paths given before it opened (engine/vm.c) */
    static const char *const fields[] = {"path", "cpath"};
    char **given = pl_vm_of(L)->search_paths;
    for (int i = 0; i < 2; i++) {
        if (!given[i]) continue;
        lua_pushstring(L, fields[i]);
        lua_pushstring(L, given[i]);
        lua_rawset(L, 3);
        free(given[i]);
        given[i] = NULL;
    }
    pl_sandbox_wrap_package(L, 3);
    return 1;
}

/* `require(name)` before package opened: opens it, then its require. */
static int first_require(lua_State *L)
{
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &REAL_REQUIRE) == LUA_TNIL) {
        lua_pop(L, 1);
        if (!pl_lazy_require(L,
                             LUA_LOADLIBNAME)) { /* package.loaded.package was set: made anyway */
            lua_pushcfunction(L, pl_push_package);
            lua_call(L, 0, 0);
        }
        lua_rawgetp(L, LUA_REGISTRYINDEX, &REAL_REQUIRE);
    }
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

void pl_open_require(lua_State *L)
{
    lua_pushcfunction(L, first_require);
    lua_setglobal(L, "require");
}
