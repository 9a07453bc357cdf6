/*
 * Parking runtime threads on synchronisation objects (the sync library's
 * Mutex, Semaphore, Event, Queue, Barrier...).
 *
 * A blocking call parks the calling runtime thread: the thread's waiter
 * goes on the object's FIFO wait list, the coroutine yields (with a
 * continuation), and the OS thread goes on running other VMs. Nothing
 * ever blocks a worker or the serial thread. A waker (any thread, any VM)
 * takes the first waiter off the list, hands it what it waited for
 * (`granted`, `value`, `payload`) and wakes it: the waiter goes on its VM's
 * woken list and the VM is marked for the phase the thread blocked in, so
 * it resumes in that phase. The continuation then reads the grant.
 *
 * Exactly-once waking: a waiter can be woken by a grant or by its timeout
 * timer. Both try one compare-and-swap of `woken` from 0 to 1; only the
 * winner puts the thread on the woken list. A waiter woken by its timer can
 * still be granted before its continuation runs (the grant is then kept:
 * the thread got the lock/item/event, and says so); a continuation that
 * finds itself neither granted nor taken off the list removes itself, so
 * nothing is ever handed to a thread that has stopped waiting.
 *
 * Locks and their order: an object's lock, then a VM's wake_lock; the
 * timer lock, then a wake_lock; pl_sched_mark may be called under either
 * (it takes no lock, or a worker queue's lock, which is a leaf). The
 * runtime's parked_lock is taken alone. Waking happens entirely under the
 * object's lock (timers: under timer_lock), so whoever holds that lock sees
 * a waiter either on the object's list or already on a woken list, never
 * in between: cancelling a parked thread relies on it.
 */
#ifndef PL_PARK_H
#define PL_PARK_H

#include <lua.h>
#include <stddef.h>
#include <stdio.h>
#include <uv.h>

#include "engine/vm.h"
#include "engine/waiter.h"

/* Makes obj's waiting part; the id comes from a process-wide counter. */
void pl_waitobj_init(pl_waitobj *obj, const pl_wait_ops *ops);
void pl_waitobj_destroy(pl_waitobj *obj);

/* Raises unless the running code may park (a runtime thread, not inside a
 * metamethod or C call that cannot yield); names fn in the message. Call
 * it before changing anything. */
void pl_park_check(lua_State *L, const char *fn);

/* The waiter of the calling runtime thread, reset for a new wait (adopts a
 * user coroutine as pl_rthread_current does). Raises when out of memory,
 * so call it before taking obj's lock. */
pl_waiter *pl_park_prepare(lua_State *L, pl_waitobj *obj, int kind);

/* The same, called with obj->lock held after a first look found it must
 * wait: releases the lock, checks that the caller may park (fn names it)
 * and prepares. The caller then takes the lock and looks again. */
pl_waiter *pl_park_prepare_unlocking(lua_State *L, pl_waitobj *obj, int kind, const char *fn);

/* Parks the calling thread: call with obj->lock held, after deciding to
 * wait; appends w to obj's wait list and releases the lock. timeout: < 0
 * waits forever; else the seconds after which the thread wakes ungranted.
 * Returns what the C function must return (lua_yieldk with k and ctx). */
int pl_park(lua_State *L, pl_waiter *w, double timeout, lua_KContext ctx, lua_KFunction k);

/* What a wait came to, for the continuation. */
typedef struct pl_wait_outcome {
    int waited;      /* 1: the wait ended here; 0: it was ended from outside (task.cancel,
                        coroutine.close, its actor destroyed), which undid any grant */
    int granted;     /* a waker handed it something (else its timeout expired) */
    long long value; /* what was handed over (pl_waiter.value) */
    void *payload;   /* what was handed over or still owned (pl_waiter.payload): the
                        continuation's now */
} pl_wait_outcome;

/* In the continuation k: ends the running thread's wait (timer disarmed,
 * off every list) and says how it ended. When user code resumed the
 * coroutine rather than the runtime (coroutine.resume of a parked
 * coroutine), the runtime lets go of it here: it is the user's again, and
 * the runtime will not resume it a second time. */
pl_wait_outcome pl_park_end(lua_State *L);

/* With w->on->lock held: takes w off the wait list, records the grant and
 * wakes its thread. */
void pl_wake(pl_waiter *w);
/* With obj->lock held: the first waiter, or NULL. */
pl_waiter *pl_waiter_first(pl_waitobj *obj);

/* The VM's owner, at the start of a run: moves woken threads to their
 * ready queues. */
void pl_park_take_woken(pl_vm *vm);
/* The timer lock is held: the timer of parked thread th expired. */
void pl_park_timeout(pl_rthread *th);
/* The VM's owner: stops th's wait (task.cancel), undoing a grant it did
 * not get to see. */
void pl_park_cancel(pl_rthread *th);

/* Serial thread, nothing else running: the number of parked threads, and
 * the deadlock report (one line per parked thread) on f. */
int pl_park_count(pl_runtime *rt);
void pl_park_report(pl_runtime *rt, FILE *f);
/* For a holder description: "main (itself waiting at a.lua:3)", naming the
 * VM and, when the holding coroutine co is parked, where. */
void pl_park_describe(pl_vm *vm, lua_State *co, char *buf, size_t size);
/* The VM's owner, vm killed or ending (its state still open): ends the
 * waits of vm's parked threads, undoing grants they did not see, and frees
 * their records; close: closes their coroutines first (task.cancel). */
void pl_park_drop_vm(pl_vm *vm, int close);
/* The VM's owner (serial phase): ends the waits of vm's parked threads
 * whose Script stopped (pl_rthread.script_gen), as pl_park_drop_vm does;
 * those already woken stay on their ready queue for the caller. */
void pl_park_drop_stale(pl_vm *vm);
/* At shutdown (workers stopped, VMs still open): forgets every parked
 * thread. */
void pl_park_drop_all(pl_runtime *rt);

#endif
