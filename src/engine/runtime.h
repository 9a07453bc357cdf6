/*
 * The runtime's internal structures: the runtime, its VMs and the runtime
 * threads (coroutines the runtime owns and resumes). See docs/design.md for
 * the threading contract; the short version:
 *
 * - A VM's lua_State, its ready queues and its Lua-side tables are touched
 *   only by the VM's current owner: the serial thread during the serial
 *   phase, one worker while the VM runs in the parallel phase, or the serial
 *   thread between phases (timers, Heartbeat). The phases never overlap and
 *   the pool's wait orders them, so none of this needs a lock.
 * - Cross-VM traffic goes through locked or atomic structures only: the
 *   mailbox (one mutex per actor), the scheduling flags and pending stacks
 *   (atomics), the timer heap and the Heartbeat list (one mutex each).
 * - No Lua error is raised while one of those locks is held.
 */
#ifndef PL_RUNTIME_H
#define PL_RUNTIME_H

#include <lua.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "core/instance_tree.h"
#include "core/mailbox.h"
#include "core/pool.h"
#include "core/timerheap.h"
#include "core/trace.h"
#include "core/vmheap.h"
#include "parlua.h"

typedef struct pl_runtime pl_runtime;
typedef struct pl_vm pl_vm;
typedef struct pl_rthread pl_rthread;

/* What lua_getextraspace(L) points to, for every thread of a VM: the VM's
 * own context (rt == NULL) for its main thread and user coroutines, a
 * runtime thread's context for the coroutines the runtime resumes. */
typedef struct pl_ctx {
    pl_vm *vm;
    pl_rthread *rt;
} pl_ctx;

enum { PL_RT_RUNNING, PL_RT_READY, PL_RT_TIMER };

struct pl_rthread {
    pl_ctx ctx;
    lua_State *co;
    int ref;           /* registry reference anchoring co */
    int state;         /* PL_RT_* */
    int phase;         /* the phase it resumes in */
    int nargs;         /* values on co's stack for the next resume */
    int wants_elapsed; /* task.wait: resume with the seconds waited */
    int reusable;      /* a handler thread: may serve the next handler (vm.c) */
    double wait_start;
    pl_rthread *prev, *next; /* in a ready queue */
    pl_timer timer;
};

typedef struct pl_rqueue {
    pl_rthread *head, *tail;
} pl_rqueue;

#define PL_CACHE_LINE 64

/* What one VM did (stats.c), written by the VM's owner only. */
typedef struct pl_vm_stats {
    uint64_t busy_ns[2]; /* time running, by phase */
    uint64_t runs[2];    /* runs (one VM taken by one thread in one phase) */
    uint64_t sent;       /* messages this VM sent */
    uint64_t delivered;  /* messages delivered to this VM's handlers */
    uint64_t longest_ns; /* the longest parallel run */
    int long_run_warned; /* the long-run warning was printed */
} pl_vm_stats;

/* What one thread did: index 0 is the serial thread, 1 + w worker w.
 * Written by that thread only; read by the serial thread between frames
 * (the pool's wait orders the writes before the read). One cache line
 * each, so workers never write a line another writes. */
typedef struct pl_thread_stats {
    _Alignas(PL_CACHE_LINE) uint64_t busy_ns; /* running VMs */
    uint64_t runs;
    uint64_t sent, delivered; /* messages, by the VMs this thread ran */
    uint64_t long_runs;       /* parallel runs over the budget */
} pl_thread_stats;

/* Laid out in cache lines: the owner's fields (written on every Lua
 * allocation, through mem) never share a line with the fields other threads
 * write (mailbox, scheduling flags), nor with another VM's. Allocate with
 * aligned_alloc (pl_actor_vm_new). */
