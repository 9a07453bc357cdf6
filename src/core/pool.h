/*
 * The worker pool that runs the parallel phase.
 *
 * Items (intrusive pl_pool_item nodes, one per actor with parallel work)
 * are submitted to per-worker FIFO queues, each with its own lock; a worker
 * whose queue is empty steals from the others, so no single lock serialises
 * the workers. Items submitted by a worker go to its own queue (the actor
 * just messaged is likely cache-warm there); items from other threads are
 * spread round-robin.
 *
 * A phase: the runtime submits items, then pl_pool_wait_idle() blocks until
 * every submitted item, including those submitted by workers meanwhile, has
 * finished. An item must not be queued twice at once (the runtime's
 * per-actor scheduling flag guarantees it).
 *
 * Background items (pl_pool_submit_background) share the queues but not
 * the phase: wait_idle ignores them.
 *
 * Threads: pl_pool_submit from any thread; pl_pool_wait_idle from one
 * thread at a time, not a worker; pl_pool_free after the last wait.
 */
#ifndef PL_POOL_H
#define PL_POOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct pl_pool_item {
    struct pl_pool_item *next;
    int background; /* set by pl_pool_submit_background: not part of a phase */
} pl_pool_item;

typedef struct pl_pool pl_pool;
typedef void (*pl_pool_run_fn)(void *ctx, pl_pool_item *item, int worker);

/* Starts nworkers threads. Returns NULL on failure. */
pl_pool *pl_pool_new(int nworkers, pl_pool_run_fn run, void *ctx);
void pl_pool_free(pl_pool *pool); /* joins the workers */
void pl_pool_submit(pl_pool *pool, pl_pool_item *item);
/* Submits n items chained through their next fields (the last one's next
 * is ignored), in order, as n calls of pl_pool_submit would, but with one
 * lock per worker queue and one wake-up for all of them: a frame's
 * parallel phase submits every busy actor at once. */
void pl_pool_submit_chain(pl_pool *pool, pl_pool_item *first, size_t n);
/* Queues an item that runs beside the phases (an lthread): the same
 * queues, so phase items and background items take turns in FIFO order,
 * but pl_pool_wait_idle does not wait for it. */
void pl_pool_submit_background(pl_pool *pool, pl_pool_item *item);
/* A hint: 1 when some item waits in a queue for a worker (a background
 * item uses it to decide whether to give its worker up). */
int pl_pool_has_waiting(pl_pool *pool);
/* A hint: 1 when some worker is parked or about to park (an item
 * submitted now will be taken without waiting for a running one). */
int pl_pool_has_idle(pl_pool *pool);
void pl_pool_wait_idle(pl_pool *pool);
/* The same, giving up after about timeout_ns: returns 1 when idle, 0 when
 * items are still running. */
int pl_pool_wait_idle_for(pl_pool *pool, uint64_t timeout_ns);
int pl_pool_size(const pl_pool *pool);
/* 1 if the calling thread is one of pool's workers (so a phase is running). */
int pl_pool_on_worker(const pl_pool *pool);

#endif
