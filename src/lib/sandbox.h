/*
 * What the sandbox's files share (sandbox.c, sandbox_load.c): how a wrapper
 * is installed and how it runs the function it wraps. Not for other
 * libraries: lib.h has the sandbox's entry points.
 */
#ifndef PL_LIB_SANDBOX_H
#define PL_LIB_SANDBOX_H

#include <lua.h>

/* A wrapper's upvalue 1: the function it wraps. */
#define PL_SB_ORIGINAL lua_upvalueindex(1)

/* Runs the original function in this call's own frame, on its arguments:
 * an argument error then names the function as Lua's own would ("bad
 * argument #2 to 'open'"). The originals are light C functions (no
 * upvalues: pl_sandbox_wrap checks), so running them here is what calling
 * them would do. */
static inline int pl_sandbox_call_original(lua_State *L)
{
    return lua_tocfunction(L, PL_SB_ORIGINAL)(L);
}

/* Replaces t[name] (t at idx) by the C closure f holding the old value. */
void pl_sandbox_wrap(lua_State *L, int idx, const char *name, lua_CFunction f);
/* The same for package.loaded[lib][name]. */
void pl_sandbox_wrap_field(lua_State *L, const char *lib, const char *name, lua_CFunction f);

#endif
