/*
 * Scripts: starting a Script instance in the VM of its closest Actor (or
 * the main VM), with its own environment so that `script` names it while
 * every other global is the VM's (as in lua5.4, scripts of one VM share
 * globals; writes go to the VM's globals). Also the main script and -e.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/runtime.h"

static const char ENV_MT_KEY[] = "parlua.script_env";

/* Pushes a new environment for a script: {script = inst}, reading and
 * writing through to the VM's globals. */
static void push_script_env(lua_State *L, pl_instance *script)
{
    lua_createtable(L, 0, 1);
    pl_instance_push(L, script);
    lua_setfield(L, -2, "script");
    if (luaL_getmetatable(L, ENV_MT_KEY) != LUA_TTABLE) {
        lua_pop(L, 1);
        luaL_newmetatable(L, ENV_MT_KEY);
        lua_pushglobaltable(L);
        lua_setfield(L, -2, "__index");
        lua_pushglobaltable(L);
        lua_setfield(L, -2, "__newindex");
    }
    lua_setmetatable(L, -2);
}

static int load_script(lua_State *L, pl_instance *script)
{
    if (script->path) /* "-" is standard input, as for lua5.4 */
        return luaL_loadfilex(L, strcmp(script->path, "-") == 0 ? NULL : script->path, NULL);
    char *full = pl_instance_full_name(script);
    lua_pushfstring(L, "=%s", full ? full : script->name);
    free(full);
    int rc = luaL_loadbufferx(L, script->source ? script->source : "", script->source_len,
                              lua_tostring(L, -1), "t");
    lua_remove(L, -2);
    return rc;
}

/* Runs in the target VM under pcall: loads the script and makes its thread. */
static int prepare(lua_State *L)
{
    pl_instance *script = lua_touserdata(L, 1);
    int nargs = (int)lua_tointeger(L, 2);
    lua_settop(L, 2 + nargs);
    if (load_script(L, script) != LUA_OK) return lua_error(L);
    push_script_env(L, script);
    if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1); /* a chunk's first upvalue is _ENV */
    lua_insert(L, 3);                             /* function below the arguments */
    pl_rthread *th = pl_rthread_new(L, nargs);
    if (!th) return luaL_error(L, "not enough memory");
    lua_pushlightuserdata(L, th);
    return 1;
}

int pl_script_start(pl_runtime *rt, pl_instance *script, int nargs, lua_State *args_from)
{
    pl_instance *actor = pl_instance_actor_of(script);
    pl_vm *vm = actor ? actor->vm : &rt->main;
    script->started = 1;
    if (!vm || pl_vm_dead(vm)) return 0; /* a destroyed Actor runs nothing (never in game) */
    if (pl_vm_ensure_state(vm) != 0) {
        snprintf(rt->last_error, sizeof rt->last_error, "not enough memory to start %s",
                 script->name);
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
            snprintf(rt->last_error, sizeof rt->last_error, "%s", lua_tostring(L, -1));
            lua_pop(L, 1);
        } else {
            pl_report_error(vm, L, "cannot start script");
            lua_pop(L, 1);
        }
        return -1;
    }
    pl_rthread *th = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (args_from)
        pl_sched_run_now(vm, th); /* accounted and traced */
    else
        pl_sched_ready(vm, th, PL_SERIAL);
    return 0;
}

void pl_script_added(void *runtime, pl_instance *script)
{
    pl_script_start(runtime, script, 0, NULL);
}

int parlua_run_file(parlua_runtime *rt, const char *path, int nargs)
{
    lua_State *L = rt->main.L;
    pl_instance *script = pl_instance_new(&pl_class_script, pl_vm_token(&rt->main), &rt->graveyard);
    if (!script || !(script->path = strdup(path))) {
        if (script) pl_shared_release(&script->base);
        lua_pop(L, nargs);
        return PARLUA_NOMEM;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 4 && strcmp(base + len - 4, ".lua") == 0) len -= 4;
    pl_instance_set_name(script, base, len); /* keeps "Script" if out of memory */
    script->started = 1;                     /* joining game must not start it a second time */
    int rc = pl_instance_set_parent(script, rt->game);
    pl_shared_release(&script->base); /* game holds it */
    if (rc != PL_PARENT_OK) {
        lua_pop(L, nargs);
        return PARLUA_NOMEM;
    }
    return pl_script_start(rt, script, nargs, L) == 0 ? PARLUA_OK : PARLUA_ERROR;
}

static int prepare_string(lua_State *L)
{
    const char *source = lua_touserdata(L, 1);
    const char *name = lua_touserdata(L, 2);
    if (luaL_loadbufferx(L, source, strlen(source), name, "t") != LUA_OK) return lua_error(L);
    pl_rthread *th = pl_rthread_new(L, 0);
    if (!th) return luaL_error(L, "not enough memory");
    lua_pushlightuserdata(L, th);
    return 1;
}

int parlua_run_string(parlua_runtime *rt, const char *source, const char *name)
{
    lua_State *L = rt->main.L;
    lua_pushcfunction(L, prepare_string);
    lua_pushlightuserdata(L, (void *)source);
    lua_pushlightuserdata(L, (void *)name);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
        snprintf(rt->last_error, sizeof rt->last_error, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return PARLUA_ERROR;
    }
    pl_rthread *th = lua_touserdata(L, -1);
    lua_pop(L, 1);
    pl_sched_run_now(&rt->main, th);
    return PARLUA_OK;
}
