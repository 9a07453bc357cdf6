/*
 * An actor's mailbox: messages sent to the actor, routed by topic.
 *
 * A message goes to the serial queue if its topic has a serial binding
 * (BindToMessage), to the parallel queue if it has a parallel binding
 * (BindToMessageParallel), to both if it has both (the body is shared and
 * reference counted), and to the topic's waiting list if it has none yet.
 * When a topic gets its first binding, its waiting messages move to the
 * ready queues in the order they were sent (pl_mailbox_flush); until then,
 * new messages for it queue behind them, so each sender's order holds.
 * When a phase loses the last binding of a topic, that topic's messages
 * still queued for the phase move at once, in order, to the other phase or
 * back to waiting (a message already delivered in the other phase is
 * simply done). Waiting messages are bounded by memory (max_waiting_bytes
 * per mailbox); past that, posting fails (SendMessage raises).
 *
 * Threads: see the invariants at the top of mailbox.c.
 */
#ifndef PL_MAILBOX_H
#define PL_MAILBOX_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/check.h"
#include "core/msgslab.h"
#include "core/phase.h"
#include "core/status.h"
#include "core/wire.h"

/* Bytes of messages that may wait for a binding, per mailbox, unless
 * configured (parlua_config.max_waiting_bytes). */
#define PL_MAILBOX_DEFAULT_WAITING_BYTES ((size_t)256 << 20)

/* pl_mailbox_post's failures */
/* (PL_ENOMEM, or PL_EFULL past the waiting limit: core/status.h) */
/* pl_mailbox_bind's bit: the topic is bound and has waiting messages */
enum { PL_MAILBOX_FLUSH = 4 };

/* Bytes of arguments a message carries without a second allocation
 * (a handful of numbers and short strings); a body gives back what its
 * arguments leave unused when it is posted. */
#define PL_MSG_INLINE 64

typedef struct pl_msgbody pl_msgbody;

typedef struct pl_msg {
    struct pl_msg *next;
    pl_msgbody *body;
} pl_msg;

struct pl_topic;

struct pl_msgbody {
    pl_msg node[2];          /* [PL_SERIAL] also links the waiting list */
    atomic_int refs;         /* queues holding it */
    int delivered;           /* handed to the handlers of one phase (owner only) */
    uint64_t seq;            /* post order in its mailbox */
    size_t hash;             /* of the topic */
    struct pl_topic *tref;   /* its topic; valid only while queued (mailbox.c) */
    struct pl_msgbody *link; /* scratch list under the lock */
    /* The sending thread's slab it was cut from (core/msgslab.h), or NULL:
     * malloc'd on its own. A body waits for a binding only on its own
     * (pl_mailbox_post copies it out), so a waiting body pins no slab. */
    pl_msgslab *slab;
    uintptr_t flow; /* its id in a trace: its first address (a copy keeps it) */
    pl_wire wire;   /* the transferred arguments */
    size_t topic_len;
    /* NUL-terminated; then the wire's first bytes (pl_msgbody_inline),
     * PL_MSG_INLINE of them, or as many as it holds once trimmed */
    char topic[];
};

/* Where a body's wire starts: its own bytes, after the topic. */
static inline unsigned char *pl_msgbody_inline(pl_msgbody *body)
{
    return (unsigned char *)body->topic + body->topic_len + 1;
}

typedef struct pl_msgq {
    pl_msg *head, *tail;
    size_t len;
} pl_msgq;

typedef struct pl_topic {
    struct pl_topic *hnext; /* hash chain */
    struct pl_topic *fnext; /* the flush list */
    size_t hash;
    int nbound[2]; /* bindings per phase */
    int flush_pending;
    /* messages put in phase p's order (lock) and taken out of it (owner
     * only): equal when none is queued, so unbinding skips the scan */
    size_t queued_in[2], queued_out[2];
    pl_msgq waiting;
    size_t len;
    char name[]; /* NUL-terminated */
} pl_topic;

typedef struct pl_mailbox {
    uv_mutex_t lock;
    pl_msgq ready[2];        /* lock */
    atomic_size_t nready[2]; /* mirrors ready[p].len for lock-free peeks */
    pl_msgq batch[2];        /* owner only: taken, not yet delivered */
    pl_topic **buckets;      /* lock: topics by hash, chained */
    size_t nbuckets, ntopics;
    pl_topic *flushq; /* lock: bound topics with waiting messages */
    uint64_t seq;     /* lock: the next post's number */
    size_t nwaiting, waiting_bytes;
    size_t max_waiting_bytes; /* set before use; 0 means the default */
} pl_mailbox;

void pl_mailbox_init(pl_mailbox *mb);
void pl_mailbox_destroy(pl_mailbox *mb); /* drops every queued message */
/* Drops every message, ready or waiting (the runtime's shutdown: messages
 * may hold references to other actors, in cycles). */
