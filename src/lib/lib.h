/*
 * The Lua libraries of parlua, one file each, and what the rest of the
 * runtime needs from them. Like Lua's linit.c, init.c alone knows them all.
 */
#ifndef PL_LIB_H
#define PL_LIB_H

#include <lua.h>
#include <stdio.h>

#include "engine/runtime.h"

/* Opens the standard libraries and every parlua library in L, in order
 * (the engine's open_libs hook; run protected). */
int pl_open_libs(lua_State *L);

/* One opener per library: each adds its globals to L. */
void pl_open_base(lua_State *L);
/* base.c: pops a library table into global name and package.loaded[name],
 * where lua5.4 finds names for error messages ('Instance.new'), as it does
 * for the standard libraries. */
void pl_set_global_lib(lua_State *L, const char *name);
void pl_open_task(lua_State *L);
void pl_open_instance(lua_State *L);
void pl_open_actor(lua_State *L);
void pl_open_runservice(lua_State *L);
void pl_open_signal(lua_State *L);
void pl_open_script(lua_State *L);
void pl_open_sharedtable(lua_State *L);
void pl_open_stats(lua_State *L);
void pl_open_sync(lua_State *L);
void pl_open_lthread(lua_State *L);

/* sandbox.c: Lua's standard libraries as luaL_openlibs opens them, debug
 * only with the `debug` permission; and, once every library is open, the
 * wrappers that enforce what the running VM's permissions restrict. */
void pl_open_std(lua_State *L);
void pl_open_sandbox(lua_State *L);
/* sandbox.c: luaL_loadfilex with the running VM's permissions: read
 * checked (raises the denial), no link followed after the check, a binary
 * chunk refused (raised) without `native`. */
int pl_sandbox_loadfile(lua_State *L, const char *name, const char *mode);
/* sandbox.c: raises unless the running VM may make inst a child of parent:
 * a Script that has not started must not be placed where it would run in a
 * VM with a permission this VM lacks (in an Actor's VM, in the game or not;
 * in the main VM, once in the game). */
void pl_sandbox_check_parent(lua_State *L, pl_instance *inst, pl_instance *parent);
/* sandbox.c: the same for writing a Script's Source or Path where it waits
 * to start. */
void pl_sandbox_check_script_write(lua_State *L, pl_instance *script);

/* actor.c: delivers this phase's messages of vm (the dispatch hook). */
void pl_actor_dispatch(pl_vm *vm, int phase);
/* actor.c: routes messages that waited for bindings made since (the flush hook). */
void pl_actor_flush(pl_vm *vm);
/* runservice.c: runs due Heartbeat handlers of vm for phase (the heartbeat hook). */
void pl_heartbeat_fire(pl_vm *vm, int phase);

/* script.c: the Script start hook, installed on game. */
void pl_script_added(void *runtime, pl_instance *script);
/* script.c: starts a script in its VM now (main script, -e): returns 0,
 * -1 with the error in runtime->last_error, or for the main script
 * (args_from) 1 when its first run died of an uncaught error (reported, in
 * last_error). */
int pl_script_start(pl_runtime *rt, pl_instance *script, int nargs, lua_State *args_from);

/* script.c: parlua_run_file and parlua_run_chunk (include/parlua.h). */
int pl_script_run_file(pl_runtime *rt, const char *path, int nargs);
int pl_script_run_chunk(pl_runtime *rt, const char *source, const char *name, int nargs);

/* hostclass.c: parlua_register_class and parlua_instance_data
 * (include/parlua.h); the host classes' lookup, their registration in a
 * new VM, and their freeing with the runtime. */
int pl_host_class_add(pl_runtime *rt, const parlua_class *cls);
void *pl_host_instance_data(lua_State *L, int idx, const char *class_name);
const pl_class *pl_host_class_find(pl_runtime *rt, const char *name);
void pl_host_classes_register(lua_State *L, pl_runtime *rt);
void pl_host_classes_free(pl_runtime *rt);

/* stats.c: prints the --stats summary to f (serial thread, workers idle). */
void pl_stats_print(pl_runtime *rt, FILE *f);
/* sharedtable.c: makes the runtime's SharedTableRegistry and its list of
 * live tables (PL_OK or PL_ENOMEM), before any VM opens; pl_sharedtable_free
 * frees the registry and every table (at shutdown, VMs closed). */
int pl_sharedtable_init(pl_runtime *rt);
void pl_sharedtable_free(pl_runtime *rt);
/* The runtime's list of live tables (every table made in it goes there). */
struct pl_stable_list *pl_sharedtable_live(pl_runtime *rt);
/* actor.c: marks vm for the phases in a mask from pl_mailbox_post. */
void pl_actor_mark(pl_vm *vm, int mask);

#endif
