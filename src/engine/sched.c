/*
 * The scheduler: frames, phases, ready queues, timers, Heartbeat, and the
 * runtime's life (creation, running until idle, freeing).
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
#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/runtime.h"

#define container_of(p, type, field) ((type *)((char *)(p)-offsetof(type, field)))

double pl_now(pl_runtime *rt)
{
    return (double)(uv_hrtime() - rt->t0) / 1e9;
}

/* ---- ready queues (touched by the VM's owner only) ---- */

static void rq_push(pl_rqueue *q, pl_rthread *th)
{
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

/* ---- marking VMs for a phase ---- */

static void push_pending(pl_runtime *rt, pl_vm *vm, int phase)
{
    pl_vm *head = atomic_load_explicit(&rt->pending[phase], memory_order_relaxed);
    do {
        vm->pending_next[phase] = head;
        /* release: the VM's link (and the work that caused the mark) is
         * visible to the serial thread that takes the stack (acquire). */
    } while (!atomic_compare_exchange_weak_explicit(&rt->pending[phase], &head, vm,
                                                    memory_order_release, memory_order_relaxed));
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
    /* seq_cst fence: orders the caller's post (mailbox, ready queue) before
     * reading the flag; pairs with the fence in run_vm (see top). */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_exchange(&vm->scheduled[phase], 1) != 0) return;
    if (phase == PL_PARALLEL && pl_pool_on_worker(vm->runtime->pool))
        pl_pool_submit(vm->runtime->pool, &vm->pool_item);
    else
        push_pending(vm->runtime, vm, phase);
}

