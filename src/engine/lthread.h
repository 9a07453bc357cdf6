/*
 * Lightweight threads (SPEC 7): the engine's half. An lthread is a record
 * (pl_lthread, a shared object: its handles in any VM refer to it) and a
 * VM of kind PL_VM_LTHREAD that runs one function on the worker pool,
 * beside the frame phases, then records its outcome and goes away.
 *
 * Life of an lthread (docs/design.md, "Lthreads"):
 * - go() (lib/lthread.c) fills a record: the start wire holds the
 *   function (or a path) and the globals. pl_lthread_launch makes the VM
 *   and queues it on the pool as a background item.
 * - A worker runs it (sched.c, run_lthread -> pl_lthread_step): the first
 *   step opens the VM's state and starts the body thread; later steps
 *   resume whatever is ready, for at most a time slice when other work
 *   waits for a worker (the count hook yields the running thread).
 * - The body's end records the outcome under the record's lock and wakes
 *   every joiner; pl_lthread_finish then closes and frees the VM, on the
 *   worker that ran the last step.
 * - cancel() sets a flag that the count hook and every step look at; the
 *   VM stops at its next look, whatever pcall does.
 *
 * Threads: a record's fields below `w` are guarded by w.lock; once state
 * is not RUNNING, outcome, nresults, message and traceback never change
 * and may be read after taking and releasing the lock once.
 */
#ifndef PL_LTHREAD_H
#define PL_LTHREAD_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/list.h"
#include "core/wire.h"
#include "engine/perm.h"
#include "engine/runtime.h"
#include "engine/vm.h"
#include "engine/waiter.h"

/* What became of an lthread. */
enum { PL_LT_RUNNING, PL_LT_DONE, PL_LT_FAILED, PL_LT_CANCELLED };
/* What a step of an lthread VM came to (pl_lthread_step). */
enum { PL_LT_STEP_IDLE, PL_LT_STEP_PREEMPTED, PL_LT_STEP_FINISHED };

typedef struct pl_lthread {
    pl_waitobj w; /* joiners park here (w.base is its pl_shared head) */
    pl_runtime *runtime;
    int state;            /* PL_LT_*, under w.lock */
    pl_vm *vm;            /* its VM while it runs, under w.lock; NULL once ended */
    pl_wire start;        /* [function or path, globals]: the VM's own once launched */
    pl_wire outcome;      /* DONE: the results; FAILED: the error value */
    int nresults;         /* values in outcome */
    char *message;        /* FAILED, CANCELLED: the error as text (malloc'd) */
    char *traceback;      /* FAILED: the lthread's stack where it failed, or NULL */
    int observed;         /* its outcome was read by a join (or reported) */
    atomic_int cancel;    /* cancel() asked it to stop; read by its hook */
    uint64_t seq;         /* start order, from 1 */
    pl_list link;         /* in the runtime's lthreads list, under lthreads_lock */
    char *search_path[2]; /* the creator's package.path and cpath, or NULL (malloc'd) */
    char name[96];
} pl_lthread;

/* Sets up a new record (zeroed by the caller, with its pl_shared head
 * initialised): lock, lists, number. Links it in the runtime's list. */
void pl_lthread_init(pl_lthread *lt, pl_runtime *rt);
/* Frees what the record holds and unlinks it; an outcome that failed and
 * was never observed is reported on stderr first (SPEC 1.6). Called by
 * the type's destroy when the last reference goes. */
void pl_lthread_destroy(pl_lthread *lt);
/* Makes the VM with the permission set perms (moved in, freed on
 * failure too) and queues it on the pool. The record must hold its start
 * wire. Returns PL_OK or PL_ENOMEM (then nothing started). */
PL_MUST_CHECK int pl_lthread_launch(pl_lthread *lt, pl_perms *perms);
/* Asks a running lthread to stop; returns 1 if it was still running. */
int pl_lthread_cancel(pl_lthread *lt);

/* The worker that owns an lthread VM: runs what is ready (PL_LT_STEP_*).
 * ts: the worker's slot (its poke flags). */
int pl_lthread_step(pl_vm *vm, pl_thread_stats *ts);
/* Asks the workers running lthreads to give way (they stop at the end of
 * their slice) when no worker is idle; force: at once and whatever the
 * pool does (a cancel). Any thread. */
void pl_lthread_poke(pl_runtime *rt, int force);
/* The same worker, after a step returned PL_LT_STEP_FINISHED: lets every
 * thread of the VM go, closes its state and frees it (or keeps it for the
 * trace's names). The VM must not be touched afterwards. */
void pl_lthread_finish(pl_vm *vm);

/* At shutdown, before the workers are joined: every lthread stops at its
 * next look (running ones are poked; queued ones end when taken), and
 * this waits (a few seconds at most) until none is running or queued. */
void pl_lthread_stop_all(pl_runtime *rt);
/* The serial thread, between frames: while lthreads wait for a worker,
 * pokes those that hold one (a backstop for lthreads taking turns). */
void pl_lthread_share_workers(pl_runtime *rt);
/* At the end of a run (serial thread, workers idle): reports every
 * lthread that failed and that nobody joined, counting each as an
 * uncaught error. */
void pl_lthread_report_unobserved(pl_runtime *rt);
/* At shutdown, workers stopped: frees the VMs of lthreads that never
 * ended (parked forever, or stopped by an interrupt), states closed. */
void pl_lthread_free_vms(pl_runtime *rt);

#endif
