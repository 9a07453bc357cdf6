/*
 * Worker pool; see pool.h for the contract.
 *
 * Sleeping and waking: an idle worker announces itself in `nidle` and then
 * re-checks `queued` (items in all queues); a submitter publishes the item
 * (`queued`) and then reads `nidle`. Both sides use sequentially consistent
 * operations, so at least one of them sees the other (the classic
 * store-then-load handshake): either the worker finds the item, or the
 * submitter finds a sleeper and signals it under park_lock, which the
 * sleeper holds until it is inside uv_cond_wait, so the signal cannot be
 * lost.
 *
 * Spinning: a worker that runs out of items looks again for a while before
 * parking (find_item_spinning), counted in `nspinning`. A submit wakes a
 * sleeper only when nobody spins: a spinner will find the item. The same
 * store-then-load argument covers it: a spinner decrements nspinning and
 * then re-checks queued (when it parks, or as the last spinner leaving
 * with an item, which then wakes a sleeper for what is still queued), and
 * a submitter increments queued and then reads nspinning; one of them
 * sees the other.
 *
 * One counter for all queues keeps an idle worker's check O(1): a new
 * worker parks at once, so starting N workers costs O(N), not O(N^2).
 *
 * Lock order: a worker queue lock is never held while taking park_lock or
 * another queue's lock.
 */
#include "core/pool.h"

#include "core/check.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <uv.h>

#define CACHE_LINE 64

typedef struct worker {
    uv_mutex_t lock;
    pl_pool_item *head, *tail;
    atomic_size_t len;
    uv_thread_t thread;
    pl_pool *pool;
    int index;
} __attribute__((aligned(CACHE_LINE))) worker;

struct pl_pool {
    worker *workers;
    int n;
    pl_pool_run_fn run;
    void *ctx;
    atomic_size_t pending; /* submitted and not yet finished */
    atomic_size_t queued;  /* in the queues, not yet taken */
    atomic_int nidle;      /* workers parked or about to park */
    atomic_int nspinning;  /* workers looking for items before parking */
    atomic_uint next;      /* round-robin target for outside submits */
    atomic_bool stop;
    uv_mutex_t park_lock;
    uv_cond_t park_cond; /* workers wait here for items */
    uv_cond_t idle_cond; /* wait_idle waits here for pending == 0 */
};

static _Thread_local int current_worker = -1;
static _Thread_local pl_pool *current_pool = NULL;

int pl_pool_on_worker(const pl_pool *pool)
{
    return current_pool == pool;
}

int pl_pool_size(const pl_pool *pool)
{
    return pool->n;
}

/* Takes a queue lock, trying a little before blocking: the lock is held
 * for a few instructions only, but a spinning thief (find_item_spinning)
 * takes it often, and blocking on it then costs a futex wait here and a
 * futex wake in the thief, microseconds each. */
static void lock_queue(worker *w)
{
    for (int i = 0; i < 64; i++) {
        if (uv_mutex_trylock(&w->lock) == 0) return;
        pl_cpu_relax();
    }
    uv_mutex_lock(&w->lock);
}

/* Appends the run head..tail (len items, tail->next NULL) to w's queue. */
static void push_run(worker *w, pl_pool_item *head, pl_pool_item *tail, size_t len)
{
    lock_queue(w);
    if (w->tail)
        w->tail->next = head;
    else
        w->head = head;
    w->tail = tail;
    atomic_fetch_add_explicit(&w->len, len, memory_order_relaxed); /* a hint for thieves */
    /* seq_cst: pairs with the nidle check. Under the lock, so the pop that
     * takes these items (and decrements) comes after it: never below zero. */
    atomic_fetch_add(&w->pool->queued, len);
    uv_mutex_unlock(&w->lock);
}

static void push(worker *w, pl_pool_item *item)
{
    item->next = NULL;
    push_run(w, item, item, 1);
}

/* Takes the oldest item of w's queue. A thief (steal set) only tries the
 * lock: when the owner is busy with its queue, the item is likely about to
 * be taken by it anyway, and waiting on the lock would put both threads in
 * the kernel. A missed item is not lost: park re-checks every queue. */
static pl_pool_item *pop(worker *w, int steal)
{
    /* relaxed peek: a stale zero only delays us to the re-check in park */
    if (atomic_load_explicit(&w->len, memory_order_relaxed) == 0) return NULL;
    if (steal) {
        if (uv_mutex_trylock(&w->lock) != 0) return NULL;
    } else {
        lock_queue(w);
    }
    pl_pool_item *item = w->head;
    if (item) {
        w->head = item->next;
        if (!w->head) w->tail = NULL;
        atomic_fetch_sub_explicit(&w->len, 1, memory_order_relaxed);
    }
    uv_mutex_unlock(&w->lock);
    /* relaxed: only the increment must be ordered (the handshake); a late
     * decrement costs a parking worker one more look, never a lost item */
    if (item) atomic_fetch_sub_explicit(&w->pool->queued, 1, memory_order_relaxed);
    return item;
}

