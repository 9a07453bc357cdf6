/*
 * The scheduler: frames, phases, ready queues, timers and Heartbeat
 * bookkeeping. The algorithm and its memory-ordering argument are at the
 * top of sched.c.
 *
 * The scheduler does not know the libraries: it reaches message dispatch
 * and Heartbeat handlers through the runtime's hooks (pl_engine_hooks in
 * engine/runtime.h), which runtime.c sets at start-up.
 */
#ifndef PL_SCHED_H
#define PL_SCHED_H

#include "core/check.h"
#include "engine/vm.h"

/* Starts the worker pool (PL_OK, or PL_ENOMEM when threads could not
 * start); pl_sched_free stops it, waiting for the workers to end. */
PL_MUST_CHECK int pl_sched_init(pl_runtime *rt);
void pl_sched_free(pl_runtime *rt);

/* Seconds since the runtime started (monotonic). */
double pl_now(pl_runtime *rt);
/* Delays from this many seconds up (~31.7 years) mean "never"; every
 * double -> nanosecond conversion saturates here, far below 2^64 ns. */
#define PL_TIME_FOREVER 1e9
static inline uint64_t pl_seconds_to_ns(double s)
{
    if (!(s > 0)) return 0; /* NaN too */
    return (uint64_t)((s < PL_TIME_FOREVER ? s : PL_TIME_FOREVER) * 1e9);
}
/* Tells the scheduler that vm has work for phase. Any thread. */
void pl_sched_mark(pl_vm *vm, int phase);
/* Queues th to resume in phase, in this frame if that phase is still to
 * come. The VM's owner only. */
void pl_sched_ready(pl_vm *vm, pl_rthread *th, int phase);
/* Puts th, which no queue holds, on vm's ready queue of th->phase without
 * marking the VM (the caller knows it is marked). The VM's owner only. */
void pl_sched_enqueue(pl_vm *vm, pl_rthread *th);
/* Parks th until now + delay, resuming in phase. PL_OK, or PL_ENOMEM. */
PL_MUST_CHECK int pl_sched_timer(pl_vm *vm, pl_rthread *th, double delay, int phase);
/* Removes th from whatever queue holds it (task.cancel). */
void pl_sched_unqueue(pl_vm *vm, pl_rthread *th);
/* Counts vm's Heartbeat connections of phase up or down (delta +-1). */
void pl_heartbeat_count(pl_vm *vm, int phase, int delta);
/* Forgets vm's queued, timed and parked threads whose Script stopped
 * (Destroy, Script.Enabled = false: pl_instance.run_gen changed). Serial
 * thread, serial phase. The running thread stops at its next yield
 * (pl_rthread_resume never resumes such a thread). */
void pl_vm_stop_stale(pl_vm *vm);
/* Runs th now on the serial thread, outside the frames (the main script's
 * first run, -e), accounted and traced as a serial run of vm. Returns 1
 * when th died of an uncaught error (reported), else 0. */
int pl_sched_run_now(pl_vm *vm, pl_rthread *th);

/* One frame: timers, Heartbeat with dt, the serial phase, the parallel
 * phase. Serial thread only. */
void pl_sched_frame(pl_runtime *rt, double dt);
/* Whether a VM waits for a phase or Heartbeat has connections. */
int pl_sched_has_work(pl_runtime *rt);
/* The earliest timer's deadline in runtime seconds, or -1 when none. */
double pl_sched_next_timer(pl_runtime *rt);
/* Serial thread: due timers make their threads ready (a frame does it
 * first; the sleep between frames does it for lthreads). */
void pl_sched_fire_timers(pl_runtime *rt, double now);
/* Sleeps (no spinning) until runtime time `until` (< 0: no deadline), or
 * until a timer is due earlier, the number of active lthreads differs from
 * `lthreads`, an interrupt, or (wake_on_work) a VM has work for a frame.
 * Serial thread only. */
void pl_sched_idle(pl_runtime *rt, double until, int lthreads, int wake_on_work);
/* Ends pl_sched_idle's sleep if the serial thread is in it (any thread,
 * after publishing what it found; async-signal-safe). */
void pl_sched_wake(pl_runtime *rt);
/* The next thread on vm's ready queue of phase, taken off it, or NULL.
 * The VM's owner. */
pl_rthread *pl_sched_next_ready(pl_vm *vm, int phase);
/* The VM's owner, its VM about to close: lets go of every runtime thread
 * of vm (parked, in the timer heap, woken, ready, spare). */
void pl_sched_forget_threads(pl_vm *vm);
/* Forgets the runtime threads still parked, at shutdown (workers stopped). */
void pl_sched_drop_parked(pl_runtime *rt);

#endif
