/*
 * The scheduler: frames, phases, ready queues, timers, Heartbeat, and the
 * killing of actor VMs (the runtime's life is in src/runtime.c).
 *
 * Scheduling a VM for a phase (pl_sched_mark) sets vm->scheduled[phase]
 * with an atomic exchange; only the caller that flips it from 0 to 1 queues
 * the VM, so a VM is never queued twice for one phase. Serial work goes to
 * the pending[PL_SERIAL] stack, taken whole at the start of the next serial
 * phase. Parallel work found during the serial phase goes to the
 * pending[PL_PARALLEL] stack; parallel work found by a worker during the
 * parallel phase (a message to an idle actor, say) is submitted to the pool
 * at once, so it runs in the same phase instead of a frame later.
 *
 * When a VM's run ends, it clears its flag and then looks at its mailbox
 * once more. A sender posts and then exchanges the flag. Both sides put a
 * seq_cst fence between their write and their read, so at least one of them
 * sees the other: either the run sees the message and goes on, or the sender
 * sees the flag cleared and queues the VM. No message is left behind.
 */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/sched.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include "core/list.h"
#include "engine/lthread.h"
#include "engine/park.h"
#include "engine/proxy.h"
#include "engine/runtime.h"
#include "engine/vmpool.h"

double pl_now(pl_runtime *rt)
{
    return (double)(uv_hrtime() - rt->t0) / 1e9;
}

/* ---- ready queues (touched by the VM's owner only) ---- */

static void rq_push(pl_rqueue *q, pl_rthread *th)
{
    pl_assert(th->state == PL_RT_READY && !th->prev && !th->next && q->head != th);
    th->next = NULL;
    th->prev = q->tail;
    if (q->tail)
        q->tail->next = th;
    else
        q->head = th;
    q->tail = th;
}

static void rq_remove(pl_rqueue *q, pl_rthread *th)
{
    pl_assert(th->prev ? th->prev->next == th : q->head == th);
    pl_assert(th->next ? th->next->prev == th : q->tail == th);
    if (th->prev)
        th->prev->next = th->next;
    else
        q->head = th->next;
    if (th->next)
        th->next->prev = th->prev;
    else
        q->tail = th->prev;
    th->prev = th->next = NULL;
}

static pl_rthread *rq_pop(pl_rqueue *q)
{
    pl_rthread *th = q->head;
    if (th) rq_remove(q, th);
    return th;
}

pl_rthread *pl_sched_next_ready(pl_vm *vm, int phase)
{
    return rq_pop(&vm->ready[phase]);
}

/* ---- waking the serial thread (pl_sched_idle) ----
 *
 * Lthreads run while the serial thread sleeps between frames, and what
 * they do can give it work: a message or a woken thread for the next
 * frame, a timer earlier than the one it sleeps for, the last lthread
 * ending. The sleeper sets serial_sleeping and then looks for work once
 * more; a waker publishes its work and then reads serial_sleeping. Both
 * fence (seq_cst) between the write and the read, so at least one sees
 * the other: the sleeper finds the work, or the waker writes the eventfd
 * and the sleeper's poll returns. */
void pl_sched_wake(pl_runtime *rt)
{
    atomic_thread_fence(memory_order_seq_cst);
    /* relaxed: ordered by the fence above (see the comment above) */
    if (atomic_load_explicit(&rt->serial_sleeping, memory_order_relaxed) && rt->wake_fd >= 0) {
        uint64_t one = 1;
        ssize_t rc = write(rt->wake_fd, &one, sizeof one); /* async-signal-safe */
        (void)rc; /* a full counter already wakes the sleeper */
    }
}

/* ---- marking VMs for a phase ---- */

/* Set while this thread runs an actor VM in the parallel phase: parallel
 * work it finds joins the phase. A worker running an lthread is outside
 * the phases (in_lthread_run), so what it finds waits for the next frame,
 * and may have to wake the sleeping serial thread. */
static _Thread_local int in_parallel_phase, in_lthread_run;

static void push_pending(pl_runtime *rt, pl_vm *vm, int phase)
{
    pl_vm *head = atomic_load_explicit(&rt->pending[phase], memory_order_relaxed);
    do {
        vm->pending_next[phase] = head;
        /* release: the VM's link (and the work that caused the mark) is
         * visible to the serial thread that takes the stack (acquire). */
    } while (!atomic_compare_exchange_weak_explicit(&rt->pending[phase], &head, vm,
                                                    memory_order_release, memory_order_relaxed));
    /* Only an lthread runs while the serial thread sleeps: its finds wake
     * it (the serial thread and a phase's workers need no fence for that) */
    if (in_lthread_run) pl_sched_wake(rt);
}

/* Takes the whole stack, oldest first. */
static pl_vm *take_pending(pl_runtime *rt, int phase)
{
    pl_vm *vm = atomic_exchange_explicit(&rt->pending[phase], NULL, memory_order_acquire);
    pl_vm *fifo = NULL;
    while (vm) {
        pl_vm *next = vm->pending_next[phase];
        vm->pending_next[phase] = fifo;
        fifo = vm;
        vm = next;
    }
    return fifo;
}

void pl_sched_mark(pl_vm *vm, int phase)
{
    pl_assert(phase == PL_SERIAL || phase == PL_PARALLEL);
    pl_runtime *rt = vm->runtime;
    /* seq_cst fence: orders the caller's post (mailbox, ready queue) before
     * reading the flag; pairs with the fence in run_vm (see top). */
    atomic_thread_fence(memory_order_seq_cst);
    if (vm->kind == PL_VM_LTHREAD) { /* one flag; it runs beside the phases */
        if (atomic_exchange(&vm->scheduled[PL_PARALLEL], 1) != 0) return;
        /* seq_cst: counted before it can run (and end, counting down) */
        atomic_fetch_add(&rt->lthreads_active, 1);
        pl_pool_submit_background(rt->pool, &vm->pool_item);
        pl_lthread_poke(rt, 0); /* lthreads take turns */
        return;
    }
    if (atomic_exchange(&vm->scheduled[phase], 1) != 0) return;
    if (phase == PL_PARALLEL && in_parallel_phase) {
        pl_pool_submit(rt->pool, &vm->pool_item);
        pl_lthread_poke(rt, 0); /* the phase needs a worker an lthread holds */
    } else {
        push_pending(rt, vm, phase);
    }
}