static pl_pool_item *find_item(pl_pool *pool, int self)
{
    /* relaxed peek: nothing anywhere, skip the scan (park re-checks) */
    if (atomic_load_explicit(&pool->queued, memory_order_relaxed) == 0) return NULL;
    for (int k = 0; k < pool->n; k++) {
        pl_pool_item *item = pop(&pool->workers[(self + k) % pool->n], k != 0);
        if (item) return item;
    }
    return NULL;
}

static int anything_queued(pl_pool *pool)
{
    return atomic_load(&pool->queued) != 0; /* seq_cst: see top */
}

/* Wakes one parked worker (all: every one). */
static void wake_parked(pl_pool *pool, int all)
{
    uv_mutex_lock(&pool->park_lock);
    if (all)
        uv_cond_broadcast(&pool->park_cond);
    else
        uv_cond_signal(&pool->park_cond);
    uv_mutex_unlock(&pool->park_lock);
}

static void submit(pl_pool *pool, pl_pool_item *item)
{
    int w = (current_pool == pool)
                ? current_worker
                : (int)(atomic_fetch_add_explicit(&pool->next, 1, memory_order_relaxed) %
                        (unsigned)pool->n);
    push(&pool->workers[w], item);
    /* A spinning worker will find the item: waking a parked one would cost
     * a futex call here (microseconds, more than a message round trip) for
     * a thread that most likely finds nothing. seq_cst, both loads: the
     * push's increment of queued comes first; a spinner that stops after
     * we read nspinning re-checks queued when it parks (see
     * find_item_spinning and the top), and the last spinner to find an
     * item wakes a sleeper for whatever is still queued. */
    if (atomic_load(&pool->nidle) > 0 && atomic_load(&pool->nspinning) == 0) wake_parked(pool, 0);
}

void pl_pool_submit(pl_pool *pool, pl_pool_item *item)
{
    /* The count goes up before the item is visible, so it cannot reach
     * zero (ending the phase) while this item is still to run. */
    atomic_fetch_add(&pool->pending, 1);
    item->background = 0;
    submit(pool, item);
}

void pl_pool_submit_chain(pl_pool *pool, pl_pool_item *first, size_t n)
{
    if (n == 0) return;
    atomic_fetch_add(&pool->pending, n); /* before any is visible, as pl_pool_submit */
    /* contiguous runs, one per queue; idle workers steal from the others */
    size_t per = (n + (size_t)pool->n - 1) / (size_t)pool->n;
    unsigned start = atomic_fetch_add_explicit(&pool->next, 1, memory_order_relaxed);
    pl_pool_item *it = first;
    for (int k = 0; k < pool->n && n > 0; k++) {
        size_t len = per < n ? per : n;
        pl_pool_item *head = it, *tail = it;
        tail->background = 0;
        for (size_t i = 1; i < len; i++) {
            tail = tail->next;
            tail->background = 0;
        }
        it = tail->next;
        tail->next = NULL;
        n -= len;
        push_run(&pool->workers[(start + (unsigned)k) % (unsigned)pool->n], head, tail, len);
    }
    if (atomic_load(&pool->nidle) > 0) wake_parked(pool, 1); /* seq_cst: see top */
}

void pl_pool_submit_background(pl_pool *pool, pl_pool_item *item)
{
    item->background = 1;
    submit(pool, item);
}

int pl_pool_has_idle(pl_pool *pool)
{
    /* relaxed: a hint (whether to ask running lthreads to give way) */
    return atomic_load_explicit(&pool->nidle, memory_order_relaxed) != 0;
}

int pl_pool_has_waiting(pl_pool *pool)
{
    /* relaxed: a hint read every few thousand Lua instructions */
    return atomic_load_explicit(&pool->queued, memory_order_relaxed) != 0;
}

/* While a phase is still running (another worker may hand us an actor it
 * just messaged), look for work a little before sleeping: waking a parked
 * thread costs tens of microseconds, more than a message round trip. Once
 * nothing is pending the phase is over and we park at once, leaving the
 * core to the serial thread. */
#define SPIN_ROUNDS 2000

static pl_pool_item *find_item_spinning(pl_pool *pool, int self)
{
    pl_pool_item *item = NULL;
    /* seq_cst: submit reads nspinning after publishing its item; see there */
    atomic_fetch_add(&pool->nspinning, 1);
    for (int round = 0; round < SPIN_ROUNDS; round++) {
        item = find_item(pool, self);
        if (item) break;
        /* relaxed: only a hint whether spinning is still worth it */
        if (atomic_load_explicit(&pool->pending, memory_order_relaxed) == 0) break;
        pl_cpu_relax();
    }
    /* seq_cst: a submitter that saw this spinner did not wake anyone. The
     * last spinner to leave with an item passes the duty on: more items
     * queued and a sleeper wake one (which spins in its turn), so a burst
     * of submits still spreads over every worker. One leaving without an
     * item parks, and parking re-checks queued (see the top). */
    if (atomic_fetch_sub(&pool->nspinning, 1) == 1 && item && anything_queued(pool) &&
        atomic_load(&pool->nidle) > 0)
        wake_parked(pool, 0);
    return item;
}