void pl_mailbox_drop_all(pl_mailbox *mb);

/* A message body for topic with an empty wire; NULL when out of memory.
 * One block holds the body, the topic and the wire's first bytes: cut
 * from the calling thread's slab (core/msgslab.h) unless the topic is
 * long. Any thread. */
pl_msgbody *pl_msgbody_new(const char *topic, size_t len);
/* Frees a body that was never posted. */
void pl_msgbody_free(pl_msgbody *body);
/* Gives back the body's inline bytes its wire does not use (a message of
 * one number uses a few of PL_MSG_INLINE). pl_mailbox_post does it; it
 * takes effect only on the thread that made the body, while the body is
 * that thread's newest (else nothing happens). The wire stays writable
 * (it would move to the heap). */
void pl_msgbody_trim(pl_msgbody *body);

/* Bytes a body holds (counted against the waiting limit). */
size_t pl_msgbody_size(const pl_msgbody *body);

/* Routes *body (see top). Returns a bit mask of the phases whose ready
 * queue received it (1 << PL_SERIAL, 1 << PL_PARALLEL, 0 if it waits), or
 * PL_EFULL past the waiting limit, PL_ENOMEM out of memory (then the
 * caller frees *body). A body cut from a slab that has to wait is
 * replaced by a copy of its own first: *body is then the copy (posted, or
 * the caller's to free on failure) and the first one is gone. Any
 * thread. */
PL_MUST_CHECK int pl_mailbox_post(pl_mailbox *mb, pl_msgbody **body);

/* Adds delta (+1 or -1) bindings of topic in phase. Owner only (it may move
 * the phase's batch). Returns a mask: the phases whose ready queue got
 * messages moved from the phase that lost its last binding, plus
 * PL_MAILBOX_FLUSH if the topic is now bound and has waiting messages
 * (call pl_mailbox_flush once the binding code has run, so that a serial
 * and a parallel binding made together both see them); -1 when out of
 * memory (nothing changed). */
int pl_mailbox_bind(pl_mailbox *mb, const char *topic, size_t len, int phase, int delta);

/* Moves the waiting messages of every bound topic to the ready queues, in
 * the order they were sent. Returns the mask of phases that got messages. */
int pl_mailbox_flush(pl_mailbox *mb);

/* Owner only: moves every ready message of the phase to the end of the
 * phase's batch. Returns the batch's length. */
size_t pl_mailbox_take(pl_mailbox *mb, int phase);

/* Owner only: the batch's next message, taken out of it (NULL if none). */
pl_msg *pl_mailbox_next(pl_mailbox *mb, int phase);

/* Owner only: the batch's next message, left in it (NULL if none). */
static inline pl_msg *pl_mailbox_peek(const pl_mailbox *mb, int phase)
{
    return mb->batch[phase].head;
}

/* Owner only: a message taken with pl_mailbox_next that found no handler
 * in its phase. If it was delivered in the other phase, or is still queued
 * there, this hold is just dropped; otherwise it goes back to routing (to
 * the other phase or to waiting), never past newer messages of its topic.
 * Returns the mask as pl_mailbox_post does; never fails for lack of room;
 * PL_ENOMEM when its topic could not be made (msg dropped). */
int pl_mailbox_reroute(pl_mailbox *mb, pl_msg *msg, int phase);

/* Owner only: marks a taken message as delivered (before its handlers run). */
static inline void pl_msg_delivered(pl_msg *msg)
{
    msg->body->delivered = 1;
}

/* Drops one queue's hold on a taken message (frees the body at zero). */
void pl_msg_done(pl_msg *msg);

static inline size_t pl_mailbox_ready(pl_mailbox *mb, int phase)
{
    /* relaxed: a hint; callers that must not miss a message order this
     * load with their own fences (see the scheduler in src/engine/sched.c). */
    return atomic_load_explicit(&mb->nready[phase], memory_order_relaxed);
}

/* The topics a mailbox knows (bound, or with waiting messages). */
size_t pl_mailbox_topics(pl_mailbox *mb);

/* Calls fn for every topic with waiting messages (under the lock: fn must
 * not call back into the mailbox). topic may hold NUL bytes. */
void pl_mailbox_each_waiting(pl_mailbox *mb,
                             void (*fn)(void *ud, const char *topic, size_t len, size_t n),
                             void *ud);

/* Writes topic into buf (size > 4) as printable text: bytes outside
 * 0x20..0x7e, backslash and double quote are escaped as in Lua (\0, \n,
 * \xNN); cut with "..." past size. Returns buf. */
char *pl_topic_quote(char *buf, size_t size, const char *topic, size_t len);

#endif
