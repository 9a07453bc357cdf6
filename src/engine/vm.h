/*
 * VMs and runtime threads.
 *
 * A VM is one lua_State with its own heap: the main VM, or an Actor's.
 * A runtime thread is a coroutine the runtime owns and resumes (a script,
 * a handler, a task.spawn'ed function, a user coroutine that called a
 * blocking function).
 *
 * Threads: a VM's lua_State, its ready queues and its Lua-side tables are
 * touched only by the VM's current owner: the serial thread during the
 * serial phase, one worker while the VM runs in the parallel phase, or the
 * serial thread between phases. The fields under "shared with other
 * threads" in pl_vm are the exceptions; each says what guards it.
 */
#ifndef PL_VM_H
#define PL_VM_H

#include <lua.h>
#include <stdatomic.h>
#include <stdint.h>

#include "core/check.h"
#include "core/instance_tree.h"
#include "core/list.h"
#include "core/mailbox.h"
#include "core/phase.h"
#include "core/pool.h"
#include "core/timerheap.h"
#include "core/trace.h"
#include "core/vmheap.h"
#include "engine/perm.h"
#include "engine/waiter.h"

#define PL_CACHE_LINE 64

typedef struct parlua_runtime pl_runtime; /* the public parlua_runtime */
typedef struct pl_vm pl_vm;
typedef struct pl_rthread pl_rthread;

/* What lua_getextraspace(L) points to, for every thread of a VM: the VM's
 * own context (rt == NULL) for its main thread and user coroutines, a
 * runtime thread's context for the coroutines the runtime resumes. */
typedef struct pl_ctx {
    pl_vm *vm;
    pl_rthread *rt;
} pl_ctx;

/* Where a runtime thread is: running (or held by user code), in a ready
 * queue, in the timer heap, parked on a sync object (engine/park.h), or
 * on its VM's woken list after its timer fired (lthread VMs, whose ready
 * queues only their worker touches). */
enum { PL_RT_RUNNING, PL_RT_READY, PL_RT_TIMER, PL_RT_PARKED, PL_RT_WOKEN };

struct pl_rthread {
    pl_ctx ctx;
    lua_State *co;
    int ref;           /* registry reference anchoring co */
    int state;         /* PL_RT_* */
    int phase;         /* the phase it resumes in */
    int nargs;         /* values on co's stack for the next resume */
    int wants_elapsed; /* task.wait: resume with the seconds waited */
    int reusable;      /* a handler thread: may serve the next handler (vm.c) */
    int batch_code;    /* a batch runner's own code runs in it (lib/actor.c): an error
                          now is a delivery's, not a handler's (pl_rthread_resume) */
    int by_runtime;    /* the runtime resumed it (not user code): task.c's park */
    int adopted;       /* co is a user's coroutine the runtime adopted (pl_rthread_current) */
    double wait_start;
    pl_instance *script;     /* the Script it belongs to, retained; NULL: none (-e) */
    unsigned script_gen;     /* script->run_gen when it joined: it never resumes once the
                                Script stopped (Destroy, Enabled = false) */
    pl_rthread *prev, *next; /* in a ready queue */
    pl_timer timer;
    pl_waiter wait; /* while parked on a sync object (engine/park.h) */
};

typedef struct pl_rqueue {
    pl_rthread *head, *tail;
} pl_rqueue;

/* A proxy a check found to be a proxy with metatable mt standing for obj
 * (pl_proxy_seen_at, below): the next check of the same userdata
 * reads no metatable. */
#define PL_PROXY_SEEN 4
typedef struct pl_proxy_seen {
    const void *ud, *obj, *mt; /* ud NULL: empty */
} pl_proxy_seen;

/* What one VM did (lib/stats.c), written by the VM's owner only. */
typedef struct pl_vm_stats {
    uint64_t busy_ns[2];        /* time running, by phase */
    uint64_t runs[2];           /* runs (one VM taken by one thread in one phase) */
    uint64_t sent;              /* messages this VM sent */
    uint64_t delivered;         /* messages delivered to this VM's handlers */
    uint64_t longest_ns;        /* the longest parallel run */
    atomic_int long_run_warned; /* had a long run (warned, or counted for the summary);
                                   exchanged by the owner or the serial thread (sched.c) */
} pl_vm_stats;

/* Laid out in cache lines: the owner's fields (written on every Lua
 * allocation, through heap) never share a line with the fields other
 * threads write (mailbox, scheduling flags), nor with another VM's.
 * Allocate with aligned_alloc (pl_actor_vm_new). */
