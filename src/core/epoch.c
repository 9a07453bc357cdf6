/*
 * Epoch-based reclamation, after K. Fraser, "Practical lock-freedom"
 * (Cambridge TR 579, 2004), section 5.2.3, written with C11 atomics so that
 * ThreadSanitizer sees every synchronisation (Concurrency Kit's ck_epoch
 * uses inline assembly that TSan cannot see; see docs/design.md).
 *
 * State. A global epoch G (64 bits, only ever incremented by one, under
 * `lock`). Each thread's record holds `state`: 0 outside a section, or
 * (e << 1) | 1 inside one, e being the value of G the thread read when it
 * entered. Retired objects wait in their thread's limbo FIFO tagged with
 * the value of G read after they were unlinked.
 *
 * Rules.
 *   enter:   e = load(G); store(state, e<<1|1)             both seq_cst
 *   exit:    store(state, 0)                                release
 *   readers load shared roots with seq_cst loads (stable.c);
 *   writers unlink with a seq_cst CAS, then retire: tag = load(G) seq_cst;
 *   advance (holding `lock`): e = load(G); if every record's state is 0
 *            or has epoch e (all loads seq_cst), G = e + 1 (seq_cst RMW);
 *   an object tagged t is freed once a seq_cst load of G returns >= t + 2.
 *
 * Invariant. An object tagged t is never freed while a section that could
 * have loaded a pointer to it is still running.
 *
 * Argument. All the operations above except exit are seq_cst, so they take
 * part in one total order S consistent with each thread's program order;
 * and a seq_cst load returns the last store to that location before it in
 * S when every store to it is seq_cst (true of G). Let object X be unlinked
 * by CAS U and tagged t by load T (U before T in S), and freed after a load
 * of G returned >= t + 2, so advances A1 (t -> t+1) and A2 (t+1 -> t+2)
 * happened, T before A1 in S (T read t). Suppose a section of reader R
 * loaded X: by root load L, which must precede U in S (X was no longer
 * reachable after U). R's enter store W precedes L, and R's enter load of
 * G precedes W; so that load precedes A1 in S and returned some r <= t.
 * A2's advancer read G = t+1 (after A1) and then loaded R's state (load
 * Q), so W < L < U < T < A1 < Q in S: Q returns W or a later store of R.
 *   - If it returns W, R is active with epoch r <= t != t+1, and the
 *     advance to t+2 does not happen. Contradiction.
 *   - If it returns R's exit store (or a later enter store, which follows
 *     the exit in R's program order), then Q reads from a release store
 *     that follows all of R's section in program order, so the section
 *     happens before Q, before A2 (same thread), before the load that saw
 *     G >= t+2 (G is changed only by RMWs, so that load reads from A2's
 *     release sequence), before the free. The reads are over before the
 *     free: no use after free, and no data race for TSan to report.
 * A record registered after A2's advancer scanned the list is registered
 * under `lock`, so its enter load of G happens after A2 and returns
 * >= t+2; then A2 < its enter < its root loads in S, and those cannot
 * return X (unlinked before T < A2).
 * Reclamation is lazy: an item is freed by its own thread, in retire (every
 * POLL_EVERY retires) or pl_epoch_barrier, and at thread exit.
 *
 * Liveness. A thread in a section pins the epoch: G advances at most once
 * past the epoch it entered with. Sections in parlua are short C code (no
 * Lua, no blocking), so the limbo lists stay short.
 */
#include "core/epoch.h"

#include "core/grow.h"

/* POSIX threads directly: the one exception to "threads through libuv"
 * (docs/design.md). A record must be drained when its thread exits, which
 * needs a key with a destructor (libuv's keys have none), and the record
 * list's lock must exist before any runtime does (a static initializer). */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_EVERY 32
#define RECORD_ALIGN 64 /* a cache line */
#define RECORD_SIZE ((sizeof(pl_epoch_record) + RECORD_ALIGN - 1) / RECORD_ALIGN * RECORD_ALIGN)

_Atomic uint64_t pl_epoch_global = 1;
_Thread_local pl_epoch_record *pl_epoch_self;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* the record list, advances */
static pl_epoch_record *records;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

static void on_thread_exit(void *arg);

static void make_key(void)
{
    if (pthread_key_create(&exit_key, on_thread_exit) != 0) abort();
}

pl_epoch_record *pl_epoch_register(void)
{
    pthread_once(&exit_key_once, make_key);
    /* a cache line of its own: the owner writes state twice per section,
     * and nothing else of another thread's may share that line */
    pl_epoch_record *r = aligned_alloc(RECORD_ALIGN, RECORD_SIZE);
    if (r) memset(r, 0, sizeof *r);
    if (!r) {
        fputs("parlua: out of memory registering a thread for epoch reclamation\n", stderr);
        abort();
    }
    atomic_init(&r->state, 0);
    pthread_mutex_lock(&lock);
    r->next = records;
    records = r;
    pthread_mutex_unlock(&lock);
    pl_epoch_self = r;
    pthread_setspecific(exit_key, r);
    return r;
}

int pl_epoch_in_section(void)
{
    return pl_epoch_self && pl_epoch_self->depth > 0;
}