void pl_sched_enqueue(pl_vm *vm, pl_rthread *th)
{
    th->state = PL_RT_READY;
    rq_push(&vm->ready[th->phase], th);
}

void pl_sched_unqueue(pl_vm *vm, pl_rthread *th)
{
    if (th->wait.active) pl_park_cancel(th); /* parked, or woken and not yet resumed */
    if (th->state == PL_RT_WOKEN) {          /* its timer fired (lthread VMs) */
        uv_mutex_lock(&vm->wake_lock);
        if (pl_list_linked(&th->wait.woken_link)) {
            pl_list_remove(&th->wait.woken_link);
            atomic_fetch_sub_explicit(&vm->nwoken, 1, memory_order_relaxed); /* a hint */
        }
        uv_mutex_unlock(&vm->wake_lock);
    } else if (th->state == PL_RT_READY) {
        rq_remove(&vm->ready[th->phase], th);
    } else if (th->state == PL_RT_TIMER) {
        uv_mutex_lock(&vm->runtime->timer_lock);
        pl_timerheap_remove(&vm->runtime->timers, &th->timer);
        vm->ntimers--;
        uv_mutex_unlock(&vm->runtime->timer_lock);
    }
    th->state = PL_RT_RUNNING;
}

void pl_sched_ready(pl_vm *vm, pl_rthread *th, int phase)
{
    pl_sched_unqueue(vm, th);
    th->phase = phase;
    pl_sched_enqueue(vm, th);
    pl_sched_mark(vm, phase);
}

int pl_sched_timer(pl_vm *vm, pl_rthread *th, double delay, int phase)
{
    pl_runtime *rt = vm->runtime;
    pl_sched_unqueue(vm, th);
    th->phase = phase;
    if (pl_vm_dead(vm)) { /* it never runs again: park it where the reaper frees it */
        pl_sched_enqueue(vm, th);
        return 0;
    }
    th->wait_start = pl_now(rt);
    /* A delay past PL_TIME_FOREVER (task.wait(math.huge), the park-forever
     * idiom) never fires: its deadline is +inf, which next_timer ignores, so
     * it neither keeps the runtime alive nor reaches a nanosecond clock. */
    if (!(delay > 0))
        delay = 0; /* NaN too */
    else if (delay >= PL_TIME_FOREVER)
        delay = INFINITY;
    th->timer.when = th->wait_start + delay;
    uv_mutex_lock(&rt->timer_lock);
    int rc = pl_timerheap_push(&rt->timers, &th->timer);
    if (rc == 0) vm->ntimers++;
    uv_mutex_unlock(&rt->timer_lock);
    if (rc == 0) th->state = PL_RT_TIMER;
    if (vm->kind == PL_VM_LTHREAD) pl_sched_wake(rt); /* it may sleep past this deadline */
    return rc;
}

/* A timer of an lthread VM fired: its worker alone touches its ready
 * queues, so the thread goes on the VM's woken list, which the next step
 * takes (pl_park_take_woken). Timer lock held; lock order: timer_lock,
 * then a wake_lock. */
static void wake_from_timer(pl_vm *vm, pl_rthread *th)
{
    pl_list_init(&th->wait.woken_link);
    th->state = PL_RT_WOKEN;
    uv_mutex_lock(&vm->wake_lock);
    pl_list_push_back(&vm->woken, &th->wait.woken_link);
    atomic_fetch_add_explicit(&vm->nwoken, 1, memory_order_relaxed); /* a hint; mark fences */
    uv_mutex_unlock(&vm->wake_lock);
}

/* Between phases, on the serial thread: due timers make their threads ready. */
void pl_sched_fire_timers(pl_runtime *rt, double now)
{
    uv_mutex_lock(&rt->timer_lock);
    pl_timer *t;
    while ((t = pl_timerheap_peek(&rt->timers)) && t->when <= now) {
        pl_timerheap_pop(&rt->timers);
        pl_rthread *th = pl_container_of(t, pl_rthread, timer);
        if (th->wait.active) { /* a sync wait's timeout (parked, or woken and queued) */
            pl_park_timeout(th);
            continue;
        }
        pl_vm *vm = th->ctx.vm;
        vm->ntimers--;
        if (vm->kind == PL_VM_LTHREAD)
            wake_from_timer(vm, th);
        else
            pl_sched_enqueue(vm, th); /* between phases the serial thread owns the VM */
        pl_sched_mark(vm, th->phase); /* takes no lock but a pool queue's: lock order holds */
    }
    uv_mutex_unlock(&rt->timer_lock);
}

/* ---- Heartbeat bookkeeping ---- */

void pl_heartbeat_count(pl_vm *vm, int phase, int delta)
{
    pl_runtime *rt = vm->runtime;
    if (pl_vm_dead(vm)) return; /* pl_vm_kill took it off the list for good */
    uv_mutex_lock(&rt->heartbeat_lock);
    int before = vm->heartbeat_count[0] + vm->heartbeat_count[1];
    vm->heartbeat_count[phase] += delta;
    int after = vm->heartbeat_count[0] + vm->heartbeat_count[1];
    pl_assert(vm->heartbeat_count[phase] >= 0);
    if (before == 0 && after > 0)
        pl_list_push_back(&rt->heartbeat_vms, &vm->heartbeat_link);
    else if (before > 0 && after == 0)
        pl_list_remove(&vm->heartbeat_link);
    uv_mutex_unlock(&rt->heartbeat_lock);
}