struct pl_vm {
    /* owner only (see the top of this file) */
    pl_ctx ctx; /* .vm = this, .rt = NULL */
    pl_runtime *runtime;
    uintptr_t id;       /* unique for the runtime's life (pl_vm_token) */
    lua_State *L;       /* created when the first script starts in it */
    int kind;           /* PL_VM_MAIN, PL_VM_ACTOR or PL_VM_LTHREAD; set once */
    pl_instance *actor; /* NULL for the main VM; retained once L exists */
    int phase;          /* the phase the VM runs in now */
    int flush_mailbox;  /* a binding found waiting messages */
    pl_rqueue ready[2]; /* by phase */
    pl_rthread *spare;  /* a finished handler thread kept for reuse */
    int conn_lists_ref; /* its handler lists' registry reference (engine/connection.c) */
    int msg_cache_ref;  /* its message handler cache's registry reference (lib/actor.c) */
    pl_proxy_seen proxy_seen[PL_PROXY_SEEN]; /* proxies checked last (pl_proxy_seen_at) */
    size_t ntimers;         /* its threads in the timer heap (changed under timer_lock) */
    int warn_on, warn_cont; /* warn(): "@on"/"@off", message continues */
    int gc_warn;            /* pieces seen of lua's "error in __gc (msg)" warning (vm.c) */
    char gc_msg[256];       /* its message */
    int heartbeat_due[2];   /* set between phases by the serial thread */
    double heartbeat_dt;
    /* The running runtime thread's Script (NULL: none), and the one the
     * global `script` was last set to, retained (vm.c, switch_script). */
    pl_instance *script_now, *script_global;
    pl_heap heap; /* the Lua state's memory (src/core/vmheap.h) */
    /* What its code may do (engine/perm.h): set before its lua_State is
     * made (the libraries open according to it), never changed after. */
    pl_perms perms;
    /* Libraries not opened yet (lib/lazy.c): a bit per pl_lazy_libs entry
     * whose global, and whose package.loaded module, is still to be made. */
    uint32_t lazy_global, lazy_module;
    unsigned lazy_misses; /* reads of absent globals through _G's __index */
    /* Its state must not be kept for another lthread (engine/vmpool.h):
     * the debug library was opened, or a finalizer of the program's set. */
    int no_reuse;
    int gc_tuned; /* an lthread changed its collector's mode or settings (lib/reuse.c) */
    /* package.path and cpath given before package was made (lib/package.c,
     * pl_set_search_paths): malloc'd, NULL: none */
    char *search_paths[2];
    /* An lthread's reset must walk the tables it puts back (lib/reuse.c):
     * its program may have reached the library tables (its start brought
     * the globals table, a library's C function or a shared object, see
     * pl_transfer_decode_start, or globals, or it runs a file), or its
     * body was dropped unfinished (its registry reference is left). */
    int reset_walk;
    /* Its heap's size after the last full collection of a reset (lib/reuse.c):
     * a reset that need not walk collects only once the garbage since then
     * passed a threshold. Moves with the state (engine/vmpool.c). */
    size_t reset_heap;
    pl_vm_stats stats;
    pl_trace_buf *tbuf; /* the running thread's trace buffer; NULL: no trace */
    /* an lthread VM's (engine/lthread.c) */
    struct pl_lthread *lthread; /* its record, retained */
    lua_State *lt_body;         /* the body thread until it ends (then NULL) */
    int lt_done;                /* the body ended and recorded the outcome */
    uint64_t slice_end;         /* its time slice ends here (CLOCK_MONOTONIC_COARSE ns) */
    /* shared with other threads */
    _Alignas(PL_CACHE_LINE) pl_mailbox mailbox;      /* its own mutex */
    _Alignas(PL_CACHE_LINE) atomic_int scheduled[2]; /* 1 while queued or running; sched.c */
    pl_vm *pending_next[2];                          /* link in the runtime's pending stacks */
    pl_pool_item pool_item;                          /* link in the worker pool */
    int heartbeat_count[2];     /* Heartbeat connections, under heartbeat_lock */
    pl_list heartbeat_link;     /* in the runtime's heartbeat_vms, under heartbeat_lock */
    pl_vm *all_prev, *all_next; /* the runtime's list of every VM, under vms_lock */
    int holds_actor;            /* this VM holds a reference to its Actor */
    int nparked;                /* its threads parked on sync objects, under parked_lock */
    uv_mutex_t wake_lock;       /* guards woken (engine/park.h) */
    pl_list woken;              /* woken parked threads (pl_waiter.woken_link) */
    atomic_int nwoken;          /* how many; read without the lock as a hint */
    /* Set once by pl_vm_kill on the serial thread (its Actor was
     * destroyed); read anywhere after the phase hand-over. */
    atomic_int dead;
    atomic_int queued; /* dead: runs still owed to queues that held it (sched.c) */
    pl_vm *dying_next; /* in the runtime's dying list (serial thread only) */
};

/* What a VM runs: the main script, an Actor's scripts, or one lthread
 * (SPEC 7: an lthread runs beside both phases). */