/* Holding lock: moves G forward by one if every active record has seen it. */
static void advance_locked(void)
{
    uint64_t e = atomic_load_explicit(&pl_epoch_global, memory_order_seq_cst);
    for (pl_epoch_record *r = records; r; r = r->next) {
        /* seq_cst: load Q of the argument at the top */
        uint64_t s = atomic_load_explicit(&r->state, memory_order_seq_cst);
        if ((s & 1) && (s >> 1) != e) return;
    }
    /* seq_cst RMW: A1/A2 of the argument; the lock makes advancers take
     * turns, so G moves by exactly one. */
    atomic_fetch_add_explicit(&pl_epoch_global, 1, memory_order_seq_cst);
}

/* Frees r's items whose grace period is over, oldest first. An item's free
 * function may retire more items (appended at the tail; the array may move). */
static void reclaim(pl_epoch_record *r)
{
    while (r->head < r->n) {
        /* seq_cst (acquire would do for the happens-before; seq_cst keeps
         * the load in S, as the argument assumes) */
        uint64_t g = atomic_load_explicit(&pl_epoch_global, memory_order_seq_cst);
        pl_epoch_item it = r->items[r->head];
        if (it.epoch + 2 > g) break;
        r->head++;
        it.fn(it.ptr);
    }
    if (r->head == r->n) {
        r->head = r->n = 0;
    } else if (r->head > 64 && r->head * 2 > r->n) {
        memmove(r->items, r->items + r->head, (r->n - r->head) * sizeof *r->items);
        r->n -= r->head;
        r->head = 0;
    }
}

static _Thread_local int in_reclaim; /* a free function retiring must not recurse into reclaim */

static void poll_record(pl_epoch_record *r, int wait_for_lock)
{
    if (in_reclaim) return;
    if (wait_for_lock) {
        pthread_mutex_lock(&lock);
        advance_locked();
        pthread_mutex_unlock(&lock);
    } else if (pthread_mutex_trylock(&lock) == 0) {
        advance_locked();
        pthread_mutex_unlock(&lock);
    }
    in_reclaim = 1;
    reclaim(r);
    in_reclaim = 0;
}

void pl_epoch_retire(void *ptr, pl_epoch_free_fn fn)
{
    pl_epoch_record *r = pl_epoch_self;
    if (!r) r = pl_epoch_register();
    pl_epoch_item *items = pl_grow(r->items, &r->cap, r->n + 1, sizeof *items);
    if (!items) {
        /* The caller has unlinked ptr already and has nobody to report to:
         * going on would leak it, and every later retire too (docs/design.md,
         * the out-of-memory policy). */
        fputs("parlua: out of memory retiring an object\n", stderr);
        abort();
    }
    r->items = items;
    /* seq_cst: load T of the argument, after the unlinking CAS in S */
    uint64_t e = atomic_load_explicit(&pl_epoch_global, memory_order_seq_cst);
    r->items[r->n++] = (pl_epoch_item){ptr, fn, e};
    if (++r->since_poll >= POLL_EVERY) {
        r->since_poll = 0;
        poll_record(r, 0);
    }
}

void pl_epoch_poll(void)
{
    pl_epoch_record *r = pl_epoch_self;
    if (r) poll_record(r, 0);
}

static void barrier_record(pl_epoch_record *r)
{
    if (r->depth != 0) {
        fputs("parlua: pl_epoch_barrier called inside an epoch section\n", stderr);
        abort();
    }
    for (unsigned spins = 0; r->head < r->n; spins++) {
        poll_record(r, 1);
        if (r->head == r->n) break;
        if (spins < 64) {
            sched_yield();
        } else {
            struct timespec ts = {0, 100000}; /* 0.1 ms: someone is in a long section */
            nanosleep(&ts, NULL);
        }
    }
}

void pl_epoch_barrier(void)
{
    pl_epoch_record *r = pl_epoch_self;
    if (r) barrier_record(r);
}

/* relaxed: a thread that needs the hook at its exit has stored it itself
 * before (stable.c stores it before caching anything, on the caching
 * thread), so program order makes its own later load see it; the value is
 * only ever one function */
static _Atomic(void (*)(void)) exit_hook;

void pl_epoch_set_exit_hook(void (*fn)(void))
{
    atomic_store_explicit(&exit_hook, fn, memory_order_relaxed);
}

static void unregister(pl_epoch_record *r)
{
    barrier_record(r);
    void (*hook)(void) = atomic_load_explicit(&exit_hook, memory_order_relaxed);
    if (hook) hook();
    pthread_mutex_lock(&lock);
    pl_epoch_record **p = &records;
    while (*p != r)
        p = &(*p)->next;
    *p = r->next;
    pthread_mutex_unlock(&lock);
    free(r->items);
    free(r);
}

static void on_thread_exit(void *arg)
{
    pl_epoch_record *r = arg;
    pl_epoch_self = r; /* free functions that retire find their record */
    unregister(r);
    pl_epoch_self = NULL;
}

void pl_epoch_thread_exit(void)
{
    pl_epoch_record *r = pl_epoch_self;
    if (!r) return;
    unregister(r);
    pl_epoch_self = NULL;
    pthread_setspecific(exit_key, NULL);
}

uint64_t pl_epoch_now(void)
{
    return atomic_load_explicit(&pl_epoch_global, memory_order_seq_cst);
}

size_t pl_epoch_pending(void)
{
    pl_epoch_record *r = pl_epoch_self;
    return r ? r->n - r->head : 0;
}
