/*
 * VMs and runtime threads: creating a VM's lua_State, creating, resuming
 * and forgetting the coroutines the runtime owns, and reporting their
 * uncaught errors.
 */
#include <ctype.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/vm.h"

#include "engine/connection.h"
#include "engine/lthread.h"
#include "engine/park.h"
#include "engine/proxy.h"
#include "engine/runtime.h"
#include "engine/sched.h"
#include "engine/vmpool.h"

void *pl_vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    return pl_heap_realloc(ud, ptr, osize, nsize);
}

/* How reports name vm when pl_vm_name returned name (NULL: out of memory):
 * the full name, else the actor's own name ("actor Worker") or "main". */
static const char *vm_label(const pl_vm *vm, const char *name, const char **kind)
{
    *kind = !name && vm->actor ? "actor " : "";
    if (name) return name;
    return vm->actor ? vm->actor->name : vm->kind == PL_VM_LTHREAD ? "an lthread" : "main";
}

/* warn() as lua5.4 does it: off until "@on", pieces joined into one line. */
static void plain_warn(pl_vm *vm, const char *msg, int tocont)
{
    if (!vm->warn_cont && *msg == '@') {
        if (strcmp(msg, "@on") == 0) vm->warn_on = 1;
        if (strcmp(msg, "@off") == 0) vm->warn_on = 0;
        return;
    }
    if (vm->warn_on) {
        if (!vm->warn_cont) fputs("Lua warning: ", stderr);
        fputs(msg, stderr);
        if (!tocont) fputs("\n", stderr);
    }
    vm->warn_cont = tocont;
}

/* Lua reports an error in a finalizer as the warning "error in " "__gc" " ("
 * msg ")" (five pieces): parlua prints it always, with the VM's name, as
 * one line (errors are never swallowed). Returns 1 when msg was
 * taken as such a piece. */
static int gc_error_piece(pl_vm *vm, const char *msg, int tocont)
{
    static const char *const fixed[] = {"error in ", "__gc", " ("};
    int k = vm->gc_warn;
    int fits = k < 3    ? tocont && strcmp(msg, fixed[k]) == 0 && (k > 0 || !vm->warn_cont)
               : k == 3 ? tocont
                        : !tocont && strcmp(msg, ")") == 0;
    if (!fits) {
        vm->gc_warn = 0;
        for (int i = 0; i < k; i++) /* not that warning after all: give back what was held */
            plain_warn(vm, i < 3 ? fixed[i] : vm->gc_msg, 1);
        return 0;
    }
    vm->gc_warn = k + 1;
    if (k == 3) snprintf(vm->gc_msg, sizeof vm->gc_msg, "%s", msg);
    if (k < 4) return 1;
    vm->gc_warn = 0;
    pl_runtime *rt = vm->runtime;
    char *name = pl_vm_name(vm);
    uv_mutex_lock(&rt->error_lock); /* keeps the line apart from other reports */
    const char *kind, *label = vm_label(vm, name, &kind);
    fprintf(stderr, "parlua: error in __gc in %s%s: %s\n", kind, label, vm->gc_msg);
    uv_mutex_unlock(&rt->error_lock);
    free(name);
    return 1;
}

static void vm_warn(void *ud, const char *msg, int tocont)
{
    pl_vm *vm = ud;
    if (!gc_error_piece(vm, msg, tocont)) plain_warn(vm, msg, tocont);
}

/* The runtime's list of every VM (vms_lock): for reports at exit. */
void pl_vm_register(pl_vm *vm)
{
    pl_runtime *rt = vm->runtime;
    uv_mutex_lock(&rt->vms_lock);
    vm->all_prev = NULL;
    vm->all_next = rt->all_vms;
    if (rt->all_vms) rt->all_vms->all_prev = vm;
    rt->all_vms = vm;
    uv_mutex_unlock(&rt->vms_lock);
}

void pl_vm_unregister(pl_vm *vm)
{
    pl_runtime *rt = vm->runtime;
    uv_mutex_lock(&rt->vms_lock);
    if (vm->all_prev)
        vm->all_prev->all_next = vm->all_next;
    else
        rt->all_vms = vm->all_next;
    if (vm->all_next) vm->all_next->all_prev = vm->all_prev;
    if (rt->sweep_next == vm) rt->sweep_next = vm->all_next;
    uv_mutex_unlock(&rt->vms_lock);
}