static void due_heartbeats(pl_runtime *rt, double dt)
{
    uv_mutex_lock(&rt->heartbeat_lock);
    pl_list_each(it, &rt->heartbeat_vms)
    {
        pl_vm *vm = pl_container_of(it, pl_vm, heartbeat_link);
        vm->heartbeat_dt = dt;
        for (int p = 0; p < 2; p++) {
            if (vm->heartbeat_count[p] > 0) {
                vm->heartbeat_due[p] = 1;
                pl_sched_mark(vm, p);
            }
        }
    }
    uv_mutex_unlock(&rt->heartbeat_lock);
}

/* ---- running a VM in a phase ---- */

static void drain(pl_vm *vm, int phase)
{
    const pl_engine_hooks *hooks = &vm->runtime->hooks;
    for (;;) {
        if (pl_vm_dead(vm)) return; /* its Actor was destroyed by what just ran */
        pl_park_take_woken(vm);
        pl_rthread *th;
        /* Messages (and signals, which travel as messages) first: handlers
         * of what the last thread sent or fired run before the next thread
         * resumes, as Roblox runs deferred events at each yield. */
        if (pl_mailbox_ready(&vm->mailbox, phase)) {
            hooks->dispatch(vm, phase);
        } else if ((th = rq_pop(&vm->ready[phase]))) {
            pl_rthread_resume(th, NULL);
        } else if (vm->heartbeat_due[phase]) {
            vm->heartbeat_due[phase] = 0;
            hooks->heartbeat(vm, phase);
        } else if (vm->flush_mailbox) {
            hooks->flush(vm);
        } else {
            return;
        }
    }
}

/* ---- accounting a run (stats, trace, the long-run warning) ----
 *
 * A run is one thread holding one VM in one phase. Everything below writes
 * the VM's owner fields and the running thread's own stats, so it must
 * happen before the run lets the VM go (clears vm->scheduled): from then on
 * another worker may already be running it. That store (seq_cst, so also a
 * release) and the next owner's taking of the VM (the pool's queue lock, or
 * the exchange in pl_sched_mark) order these writes before its own. */

/* The clock of the stats and the long-run warning. With --stats or --trace
 * it is uv_hrtime (CLOCK_MONOTONIC, ~17 ns a read here); otherwise the
 * coarse monotonic clock (~4 ns a read, one tick every 1-4 ms), read two or
 * three times a frame and twice a run: the always-on counters then cost little
 * on the hottest paths (a message round trip is 2 runs). A coarse
 * duration is right to a tick, and a sum of many is unbiased (a run
 * shorter than a tick counts a tick with the probability of crossing one),
 * which is what parlua.stats() reports without --stats. */
static inline uint64_t stats_clock(const pl_runtime *rt)
{
#ifdef CLOCK_MONOTONIC_COARSE
    if (!rt->precise_clock) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    }
#endif
    return uv_hrtime();
}

typedef struct run_mark {
    uint64_t start; /* stats_clock */
    uint64_t sent, delivered;
} run_mark;

static const pl_trace_argnames run_args = {{"frame", "sent", "delivered"}};

/* A worker publishes the parallel run it is in, so that the serial thread,
 * waiting for the phase, can warn about a run that has not ended yet (an
 * endless loop would otherwise never be reported). run_vm is stored with
 * release before run_start (release): a reader that acquires run_start sees
 * that run's VM. Ending a run stores run_start = 0 before the next run's
 * run_vm (release), so a reader that acquires run_vm and then still finds
 * the same run_start has read a consistent pair (see running_vm). */
static void publish_run(pl_thread_stats *ts, pl_vm *vm, uint64_t start)
{
    atomic_store_explicit(&ts->run_vm, vm, memory_order_release);
    atomic_store_explicit(&ts->run_start, start, memory_order_release);
}

/* The VM of the parallel run that thread slot ts is in and its start, or
 * NULL. The VM stays valid during the phase: VMs are freed only between
 * frames, on the serial thread. */
static pl_vm *running_vm(pl_thread_stats *ts, uint64_t *start)
{
    *start = atomic_load_explicit(&ts->run_start, memory_order_acquire);
    if (!*start) return NULL;
    pl_vm *vm = atomic_load_explicit(&ts->run_vm, memory_order_acquire);
    if (atomic_load_explicit(&ts->run_start, memory_order_acquire) != *start) return NULL;
    return vm;
}

static void run_begin(pl_vm *vm, int phase, int thread, run_mark *m)
{
    pl_runtime *rt = vm->runtime;
    vm->phase = phase;
    if (rt->trace) vm->tbuf = pl_trace_buf_at(rt->trace, thread);
    m->sent = vm->stats.sent;
    m->delivered = vm->stats.delivered;
    m->start = stats_clock(rt);
    /* the long-run watch is about frames: an lthread runs beside them */
    if (phase == PL_PARALLEL && vm->kind != PL_VM_LTHREAD)
        publish_run(&rt->threads[thread], vm, m->start | 1); /* never 0 */
}

/* verb: "ran" for a run that ended, "has run" for one still running */
static void warn_long_run(pl_vm *vm, uint64_t ns, const char *verb)
{
    pl_runtime *rt = vm->runtime;
    char *name = pl_vm_name(vm);
    uv_mutex_lock(&rt->error_lock); /* keeps the line apart from error reports */
    fprintf(stderr,
            "parlua: warning: %s %s %.0f ms in one parallel run (budget %.0f ms): a long "
            "parallel run blocks the frame; split the work (task.wait() between pieces, or "
            "more actors)\n",
            name ? name : "an actor", verb, (double)ns / 1e6, (double)rt->long_run_ns / 1e6);
    uv_mutex_unlock(&rt->error_lock);
    free(name);
}

