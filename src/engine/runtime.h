/*
 * The runtime's state: what every VM of one runtime shares. The public
 * functions (parlua_*) are in src/runtime.c; this header is for the engine
 * and the libraries.
 *
 * Threads and locks (the full contract is in docs/design.md):
 * - Cross-VM traffic goes through locked or atomic structures only: the
 *   mailbox (one mutex per actor), the scheduling flags and pending stacks
 *   (atomics), the timer heap, the Heartbeat list and the list of VMs (one
 *   mutex each: timer_lock, heartbeat_lock, vms_lock), error reports
 *   (error_lock).
 * - None of these locks is held while taking another, except that
 *   pl_sched_mark may be called under timer_lock or heartbeat_lock (it
 *   takes no lock). No Lua error is raised while one of them is held.
 */
#ifndef PL_RUNTIME_H
#define PL_RUNTIME_H

#include <lua.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "core/instance_tree.h"
#include "core/list.h"
#include "core/pool.h"
#include "core/timerheap.h"
#include "core/trace.h"
#include "engine/vm.h"
#include "parlua.h"

/* Calls from the engine up into the libraries, set by runtime.c before
 * the first VM opens: the engine does not include src/lib. */
typedef struct pl_engine_hooks {
    /* Opens every library in a new VM's state (a lua_CFunction, run
     * protected). */
    lua_CFunction open_libs;
    /* Delivers this phase's messages of vm (the VM's owner). */
    void (*dispatch)(pl_vm *vm, int phase);
    /* Routes messages that waited for bindings made since (the owner). */
    void (*flush)(pl_vm *vm);
    /* Runs vm's due Heartbeat handlers of phase (the owner). */
    void (*heartbeat)(pl_vm *vm, int phase);
    /* luaL_loadfilex under the running VM's permissions (go(path)). */
    int (*loadfile)(lua_State *L, const char *path, const char *mode);
    /* Puts an ended lthread's state back as it was after its libraries
     * opened (engine/vmpool.h); 0 when it cannot. The VM's owner. */
    int (*reset_state)(lua_State *L);
    /* The C function at the bottom of a coroutine that runs a batch of
     * messages' handlers (lib/actor.c): hidden from tracebacks. */
    lua_CFunction batch_runner;
} pl_engine_hooks;

/* What one thread did: index 0 is the serial thread, 1 + w worker w.
 * Written by that thread only; read by the serial thread between frames
 * (the pool's wait orders the writes before the read). One cache line
 * each, so workers never write a line another writes. */
typedef struct pl_thread_stats {
    _Alignas(PL_CACHE_LINE) uint64_t busy_ns; /* running VMs */
    uint64_t runs;
    uint64_t sent, delivered; /* messages, by the VMs this thread ran */
    uint64_t long_runs;       /* parallel runs over the budget */
    /* lthread runs on this worker, in the phases or not: atomics (relaxed,
     * counters only), read by the stats while lthreads run */
    atomic_ullong lthread_ns, lthread_runs, lthread_sent;
    /* The parallel run in progress, for the serial thread's long-run watch
     * (sched.c): run_start is 0 between runs. */
    _Atomic(pl_vm *) run_vm;
    _Atomic uint64_t run_start;
    /* A worker running an lthread (engine/lthread.c, pl_lthread_poke):
     * its pthread id, whether it runs one now, and whether it was asked to
     * give way since its current resume. */
    atomic_ulong tid;
    atomic_int in_lthread;
    atomic_int poked;
} pl_thread_stats;