void pl_vm_init(pl_vm *vm, pl_runtime *runtime, pl_instance *actor)
{
    memset(vm, 0, sizeof *vm); /* perms: none, until its creator sets them (engine/perm.h) */
    vm->ctx.vm = vm;
    vm->runtime = runtime;
    /* relaxed: only uniqueness matters (Instance.new may run on workers) */
    vm->id = atomic_fetch_add_explicit(&runtime->last_vm_id, 1, memory_order_relaxed) + 1;
    vm->actor = actor;
    vm->kind = actor ? PL_VM_ACTOR : PL_VM_MAIN; /* an lthread VM sets PL_VM_LTHREAD after */
    vm->phase = PL_SERIAL;
    pl_mailbox_init(&vm->mailbox);
    vm->mailbox.max_waiting_bytes = runtime->config.max_waiting_bytes; /* 0: the default */
    pl_heap_init(&vm->heap);
    if (runtime->trace) vm->tbuf = pl_trace_buf_at(runtime->trace, 0); /* see run_end */
    pl_list_init(&vm->heartbeat_link);
    uv_mutex_init(&vm->wake_lock);
    pl_list_init(&vm->woken);
    atomic_init(&vm->nwoken, 0);
    atomic_init(&vm->scheduled[0], 0);
    atomic_init(&vm->scheduled[1], 0);
}

/* Pushes L's package table (nil if it has none); with make, made now if
 * it is still to be made on first use (package.loaded's __index,
 * lib/lazy.c), else a raw look. Returns 1 for a table. */
static int push_package(lua_State *L, int make)
{
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushliteral(L, "package");
    int type = make ? lua_gettable(L, -2) : lua_rawget(L, -2);
    lua_remove(L, -2);
    return type == LUA_TTABLE;
}

void pl_push_search_paths(lua_State *L)
{
    char *const *given = pl_vm_of(L)->search_paths;
    int both = given[0] && given[1];
    int made = push_package(L, !both); /* both given: package need not be made for them */
    if (!made) {
        lua_pop(L, 1);
        lua_pushstring(L, both ? given[0] : NULL);
        lua_pushstring(L, both ? given[1] : NULL);
        return;
    }
    lua_pushliteral(L, "path");
    lua_rawget(L, -2);
    lua_pushliteral(L, "cpath");
    lua_rawget(L, -3);
    lua_remove(L, -3);
}

void pl_set_search_paths(lua_State *L, const char *const paths[2], const size_t lens[2])
{
    static const char *const fields[] = {"path", "cpath"};
    pl_vm *vm = pl_vm_of(L);
    if (!push_package(L, 0)) { /* kept in C until it is made (lib/package.c): no Lua memory */
        lua_pop(L, 1);
        for (int i = 0; i < 2; i++) {
            if (!paths[i]) continue;
            char *copy = malloc(lens[i] + 1);
            if (!copy) luaL_error(L, "not enough memory");
            memcpy(copy, paths[i], lens[i]);
            copy[lens[i]] = '\0';
            free(vm->search_paths[i]);
            vm->search_paths[i] = copy;
        }
        return;
    }
    for (int i = 0; i < 2; i++) { /* only where they differ: a reused state has them */
        if (!paths[i]) continue;
        lua_pushstring(L, fields[i]);
        size_t had;
        const char *now = lua_rawget(L, -2) == LUA_TSTRING ? lua_tolstring(L, -1, &had) : NULL;
        int same = now && had == lens[i] && memcmp(now, paths[i], lens[i]) == 0;
        lua_pop(L, 1);
        if (same) continue;
        lua_pushstring(L, fields[i]);
        lua_pushlstring(L, paths[i], lens[i]);
        lua_rawset(L, -3);
    }
    lua_pop(L, 1);
}

/* Under pcall in the main VM: its package.path and package.cpath. */
static int get_search_paths(lua_State *L)
{
    pl_push_search_paths(L);
    return 2;
}

/* Under pcall in a new VM: sets package.path and package.cpath from the
 * (pointer, length) pairs at 1..4 (NULL: keep the default). */
static int set_search_paths(lua_State *L)
{
    const char *paths[2];
    size_t lens[2];
    for (int i = 0; i < 2; i++) {
        paths[i] = lua_touserdata(L, 1 + 2 * i);
        lens[i] = (size_t)lua_tointeger(L, 2 + 2 * i);
    }
    pl_set_search_paths(L, paths, lens);
    return 0;
}

/* A new actor VM starts with the main VM's package.path and package.cpath
 * as they are now (the main script may have changed them), so require
 * finds the same modules in every VM (docs/guide.md). Runs on the serial
 * thread (a script starts when it joins game, a serial-only change), where
 * no other thread uses the main VM. */