/* With --fps, one line per actor, at its first long run (while it
 * runs, or when it ends); without, one summary line at exit
 * (report_long_runs). The exchange makes it once per actor whichever thread
 * sees it first, the owner or the serial thread. */
static void note_long_run(pl_vm *vm, uint64_t ns, const char *verb)
{
    pl_runtime *rt = vm->runtime;
    if (atomic_exchange(&vm->stats.long_run_warned, 1) != 0) return;
    if (rt->config.fps > 0)
        warn_long_run(vm, ns, verb);
    else
        atomic_fetch_add(&rt->long_run_actors, 1);
}

static void run_end(pl_vm *vm, int phase, int thread, const run_mark *m)
{
    pl_runtime *rt = vm->runtime;
    uint64_t end = stats_clock(rt), ns = end - m->start;
    uint64_t sent = vm->stats.sent - m->sent, delivered = vm->stats.delivered - m->delivered;
    pl_thread_stats *ts = &rt->threads[thread];
    int lthread = vm->kind == PL_VM_LTHREAD;
    if (phase == PL_PARALLEL && !lthread)
        atomic_store_explicit(&ts->run_start, 0, memory_order_relaxed);
    if (lthread) { /* apart: they run outside the phases too (relaxed: counters) */
        atomic_fetch_add_explicit(&ts->lthread_ns, ns, memory_order_relaxed);
        atomic_fetch_add_explicit(&ts->lthread_runs, 1, memory_order_relaxed);
        if (sent) atomic_fetch_add_explicit(&ts->lthread_sent, sent, memory_order_relaxed);
    } else {
        ts->busy_ns += ns;
        ts->runs++;
        ts->sent += sent;
        ts->delivered += delivered;
    }
    vm->stats.busy_ns[phase] += ns;
    vm->stats.runs[phase]++;
    if (phase == PL_PARALLEL && !lthread) {
        if (ns > vm->stats.longest_ns) vm->stats.longest_ns = ns;
        if (rt->long_run_ns && ns > rt->long_run_ns) {
            ts->long_runs++;
            if (vm->tbuf) pl_trace_instant(vm->tbuf, "long parallel run", 0, "warning");
            note_long_run(vm, ns, "ran");
        }
    }
    if (vm->tbuf) {
        pl_trace_event *e = pl_trace_span(vm->tbuf, vm, PL_TRACE_SUBJECT,
                                          lthread                ? "lthread"
                                          : phase == PL_PARALLEL ? "parallel"
                                                                 : "serial",
                                          m->start - rt->t0, end - rt->t0);
        if (e) {
            e->argnames = &run_args;
            e->args[0] = (uint32_t)rt->frame;
            e->args[1] = (uint32_t)sent;
            e->args[2] = (uint32_t)delivered;
        }
        /* between runs the VM belongs to the serial thread */
        vm->tbuf = pl_trace_buf_at(rt->trace, 0);
    }
    vm->phase = PL_SERIAL;
}

int pl_sched_run_now(pl_vm *vm, pl_rthread *th)
{
    run_mark m;
    run_begin(vm, PL_SERIAL, 0, &m);
    int died = pl_rthread_resume(th, NULL);
    run_end(vm, PL_SERIAL, 0, &m);
    return died;
}

/* thread: 0 for the serial thread, 1 + w for worker w */
static void run_vm(pl_vm *vm, int phase, int thread)
{
    for (;;) {
        if (pl_vm_dead(vm)) {
            /* A killed VM keeps its flag set, so nothing queues it again;
             * this was one of the queue entries it still owed. release:
             * our last accesses to it happen before the reaper frees it
             * (acquire in reap_dead_vms). */
            atomic_fetch_sub_explicit(&vm->queued, 1, memory_order_release);
            return;
        }
        /* whoever runs a VM flipped its flag from 0 to 1: it owns the VM now */
        pl_assert(atomic_load_explicit(&vm->scheduled[phase], memory_order_relaxed) == 1);
        run_mark m;
        run_begin(vm, phase, thread, &m);
        drain(vm, phase);
        run_end(vm, phase, thread, &m);
        if (pl_vm_dead(vm)) continue; /* killed while running: it owes this run */
        atomic_store(&vm->scheduled[phase], 0);
        /* seq_cst fence: see the top of this file */
        atomic_thread_fence(memory_order_seq_cst);
        /* relaxed: the fence above orders it (woken threads mark the VM) */
        if (!pl_mailbox_ready(&vm->mailbox, phase) &&
            atomic_load_explicit(&vm->nwoken, memory_order_relaxed) == 0)
            break;
        if (phase == PL_SERIAL) {
            /* serial messages that came meanwhile wait for the next frame */
            pl_sched_mark(vm, phase);
            break;
        }
        if (atomic_exchange(&vm->scheduled[phase], 1) != 0) break; /* a sender queued it */
    }
}

/* An lthread VM stopped running on this worker: one fewer active; the
 * last one wakes the serial thread, which may now end or report a
 * deadlock. seq_cst: after everything the run published. */
static void lthread_left(pl_runtime *rt)
{
    if (atomic_fetch_sub(&rt->lthreads_active, 1) == 1) pl_sched_wake(rt);
}

/* A worker runs an lthread VM (it owns it while its flag is set): steps
 * until it is idle, gives the worker up after its time slice, or ends. */