struct parlua_runtime {
    parlua_config config;
    pl_engine_hooks hooks;
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
    pl_list heartbeat_vms; /* VMs with Heartbeat connections (pl_vm.heartbeat_link) */
    uv_mutex_t vms_lock;
    pl_vm *all_vms;
    uv_mutex_t parked_lock; /* guards parked and nparked (engine/park.c) */
    pl_list parked;         /* every parked thread's waiter (parked_link) */
    int nparked;
    /* observability (lib/stats.c, engine/sched.c) */
    pl_trace *trace;                           /* NULL: no --trace */
    pl_thread_stats *threads;                  /* 1 + workers: see pl_thread_stats */
    uint64_t long_run_ns;                      /* the long-run warning's budget; 0: never */
    atomic_int long_run_actors;                /* VMs that had a long run (batch summary) */
    uint64_t serial_ns, parallel_ns, sleep_ns; /* serial thread only */
    uint64_t parallel_phases;
    uint64_t frame_sent, frame_delivered; /* message totals at the last frame's end */
    int finished;                         /* parlua_finish ran */
    int precise_clock;                    /* the stats' clock: uv_hrtime, or coarse (sched.c) */
    atomic_int errors;                    /* runtime threads that died of an uncaught error */
    /* parlua_interrupt (sched.c): lock-free, so a signal handler may write
     * them; serial_L is the serial thread's innermost running coroutine. */
    atomic_int interrupted;
    _Atomic(lua_State *) serial_L;
    uv_mutex_t error_lock; /* guards last_error and the order of error reports */
    char last_error[1024];
    /* The streak of identical error reports (engine/vm.c, report_line), under
     * error_lock: how many were shown, how many only counted since the
     * last summary line, and the newest hidden one's VM. */
    struct {
        char what[48], key[256], msg[512], last_vm[160];
        unsigned long shown, hidden;
    } repeats;
    atomic_int repeats_hidden; /* 1 while repeats.hidden may be nonzero: a frame's cheap check */
    struct pl_st_registry *st_registry; /* SharedTableRegistry, live tables (lib/sharedtable.c) */
    atomic_uintptr_t last_vm_id;        /* pl_vm.id of the newest VM */
    pl_vm *dying;                       /* killed VMs not yet freed (serial thread only; sched.c) */
    pl_vm *zombies;    /* freed VMs kept as trace subjects until exit (--trace only) */
    pl_vm *sweep_next; /* the next VM the unreachable-actor sweep looks at (vms_lock) */
    /* lthreads (engine/lthread.c) and waking the serial thread (sched.c) */
    atomic_int lthreads_active; /* lthread VMs queued on the pool or running */
    /* Counters for the stats (lib/stats.c), added to by whichever thread
     * does the thing, relaxed: lthreads started (engine/vm.c), how many of
     * them on a reused state, and how many resets ran a full collection
     * (lib/reuse.c; counted after the lthread's result is out) */
    atomic_ullong lthreads_run, lthread_states_reused, lthread_reset_collections;
    atomic_int lthreads_stop; /* shutting down: every lthread stops at its next look */
    uv_mutex_t lthreads_lock; /* guards lthreads, lthread_seq, lthread_zombies */
    pl_list lthreads;         /* every live record (pl_lthread.link) */
    uint64_t lthread_seq;
    pl_vm *lthread_zombies;               /* ended lthread VMs kept for the trace (all_next) */
    uv_mutex_t spare_lock;                /* guards spares (engine/vmpool.c), a leaf */
    struct pl_spare *spares;              /* states kept for the next lthreads and actors */
    atomic_int nspares;                   /* how many: written under spare_lock */
    atomic_int nprepared;                 /* actor states made ahead in spares (the same) */
    atomic_int prepare_queued;            /* prepare_item is queued or running */
    pl_pool_item prepare_item;            /* a worker makes actor states ahead (vmpool.c) */
    atomic_int serial_sleeping;           /* the serial thread sleeps in pl_sched_idle */
    int wake_fd;                          /* an eventfd that ends that sleep */
    struct pl_host_classes *host_classes; /* parlua_register_class (lib/hostclass.c) */
    struct pl_member_map *member_map;     /* every class's members by name (lib/members.c) */
    /* A distributed job (engine/dist.h, lib/remote.c), or NULL; the name
     * error reports start with ("parlua[rank 1]"; empty: "parlua"). */
    struct pl_dist *dist;
    struct pl_remote_state *remote;
    char report_name[32];
};

/* The name that starts a report line on stderr. */
static inline const char *pl_report_name(const pl_runtime *rt)
{
    return rt->report_name[0] ? rt->report_name : "parlua";
}

typedef struct pl_host_classes pl_host_classes;

/* Sets rt->last_error under error_lock (printf-style); engine/error.c. */
void pl_runtime_set_error(pl_runtime *rt, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Raises a Lua error for a negative status of the C internals: Lua's
 * "not enough memory" for PL_ENOMEM, else "<what>: <pl_strerror>". */
int pl_status_error(lua_State *L, int status, const char *what);

#endif