static void copy_search_paths(pl_vm *vm)
{
    lua_State *from = vm->runtime->main.L, *L = vm->L;
    if (!from || from == L || !lua_checkstack(from, 4)) return;
    lua_pushcfunction(from, get_search_paths);
    if (lua_pcall(from, 0, 2, 0) != LUA_OK) {
        lua_pop(from, 1);
        return;
    }
    /* Only pointers and numbers here: nothing that allocates outside pcall
     * (the strings stay alive on from's stack until after the call). */
    lua_pushcfunction(L, set_search_paths);
    for (int i = -2; i <= -1; i++) {
        size_t len = 0;
        const char *s = lua_type(from, i) == LUA_TSTRING ? lua_tolstring(from, i, &len) : NULL;
        lua_pushlightuserdata(L, (void *)s);
        lua_pushinteger(L, (lua_Integer)len);
    }
    if (lua_pcall(L, 4, 0, 0) != LUA_OK) lua_pop(L, 1); /* out of memory: keep the defaults */
    lua_pop(from, 2);
}

/* Under lua_pcall: runs the host's per-VM hook (parlua_config.open_vm). */
static int open_host(lua_State *L)
{
    pl_runtime *rt = lua_touserdata(L, 1);
    lua_settop(L, 0);
    rt->config.open_vm(L, rt->config.open_vm_ud);
    return 0;
}

int pl_vm_open_state(pl_vm *vm)
{
    lua_State *L = lua_newstate(pl_vm_alloc, &vm->heap);
    if (!L) return PL_ENOMEM;
    *(pl_ctx **)lua_getextraspace(L) = &vm->ctx;
    vm->L = L;
    /* No collection while the libraries open (a new state's collector
     * would run cycle after cycle over a heap that only grows), then one
     * full one: the next starts when the heap has doubled, not during
     * the first run of the VM's script. */
    lua_gc(L, LUA_GCSTOP);
    lua_pushcfunction(L, vm->runtime->hooks.open_libs);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
        pl_vm_close(vm);
        return PL_ENOMEM;
    }
    lua_gc(L, LUA_GCRESTART);
    lua_gc(L, LUA_GCCOLLECT);
    return PL_OK;
}

int pl_vm_ensure_state(pl_vm *vm)
{
    if (vm->L) return PL_OK;
    int taken = vm->kind != PL_VM_MAIN && pl_vmpool_take(vm);
    if (!taken) { /* none kept: its libraries open here */
        int rc = pl_vm_open_state(vm);
        if (rc != PL_OK) return rc;
    }
    if (vm->kind == PL_VM_LTHREAD) { /* relaxed: counters only (lib/stats.c) */
        atomic_fetch_add_explicit(&vm->runtime->lthreads_run, 1, memory_order_relaxed);
        if (taken)
            atomic_fetch_add_explicit(&vm->runtime->lthread_states_reused, 1, memory_order_relaxed);
    }
    if (vm->kind == PL_VM_ACTOR) pl_vmpool_want_prepared(vm->runtime); /* for the next actor */
    lua_State *L = vm->L;
    lua_setwarnf(L, vm_warn, vm);
    if (vm->kind == PL_VM_LTHREAD) {
        if (taken) return PL_OK; /* a reset state: never kept with an open_vm (vmpool.c) */
    } else {
        copy_search_paths(vm); /* an lthread's come from go() */
    }
    if (vm->runtime->config.open_vm) {
        lua_pushcfunction(L, open_host);
        lua_pushlightuserdata(L, vm->runtime);
        if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
            pl_report_error(vm, L, "the host's open_vm failed");
            pl_vm_close(vm);
            return PL_EHOST;
        }
    }
    if (vm->actor) { /* see docs/design.md: object lifetime */
        pl_shared_retain(&vm->actor->base);
        vm->holds_actor = 1;
    }
    return PL_OK;
}

static void free_actor_vm(void *p)
{
    pl_vm *vm = p;
    pl_vm_unregister(vm);
    pl_vm_destroy(vm);
    free(vm);
}

pl_vm *pl_actor_vm_new(pl_runtime *rt, pl_instance *actor)
{
    pl_vm *vm = aligned_alloc(PL_CACHE_LINE, sizeof *vm); /* sizeof is a multiple of it */
    if (!vm) return NULL;
    pl_vm_init(vm, rt, actor);
    pl_vm_register(vm);
    actor->vm = vm;
    actor->free_vm = free_actor_vm;
    return vm;
}

void pl_vm_close(pl_vm *vm)
{
    if (!vm->L) return;
    if (vm->script_global) pl_instance_drop_local(vm->script_global);
    vm->script_global = NULL;
    lua_close(vm->L);
    vm->L = NULL;
    pl_heap_destroy(&vm->heap);
}

void pl_vm_destroy(pl_vm *vm)
{
    pl_vm_close(vm);
    free(vm->search_paths[0]);
    free(vm->search_paths[1]);
    pl_perms_free(&vm->perms);
    uv_mutex_destroy(&vm->wake_lock);
    pl_mailbox_destroy(&vm->mailbox);
}

