/*
 * The types of parking (engine/park.h has the protocol): a waiter, which
 * every runtime thread embeds, and the head of every object threads can
 * wait on.
 */
#ifndef PL_WAITER_H
#define PL_WAITER_H

#include <stdatomic.h>
#include <stddef.h>
#include <uv.h>

#include "core/list.h"
#include "core/shared.h"

typedef struct pl_waitobj pl_waitobj;
typedef struct pl_waiter pl_waiter;

typedef struct pl_wait_ops {
    /* Describes who holds obj for a deadlock report ("held by main at
     * a.lua:3"), into buf; "" when nobody holds it. Serial thread, every
     * other thread idle. May be NULL. */
    void (*holder)(pl_waitobj *obj, char *buf, size_t size);
    /* A wait ended without its continuation (task.cancel, shutdown): undoes
     * what w->granted says it was handed (releases a mutex, puts an item
     * back) and frees what the waiter owned. No lock held. May be NULL. */
    void (*abandon)(pl_waitobj *obj, pl_waiter *w);
} pl_wait_ops;

/* The head of every object threads can wait on (after its pl_shared). */
struct pl_waitobj {
    pl_shared base;
    const pl_wait_ops *ops;
    unsigned id; /* for reports: "Mutex#3" */
    uv_mutex_t lock;
    pl_list waiters; /* pl_waiter.link, FIFO, under lock */
};

struct pl_waiter {
    pl_list link;        /* in on->waiters, under on->lock */
    pl_waitobj *on;      /* what it waits on; the waiter's stack keeps it alive */
    atomic_int woken;    /* 0 while parked; set to 1 by the one waker */
    int granted;         /* set (under on->lock) by a waker that handed it something */
    int active;          /* parked, and the continuation has not run yet (owner) */
    int timeout_set;     /* it waits with a timeout (owner) */
    int timer_queued;    /* its timer is in the timer heap (under the timer lock) */
    long long value;     /* what was handed over (a barrier index, a count) */
    void *payload;       /* what was handed over (a queue item) */
    int kind;            /* what the waiter wants, for objects with several kinds */
    pl_list parked_link; /* in the runtime's parked list, under parked_lock */
    pl_list woken_link;  /* in its VM's woken list, under the VM's wake_lock */
    char where[128];     /* "file:line" where it waits */
};

#endif
