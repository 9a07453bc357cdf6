/*
 * The Lua libraries of parlua, one file each, and what the rest of the
 * runtime needs from them. Like Lua's linit.c, init.c alone knows them all.
 */
#ifndef PL_LIB_H
#define PL_LIB_H

#include <lua.h>
#include <stdio.h>

#include "engine/runtime.h"

/* init.c: opens a new VM's libraries in L (the engine's open_libs hook;
 * run protected): what every VM needs now, and the rest on first use. */
int pl_open_libs(lua_State *L);

/* Opened with every VM: each adds its globals to L. */
void pl_open_base(lua_State *L);    /* base.c: time, print */
void pl_open_lthread(lua_State *L); /* lthread.c: go, LThreadGroup */
void pl_open_script(lua_State *L);  /* script.c: require finds ModuleScripts */
/* sandbox_load.c: wraps the functions that load code (load, loadfile,
 * dofile, require's searchers, package.searchpath and loadlib) as the
 * running VM's permissions need. */
void pl_sandbox_wrap_loaders(lua_State *L);
/* The sandbox's wrappers in the package table at idx (when it opens). */
void pl_sandbox_wrap_package(lua_State *L, int idx);
/* package.c: `require` before package is made on first use. */
void pl_open_require(lua_State *L);

/* lazy.c: libraries opened on first use. Each entry of pl_lazy_libs
 * (init.c) is a global and/or a package.loaded module made by calling
 * open(name), which returns its value. */
typedef struct pl_lazy_lib {
    const char *name;
    lua_CFunction open;
    unsigned char global, module; /* made as _G[name], as package.loaded[name] */
    int perm;                     /* 0, or the permission a VM needs to have it */
} pl_lazy_lib;
extern const pl_lazy_lib pl_lazy_libs[];
extern const int pl_lazy_count; /* at most 32: a bit each in pl_vm */
/* Installs the first-use metatables on _G, package.loaded and strings. */
void pl_lazy_open(lua_State *L);
/* Marks every library of pl_lazy_libs the VM may have as not made yet. */
void pl_lazy_reset_masks(lua_State *L);
/* reuse.c: keeps copies of the tables a program can change (an lthread
 * VM, after its libraries opened), and the engine's reset_state hook that
 * puts them back (engine/vmpool.h). */
void pl_reuse_snapshot(lua_State *L);
int pl_reset_state(lua_State *L);
/* Makes package.loaded[name] now if it is a library still to open;
 * returns 1 if it made it. */
int pl_lazy_require(lua_State *L, const char *name);

/* The openers of pl_lazy_libs: (name) -> the library. */
int pl_push_coroutine(lua_State *L);            /* base.c: coroutine.running wrapped */
int pl_push_os(lua_State *L);                   /* base.c: os.exit, then the sandbox's */
int pl_push_io(lua_State *L);                   /* sandbox.c: with the sandbox's wrappers */
int pl_push_debug(lua_State *L);                /* lazy.c */
int pl_push_package(lua_State *L);              /* package.c */
int pl_push_parlua(lua_State *L);               /* base.c */
int pl_push_task(lua_State *L);                 /* task.c */
int pl_push_instance_lib(lua_State *L);         /* instance.c: Instance */
int pl_push_game(lua_State *L);                 /* instance.c */
int pl_push_workspace(lua_State *L);            /* instance.c */
int pl_push_sharedtable_lib(lua_State *L);      /* sharedtable.c: SharedTable */
int pl_push_sharedtable_registry(lua_State *L); /* sharedtable.c: SharedTableRegistry */
int pl_push_sync(lua_State *L);                 /* sync.c */
int pl_push_parallel(lua_State *L);             /* lthread.c */
/* sandbox.c: wraps what the VM's permissions restrict in the os table at
 * idx. */
void pl_sandbox_wrap_os(lua_State *L, int idx);
/* stats.c: adds parlua.stats and parlua.actors to the table at idx. */
void pl_stats_add_functions(lua_State *L, int idx);
/* The metatables made the first time a VM meets an Instance or a
 * SharedTable (pl_proxy_lazy_metatable). */
int pl_make_instance_mt(lua_State *L);    /* instance.c */
int pl_make_sharedtable_mt(lua_State *L); /* sharedtable.c */
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
/* The function at the bottom of a coroutine running a batch of messages
 * for one handler (engine/runtime.h, hooks.batch_runner). */
int pl_actor_batch_runner(lua_State *co);
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
 * (include/parlua.h); the host classes' lookup (by name for Instance.new,
 * by class for the member map) and their freeing with the runtime. */
int pl_host_class_add(pl_runtime *rt, const parlua_class *cls);
void *pl_host_instance_data(lua_State *L, int idx, const char *class_name);
const pl_class *pl_host_class_find(pl_runtime *rt, const char *name);
const struct pl_class_def *pl_host_class_def(pl_runtime *rt, const pl_class *cls);
void pl_host_classes_free(pl_runtime *rt);

/* members.c: the runtime's member map (every class's members by class and
 * name, lib/instance.h): made with the runtime for the built-in classes
 * (PL_OK or PL_ENOMEM), added to for each host class (PL_ENOMEM leaves it
 * as it was), freed with the runtime. Host thread, while no VM but main
 * is open. */
int pl_member_map_init(pl_runtime *rt);
int pl_member_map_add(pl_runtime *rt, const pl_class *cls);
void pl_member_map_free(pl_runtime *rt);

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