static void run_lthread(pl_vm *vm, int thread)
{
    pl_runtime *rt = vm->runtime;
    pl_thread_stats *ts = &rt->threads[thread];
    for (;;) {
        run_mark m;
        run_begin(vm, PL_PARALLEL, thread, &m);
        int step = pl_lthread_step(vm, ts);
        run_end(vm, PL_PARALLEL, thread, &m);
        if (step == PL_LT_STEP_FINISHED) {
            pl_lthread_finish(vm); /* frees it; its flag stays set for good */
            lthread_left(rt);
            return;
        }
        if (step == PL_LT_STEP_PREEMPTED) { /* to the back of the queue, still counted */
            pl_pool_submit_background(rt->pool, &vm->pool_item);
            pl_lthread_poke(rt, 0); /* and the other lthreads take their turn too */
            return;
        }
        atomic_store(&vm->scheduled[PL_PARALLEL], 0);
        /* seq_cst fence: pairs with pl_sched_mark's and pl_lthread_cancel's
         * (see the top of this file) */
        atomic_thread_fence(memory_order_seq_cst);
        /* relaxed: ordered by the fence */
        int more = atomic_load_explicit(&vm->nwoken, memory_order_relaxed) != 0 ||
                   atomic_load_explicit(&vm->lthread->cancel, memory_order_relaxed) ||
                   atomic_load_explicit(&rt->lthreads_stop, memory_order_relaxed);
        if (!more || atomic_exchange(&vm->scheduled[PL_PARALLEL], 1) != 0) {
            lthread_left(rt); /* idle, or whoever set the flag counted and queued it */
            return;
        }
    }
}

static void run_pool_item(void *ctx, pl_pool_item *item, int worker)
{
    pl_runtime *rt = ctx;
    if (item == &rt->prepare_item) {
        pl_vmpool_prepare(rt);
        return;
    }
    pl_vm *vm = pl_container_of(item, pl_vm, pool_item);
    if (vm->kind == PL_VM_LTHREAD) {
        pl_thread_stats *ts = &vm->runtime->threads[1 + worker];
        if (!atomic_load_explicit(&ts->tid, memory_order_relaxed)) /* once: who to poke */
            atomic_store_explicit(&ts->tid, (unsigned long)pthread_self(), memory_order_relaxed);
        in_lthread_run = 1;
        run_lthread(vm, 1 + worker);
        in_lthread_run = 0;
        return;
    }
    in_parallel_phase = 1;
    run_vm(vm, PL_PARALLEL, 1 + worker);
    in_parallel_phase = 0;
}

int pl_sched_init(pl_runtime *rt)
{
    rt->pool = pl_pool_new(rt->config.workers, run_pool_item, rt);
    return rt->pool ? PL_OK : PL_ENOMEM;
}

void pl_sched_free(pl_runtime *rt)
{
    pl_pool_free(rt->pool);
    rt->pool = NULL;
}

/* On the serial thread during the parallel phase: warns about runs that are
 * over the budget and still running. */
static void watch_long_runs(pl_runtime *rt)
{
    if (!rt->long_run_ns) return;
    uint64_t now = stats_clock(rt), start;
    for (int i = 1; i <= rt->config.workers; i++) {
        pl_vm *vm = running_vm(&rt->threads[i], &start);
        if (vm && now > start && now - start > rt->long_run_ns)
            note_long_run(vm, now - start, "has run");
    }
}

/* After an interrupt, says which actors keep the frame from ending. */
static void report_still_running(pl_runtime *rt)
{
    uint64_t now = stats_clock(rt), start;
    for (int i = 1; i <= rt->config.workers; i++) {
        pl_vm *vm = running_vm(&rt->threads[i], &start);
        if (!vm) continue;
        char *name = pl_vm_name(vm);
        uv_mutex_lock(&rt->error_lock);
        fprintf(stderr,
                "parlua: interrupted: waiting for %s to end its parallel run (%.0f ms so far); "
                "signal again to end at once\n",
                name ? name : "an actor", now > start ? (double)(now - start) / 1e6 : 0.0);
        uv_mutex_unlock(&rt->error_lock);
        free(name);
    }
}

/* Waits for the parallel phase to end, looking at the runs in progress now
 * and then (a long phase only costs a wake-up every poll). */
static void wait_parallel(pl_runtime *rt)
{
    uint64_t poll = rt->long_run_ns ? rt->long_run_ns / 4 : 100000000u;
    if (poll < 1000000u) poll = 1000000u;
    if (poll > 100000000u) poll = 100000000u;
    int told = 0;
    while (!pl_pool_wait_idle_for(rt->pool, poll)) {
        /* a backstop: lthreads still holding workers give way, whatever
         * became of the pokes sent when the phase started */
        pl_lthread_poke(rt, 1);
        if (rt->config.fps > 0) watch_long_runs(rt);
        if (!told && atomic_load(&rt->interrupted)) {
            told = 1;
            report_still_running(rt);
        }
    }
}

static const pl_trace_argnames frame_args = {{"frame", NULL, NULL}};
static const pl_trace_argnames phase_args = {{"frame", "actors", NULL}};
static const pl_trace_argnames message_args = {{"sent", "delivered", NULL}};

/* Spans of the frame and its phases, and the frame's message counts, on
 * the serial thread's track (workers idle: their counts are settled). */
static void trace_frame(pl_runtime *rt, uint64_t t0, uint64_t t1, uint64_t t2, uint32_t nserial,
                        uint32_t nparallel)
{
    pl_trace_buf *b = pl_trace_buf_at(rt->trace, 0);
    uint32_t frame = (uint32_t)rt->frame;
    pl_trace_event *e = pl_trace_span(b, "frame", 0, "frame", t0 - rt->t0, t2 - rt->t0);
    if (e) {
        e->argnames = &frame_args;
        e->args[0] = frame;
    }
    e = pl_trace_span(b, "serial phase", 0, "phase", t0 - rt->t0, t1 - rt->t0);
    if (e) {
        e->argnames = &phase_args;
        e->args[0] = frame;
        e->args[1] = nserial;
    }
    if (nparallel) {
        e = pl_trace_span(b, "parallel phase", 0, "phase", t1 - rt->t0, t2 - rt->t0);
        if (e) {
            e->argnames = &phase_args;
            e->args[0] = frame;
            e->args[1] = nparallel; /* submitted at the start; more may join */
        }
    }
    uint64_t sent = 0, delivered = 0;
    for (int i = 0; i <= rt->config.workers; i++) {
        /* relaxed: a counter (lthreads send outside the phases too) */
        sent += rt->threads[i].sent +
                atomic_load_explicit(&rt->threads[i].lthread_sent, memory_order_relaxed);
        delivered += rt->threads[i].delivered;
    }
    if (sent != rt->frame_sent || delivered != rt->frame_delivered)
        pl_trace_counter(b, "messages", &message_args, (uint32_t)(sent - rt->frame_sent),
                         (uint32_t)(delivered - rt->frame_delivered), 0);
    rt->frame_sent = sent;
    rt->frame_delivered = delivered;
}

