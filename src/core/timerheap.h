/*
 * A binary min-heap of timers, ordered by deadline and then by insertion
 * order (timers due at the same moment fire first-in first-out).
 * Intrusive: callers embed pl_timer in their own record, so inserting never
 * allocates a node (only the array of pointers grows). Not thread-safe: the
 * runtime guards its heap with a mutex (see docs/design.md).
 */
#ifndef PL_TIMERHEAP_H
#define PL_TIMERHEAP_H

#include <stddef.h>
#include <stdint.h>

#include "core/check.h"
#include "core/status.h"

typedef struct pl_timer {
    double when;    /* deadline, runtime seconds */
    uint64_t order; /* insertion number, for FIFO among equal deadlines */
    size_t slot;    /* position in the heap, for removal */
} pl_timer;

typedef struct pl_timerheap {
    pl_timer **items;
    size_t len, cap;
    uint64_t next_order;
} pl_timerheap;

void pl_timerheap_init(pl_timerheap *h);
void pl_timerheap_free(pl_timerheap *h); /* frees the array, not the timers */
/* Returns PL_OK, or PL_ENOMEM when out of memory (the heap is unchanged). */
PL_MUST_CHECK int pl_timerheap_push(pl_timerheap *h, pl_timer *t);
/* The earliest timer, or NULL when empty. */
pl_timer *pl_timerheap_peek(const pl_timerheap *h);
pl_timer *pl_timerheap_pop(pl_timerheap *h);
/* Removes t, which must be in the heap. */
void pl_timerheap_remove(pl_timerheap *h, pl_timer *t);
/* Removes every timer for which drop(ud, t) returns nonzero (drop may take
 * ownership of t); O(n). */
void pl_timerheap_remove_if(pl_timerheap *h, int (*drop)(void *ud, pl_timer *t), void *ud);

#endif
