/*
 * Epoch-based reclamation (EBR): free memory that lock-free readers may
 * still be reading, once no reader can reach it any more.
 *
 * A reader brackets its reads with pl_epoch_enter() / pl_epoch_exit() (a
 * "section"; sections nest). A writer that unlinks an object from every
 * shared place (for SharedTable: replaces a root with one CAS) hands it to
 * pl_epoch_retire(); its free function runs later, on the retiring thread,
 * once every section that might have seen the object has ended. The
 * argument and the orderings are at the top of epoch.c.
 *
 * Rules for callers:
 * - Inside a section, do not block, yield a Lua coroutine, raise a Lua
 *   error (longjmp) or call Lua: sections are short C code that copies out
 *   what it needs. A long section only delays reclamation (memory grows),
 *   it never breaks safety.
 * - Retire an object only after it is unreachable from every shared
 *   pointer that a new section could load.
 *
 * Threads: any thread may call everything here. Each OS thread gets a
 * record on first use (registered in a global list under a mutex); the
 * record is drained and unregistered when the thread exits (a pthread key
 * destructor), or by pl_epoch_thread_exit().
 */
#ifndef PL_EPOCH_H
#define PL_EPOCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef void (*pl_epoch_free_fn)(void *ptr);

typedef struct pl_epoch_item {
    void *ptr;
    pl_epoch_free_fn fn;
    uint64_t epoch; /* the global epoch read after the object was unlinked */
} pl_epoch_item;

/* One per OS thread. state is written by the owner only and read by the
 * thread advancing the epoch; the rest is the owner's. */
typedef struct pl_epoch_record {
    _Atomic uint64_t state; /* (epoch << 1) | 1 while in a section, 0 outside */
    unsigned depth;         /* section nesting */
    unsigned since_poll;    /* retires since the last attempt to reclaim */
    pl_epoch_item *items;   /* limbo: a FIFO, epochs nondecreasing from head */
    size_t head, n, cap;
    struct pl_epoch_record *next; /* the global list, under its mutex */
} pl_epoch_record;

extern _Atomic uint64_t pl_epoch_global;
extern _Thread_local pl_epoch_record *pl_epoch_self;

/* Registers the calling thread (slow path of enter and retire). Aborts if
 * out of memory: a reader cannot proceed without a record. */
pl_epoch_record *pl_epoch_register(void);

static inline void pl_epoch_enter(void)
{
    pl_epoch_record *r = pl_epoch_self;
    if (!r) r = pl_epoch_register();
    if (r->depth++ == 0) {
        /* seq_cst load then seq_cst store: both take part in the single
         * total order the argument in epoch.c relies on (the store must
         * come before every root load of the section in that order, so a
         * release store would not do). */
        uint64_t e = atomic_load_explicit(&pl_epoch_global, memory_order_seq_cst);
        atomic_store_explicit(&r->state, (e << 1) | 1, memory_order_seq_cst);
    }
}

static inline void pl_epoch_exit(void)
{
    pl_epoch_record *r = pl_epoch_self;
    if (--r->depth == 0) {
        /* release: every read of the section happens before an advancer
         * that sees this store (acquire side: its seq_cst load), hence
         * before any free that the advance allows. */
        atomic_store_explicit(&r->state, 0, memory_order_release);
    }
}

/* 1 if the calling thread is inside a section (for assertions). */
int pl_epoch_in_section(void);

/* Hands ptr to the reclaimer: fn(ptr) runs on this thread after a grace
 * period. May be called inside or outside a section. fn must not call
 * pl_epoch_barrier; it may retire more objects. Aborts if out of memory
 * (the object could otherwise never be freed safely). */
void pl_epoch_retire(void *ptr, pl_epoch_free_fn fn);

/* Tries to advance the global epoch once and frees this thread's retired
 * objects that are safe to free. Never waits. */
void pl_epoch_poll(void);

/* Waits until everything this thread retired so far has been freed (a
 * grace period or two). Must not be called inside a section. Waits for
 * other threads' sections to end: a thread stuck inside one stalls it. */
void pl_epoch_barrier(void);

/* Drains (pl_epoch_barrier) and unregisters the calling thread now. Runs by
 * itself when a thread made by pthread_create exits; a thread that never
 * exits before the process does (the main thread) may call it to leave
 * nothing behind. The next use registers the thread again. */
void pl_epoch_thread_exit(void);

/* A function run when a registered thread unregisters (its exit, or
 * pl_epoch_thread_exit), after its retired objects were freed: a module
 * empties its per-thread caches there (stable.c: node memory). One hook for
 * the process; setting it again with the same function changes nothing. */
void pl_epoch_set_exit_hook(void (*fn)(void));

/* Statistics for tests: the global epoch, and objects retired but not yet
 * freed by the calling thread. */
uint64_t pl_epoch_now(void);
size_t pl_epoch_pending(void);

#endif