/* ---- killing actor VMs (their Actor was destroyed) ---- */

static int timer_of_vm(void *ud, pl_timer *t)
{
    pl_rthread *th = pl_container_of(t, pl_rthread, timer);
    if (th->ctx.vm != ud || th->wait.active) return 0; /* a sync wait's timer is park.c's */
    pl_sched_enqueue(th->ctx.vm, th); /* the reaper frees the threads on the ready queues */
    return 1;
}

/* Closes the coroutines of the threads on vm's ready queues (those there
 * now: a __close that queues more leaves them to the reaper). */
static void close_queued(pl_vm *vm)
{
    size_t n = 0;
    for (int p = 0; p < 2; p++)
        for (pl_rthread *th = vm->ready[p].head; th; th = th->next)
            n++;
    for (int p = 0; p < 2 && n; p++) {
        pl_rthread *th;
        while (n && (th = rq_pop(&vm->ready[p]))) {
            n--;
            th->state = PL_RT_RUNNING;
            pl_rthread_close(th);
        }
    }
}

void pl_vm_kill(pl_vm *vm)
{
    pl_runtime *rt = vm->runtime;
    if (vm == &rt->main || pl_vm_dead(vm)) return;
    atomic_store_explicit(&vm->dead, 1, memory_order_relaxed); /* see pl_vm_dead */
    /* Setting both flags for good keeps the VM out of every queue from now
     * on; each flag that was set already stands for one queue entry (or the
     * run in progress) that run_vm will still pass through. */
    int queued = 0;
    for (int p = 0; p < 2; p++)
        queued += atomic_exchange(&vm->scheduled[p], 1) != 0;
    atomic_store_explicit(&vm->queued, queued, memory_order_relaxed); /* serial phase: no runner */
    /* first: a parked thread's timeout timer is its own (park.c). Its
     * threads are cancelled as task.cancel does: their <close> variables
     * run now (a lock they hold is released), in its still open state. */
    pl_park_drop_vm(vm, vm->L != NULL);
    uv_mutex_lock(&rt->timer_lock);
    if (vm->ntimers) pl_timerheap_remove_if(&rt->timers, timer_of_vm, vm); /* O(all timers) */
    vm->ntimers = 0;
    uv_mutex_unlock(&rt->timer_lock);
    if (vm->L) close_queued(vm);
    uv_mutex_lock(&rt->heartbeat_lock);
    if (pl_list_linked(&vm->heartbeat_link)) pl_list_remove(&vm->heartbeat_link);
    vm->heartbeat_count[0] = vm->heartbeat_count[1] = 0;
    vm->heartbeat_due[0] = vm->heartbeat_due[1] = 0;
    uv_mutex_unlock(&rt->heartbeat_lock);
    pl_mailbox_drop_all(&vm->mailbox); /* SendMessage drops later ones (actor.c) */
    if (!vm->holds_actor) {            /* the reaper, not the Actor, frees this VM now */
        pl_shared_retain(&vm->actor->base);
        vm->holds_actor = 1;
    }
    vm->dying_next = rt->dying;
    rt->dying = vm;
}

/* ---- stopping the threads of Scripts that stopped (Destroy, Enabled) ---- */

static int stale(const pl_rthread *th)
{
    return th->script && th->script_gen != th->script->run_gen;
}

static int stale_timer_of_vm(void *ud, pl_timer *t)
{
    pl_rthread *th = pl_container_of(t, pl_rthread, timer);
    if (th->ctx.vm != ud || th->wait.active || !stale(th)) return 0;
    th->ctx.vm->ntimers--;
    th->state = PL_RT_READY; /* collected on the ready queue, freed below */
    rq_push(&th->ctx.vm->ready[th->phase], th);
    return 1;
}

void pl_vm_stop_stale(pl_vm *vm)
{
    pl_runtime *rt = vm->runtime;
    if (pl_vm_dead(vm) || !vm->L) return;
    pl_park_drop_stale(vm); /* first: a parked thread's timeout timer is its own */
    pl_park_take_woken(vm);
    uv_mutex_lock(&rt->timer_lock);
    if (vm->ntimers) pl_timerheap_remove_if(&rt->timers, stale_timer_of_vm, vm); /* O(timers) */
    uv_mutex_unlock(&rt->timer_lock);
    /* One at a time from the head: a __close that runs may queue or
     * stop other threads. */
    for (int p = 0; p < 2; p++) {
        for (;;) {
            pl_rthread *th = vm->ready[p].head;
            while (th && !stale(th))
                th = th->next;
            if (!th) break;
            rq_remove(&vm->ready[p], th);
            th->state = PL_RT_RUNNING;
            pl_rthread_close(th); /* cancelled: its <close> variables run */
        }
    }
}

/* Frees the records of vm's queued threads and its spare handler thread
 * (their coroutines go with the VM's state). */
static void forget_queued(pl_vm *vm)
{
    for (int p = 0; p < 2; p++) {
        pl_rthread *th;
        while ((th = rq_pop(&vm->ready[p]))) {
            pl_rthread_set_script(th, NULL);
            free(th);
        }
    }
    if (vm->spare) pl_rthread_set_script(vm->spare, NULL);
    free(vm->spare);
    vm->spare = NULL;
}

