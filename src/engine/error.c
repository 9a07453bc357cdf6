/*
 * Errors of the runtime: the last error a host can read, and statuses of
 * the C internals turned into Lua errors.
 */
#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>

#include "core/status.h"
#include "engine/runtime.h"

void pl_runtime_set_error(pl_runtime *rt, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    uv_mutex_lock(&rt->error_lock);
    vsnprintf(rt->last_error, sizeof rt->last_error, fmt, ap);
    uv_mutex_unlock(&rt->error_lock);
    va_end(ap);
}

int pl_status_error(lua_State *L, int status, const char *what)
{
    pl_assert(status < 0);
    if (status == PL_ENOMEM) {
        lua_pushliteral(L, "not enough memory");
        return lua_error(L); /* as Lua's own memory errors read */
    }
    return luaL_error(L, "%s: %s", what, pl_strerror(status));
}
