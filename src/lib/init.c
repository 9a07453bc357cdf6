/*
 * Every library a new VM opens, in order: Lua's standard libraries (debug
 * only with the `debug` permission), then parlua's, then the sandbox's
 * wrappers for what the VM's permissions restrict (sandbox.c). The one place that knows them all
 * (as Lua's linit.c).
 */
#include <lauxlib.h>
#include <lualib.h>

#include "lib/lib.h"

static void (*const openers[])(lua_State *L) = {
    pl_open_base,  pl_open_task,       pl_open_instance,    pl_open_signal,
    pl_open_actor, pl_open_runservice, pl_open_sharedtable, pl_open_stats,
    pl_open_sync,  pl_open_script,     pl_open_lthread,
};

int pl_open_libs(lua_State *L)
{
    pl_open_std(L);
    for (size_t i = 0; i < sizeof openers / sizeof openers[0]; i++)
        openers[i](L);
    pl_open_sandbox(L); /* last: it wraps what the others made (base.c's os.exit) */
    return 0;
}