void pl_sched_forget_threads(pl_vm *vm)
{
    pl_runtime *rt = vm->runtime;
    pl_park_drop_vm(vm, 0); /* first: a parked thread's timeout timer is its own */
    uv_mutex_lock(&rt->timer_lock);
    if (vm->ntimers) pl_timerheap_remove_if(&rt->timers, timer_of_vm, vm);
    vm->ntimers = 0;
    uv_mutex_unlock(&rt->timer_lock);
    pl_park_take_woken(vm); /* threads whose timers fired */
    forget_queued(vm);
}

/* Frees a killed VM that no queue holds (serial thread, between phases). */
static void free_dead_vm(pl_runtime *rt, pl_vm *vm)
{
    pl_vm_close(vm); /* finalizers may run here, and kill other VMs */
    forget_queued(vm);
    pl_mailbox_drop_all(&vm->mailbox);
    pl_vm_unregister(vm);
    pl_instance *actor = vm->actor;
    actor->vm = NULL;
    actor->free_vm = NULL;
    if (rt->trace) { /* the trace names its events by this VM at exit */
        vm->all_next = rt->zombies;
        rt->zombies = vm;
        return;
    }
    pl_vm_destroy(vm);
    free(vm);
    pl_shared_release(&actor->base);
}

/* ---- unreachable actors (SPEC 2.1) ----
 *
 * An Actor out of the tree that no one else refers to, whose VM has
 * nothing to run, is as good as destroyed: nothing can ever send it a
 * message or wake its threads, and the VM's own reference to its Actor
 * (holds_actor) would keep both alive until exit. Between phases the serial
 * thread looks at a few actor VMs each frame, round robin, and kills those:
 * - the Actor has no parent, and every reference to it and to each of its
 *   descendants is one the VM itself holds (its proxy, its threads' and
 *   connections' Scripts: local_refs) or the tree's own (a parent's);
 * - the VM has no ready, timed, parked or woken thread, no message it
 *   could deliver, no Heartbeat connection, and is not queued.
 * Any other holder (another VM's proxy, a message in flight, a SharedTable,
 * a signal connection) keeps it: the test errs on the side of life. No
 * reference can appear from nowhere: gaining one takes holding one. */
#define SWEEP_PER_FRAME 32

static int only_local_refs(pl_instance *inst, lua_State *L, size_t held)
{
    size_t refs = atomic_load_explicit(&inst->base.refs, memory_order_acquire);
    /* relaxed: its writers (the VM's owner) are not running now */
    held += atomic_load_explicit(&inst->local_refs, memory_order_relaxed);
    if (refs != held + (size_t)pl_proxy_cached(L, &inst->base)) return 0;
    for (pl_instance *c = inst->first_child; c; c = c->next_sibling)
        if (!only_local_refs(c, L, 1)) return 0; /* 1: its parent's */
    return 1;
}

static int nothing_to_run(pl_vm *vm)
{
    pl_runtime *rt = vm->runtime;
    if (vm->ready[0].head || vm->ready[1].head) return 0;
    /* relaxed: hints and flags of a VM nobody runs now; a wake after this
     * look needs a holder of a reference, which the refcount test rules out */
    if (atomic_load_explicit(&vm->nwoken, memory_order_relaxed) ||
        atomic_load_explicit(&vm->scheduled[0], memory_order_relaxed) ||
        atomic_load_explicit(&vm->scheduled[1], memory_order_relaxed))
        return 0;
    if (pl_mailbox_ready(&vm->mailbox, PL_SERIAL) || pl_mailbox_ready(&vm->mailbox, PL_PARALLEL))
        return 0;
    uv_mutex_lock(&rt->timer_lock);
    int busy = vm->ntimers != 0;
    uv_mutex_unlock(&rt->timer_lock);
    uv_mutex_lock(&rt->heartbeat_lock);
    busy |= vm->heartbeat_count[0] + vm->heartbeat_count[1] != 0;
    uv_mutex_unlock(&rt->heartbeat_lock);
    uv_mutex_lock(&rt->parked_lock);
    busy |= vm->nparked != 0;
    uv_mutex_unlock(&rt->parked_lock);
    return !busy;
}

static void sweep_unreachable(pl_runtime *rt)
{
    pl_vm *batch[SWEEP_PER_FRAME];
    int n = 0;
    uv_mutex_lock(&rt->vms_lock);
    pl_vm *vm = rt->sweep_next ? rt->sweep_next : rt->all_vms;
    for (int seen = 0; vm && seen < SWEEP_PER_FRAME; seen++, vm = vm->all_next) {
        /* only this thread frees actor VMs, so the pointers stay valid */
        if (vm->kind == PL_VM_ACTOR && vm->L && vm->holds_actor && !pl_vm_dead(vm) &&
            !vm->actor->parent)
            batch[n++] = vm;
    }
    rt->sweep_next = vm; /* NULL: from the start next time */
    uv_mutex_unlock(&rt->vms_lock);
    for (int i = 0; i < n; i++) {
        vm = batch[i];
        if (nothing_to_run(vm) && only_local_refs(vm->actor, vm->L, 1 /* holds_actor */))
            pl_vm_kill(vm);
    }
}

static void reap_dead_vms(pl_runtime *rt)
{
    pl_vm **link = &rt->dying;
    while (*link) {
        pl_vm *vm = *link;
        /* acquire: pairs with the release in run_vm */
        if (atomic_load_explicit(&vm->queued, memory_order_acquire) != 0) {
            link = &vm->dying_next;
            continue;
        }
        *link = vm->dying_next;
        free_dead_vm(rt, vm); /* may push new dying VMs at rt->dying: seen on a later frame */
    }
}