char *pl_vm_name(pl_vm *vm)
{
    if (vm->kind == PL_VM_LTHREAD) {
        const char *name = vm->lthread->name;
        size_t n = strlen(name) + sizeof "lthread ''";
        char *out = malloc(n);
        if (out) snprintf(out, n, "lthread '%s'", name);
        return out;
    }
    if (!vm->actor) return strdup("main");
    char *full = pl_instance_full_name(vm->actor);
    if (!full) return NULL;
    size_t n = strlen(full) + sizeof "actor ";
    char *out = malloc(n);
    if (out) snprintf(out, n, "actor %s", full);
    free(full);
    return out;
}

/* Moves n values from L to co, which a fresh coroutine has room for only
 * LUA_MINSTACK of. Raises on L when co cannot grow that far. */
static void move_args(lua_State *L, lua_State *co, int n)
{
    if (!lua_checkstack(co, n))
        luaL_error(L, "too many arguments (%d) for a new thread: the limit is about %d", n - 1,
                   LUAI_MAXSTACK);
    lua_xmove(L, co, n);
}

pl_rthread *pl_rthread_new(lua_State *L, int nargs)
{
    pl_vm *vm = pl_vm_of(L);
    lua_State *co = lua_newthread(L);
    lua_insert(L, -(nargs + 2)); /* below the function and its arguments */
    move_args(L, co, nargs + 1);
    pl_rthread *th = calloc(1, sizeof *th);
    if (!th) {
        lua_pop(L, 1);
        return NULL;
    }
    th->ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops co; anchors it */
    th->co = co;
    th->ctx.vm = vm;
    th->ctx.rt = th;
    th->nargs = nargs;
    th->state = PL_RT_RUNNING;
    pl_rthread_set_script(th, vm->script_now); /* a spawned thread is its spawner's */
    *(pl_ctx **)lua_getextraspace(co) = &th->ctx;
    return th;
}

void pl_rthread_set_script(pl_rthread *th, pl_instance *script)
{
    th->script_gen = script ? script->run_gen : 0;
    if (th->script == script) return;
    if (script) pl_instance_hold_local(script);
    if (th->script) pl_instance_drop_local(th->script);
    th->script = script;
}

/* Handler threads that return without yielding leave their coroutine
 * to the next handler (vm->spare), which saves a coroutine allocation per
 * message. A handler that called coroutine.running() is not reused
 * (base.c): it may keep its coroutine and cancel it later. */
pl_rthread *pl_handler_thread(lua_State *L, int nargs, pl_instance *script)
{
    pl_vm *vm = pl_vm_of(L);
    pl_rthread *th = vm->spare;
    if (th) {
        move_args(L, th->co, nargs + 1); /* may raise: th stays the spare */
        vm->spare = NULL;
        th->nargs = nargs;
    } else {
        th = pl_rthread_new(L, nargs);
        if (!th) return NULL;
        th->reusable = 1;
    }
    pl_rthread_set_script(th, script);
    return th;
}

void pl_run_handlers(lua_State *L, int handlers_idx, int n, int first_arg, int nargs)
{
    pl_vm *vm = pl_vm_of(L);
    luaL_checkstack(L, nargs + 2, "too many handler arguments");
    for (int i = 1; i <= n; i++) {
        int at = handlers_idx; /* one handler: the connection itself */
        if (n > 1) {
            lua_rawgeti(L, handlers_idx, i);
            at = lua_gettop(L);
        }
        pl_instance *script = NULL;
        int run = pl_conn_start(L, at, &script); /* pushes its function */
        if (n > 1) lua_remove(L, run ? -2 : -1); /* the connection */
        if (!run) continue;                      /* disconnected meanwhile, or its Script stopped */
        for (int a = 0; a < nargs; a++)
            lua_pushvalue(L, first_arg + a);
        if (pl_vm_dead(vm)) return; /* a handler destroyed this VM's Actor */
        pl_rthread *th = pl_handler_thread(L, nargs, script);
        if (!th) luaL_error(L, "not enough memory");
        pl_rthread_resume(th, L);
    }
}

pl_rthread *pl_rthread_current(lua_State *L)
{
    pl_ctx *ctx = pl_ctx_of(L);
    if (ctx->rt) return ctx->rt;
    /* A user's coroutine calling a blocking function: the runtime adopts
     * it, so it can resume it later. */
    pl_rthread *th = calloc(1, sizeof *th);
    if (!th) luaL_error(L, "not enough memory");
    lua_pushthread(L);
    th->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    th->co = L;
    th->ctx.vm = ctx->vm;
    th->ctx.rt = th;
    th->state = PL_RT_RUNNING;
    th->nargs = -1; /* started already */
    th->adopted = 1;
    pl_rthread_set_script(th, ctx->vm->script_now); /* the Script of whoever resumed it */
    *(pl_ctx **)lua_getextraspace(L) = &th->ctx;
    return th;
}

