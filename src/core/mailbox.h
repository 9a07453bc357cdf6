/*
 * An actor's mailbox: messages sent to the actor, routed by topic.
 *
 * A message goes to the serial queue if its topic has a serial binding
 * (BindToMessage), to the parallel queue if it has a parallel binding
 * (BindToMessageParallel), to both if it has both (the body is shared and
 * reference counted), and to the topic's waiting list if it has none yet.
 * When a topic gets its first binding, its waiting messages move to the
 * ready queues in the order they were sent (pl_mailbox_flush); until then,
 * new messages for it queue behind them, so each sender's order holds. At most
 * PL_MAILBOX_MAX_WAITING messages wait per actor; past that, posting fails (SendMessage raises).
 *
 * Threads: every function may be called from any thread; one mutex per
 * mailbox guards it, held only for list surgery (never while running Lua,
 * never while taking another lock). Only the actor's current owner takes
 * messages out.
 */
#ifndef PL_MAILBOX_H
#define PL_MAILBOX_H

#include <stdatomic.h>
#include <stddef.h>
#include <uv.h>

#include "core/phase.h"
#include "core/wire.h"

#define PL_MAILBOX_MAX_WAITING 65536

/* Bytes of arguments a message carries without a second allocation
 * (a handful of numbers and short strings). */
#define PL_MSG_INLINE 64

typedef struct pl_msgbody pl_msgbody;

typedef struct pl_msg {
    struct pl_msg *next;
    pl_msgbody *body;
} pl_msg;

struct pl_msgbody {
    pl_msg node[2];  /* [PL_SERIAL] also links the waiting list */
    atomic_int refs; /* queues holding it */
    pl_wire wire;    /* the transferred arguments */
    size_t topic_len;
    char *topic;                              /* NUL-terminated, in the same allocation */
    unsigned char inline_wire[PL_MSG_INLINE]; /* the wire's first bytes */
};

typedef struct pl_msgq {
    pl_msg *head, *tail;
    size_t len;
} pl_msgq;

typedef struct pl_topic {
    char *name;
    size_t len;
    int nbound[2]; /* bindings per phase */
    pl_msgq waiting;
} pl_topic;

typedef struct pl_mailbox {
    uv_mutex_t lock;
    pl_msgq ready[2];
    atomic_size_t nready[2]; /* mirrors ready[p].len for lock-free peeks */
    pl_topic *topics;
    size_t ntopics, cap;
    size_t nwaiting;
} pl_mailbox;

void pl_mailbox_init(pl_mailbox *mb);
void pl_mailbox_destroy(pl_mailbox *mb); /* drops every queued message */
/* Drops every message, ready or waiting (the runtime's shutdown: messages
 * may hold references to other actors, in cycles). */
void pl_mailbox_drop_all(pl_mailbox *mb);

/* A message body for topic with an empty wire; NULL when out of memory.
 * One allocation holds the body, the topic and the wire's first bytes. */
pl_msgbody *pl_msgbody_new(const char *topic, size_t len);
/* Frees a body that was never posted. */
void pl_msgbody_free(pl_msgbody *body);

/* Routes body (see top). Returns a bit mask of the phases whose ready
 * queue received it (1 << PL_SERIAL, 1 << PL_PARALLEL, 0 if it waits), or -1
 * if the waiting limit or memory is exhausted (body untouched, caller frees). */
int pl_mailbox_post(pl_mailbox *mb, pl_msgbody *body);

/* Adds delta (+1 or -1) bindings of topic in phase. Returns 1 if the
 * topic is now bound and has waiting messages (call pl_mailbox_flush once
 * the binding code has run, so that a serial and a parallel binding made
 * together both see them), 0 if not, -1 when out of memory. */
int pl_mailbox_bind(pl_mailbox *mb, const char *topic, size_t len, int phase, int delta);

/* Moves the waiting messages of every bound topic to the ready queues, in
 * the order they were sent. Returns the mask of phases that got messages. */
int pl_mailbox_flush(pl_mailbox *mb);

/* Takes every ready message of the phase, in order (NULL if none). */
pl_msg *pl_mailbox_take(pl_mailbox *mb, int phase);

/* Returns a taken message that found no binding for its phase when it was
 * dispatched: it goes back to routing (to the other phase or to waiting).
 * Returns the mask as pl_mailbox_post does; never fails for lack of room. */
int pl_mailbox_reroute(pl_mailbox *mb, pl_msg *msg, int phase);

/* Drops one queue's hold on a taken message (frees the body at zero). */
void pl_msg_done(pl_msg *msg);

static inline size_t pl_mailbox_ready(pl_mailbox *mb, int phase)
{
    /* relaxed: a hint; callers that must not miss a message order this
     * load with their own fences (see the scheduler in src/engine/sched.c). */
    return atomic_load_explicit(&mb->nready[phase], memory_order_relaxed);
}

/* Calls fn for every topic with waiting messages (under the lock: fn must
 * not call back into the mailbox). */
void pl_mailbox_each_waiting(pl_mailbox *mb, void (*fn)(void *ud, const char *topic, size_t n),
                             void *ud);

#endif