void pl_sched_frame(pl_runtime *rt, double dt)
{
    uint64_t t0 = stats_clock(rt);
    pl_lthread_share_workers(rt);
    uint32_t nserial = 0, nparallel = 0;
    rt->frame++;
    sweep_unreachable(rt);
    reap_dead_vms(rt); /* before the graveyard: closing a VM releases instances */
    pl_graveyard_drain(&rt->graveyard);
    pl_sched_fire_timers(rt, pl_now(rt));
    due_heartbeats(rt, dt);
    for (pl_vm *vm = take_pending(rt, PL_SERIAL), *next; vm; vm = next) {
        next = vm->pending_next[PL_SERIAL];
        run_vm(vm, PL_SERIAL, 0);
        nserial++;
    }
    uint64_t t1 = stats_clock(rt);
    pl_vm *par = take_pending(rt, PL_PARALLEL);
    if (par) {
        /* one chain, submitted at once: one lock per queue and one wake-up
         * for the whole phase (its workers start on it while this thread
         * would still be submitting one by one) */
        for (pl_vm *vm = par; vm; vm = vm->pending_next[PL_PARALLEL]) {
            pl_vm *next = vm->pending_next[PL_PARALLEL];
            vm->pool_item.next = next ? &next->pool_item : NULL;
            nparallel++;
        }
        pl_pool_submit_chain(rt->pool, &par->pool_item, nparallel);
        pl_lthread_poke(rt, 0); /* lthreads holding workers give way after their slice */
        wait_parallel(rt);
    }
    uint64_t t2 = par ? stats_clock(rt) : t1;
    rt->serial_ns += t1 - t0;
    rt->parallel_ns += t2 - t1;
    rt->parallel_phases += par != NULL;
    if (rt->trace) trace_frame(rt, t0, t1, t2, nserial, nparallel);
    pl_report_repeats(rt); /* the frame's hidden error reports, summed up */
}

int pl_sched_has_work(pl_runtime *rt)
{
    if (atomic_load_explicit(&rt->pending[0], memory_order_relaxed) ||
        atomic_load_explicit(&rt->pending[1], memory_order_relaxed))
        return 1;
    uv_mutex_lock(&rt->heartbeat_lock);
    int hb = !pl_list_empty(&rt->heartbeat_vms);
    uv_mutex_unlock(&rt->heartbeat_lock);
    return hb;
}

/* The earliest timer's deadline, or -1 when there is none that can fire
 * (a timer at +inf, a thread parked forever, cannot). */
double pl_sched_next_timer(pl_runtime *rt)
{
    uv_mutex_lock(&rt->timer_lock);
    pl_timer *t = pl_timerheap_peek(&rt->timers);
    double when = t && t->when < INFINITY ? t->when : -1;
    uv_mutex_unlock(&rt->timer_lock);
    return when;
}

/* Whether the serial thread, about to sleep until `until` (< 0: no
 * deadline), has a reason not to: work for a frame (when it asked for
 * it), an earlier timer, a change in the lthreads running. */
static int idle_reason(pl_runtime *rt, double until, int lthreads, int wake_on_work)
{
    if (atomic_load(&rt->interrupted)) return 1;
    if (wake_on_work && pl_sched_has_work(rt)) return 1;
    if (atomic_load(&rt->lthreads_active) != lthreads) return 1;
    double next = pl_sched_next_timer(rt);
    return next >= 0 && (until < 0 || next < until);
}

/* While lthreads wait for a worker, the serial thread looks again this
 * often (pl_lthread_share_workers), however long it would sleep. */
#define SHARE_PERIOD 0.005

void pl_sched_idle(pl_runtime *rt, double until, int lthreads, int wake_on_work)
{
    uint64_t start = uv_hrtime();
    pl_lthread_share_workers(rt);
    if (lthreads && pl_pool_has_waiting(rt->pool)) {
        double cap = pl_now(rt) + SHARE_PERIOD;
        if (until < 0 || until > cap) until = cap;
    }
    /* seq_cst store, then the look: see pl_sched_wake */
    atomic_store(&rt->serial_sleeping, 1);
    atomic_thread_fence(memory_order_seq_cst);
    if (!idle_reason(rt, until, lthreads, wake_on_work)) {
        struct timespec ts, *timeout = NULL;
        if (until >= 0) {
            /* Saturate: (uint64_t) of a double past 2^64 is undefined (in
             * practice 0, which made a far deadline a busy loop). */
            uint64_t deadline = rt->t0 + pl_seconds_to_ns(until), now = uv_hrtime();
            uint64_t ns = deadline > now ? deadline - now : 0;
            ts.tv_sec = (time_t)(ns / 1000000000u);
            ts.tv_nsec = (long)(ns % 1000000000u);
            timeout = &ts;
        }
        struct pollfd pfd = {rt->wake_fd, POLLIN, 0};
        /* EINTR: a signal (SIGINT calls parlua_interrupt): the caller looks */
        (void)ppoll(&pfd, rt->wake_fd >= 0 ? 1 : 0, timeout, NULL);
    }
    atomic_store_explicit(&rt->serial_sleeping, 0, memory_order_relaxed); /* a hint to wakers */
    uint64_t drained;
    while (rt->wake_fd >= 0 && read(rt->wake_fd, &drained, sizeof drained) > 0) {
    }
    uint64_t end = uv_hrtime();
    rt->sleep_ns += end - start;
    if (rt->trace && end > start)
        pl_trace_span(pl_trace_buf_at(rt->trace, 0), "sleep", 0, "idle", start - rt->t0,
                      end - rt->t0);
}

/* Forgets the runtime threads still parked (their coroutines go with their VM). */
void pl_sched_drop_parked(pl_runtime *rt)
{
    pl_park_drop_all(rt); /* first: some of them are also in the timer heap */
    pl_timer *t;
    while ((t = pl_timerheap_pop(&rt->timers))) {
        pl_rthread *th = pl_container_of(t, pl_rthread, timer);
        pl_rthread_set_script(th, NULL);
        free(th);
    }
    for (pl_vm *vm = rt->all_vms; vm; vm = vm->all_next) {
        forget_queued(vm);
    }
}