struct pl_vm {
    /* owner only (see the top of this file) */
    pl_ctx ctx; /* .vm = this, .rt = NULL */
    pl_runtime *runtime;
    uintptr_t id;           /* unique for the runtime's life (pl_vm_token) */
    lua_State *L;           /* created when the first script starts in it */
    pl_instance *actor;     /* NULL for the main VM; retained once L exists */
    int phase;              /* the phase the VM runs in now */
    int flush_mailbox;      /* a binding found waiting messages */
    unsigned bind_version;  /* bumped by every (un)binding: dispatch's handler cache */
    pl_rqueue ready[2];     /* by phase */
    pl_rthread *spare;      /* a finished handler thread kept for reuse */
    size_t ntimers;         /* its threads in the timer heap (changed under timer_lock) */
    int warn_on, warn_cont; /* warn(): "@on"/"@off", message continues */
    int heartbeat_due[2];   /* set between phases by the serial thread */
    double heartbeat_dt;
    pl_heap heap; /* the Lua state's memory (src/core/vmheap.h) */
    pl_vm_stats stats;
    pl_trace_buf *tbuf; /* the running thread's trace buffer; NULL: no trace */
    /* shared with other threads */
    _Alignas(PL_CACHE_LINE) pl_mailbox mailbox;
    _Alignas(PL_CACHE_LINE) atomic_int scheduled[2]; /* 1 while queued or running; sched.c */
    pl_vm *pending_next[2];                          /* link in the runtime's pending stacks */
    pl_pool_item pool_item;                          /* link in the worker pool */
    int heartbeat_count[2];     /* Heartbeat connections, under heartbeat_lock */
    pl_vm *all_prev, *all_next; /* the runtime's list of every VM, under vms_lock */
    int holds_actor;            /* this VM holds a reference to its Actor */
    /* Set once by pl_vm_kill on the serial thread (its Actor was
     * destroyed); read anywhere after the phase hand-over. */
    atomic_int dead;
    atomic_int queued; /* dead: runs still owed to queues that held it (sched.c) */
    pl_vm *dying_next; /* in the runtime's dying list (serial thread only) */
};

struct pl_runtime {
    parlua_config config;
    pl_vm main;
    pl_instance *game, *workspace, *runservice;
    pl_graveyard graveyard; /* instances to free between phases */
    pl_pool *pool;
    uint64_t t0; /* uv_hrtime at creation */
    uint64_t frame;
    double last_frame_time;
    _Atomic(pl_vm *) pending[2]; /* VMs with work for the next phase (Treiber stacks) */
    uv_mutex_t timer_lock;
    pl_timerheap timers;
    uv_mutex_t heartbeat_lock;
    pl_vm **heartbeat_vms; /* VMs with Heartbeat connections */
    size_t nheartbeat_vms, heartbeat_cap;
    uv_mutex_t vms_lock;
    pl_vm *all_vms;
    /* observability (stats.c, sched.c) */
    pl_trace *trace;                           /* NULL: no --trace */
    pl_thread_stats *threads;                  /* 1 + workers: see pl_thread_stats */
    uint64_t long_run_ns;                      /* the long-run warning's budget; 0: never */
    uint64_t serial_ns, parallel_ns, sleep_ns; /* serial thread only */
    uint64_t parallel_phases;
    uint64_t frame_sent, frame_delivered; /* message totals at the last frame's end */
    int finished;                         /* parlua_finish ran */
    int precise_clock;                    /* the stats' clock: uv_hrtime, or coarse (sched.c) */
    atomic_int errors;                    /* runtime threads that died of an uncaught error */
    uv_mutex_t error_lock;                /* guards last_error and the order of error reports */
    char last_error[1024];
    struct pl_st_registry *st_registry; /* SharedTableRegistry, live tables (sharedtable.c) */
    atomic_uintptr_t last_vm_id;        /* pl_vm.id of the newest VM */
    pl_vm *dying;                       /* killed VMs not yet freed (serial thread only; sched.c) */
    pl_vm *zombies; /* freed VMs kept as trace subjects until exit (--trace only) */
};

/* How instances name the VM that created them (pl_instance.owner): an id,
 * not the address, which a VM made after this one is freed may reuse. */
static inline void *pl_vm_token(const pl_vm *vm)
{
    return (void *)vm->id;
}

/* ---- vm.c ---- */
static inline pl_ctx *pl_ctx_of(lua_State *L)
{
    return *(pl_ctx **)lua_getextraspace(L);
}
static inline pl_vm *pl_vm_of(lua_State *L)
{
    return pl_ctx_of(L)->vm;
}
void pl_vm_init(pl_vm *vm, pl_runtime *runtime, pl_instance *actor);
/* Creates the VM's lua_State if it has none; returns 0 or -1. */
int pl_vm_ensure_state(pl_vm *vm);
void pl_vm_close(pl_vm *vm);   /* closes the lua_State */
void pl_vm_destroy(pl_vm *vm); /* frees what pl_vm_init made */
/* A name for messages: "main" or the actor's full name; malloc'd. */
char *pl_vm_name(pl_vm *vm);

/* New runtime thread running the function on top of L's stack with the
 * nargs values above it (all popped). NULL on error (message on L). */
pl_rthread *pl_rthread_new(lua_State *L, int nargs);
/* Runs handlers in new runtime threads, one each, in order: the function
 * (n == 1) or array of functions (n > 1) at handlers_idx, each called with
 * the nargs values from first_arg. Raises only when out of memory. */
void pl_run_handlers(lua_State *L, int handlers_idx, int n, int first_arg, int nargs);
/* The runtime thread for L, adopting a user coroutine if needed. */
pl_rthread *pl_rthread_current(lua_State *L);
/* Resumes th (which has th->nargs values waiting) on the calling OS thread;
 * reports an uncaught error. from: the resuming Lua thread, or NULL. */