enum { PL_VM_MAIN, PL_VM_ACTOR, PL_VM_LTHREAD };

static inline pl_ctx *pl_ctx_of(lua_State *L)
{
    return *(pl_ctx **)lua_getextraspace(L);
}
static inline pl_vm *pl_vm_of(lua_State *L)
{
    return pl_ctx_of(L)->vm;
}

/* Checks of proxies by their metatable, made cheap for the proxies a VM
 * checks again and again (`actor:SendMessage(...)` in a loop checks the
 * same proxy twice a call): reading a metatable costs a push, a compare
 * and a pop through the API. A check that read the metatable records the
 * userdata (its address), the object it stands for and the metatable in
 * the VM's entry for that address (pl_vm.proxy_seen, owner only, like
 * the state); the next check of the same address with the same metatable
 * takes the object from the entry instead.
 *
 * Why that is sound: a userdata's address is that userdata's until it is
 * freed, and a proxy is freed only after its finalizer (proxy_gc, the
 * metatable's __gc) ran, which empties the entry of its address; a
 * proxy's metatable changes only through debug.setmetatable (the debug
 * library reaches everything anyway). A program can set the metatable's
 * __gc to nil (getmetatable hands it out); then the proxy is freed without
 * emptying its entry, and another userdata may later have its address:
 * the check still compares the first word there with the object recorded,
 * which stays alive for good (that proxy never released its reference),
 * so such a check returns that live object or reads the metatable as
 * before. A light userdata is never the address of a full userdata: C
 * code here pushes none such. */
static inline pl_proxy_seen *pl_proxy_seen_at(pl_vm *vm, const void *ud)
{
    return &vm->proxy_seen[((uintptr_t)ud >> 4) & (PL_PROXY_SEEN - 1)];
}

/* The object of the userdata ud if the VM's entry says it was checked as
 * a proxy with metatable mt; else NULL (read the metatable). */
static inline pl_shared *pl_proxy_seen_get(pl_vm *vm, void *ud, const void *mt)
{
    const pl_proxy_seen *e = pl_proxy_seen_at(vm, ud);
    if (!ud || e->ud != ud || e->mt != mt) return NULL;
    pl_shared *obj = *(pl_shared **)ud;
    return obj == e->obj ? obj : NULL;
}

/* Records that ud is a proxy of obj (not NULL) with metatable mt. */
static inline void pl_proxy_seen_put(pl_vm *vm, void *ud, pl_shared *obj, const void *mt)
{
    pl_proxy_seen *e = pl_proxy_seen_at(vm, ud);
    e->ud = ud;
    e->obj = obj;
    e->mt = mt;
}

void pl_vm_init(pl_vm *vm, pl_runtime *runtime, pl_instance *actor);
static inline int pl_vm_is_lthread(const pl_vm *vm)
{
    return vm->kind == PL_VM_LTHREAD;
}
/* Adds a VM made by pl_vm_init (the main VM) to the runtime's list, and
 * takes it off (a killed actor VM being freed). */
void pl_vm_register(pl_vm *vm);
void pl_vm_unregister(pl_vm *vm);

/* How instances name the VM that created them (pl_instance.owner): an id,
 * not the address, which a VM made after this one is freed may reuse. */
static inline void *pl_vm_token(const pl_vm *vm)
{
    return (void *)vm->id;
}

/* Stops an actor VM for good (its Actor was destroyed; serial thread, in
 * the serial phase): it never runs again, its timers, Heartbeat
 * registrations, parked threads and waiting messages go, and it is freed
 * between phases once no queue holds it (sched.c). */
void pl_vm_kill(pl_vm *vm);
static inline int pl_vm_dead(pl_vm *vm)
{
    /* relaxed: set only in the serial phase; the phase hand-over orders it
     * before any reader on another thread */
    return atomic_load_explicit(&vm->dead, memory_order_relaxed);
}
/* Creates the VM's lua_State if it has none, opening the libraries
 * through the runtime's open_libs hook and the host's open_vm; returns
 * PL_OK, PL_ENOMEM, or PL_EHOST when open_vm raised (reported). */
PL_MUST_CHECK int pl_vm_ensure_state(pl_vm *vm);
/* Makes vm's lua_State and opens the libraries (the open_libs hook, not
 * the host's open_vm): PL_OK or PL_ENOMEM. Any thread that owns vm. */
PL_MUST_CHECK int pl_vm_open_state(pl_vm *vm);
void pl_vm_close(pl_vm *vm); /* closes the lua_State */
/* The lua_Alloc of every VM's state: ud is the pl_heap it allocates from. */
void *pl_vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
void pl_vm_destroy(pl_vm *vm); /* frees what pl_vm_init made */
/* A name for messages: "main" or "actor <full name>"; malloc'd, NULL if
 * out of memory. */