/* Asynchronous signals go to the host's threads, never to a worker: a
 * handler (SIGINT calling parlua_interrupt) then runs on the thread that
 * runs the frames, and interrupts its sleep. */
static void block_async_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void worker_main(void *arg)
{
    worker *self = arg;
    block_async_signals();
    pl_pool *pool = self->pool;
    current_worker = self->index;
    current_pool = pool;
    for (;;) {
        pl_pool_item *item = find_item_spinning(pool, self->index);
        if (item) {
            int background = item->background; /* the run may requeue the item */
            pool->run(pool->ctx, item, self->index);
            /* acq_rel (seq_cst): publishes the run's effects to the waiter */
            if (!background && atomic_fetch_sub(&pool->pending, 1) == 1) {
                uv_mutex_lock(&pool->park_lock);
                uv_cond_broadcast(&pool->idle_cond);
                uv_mutex_unlock(&pool->park_lock);
            }
            continue;
        }
        uv_mutex_lock(&pool->park_lock);
        atomic_fetch_add(&pool->nidle, 1);
        while (!atomic_load(&pool->stop) && !anything_queued(pool))
            uv_cond_wait(&pool->park_cond, &pool->park_lock);
        atomic_fetch_sub(&pool->nidle, 1);
        uv_mutex_unlock(&pool->park_lock);
        if (atomic_load(&pool->stop)) return;
    }
}

void pl_pool_wait_idle(pl_pool *pool)
{
    uv_mutex_lock(&pool->park_lock);
    while (atomic_load(&pool->pending) != 0)
        uv_cond_wait(&pool->idle_cond, &pool->park_lock);
    uv_mutex_unlock(&pool->park_lock);
}

int pl_pool_wait_idle_for(pl_pool *pool, uint64_t timeout_ns)
{
    uint64_t deadline = uv_hrtime() + timeout_ns;
    uv_mutex_lock(&pool->park_lock);
    int idle;
    while (!(idle = atomic_load(&pool->pending) == 0)) {
        uint64_t now = uv_hrtime();
        if (now >= deadline) break;
        uv_cond_timedwait(&pool->idle_cond, &pool->park_lock, deadline - now);
    }
    uv_mutex_unlock(&pool->park_lock);
    return idle;
}

pl_pool *pl_pool_new(int nworkers, pl_pool_run_fn run, void *ctx)
{
    if (nworkers < 1) return NULL;
    pl_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return NULL;
    pool->workers = aligned_alloc(CACHE_LINE, sizeof(worker) * (size_t)nworkers);
    if (!pool->workers) {
        free(pool);
        return NULL;
    }
    pool->n = nworkers;
    pool->run = run;
    pool->ctx = ctx;
    atomic_init(&pool->pending, 0);
    atomic_init(&pool->queued, 0);
    atomic_init(&pool->nidle, 0);
    atomic_init(&pool->nspinning, 0);
    atomic_init(&pool->next, 0);
    atomic_init(&pool->stop, 0);
    uv_mutex_init(&pool->park_lock);
    uv_cond_init(&pool->park_cond);
    uv_cond_init(&pool->idle_cond);
    for (int i = 0; i < nworkers; i++) {
        worker *w = &pool->workers[i];
        uv_mutex_init(&w->lock);
        w->head = w->tail = NULL;
        atomic_init(&w->len, 0);
        w->pool = pool;
        w->index = i;
    }
    for (int i = 0; i < nworkers; i++) {
        if (uv_thread_create(&pool->workers[i].thread, worker_main, &pool->workers[i]) != 0) {
            pool->n = i; /* join only the ones that started */
            pl_pool_free(pool);
            return NULL;
        }
    }
    return pool;
}

void pl_pool_free(pl_pool *pool)
{
    if (!pool) return;
    uv_mutex_lock(&pool->park_lock);
    atomic_store(&pool->stop, 1);
    uv_cond_broadcast(&pool->park_cond);
    uv_mutex_unlock(&pool->park_lock);
    for (int i = 0; i < pool->n; i++)
        uv_thread_join(&pool->workers[i].thread);
    for (int i = 0; i < pool->n; i++)
        uv_mutex_destroy(&pool->workers[i].lock);
    uv_mutex_destroy(&pool->park_lock);
    uv_cond_destroy(&pool->park_cond);
    uv_cond_destroy(&pool->idle_cond);
    free(pool->workers);
    free(pool);
}