int pl_close_coroutine(lua_State *co, lua_State *from)
{
#if LUA_VERSION_RELEASE_NUM >= 50406
    return lua_closethread(co, from);
#else
    (void)from;
    return lua_resetthread(co); /* Lua 5.4.4: the same, named differently */
#endif
}

void pl_rthread_close(pl_rthread *th)
{
    pl_vm *vm = th->ctx.vm;
    lua_State *L = vm->L, *co = th->co;
    if (th->adopted || !lua_checkstack(L, 2)) { /* the user's, or out of memory */
        pl_rthread_free(th);
        return;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, th->ref); /* anchors co while it closes */
    pl_rthread_free(th);
    if (lua_status(co) == LUA_YIELD || lua_gettop(co) > 0) {
        int status = pl_close_coroutine(co, L);
        if (status != LUA_OK) {
            lua_xmove(co, L, 1);
            pl_report_error(vm, L, "error in __close");
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
}

void pl_rthread_free(pl_rthread *th)
{
    pl_vm *vm = th->ctx.vm;
    if (vm->spare == th) vm->spare = NULL; /* a finished handler thread, cancelled */
    *(pl_ctx **)lua_getextraspace(th->co) = &vm->ctx;
    luaL_unref(vm->L, LUA_REGISTRYINDEX, th->ref);
    pl_rthread_set_script(th, NULL);
    free(th);
}

/* Runs under lua_pcall on the VM's main thread: [1] the dead coroutine whose
 * stack to trace (light userdata; NULL: none left), [2] a copy of the error
 * object (or a C string as light userdata). Returns the message and the
 * message with its traceback. The message follows lua5.4's msghandler:
 * strings and numbers as they are, else a string from __tostring, else
 * "(error object is a T value)"; the traceback is always there. */
static int format_error(lua_State *L)
{
    lua_State *co = lua_touserdata(L, 1);
    if (lua_islightuserdata(L, 2)) {
        lua_pushstring(L, lua_touserdata(L, 2));
        lua_replace(L, 2);
    }
    const char *msg = lua_tostring(L, 2);
    if (!msg) {
        if (luaL_callmeta(L, 2, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 2));
    }
    if (co)
        pl_traceback(L, co, msg, 0);
    else
        lua_pushstring(L, msg);
    return 2;
}

/* The deepest level of co's stack (lauxlib's lastlevel: a binary search,
 * since lua_getstack walks from the top). -1: no stack. */
static int last_level(lua_State *co)
{
    lua_Debug ar;
    int li = 1, le = 1;
    if (!lua_getstack(co, 0, &ar)) return -1;
    while (lua_getstack(co, le, &ar)) { /* an upper bound */
        li = le;
        le *= 2;
    }
    while (li < le) { /* then the search */
        int m = (li + le) / 2;
        if (lua_getstack(co, m, &ar))
            li = m + 1;
        else
            le = m;
    }
    return le - 1;
}

void pl_traceback(lua_State *L, lua_State *co, const char *msg, int level)
{
    luaL_traceback(L, co, msg, level);
    lua_CFunction runner = pl_vm_of(L)->runtime->hooks.batch_runner;
    int last = runner ? last_level(co) : -1;
    lua_Debug ar;
    if (last < level || last < 0 || !lua_getstack(co, last, &ar) || !lua_checkstack(co, 1)) return;
    lua_getinfo(co, "f", &ar);
    int hidden = lua_tocfunction(co, -1) == runner;
    lua_pop(co, 1);
    if (!hidden) return;
    /* luaL_traceback always writes the deepest level last, as one line */
    size_t len;
    const char *tb = lua_tolstring(L, -1, &len);
    static const char line[] = "\n\t[C]: in ?";
    size_t n = sizeof line - 1;
    if (len < n || memcmp(tb + len - n, line, n) != 0) return;
    lua_pushlstring(L, tb, len - n);
    lua_replace(L, -2);
}

/* One error repeated by many VMs (2,000 clones of a script failing the
 * same way) is reported in full REPEATS_SHOWN times in a row, then only
 * counted: one line sums up the hidden ones when another report comes, at
 * the end of the frame and at the end of the run (pl_report_repeats). */
#define REPEATS_SHOWN 3

/* What makes two reports the same: the message without the script's name
 * before ":line:" (each clone of a script has its own name). */
static const char *repeat_key(const char *msg)
{
    const char *colon = strchr(msg, ':'), *d = colon ? colon + 1 : NULL;
    if (!d || !isdigit((unsigned char)*d)) return msg;
    while (isdigit((unsigned char)*d))
        d++;
    return *d == ':' ? colon + 1 : msg;
}

static void flush_repeats_locked(pl_runtime *rt)
{
    if (!rt->repeats.hidden) return;
    fprintf(stderr, "%s: %lu more reports of the same %s were not shown (the last from %s): %s\n",
            pl_report_name(rt), rt->repeats.hidden, rt->repeats.what, rt->repeats.last_vm,
            rt->repeats.msg);
    rt->repeats.hidden = 0; /* the streak goes on: more of it are counted again */
    /* relaxed: a hint only, set and cleared under error_lock */
    atomic_store_explicit(&rt->repeats_hidden, 0, memory_order_relaxed);
}

void pl_report_repeats(pl_runtime *rt)
{
    /* relaxed: the frame's end and the run's end come after the parallel
     * phase's reports (wait_parallel orders them); a stale 0 only delays
     * the line to the next frame or the end */
    if (!atomic_load_explicit(&rt->repeats_hidden, memory_order_relaxed)) return;
    uv_mutex_lock(&rt->error_lock);
    flush_repeats_locked(rt);
    uv_mutex_unlock(&rt->error_lock);
}

void pl_report_repeatable(pl_runtime *rt, const char *what, const char *msg, const char *from,
                          const char *fmt, ...)
{
    char key[sizeof rt->repeats.key];
    snprintf(key, sizeof key, "%s", repeat_key(msg));
    uv_mutex_lock(&rt->error_lock);
    snprintf(rt->last_error, sizeof rt->last_error, "%s", msg);
    if (!rt->config.quiet) {
        int same = rt->repeats.shown && strcmp(rt->repeats.what, what) == 0 &&
                   strcmp(rt->repeats.key, key) == 0;
        if (same && rt->repeats.shown >= REPEATS_SHOWN) {
            rt->repeats.hidden++;
            snprintf(rt->repeats.last_vm, sizeof rt->repeats.last_vm, "%s", from);
            atomic_store_explicit(&rt->repeats_hidden, 1, memory_order_relaxed); /* a hint */
        } else {
            if (!same) {
                flush_repeats_locked(rt);
                snprintf(rt->repeats.what, sizeof rt->repeats.what, "%s", what);
                snprintf(rt->repeats.key, sizeof rt->repeats.key, "%s", key);
                snprintf(rt->repeats.msg, sizeof rt->repeats.msg, "%s", msg);
                rt->repeats.shown = 0;
            }
            rt->repeats.shown++;
            va_list ap;
            va_start(ap, fmt);
            vfprintf(stderr, fmt, ap);
            va_end(ap);
        }
    }
    uv_mutex_unlock(&rt->error_lock);
}

/* Prints one report (or counts it: pl_report_repeatable). Names the VM
 * even when out of memory (the actor's own name then). */
static void report_line(pl_vm *vm, const char *what, const char *msg, const char *text)
{
    pl_runtime *rt = vm->runtime;
    char *owned = pl_vm_name(vm);
    const char *kind, *name = vm_label(vm, owned, &kind);
    char from[160];
    snprintf(from, sizeof from, "%s%s", kind, name);
    pl_report_repeatable(rt, what, msg, from, "%s: %s in %s: %s\n", pl_report_name(rt), what, from,
                         text);
    free(owned);
}

/* Nothing here may raise: it runs where no Lua error can be caught (after a
 * runtime thread died). What allocates runs under lua_pcall, with a report
 * that allocates nothing as the fallback. */
void pl_report_error(pl_vm *vm, lua_State *co, const char *what)
{
    lua_State *L = vm->L;
    int eidx = lua_absindex(co, -1), etype = lua_type(co, eidx);
    lua_Debug ar; /* a traceback only where a stack is left to trace */
    int has_stack = co != L && lua_getstack(co, 0, &ar);
    if (!lua_checkstack(L, 6) || (co != L && !lua_checkstack(co, 1))) {
        const char *msg =
            etype == LUA_TSTRING ? lua_tostring(co, eidx) : "(no memory to describe the error)";
        report_line(vm, what, msg, msg);
    } else {
        int top = lua_gettop(L);
        lua_pushcfunction(L, format_error);
        lua_pushlightuserdata(L, has_stack ? co : NULL);
        lua_pushvalue(co, eidx); /* a copy: co keeps its error for closing */
        if (co != L) lua_xmove(co, L, 1);
        if (lua_pcall(L, 2, 2, 0) == LUA_OK) {
            report_line(vm, what, lua_tostring(L, -2), lua_tostring(L, -1));
        } else if (etype == LUA_TSTRING) { /* out of memory for the traceback */
            report_line(vm, what, lua_tostring(co, eidx), lua_tostring(co, eidx));
        } else { /* __tostring raised or yielded, or no memory */
            char text[512];
            snprintf(text, sizeof text,
                     "(error object is a %s value; converting it to a string failed: %s)",
                     lua_typename(co, etype),
                     lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
            lua_settop(L, top);
            lua_pushcfunction(L, format_error); /* again, for the traceback */
            lua_pushlightuserdata(L, has_stack ? co : NULL);
            lua_pushlightuserdata(L, text); /* made a string under the pcall */
            if (lua_pcall(L, 2, 2, 0) == LUA_OK)
                report_line(vm, what, text, lua_tostring(L, -1));
            else
                report_line(vm, what, text, text);
        }
        lua_settop(L, top);
    }
    atomic_fetch_add_explicit(&vm->runtime->errors, 1, memory_order_relaxed); /* a counter only */
}

/* ---- runtime threads suspended by the user's own coroutine.yield ----
 * Nothing resumes them unless user code holds them, so at the end the ones
 * still suspended where they yielded are reported. The registry
 * table SUSPENDED_KEY maps each such coroutine to "file:line". */
static const char SUSPENDED_KEY[] = "parlua.suspended";

/* Pushes where co is suspended: the innermost frame with a line. */
static void push_where(lua_State *L, lua_State *co)
{
    lua_Debug ar;
    for (int level = 0; lua_getstack(co, level, &ar); level++) {
        lua_getinfo(co, "Sl", &ar);
        if (ar.currentline > 0) {
            lua_pushfstring(L, "%s:%d", ar.short_src, ar.currentline);
            return;
        }
    }
    lua_pushliteral(L, "?");
}

/* Under lua_pcall: [1] the registry reference of the coroutine. */
static int note_yield(lua_State *L)
{
    int ref = (int)lua_tointeger(L, 1);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, SUSPENDED_KEY);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    push_where(L, lua_tothread(L, -1));
    lua_rawset(L, -3);
    return 0;
}

static void note_user_yield(pl_vm *vm, pl_rthread *th)
{
    lua_State *L = vm->L;
    if (!lua_checkstack(L, 2)) return; /* out of memory: not reported, only that */
    lua_pushcfunction(L, note_yield);
    lua_pushinteger(L, th->ref);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) lua_pop(L, 1);
}

/* Under lua_pcall: prints the warnings of the VM at [1] (light userdata). */
static int warn_suspended(lua_State *L)
{
    pl_vm *vm = lua_touserdata(L, 1);
    if (lua_getfield(L, LUA_REGISTRYINDEX, SUSPENDED_KEY) != LUA_TTABLE) return 0;
    char *name = pl_vm_name(vm);
    const char *kind, *label = vm_label(vm, name, &kind);
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        lua_State *co = lua_tothread(L, -2);
        if (co && lua_status(co) == LUA_YIELD) {
            push_where(L, co);
            if (lua_rawequal(L, -1, -2)) /* still where it yielded: never resumed */
                fprintf(stderr,
                        "parlua: warning: a thread of %s%s suspended by coroutine.yield() at "
                        "%s was never resumed (the runtime resumes only its own waits: use "
                        "task.wait or task.defer to pause a script)\n",
                        kind, label, lua_tostring(L, -1));
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    free(name);
    return 0;
}

void pl_warn_suspended(pl_runtime *rt)
{
    for (pl_vm *vm = rt->all_vms; vm; vm = vm->all_next) {
        /* an lthread's VM is its worker's (one may still run after an
         * interrupt): not read from here */
        if (pl_vm_is_lthread(vm) || !vm->L || !lua_checkstack(vm->L, 2)) continue;
        lua_pushcfunction(vm->L, warn_suspended);
        lua_pushlightuserdata(vm->L, vm);
        if (lua_pcall(vm->L, 1, 0, 0) != LUA_OK) lua_pop(vm->L, 1);
    }
}

/* Runs the pending to-be-closed variables of a coroutine that died of an
 * error, with the error, as lua5.4 closes them. An error in __close (a new
 * error object: closing returns the first error's status either way) is
 * reported too; __close cannot yield, nothing would resume it. */
static void close_dead_thread(pl_vm *vm, lua_State *co)
{
    lua_State *L = vm->L;
    if (!lua_checkstack(L, 2) || !lua_checkstack(co, 1)) return; /* out of memory */
    lua_pushvalue(co, -1);
    lua_xmove(co, L, 1); /* the first error, to tell a new one */
    int status = pl_close_coroutine(co, L);
    if (status != LUA_OK) {
        lua_xmove(co, L, 1);
        if (!lua_rawequal(L, -1, -2)) pl_report_error(vm, L, "error in __close");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_settop(co, 0);
}

/* Under pcall: sets the global `script` to the Script at 1, raw, in the
 * globals table of the registry (what chunks' _ENV is). */
static int set_global_script(lua_State *L)
{
    pl_instance *script = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_pushliteral(L, "script");
    pl_proxy_push(L, &script->base);
    lua_rawset(L, -3);
    return 0;
}

/* The VM now runs a thread of script (NULL: none, or no thread). `script`
 * is a plain global of the VM (so _ENV == _G and global access costs what
 * it costs in lua5.4) that names the running thread's Script: it is set
 * only when the VM switches to a thread of another Script, and never
 * cleared (code outside any thread keeps seeing the last one). L: the
 * running Lua thread. */
void pl_vm_switch_script(pl_vm *vm, lua_State *L, pl_instance *script)
{
    vm->script_now = script;
    if (!script || script == vm->script_global) return;
    if (!lua_checkstack(L, 2)) return;
    lua_pushcfunction(L, set_global_script);
    lua_pushlightuserdata(L, script);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) { /* out of memory: try again next switch */
        lua_pop(L, 1);
        return;
    }
    pl_instance_hold_local(script);
    if (vm->script_global) pl_instance_drop_local(vm->script_global);
    vm->script_global = script;
}

int pl_rthread_resume(pl_rthread *th, lua_State *from)
{
    pl_vm *vm = th->ctx.vm;
    lua_State *co = th->co;
    int nargs = th->nargs;
    if (nargs < 0) nargs = 0;
    /* Someone else (user code) resumed it since it parked: it is no longer
     * waiting for us, so there is nothing to resume. */
    if (lua_status(co) != LUA_YIELD && th->nargs < 0) {
        if (th->wait.active) pl_park_cancel(th); /* closed while parked: off every list */
        pl_rthread_free(th);
        return 0;
    }
    /* Its Script stopped (Destroy, Enabled = false) since it was queued:
     * it never runs again (the running thread that stopped it ends here). */
    if (th->script && th->script_gen != th->script->run_gen) {
        if (th->wait.active) pl_park_cancel(th);
        pl_rthread_free(th);
        return 0;
    }
    if (th->wants_elapsed) {
        lua_pushnumber(co, pl_now(vm->runtime) - th->wait_start);
        nargs++;
        th->wants_elapsed = 0;
    }
    th->nargs = -1; /* from now on: started */
    th->state = PL_RT_RUNNING;
    th->by_runtime = 1;
    int nres = 0;
    lua_State *L = from ? from : vm->L;
    /* Nested (task.spawn, a handler run from a thread): the resumer's
     * Script again afterwards, retained meanwhile in case its record goes
     * (not needed when both are one Script: th holds it). */
    pl_instance *resumer = vm->script_now;
    int hold = resumer && resumer != th->script;
    if (hold) pl_shared_retain(&resumer->base);
    pl_vm_switch_script(vm, L, th->script);
    /* On the serial thread, publish the coroutine that runs, so that
     * parlua_interrupt (from a signal handler on this thread) can hook it.
     * relaxed: the only reader runs on this same thread. */
    pl_runtime *rt = vm->runtime;
    int serial = !pl_pool_on_worker(rt->pool);
    lua_State *outer =
        serial ? atomic_exchange_explicit(&rt->serial_L, co, memory_order_relaxed) : NULL;
    int status = lua_resume(co, L, nargs, &nres);
    if (serial) atomic_store_explicit(&rt->serial_L, outer, memory_order_relaxed);
    pl_vm_switch_script(vm, L, resumer);
    if (hold) pl_shared_release(&resumer->base);
    if (status == LUA_YIELD) {
        lua_pop(co, nres);
        /* Parked by the runtime (task.wait, synchronize...) or a user's own
         * coroutine.yield: then whoever holds the coroutine may resume it. */
        if (th->state == PL_RT_RUNNING) {
            note_user_yield(vm, th);
            pl_rthread_free(th);
        }
        return 0;
    }
    if (status == LUA_OK) {
        lua_settop(co, 0); /* drop the results: an empty finished coroutine is "dead" */
        if (th->reusable && !vm->spare) {
            vm->spare = th;
            return 0;
        }
    }
    if (status != LUA_OK && th->batch_code) { /* the runner's own (memory): its caller's */
        lua_xmove(co, L, 1);
        pl_rthread_free(th);
        return 2;
    }
    if (status != LUA_OK) {
        pl_report_error(vm, co, "uncaught error");
        close_dead_thread(vm, co);
    }
    pl_rthread_free(th);
    return status != LUA_OK;
}