void pl_sched_unqueue(pl_vm *vm, pl_rthread *th)
{
    if (th->state == PL_RT_READY) {
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
    th->state = PL_RT_READY;
    th->phase = phase;
    rq_push(&vm->ready[phase], th);
    pl_sched_mark(vm, phase);
}

int pl_sched_timer(pl_vm *vm, pl_rthread *th, double delay, int phase)
{
    pl_runtime *rt = vm->runtime;
    pl_sched_unqueue(vm, th);
    th->phase = phase;
    if (pl_vm_dead(vm)) { /* it never runs again: park it where the reaper frees it */
        th->state = PL_RT_READY;
        rq_push(&vm->ready[phase], th);
        return 0;
    }
    th->wait_start = pl_now(rt);
    th->timer.when = th->wait_start + (delay > 0 ? delay : 0);
    uv_mutex_lock(&rt->timer_lock);
    int rc = pl_timerheap_push(&rt->timers, &th->timer);
    if (rc == 0) vm->ntimers++;
    uv_mutex_unlock(&rt->timer_lock);
    if (rc == 0) th->state = PL_RT_TIMER;
    return rc;
}

/* Between phases, on the serial thread: due timers make their threads ready. */
static void fire_timers(pl_runtime *rt, double now)
{
    uv_mutex_lock(&rt->timer_lock);
    pl_timer *t;
    while ((t = pl_timerheap_peek(&rt->timers)) && t->when <= now) {
        pl_timerheap_pop(&rt->timers);
        pl_rthread *th = container_of(t, pl_rthread, timer);
        pl_vm *vm = th->ctx.vm;
        vm->ntimers--;
        th->state = PL_RT_READY;
        rq_push(&vm->ready[th->phase], th);
        pl_sched_mark(vm, th->phase); /* takes no lock: lock order holds */
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
    if (before == 0 && after > 0) {
        if (rt->nheartbeat_vms == rt->heartbeat_cap) {
            size_t cap = rt->heartbeat_cap ? rt->heartbeat_cap * 2 : 8;
            pl_vm **vms = realloc(rt->heartbeat_vms, cap * sizeof *vms);
            if (!vms) abort(); /* a few pointers: treat as fatal like a failed pthread call */
            rt->heartbeat_vms = vms;
            rt->heartbeat_cap = cap;
        }
        rt->heartbeat_vms[rt->nheartbeat_vms++] = vm;
    } else if (before > 0 && after == 0) {
        for (size_t i = 0; i < rt->nheartbeat_vms; i++) {
            if (rt->heartbeat_vms[i] == vm) {
                rt->heartbeat_vms[i] = rt->heartbeat_vms[--rt->nheartbeat_vms];
                break;
            }
        }
    }
    uv_mutex_unlock(&rt->heartbeat_lock);
}

static void due_heartbeats(pl_runtime *rt, double dt)
{
    uv_mutex_lock(&rt->heartbeat_lock);
    for (size_t i = 0; i < rt->nheartbeat_vms; i++) {
        pl_vm *vm = rt->heartbeat_vms[i];
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
    for (;;) {
        if (pl_vm_dead(vm)) return; /* its Actor was destroyed by what just ran */
        pl_rthread *th = rq_pop(&vm->ready[phase]);
        if (th) {
            pl_rthread_resume(th, NULL);
        } else if (pl_mailbox_ready(&vm->mailbox, phase)) {
            pl_actor_dispatch(vm, phase);
        } else if (vm->heartbeat_due[phase]) {
            vm->heartbeat_due[phase] = 0;
            pl_heartbeat_fire(vm, phase);
        } else if (vm->flush_mailbox) {
            pl_actor_flush(vm);
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

static void run_begin(pl_vm *vm, int phase, int thread, run_mark *m)
{
    pl_runtime *rt = vm->runtime;
    vm->phase = phase;
    if (rt->trace) vm->tbuf = pl_trace_buf_at(rt->trace, thread);
    m->sent = vm->stats.sent;
    m->delivered = vm->stats.delivered;
    m->start = stats_clock(rt);
}

static void warn_long_run(pl_vm *vm, uint64_t ns)
{
    pl_runtime *rt = vm->runtime;
    char *name = pl_vm_name(vm);
    uv_mutex_lock(&rt->error_lock); /* keeps the line apart from error reports */
    fprintf(stderr,
            "parlua: warning: %s ran %.0f ms in one parallel run (budget %.0f ms): a long "
            "parallel run blocks the frame; split the work (task.wait() between pieces, or "
            "more actors)\n",
            name ? name : "an actor", (double)ns / 1e6, (double)rt->long_run_ns / 1e6);
    uv_mutex_unlock(&rt->error_lock);
    free(name);
}

static void run_end(pl_vm *vm, int phase, int thread, const run_mark *m)
{
    pl_runtime *rt = vm->runtime;
    uint64_t end = stats_clock(rt), ns = end - m->start;
    uint64_t sent = vm->stats.sent - m->sent, delivered = vm->stats.delivered - m->delivered;
    pl_thread_stats *ts = &rt->threads[thread];
    ts->busy_ns += ns;
    ts->runs++;
    ts->sent += sent;
    ts->delivered += delivered;
    vm->stats.busy_ns[phase] += ns;
    vm->stats.runs[phase]++;
    if (phase == PL_PARALLEL) {
        if (ns > vm->stats.longest_ns) vm->stats.longest_ns = ns;
        if (rt->long_run_ns && ns > rt->long_run_ns) {
            ts->long_runs++;
            if (vm->tbuf) pl_trace_instant(vm->tbuf, "long parallel run", 0, "warning");
            if (!vm->stats.long_run_warned) {
                vm->stats.long_run_warned = 1;
                warn_long_run(vm, ns);
            }
        }
    }
    if (vm->tbuf) {
        pl_trace_event *e = pl_trace_span(vm->tbuf, vm, PL_TRACE_SUBJECT,
                                          phase == PL_PARALLEL ? "parallel" : "serial",
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

void pl_sched_run_now(pl_vm *vm, pl_rthread *th)
{
    run_mark m;
    run_begin(vm, PL_SERIAL, 0, &m);
    pl_rthread_resume(th, NULL);
    run_end(vm, PL_SERIAL, 0, &m);
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
        run_mark m;
        run_begin(vm, phase, thread, &m);
        drain(vm, phase);
        run_end(vm, phase, thread, &m);
        if (pl_vm_dead(vm)) continue; /* killed while running: it owes this run */
        atomic_store(&vm->scheduled[phase], 0);
        /* seq_cst fence: see the top of this file */
        atomic_thread_fence(memory_order_seq_cst);
        if (!pl_mailbox_ready(&vm->mailbox, phase)) break;
        if (phase == PL_SERIAL) {
            /* serial messages that came meanwhile wait for the next frame */
            pl_sched_mark(vm, phase);
            break;
        }
        if (atomic_exchange(&vm->scheduled[phase], 1) != 0) break; /* a sender queued it */
    }
}

static void run_pool_item(void *ctx, pl_pool_item *item, int worker)
{
    run_vm(container_of(item, pl_vm, pool_item), PL_PARALLEL, 1 + worker);
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
        sent += rt->threads[i].sent;
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
    pl_rthread *th = container_of(t, pl_rthread, timer);
    if (th->ctx.vm != ud) return 0;
    th->state = PL_RT_READY; /* the reaper frees the threads on the ready queues */
    rq_push(&th->ctx.vm->ready[th->phase], th);
    return 1;
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
    uv_mutex_lock(&rt->timer_lock);
    if (vm->ntimers) pl_timerheap_remove_if(&rt->timers, timer_of_vm, vm); /* O(all timers) */
    vm->ntimers = 0;
    uv_mutex_unlock(&rt->timer_lock);
    uv_mutex_lock(&rt->heartbeat_lock);
    for (size_t i = 0; i < rt->nheartbeat_vms; i++) {
        if (rt->heartbeat_vms[i] == vm) {
            rt->heartbeat_vms[i] = rt->heartbeat_vms[--rt->nheartbeat_vms];
            break;
        }
    }
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

static void unlink_vm(pl_runtime *rt, pl_vm *vm);

/* Frees a killed VM that no queue holds (serial thread, between phases). */
static void free_dead_vm(pl_runtime *rt, pl_vm *vm)
{
    pl_vm_close(vm); /* finalizers may run here, and kill other VMs */
    for (int p = 0; p < 2; p++) {
        pl_rthread *th;
        while ((th = rq_pop(&vm->ready[p])))
            free(th);
    }
    free(vm->spare);
    vm->spare = NULL;
    pl_mailbox_drop_all(&vm->mailbox);
    unlink_vm(rt, vm);
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

static void frame(pl_runtime *rt, double dt)
{
    uint64_t t0 = stats_clock(rt);
    uint32_t nserial = 0, nparallel = 0;
    rt->frame++;
    reap_dead_vms(rt); /* before the graveyard: closing a VM releases instances */
    pl_graveyard_drain(&rt->graveyard);
    fire_timers(rt, pl_now(rt));
    due_heartbeats(rt, dt);
    for (pl_vm *vm = take_pending(rt, PL_SERIAL), *next; vm; vm = next) {
        next = vm->pending_next[PL_SERIAL];
        run_vm(vm, PL_SERIAL, 0);
        nserial++;
    }
    uint64_t t1 = stats_clock(rt);
    pl_vm *par = take_pending(rt, PL_PARALLEL);
    if (par) {
        for (pl_vm *vm = par, *next; vm; vm = next) {
            next = vm->pending_next[PL_PARALLEL];
            pl_pool_submit(rt->pool, &vm->pool_item);
            nparallel++;
        }
        pl_pool_wait_idle(rt->pool);
    }
    uint64_t t2 = par ? stats_clock(rt) : t1;
    rt->serial_ns += t1 - t0;
    rt->parallel_ns += t2 - t1;
    rt->parallel_phases += par != NULL;
    if (rt->trace) trace_frame(rt, t0, t1, t2, nserial, nparallel);
}

static int has_work(pl_runtime *rt)
{
    if (atomic_load_explicit(&rt->pending[0], memory_order_relaxed) ||
        atomic_load_explicit(&rt->pending[1], memory_order_relaxed))
        return 1;
    uv_mutex_lock(&rt->heartbeat_lock);
    int hb = rt->nheartbeat_vms > 0;
    uv_mutex_unlock(&rt->heartbeat_lock);
    return hb;
}

/* The earliest timer's deadline, or -1 when there is none. */
static double next_timer(pl_runtime *rt)
{
    uv_mutex_lock(&rt->timer_lock);
    pl_timer *t = pl_timerheap_peek(&rt->timers);
    double when = t ? t->when : -1;
    uv_mutex_unlock(&rt->timer_lock);
    return when;
}

/* Sleeps (no spinning) until runtime time `when`. uv_hrtime reads
 * CLOCK_MONOTONIC, so the deadline is absolute on that clock. */
static void sleep_until(pl_runtime *rt, double when)
{
    uint64_t ns = rt->t0 + (uint64_t)(when * 1e9);
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    uint64_t start = uv_hrtime();
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
    uint64_t end = uv_hrtime();
    rt->sleep_ns += end - start;
    if (rt->trace && end > start)
        pl_trace_span(pl_trace_buf_at(rt->trace, 0), "sleep", 0, "idle", start - rt->t0,
                      end - rt->t0);
}

int parlua_step(parlua_runtime *rt, double dt)
{
    frame(rt, dt);
    return has_work(rt) || next_timer(rt) >= 0;
}

/* ---- undelivered messages at exit ---- */

typedef struct undelivered {
    size_t count;
    char first[256];
} undelivered;

static void count_waiting(void *ud, const char *topic, size_t n)
{
    undelivered *u = ud;
    if (u->count == 0) snprintf(u->first, sizeof u->first, "%s", topic);
    u->count += n;
}

static void report_undelivered(pl_runtime *rt)
{
    size_t total = 0, actors = 0;
    char example[512] = "";
    uv_mutex_lock(&rt->vms_lock);
    for (pl_vm *vm = rt->all_vms; vm; vm = vm->all_next) {
        undelivered u = {0, ""};
        pl_mailbox_each_waiting(&vm->mailbox, count_waiting, &u);
        if (!u.count) continue;
        if (!actors) {
            char *name = pl_vm_name(vm);
            snprintf(example, sizeof example, "topic '%s' of %s", u.first, name ? name : "?");
            free(name);
        }
        total += u.count;
        actors++;
    }
    uv_mutex_unlock(&rt->vms_lock);
    if (total)
        fprintf(stderr,
                "parlua: %zu message%s never delivered to %zu actor%s: no callback was bound "
                "(e.g. %s)\n",
                total, total == 1 ? " was" : "s were", actors, actors == 1 ? "" : "s", example);
}

int parlua_run(parlua_runtime *rt)
{
    double frame_start = pl_now(rt);
    for (;;) {
        if (!has_work(rt)) {
            double when = next_timer(rt);
            if (when < 0) break; /* nothing can happen any more */
            sleep_until(rt, when);
        }
        double now = pl_now(rt);
        double dt = now - rt->last_frame_time;
        rt->last_frame_time = now;
        frame(rt, dt);
        if (rt->config.fps > 0) {
            frame_start += 1.0 / rt->config.fps;
            if (frame_start < pl_now(rt)) frame_start = pl_now(rt); /* late: do not catch up */
            sleep_until(rt, frame_start);
        }
    }
    report_undelivered(rt);
    return atomic_load(&rt->errors) ? PARLUA_ERROR : PARLUA_OK;
}

/* ---- creating and freeing a runtime ---- */

void parlua_config_init(parlua_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
}

static void link_vm(pl_runtime *rt, pl_vm *vm);
static void unlink_vm(pl_runtime *rt, pl_vm *vm);

static void free_actor_vm(void *p)
{
    pl_vm *vm = p;
    unlink_vm(vm->runtime, vm);
    pl_vm_destroy(vm);
    free(vm);
}

static pl_instance *new_service(pl_runtime *rt, const pl_class *cls, const char *name,
                                pl_instance *parent)
{
    pl_instance *inst = pl_instance_new(cls, NULL, &rt->graveyard);
    if (!inst) return NULL;
    if (pl_instance_set_name(inst, name, strlen(name)) != 0 ||
        (parent && pl_instance_set_parent(inst, parent) != PL_PARENT_OK)) {
        pl_shared_release(&inst->base);
        return NULL;
    }
    inst->parent_locked = PL_LOCKED_SERVICE; /* game, Workspace and RunService stay put */
    return inst;
}

parlua_runtime *parlua_new(const parlua_config *cfg)
{
    pl_runtime *rt = aligned_alloc(PL_CACHE_LINE, sizeof *rt); /* it embeds the main VM */
    if (!rt) return NULL;
    memset(rt, 0, sizeof *rt);
    if (cfg)
        rt->config = *cfg;
    else
        parlua_config_init(&rt->config);
    if (rt->config.workers <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        rt->config.workers = n > 0 ? (int)n : 1;
    }
    rt->t0 = uv_hrtime();
    rt->precise_clock = rt->config.stats || rt->config.trace_path;
    double budget = rt->config.long_run_budget;
    rt->long_run_ns = budget < 0 ? 0 : (uint64_t)((budget > 0 ? budget : 0.1) * 1e9);
    rt->threads =
        aligned_alloc(PL_CACHE_LINE, sizeof(pl_thread_stats) * (size_t)(1 + rt->config.workers));
    if (!rt->threads) {
        free(rt);
        return NULL;
    }
    memset(rt->threads, 0, sizeof(pl_thread_stats) * (size_t)(1 + rt->config.workers));
    if (rt->config.trace_path) {
        FILE *f = fopen(rt->config.trace_path, "w");
        int saved = errno;
        rt->trace = f ? pl_trace_new(f, 1 + rt->config.workers, rt->t0) : NULL;
        if (!rt->trace) {
            if (f) fclose(f);
            free(rt->threads);
            free(rt);
            errno = f ? ENOMEM : saved;
            return NULL;
        }
    }
    uv_mutex_init(&rt->timer_lock);
    uv_mutex_init(&rt->heartbeat_lock);
    uv_mutex_init(&rt->vms_lock);
    uv_mutex_init(&rt->error_lock);
    pl_timerheap_init(&rt->timers);
    atomic_init(&rt->pending[0], NULL);
    atomic_init(&rt->pending[1], NULL);
    atomic_init(&rt->errors, 0);
    atomic_init(&rt->last_vm_id, 0);
    pl_vm_init(&rt->main, rt, NULL);
    link_vm(rt, &rt->main);
    pl_graveyard_init(&rt->graveyard);
    rt->game = new_service(rt, &pl_class_datamodel, "game", NULL);
    if (rt->game) {
        rt->game->is_root = 1;
        rt->game->on_script_added = pl_script_added;
        rt->game->on_script_added_ud = rt;
        rt->workspace = new_service(rt, &pl_class_workspace, "Workspace", rt->game);
        rt->runservice = new_service(rt, &pl_class_runservice, "RunService", rt->game);
    }
    rt->pool = pl_pool_new(rt->config.workers, run_pool_item, rt);
    if (!rt->game || !rt->workspace || !rt->runservice || !rt->pool ||
        pl_vm_ensure_state(&rt->main) != 0) {
        rt->finished = 1; /* nothing to report */
        parlua_free(rt);
        return NULL;
    }
    return rt;
}

/* Forgets the runtime threads still parked (their coroutines go with their VM). */
static void drop_parked_threads(pl_runtime *rt)
{
    pl_timer *t;
    while ((t = pl_timerheap_pop(&rt->timers)))
        free(container_of(t, pl_rthread, timer));
    for (pl_vm *vm = rt->all_vms; vm; vm = vm->all_next) {
        for (int p = 0; p < 2; p++) {
            pl_rthread *th;
            while ((th = rq_pop(&vm->ready[p])))
                free(th);
        }
        free(vm->spare);
        vm->spare = NULL;
    }
}

/* The name of a VM's track events: the actor's full name, or "main". */
static char *trace_vm_name(void *ud, const void *subject)
{
    const pl_vm *vm = subject;
    return vm->actor ? pl_instance_full_name(vm->actor) : strdup("main");
}

int parlua_finish(parlua_runtime *rt)
{
    if (rt->finished) return PARLUA_OK;
    rt->finished = 1;
    if (rt->config.stats) pl_stats_print(rt, stderr);
    if (!rt->trace) return PARLUA_OK;
    uint64_t dropped = 0;
    if (pl_trace_write(rt->trace, trace_vm_name, rt, &dropped) != 0) {
        snprintf(rt->last_error, sizeof rt->last_error, "cannot write trace file '%s': %s",
                 rt->config.trace_path, strerror(errno));
        return PARLUA_ERROR;
    }
    if (dropped)
        fprintf(stderr,
                "parlua: the trace file '%s' lacks %llu events: a thread recorded more than "
                "%u\n",
                rt->config.trace_path, (unsigned long long)dropped, PL_TRACE_MAX_EVENTS);
    return PARLUA_OK;
}

void parlua_free(parlua_runtime *rt)
{
    if (!rt) return;
    pl_pool_free(rt->pool);
    /* Only now are the workers' trace buffers and stats settled for sure
     * (a host may free a runtime without waiting for a frame's end). */
    if (!rt->finished && parlua_finish(rt) != PARLUA_OK)
        fprintf(stderr, "parlua: %s\n", rt->last_error);
    drop_parked_threads(rt);
    /* Close every Lua state and drop every message: their proxies and
     * arguments release instances. Releases only fill the graveyard, so no
     * VM is freed while we walk the list. */
    for (pl_vm *vm = rt->all_vms; vm; vm = vm->all_next) {
        pl_vm_close(vm);
        pl_mailbox_drop_all(&vm->mailbox);
    }
    pl_sharedtable_free(rt); /* tables may hold instances: before the graveyard */
    if (rt->runservice) pl_shared_release(&rt->runservice->base);
    if (rt->workspace) pl_shared_release(&rt->workspace->base);
    if (rt->game) pl_shared_release(&rt->game->base);
    /* Each actor VM that ran code holds its Actor; the Actor frees the VM. */
    for (pl_vm *vm = rt->all_vms; vm; vm = vm->all_next) {
        if (vm->holds_actor) {
            vm->holds_actor = 0;
            pl_shared_release(&vm->actor->base);
        }
    }
    while (rt->zombies) {
        pl_vm *vm = rt->zombies;
        rt->zombies = vm->all_next;
        pl_shared_release(&vm->actor->base);
        pl_mailbox_destroy(&vm->mailbox);
        free(vm);
    }
    pl_graveyard_drain(&rt->graveyard); /* frees the actor VMs, which unlink themselves */
    pl_mailbox_destroy(&rt->main.mailbox);
    pl_timerheap_free(&rt->timers);
    free(rt->heartbeat_vms);
    uv_mutex_destroy(&rt->timer_lock);
    uv_mutex_destroy(&rt->heartbeat_lock);
    uv_mutex_destroy(&rt->vms_lock);
    uv_mutex_destroy(&rt->error_lock);
    pl_trace_free(rt->trace);
    free(rt->threads);
    free(rt);
}

static void link_vm(pl_runtime *rt, pl_vm *vm)
{
    uv_mutex_lock(&rt->vms_lock);
    vm->all_prev = NULL;
    vm->all_next = rt->all_vms;
    if (rt->all_vms) rt->all_vms->all_prev = vm;
    rt->all_vms = vm;
    uv_mutex_unlock(&rt->vms_lock);
}

static void unlink_vm(pl_runtime *rt, pl_vm *vm)
{
    uv_mutex_lock(&rt->vms_lock);
    if (vm->all_prev)
        vm->all_prev->all_next = vm->all_next;
    else
        rt->all_vms = vm->all_next;
    if (vm->all_next) vm->all_next->all_prev = vm->all_prev;
    uv_mutex_unlock(&rt->vms_lock);
}

/* Used by instance.c when it makes an Actor. */
pl_vm *pl_actor_vm_new(pl_runtime *rt, pl_instance *actor);
pl_vm *pl_actor_vm_new(pl_runtime *rt, pl_instance *actor)
{
    pl_vm *vm = aligned_alloc(PL_CACHE_LINE, sizeof *vm); /* sizeof is a multiple of it */
    if (!vm) return NULL;
    pl_vm_init(vm, rt, actor);
    link_vm(rt, vm);
    actor->vm = vm;
    actor->free_vm = free_actor_vm;
    return vm;
}

lua_State *parlua_main_state(parlua_runtime *rt)
{
    return rt->main.L;
}

const char *parlua_last_error(parlua_runtime *rt)
{
    return rt->last_error;
}

int parlua_error_count(parlua_runtime *rt)
{
    return atomic_load(&rt->errors);
}