void pl_rthread_resume(pl_rthread *th, lua_State *from);
/* Forgets th (its coroutine stays as Lua left it). */
void pl_rthread_free(pl_rthread *th);
/* Prints an uncaught error of L (message on top of L's stack or of co). */
void pl_report_error(pl_vm *vm, lua_State *co, const char *what);

/* ---- sched.c ---- */
double pl_now(pl_runtime *rt);
/* Tells the scheduler that vm has work for phase (thread-safe). */
void pl_sched_mark(pl_vm *vm, int phase);
/* Queues th to resume in phase, in this frame if that phase is still to come. */
void pl_sched_ready(pl_vm *vm, pl_rthread *th, int phase);
/* Parks th until now + delay, resuming in phase. 0, or -1 out of memory. */
int pl_sched_timer(pl_vm *vm, pl_rthread *th, double delay, int phase);
/* Removes th from whatever queue holds it (task.cancel). */
void pl_sched_unqueue(pl_vm *vm, pl_rthread *th);
void pl_heartbeat_count(pl_vm *vm, int phase, int delta);
/* Stops an actor VM for good (its Actor was destroyed; serial thread, in
 * the serial phase): it never runs again, its timers, Heartbeat
 * registrations and waiting messages go, and it is freed between phases
 * once no queue holds it. */
void pl_vm_kill(pl_vm *vm);
static inline int pl_vm_dead(pl_vm *vm)
{
    /* relaxed: set only in the serial phase; the phase hand-over orders it
     * before any reader on another thread */
    return atomic_load_explicit(&vm->dead, memory_order_relaxed);
}

/* An Actor's VM (no lua_State yet), owned by the Actor instance. */
pl_vm *pl_actor_vm_new(pl_runtime *rt, pl_instance *actor);

/* Runs th now on the serial thread, outside the frames (the main script's
 * first run, -e), accounted and traced as a serial run of vm. */
void pl_sched_run_now(pl_vm *vm, pl_rthread *th);

/* ---- stats.c ---- */
/* Prints the --stats summary to f (serial thread, workers idle). */
void pl_stats_print(pl_runtime *rt, FILE *f);
/* Adds parlua.stats to the parlua table of L. */
void pl_open_stats(lua_State *L);

/* ---- library openers (each file's one entry point) ---- */
void pl_open_baselib(lua_State *L);
void pl_open_task(lua_State *L);
void pl_open_instance(lua_State *L);
void pl_open_actor(lua_State *L);
void pl_open_runservice(lua_State *L);
void pl_open_sharedtable(lua_State *L);
/* sharedtable.c: frees the registry and every table (parlua_free, VMs closed) */
void pl_sharedtable_free(pl_runtime *rt);

/* ---- instance.c: Instances in Lua, with safety levels (SPEC 2.3) ---- */
typedef enum { PL_UNSAFE, PL_READ_PARALLEL, PL_LOCAL_SAFE, PL_SAFE } pl_level;

typedef struct pl_member {
    const char *name;
    pl_level level;
    lua_CFunction get;  /* property: push the value of instance 1 */
    lua_CFunction set;  /* property: assign value 2 to instance 1; NULL: read-only */
    lua_CFunction call; /* method: instance at 1, arguments after it */
} pl_member;

/* Registers members of cls (array ends with a NULL name) in this VM. */
void pl_register_members(lua_State *L, const pl_class *cls, const pl_member *members);
void pl_instance_push(lua_State *L, pl_instance *inst);
pl_instance *pl_instance_check(lua_State *L, int idx);
pl_instance *pl_instance_check_class(lua_State *L, int idx, const pl_class *cls);
/* A member function's instance (argument 1), already checked by the
 * trampoline every member call goes through (class and safety level). */
pl_instance *pl_instance_self(lua_State *L);

/* ---- script.c ---- */
/* The Script start hook, installed on game. */
void pl_script_added(void *runtime, pl_instance *script);
/* Starts a script in its VM now (main script, -e): returns 0 or -1 with the
 * error in runtime->last_error. */
int pl_script_start(pl_runtime *rt, pl_instance *script, int nargs, lua_State *args_from);

/* ---- actor.c, runservice.c ---- */
/* actor.c: delivers this phase's messages of vm. */
void pl_actor_dispatch(pl_vm *vm, int phase);
/* actor.c: routes messages that waited for bindings made since. */
void pl_actor_flush(pl_vm *vm);
/* runservice.c: runs due Heartbeat handlers of vm for phase. */
void pl_heartbeat_fire(pl_vm *vm, int phase);

#endif
