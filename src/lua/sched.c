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
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "lua/runtime.h"

#define container_of(p, type, field) ((type *)((char *)(p) - offsetof(type, field)))

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
    th->wait_start = pl_now(rt);
    th->timer.when = th->wait_start + (delay > 0 ? delay : 0);
    uv_mutex_lock(&rt->timer_lock);
    int rc = pl_timerheap_push(&rt->timers, &th->timer);
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

static void run_vm(pl_vm *vm, int phase)
{
    vm->phase = phase;
    for (;;) {
        drain(vm, phase);
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
    vm->phase = PL_SERIAL;
}

static void run_pool_item(void *ctx, pl_pool_item *item, int worker)
{
    run_vm(container_of(item, pl_vm, pool_item), PL_PARALLEL);
}

static void frame(pl_runtime *rt, double dt)
{
    rt->frame++;
    pl_graveyard_drain(&rt->graveyard);
    fire_timers(rt, pl_now(rt));
    due_heartbeats(rt, dt);
    for (pl_vm *vm = take_pending(rt, PL_SERIAL), *next; vm; vm = next) {
        next = vm->pending_next[PL_SERIAL];
        run_vm(vm, PL_SERIAL);
    }
    pl_vm *par = take_pending(rt, PL_PARALLEL);
    if (par) {
        for (pl_vm *vm = par, *next; vm; vm = next) {
            next = vm->pending_next[PL_PARALLEL];
            pl_pool_submit(rt->pool, &vm->pool_item);
        }
        pl_pool_wait_idle(rt->pool);
    }
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
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
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
    uv_mutex_init(&rt->timer_lock);
    uv_mutex_init(&rt->heartbeat_lock);
    uv_mutex_init(&rt->vms_lock);
    uv_mutex_init(&rt->error_lock);
    pl_timerheap_init(&rt->timers);
    atomic_init(&rt->pending[0], NULL);
    atomic_init(&rt->pending[1], NULL);
    atomic_init(&rt->errors, 0);
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
        parlua_free(rt);
        return NULL;
    }
    return rt;
}

/* Forgets the runtime threads still parked (their coroutines go with their VM). */
static void drop_parked_threads(pl_runtime *rt)
{
    pl_timer *t;
    while ((t = pl_timerheap_pop(&rt->timers))) free(container_of(t, pl_rthread, timer));
    for (pl_vm *vm = rt->all_vms; vm; vm = vm->all_next) {
        for (int p = 0; p < 2; p++) {
            pl_rthread *th;
            while ((th = rq_pop(&vm->ready[p]))) free(th);
        }
        free(vm->spare);
        vm->spare = NULL;
    }
}

void parlua_free(parlua_runtime *rt)
{
    if (!rt) return;
    pl_pool_free(rt->pool);
    drop_parked_threads(rt);
    /* Close every Lua state and drop every message: their proxies and
     * arguments release instances. Releases only fill the graveyard, so no
     * VM is freed while we walk the list. */
    for (pl_vm *vm = rt->all_vms; vm; vm = vm->all_next) {
        pl_vm_close(vm);
        pl_mailbox_drop_all(&vm->mailbox);
    }
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
    pl_graveyard_drain(&rt->graveyard); /* frees the actor VMs, which unlink themselves */
    pl_mailbox_destroy(&rt->main.mailbox);
    pl_timerheap_free(&rt->timers);
    free(rt->heartbeat_vms);
    uv_mutex_destroy(&rt->timer_lock);
    uv_mutex_destroy(&rt->heartbeat_lock);
    uv_mutex_destroy(&rt->vms_lock);
    uv_mutex_destroy(&rt->error_lock);
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