char *pl_vm_name(pl_vm *vm);
/* Pushes L's package.path and package.cpath (raw reads of the package
 * table, as require reads it; nil when absent). The package library is
 * made if it is still to be made on first use and the paths are not
 * both waiting (below). May raise (memory). */
void pl_push_search_paths(lua_State *L);
/* Sets L's package.path and package.cpath to paths[i] (lens[i] bytes;
 * NULL: kept), raw, where they differ; while package is still to be
 * made, they wait in pl_vm.search_paths, set when it is (lib/package.c).
 * May raise (memory). */
void pl_set_search_paths(lua_State *L, const char *const paths[2], const size_t lens[2]);
/* An Actor's VM (no lua_State yet), owned by the Actor instance, which
 * frees it. NULL if out of memory. */
pl_vm *pl_actor_vm_new(pl_runtime *rt, pl_instance *actor);

/* New runtime thread running the function on top of L's stack with the
 * nargs values above it (all popped). NULL when out of memory; raises when
 * the coroutine's stack cannot hold the values. */
pl_rthread *pl_rthread_new(lua_State *L, int nargs);
/* Runs handlers in new runtime threads, one each, in order: the connection
 * (n == 1) or array of connections (n > 1) at handlers_idx, as
 * pl_conn_push_handlers pushes them, each handler called with the nargs
 * values from first_arg and run as a thread of the Script that connected it.
 * Raises only when out of memory. */
void pl_run_handlers(lua_State *L, int handlers_idx, int n, int first_arg, int nargs);
/* A handler thread for the function on top of L's stack with the nargs
 * values above it (all moved): the VM's spare finished handler coroutine,
 * else a new one, made a thread of script. NULL when out of memory;
 * raises when the coroutine's stack cannot hold the values. */
pl_rthread *pl_handler_thread(lua_State *L, int nargs, pl_instance *script);
/* The runtime thread for L, adopting a user coroutine if needed. */
pl_rthread *pl_rthread_current(lua_State *L);
/* Resumes th (which has th->nargs values waiting) on the calling OS thread;
 * reports an uncaught error. from: the resuming Lua thread, or NULL.
 * Returns 1 when th died of an uncaught error, else 0; 2 when it died of
 * an error while th->batch_code was set: then not reported, the error
 * object is pushed on from (which must have room for it) and th is freed. */
int pl_rthread_resume(pl_rthread *th, lua_State *from);
/* luaL_traceback of co from level, without the batch runner's frame
 * (lib/actor.c) at the bottom of a handler coroutine: a handler's
 * traceback reads as if the handler ran alone in its coroutine. */
void pl_traceback(lua_State *L, lua_State *co, const char *msg, int level);
/* Makes th a thread of script (retained; NULL: of none), releasing the
 * Script it had. Call with NULL before freeing a record without
 * pl_rthread_free. */
void pl_rthread_set_script(pl_rthread *th, pl_instance *script);
/* The VM now runs code of script (NULL: none): sets vm->script_now and,
 * when it changes, the global `script` (L: the running Lua thread). Used
 * around each resume, and by require(moduleScript) around module code. */
void pl_vm_switch_script(pl_vm *vm, lua_State *L, pl_instance *script);
/* Closes co as coroutine.close does (its pending to-be-closed variables
 * run); returns the status, the error on co's stack when not LUA_OK. */
int pl_close_coroutine(lua_State *co, lua_State *from);
/* Forgets th and closes its coroutine as task.cancel does: pending
 * to-be-closed variables run (an error in one is reported). A coroutine
 * user code created (adopted when it blocked) is only forgotten: it is its
 * creator's to resume or close. The VM's owner; th in no queue. */
void pl_rthread_close(pl_rthread *th);
/* Forgets th (its coroutine stays as Lua left it). */
void pl_rthread_free(pl_rthread *th);
/* Warns of runtime threads still suspended by a user's coroutine.yield
 * (serial thread, at the end). */
void pl_warn_suspended(pl_runtime *rt);
/* Prints an uncaught error of L (message on top of L's stack or of co). */
void pl_report_error(pl_vm *vm, lua_State *co, const char *what);
/* Prints the line that sums up identical error reports not shown (vm.c,
 * report_line), if any: at the end of a frame and of the run. */
void pl_report_repeats(pl_runtime *rt);
/* Prints a whole report (fmt and what follows, newline included) on
 * stderr under the error lock and keeps msg as the last error, or only
 * counts it when it is the fourth or later in a row with the same `what`
 * and msg (the script's name before ":line:" aside); from names where it
 * came from, for the line that sums up the hidden ones. */
void pl_report_repeatable(pl_runtime *rt, const char *what, const char *msg, const char *from,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
