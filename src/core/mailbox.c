/*
 * The mailbox (routing rules in mailbox.h).
 *
 * Threads and invariants
 *
 * - Senders post from any thread, in either phase, at any time. The actor's
 *   owner (the one thread running its VM at that moment: runs of one VM
 *   never overlap, and the scheduler orders one run before the next) binds,
 *   unbinds, flushes, takes and delivers. One mutex per mailbox guards the
 *   ready queues, the topics, the waiting lists, the flush list and the
 *   counters; it is held only for list surgery: never while running Lua,
 *   never while taking another lock, never while freeing a body (a body may
 *   hold the last reference to an actor: freed outside the lock).
 * - batch[p] belongs to the owner alone (no lock): the messages taken from
 *   ready[p] and not yet handed out. Phase p's queue order is batch[p] then
 *   ready[p]. Only the owner changes either end of it apart from the
 *   senders' appends to ready[p].
 * - I1 (order): within one topic, the messages in batch[p]+ready[p], and in
 *   its waiting list, are in post order (seq). Posts append; a flush
 *   appends a topic's waiting messages only while no newer message of the
 *   topic is queued (a topic with waiting messages gets every new message
 *   in its waiting list too); a moved message is merged by seq.
 * - I2 (routing): a message is in phase p's order only while its topic has
 *   a binding in p. When nbound[p] of a topic drops to 0, its messages in
 *   phase p's order (batch included) are moved at once (move_phase): so a
 *   later post cannot overtake them, and a message is never re-queued
 *   after it was delivered.
 * - I3 (one delivery per phase): refs counts the queues holding a body (or
 *   the one message being delivered). A body held by both phases that
 *   loses one phase just drops that hold; a body that was delivered
 *   (delivered = 1, set by the owner before its handlers run) is never
 *   routed again. Only the owner touches refs and delivered after posting.
 * - I4 (topics): a topic exists while it has a binding or waiting messages
 *   (or a flush is pending); then it is dropped. By I2 a queued body's tref
 *   is valid; a body taken out for delivery must not use tref (its topic
 *   may go while its handlers run).
 * - queued_in[p] (lock) and queued_out[p] (owner) of a topic count its
 *   messages put into and taken out of phase p's order: unbinding scans
 *   the phase's queues only when they differ (per-request topics that come
 *   and go cost O(1), however long the queues).
 * - nready[p] mirrors ready[p].len, stored under the lock, read without it
 *   by the scheduler (see mailbox.h).
 */
#include "core/mailbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pl_mailbox_init(pl_mailbox *mb)
{
    memset(mb, 0, sizeof *mb);
    uv_mutex_init(&mb->lock);
    atomic_init(&mb->nready[0], 0);
    atomic_init(&mb->nready[1], 0);
}

/* A topic's hash: FNV-1a over its bytes, folded. */
#define HASH_START 1469598103934665603u

static inline uint64_t hash_step(uint64_t h, unsigned char c)
{
    return (h ^ c) * 1099511628211u;
}

static inline size_t hash_end(uint64_t h)
{
    return (size_t)(h ^ (h >> 29));
}

static size_t topic_hash(const char *s, size_t len)
{
    uint64_t h = HASH_START;
    for (size_t i = 0; i < len; i++)
        h = hash_step(h, (unsigned char)s[i]);
    return hash_end(h);
}

/* _Static_assert: a slab's alignment is enough for a body. */
_Static_assert(_Alignof(pl_msgbody) <= PL_MSGSLAB_ALIGN, "slab bodies are aligned");

/* The bytes of a body's block (its inline bytes only while the wire
 * uses them: a body whose wire moved to the heap may hold more). */
static size_t block_size(const pl_msgbody *body)
{
    size_t n = sizeof *body + body->topic_len + 1;
    return body->wire.data == body->wire.inline_buf ? n + body->wire.cap : n;
}

pl_msgbody *pl_msgbody_new(const char *topic, size_t len)
{
    size_t size = sizeof(pl_msgbody) + len + 1 + PL_MSG_INLINE;
    pl_msgslab *slab = NULL;
    pl_msgbody *body = size <= PL_MSGSLAB_MAX ? pl_msgslab_alloc(size, &slab) : malloc(size);
    if (!body) return NULL;
    body->slab = slab;
    body->flow = (uintptr_t)body;
    for (int p = 0; p < 2; p++) {
        body->node[p].next = NULL;
        body->node[p].body = body;
    }
    atomic_init(&body->refs, 0);
    body->delivered = 0;
    body->seq = 0;
    body->tref = NULL;
    body->link = NULL;
    body->topic_len = len;
    pl_wire_init_inline(&body->wire, pl_msgbody_inline(body), PL_MSG_INLINE);
    /* copied and hashed in one pass (as topic_hash): no memcpy call for
     * the few bytes a topic has */
    uint64_t h = HASH_START;
    for (size_t i = 0; i < len; i++) {
        body->topic[i] = topic[i];
        h = hash_step(h, (unsigned char)topic[i]);
    }
    body->topic[len] = '\0';
    body->hash = hash_end(h);
    return body;
}

void pl_msgbody_free(pl_msgbody *body)
{
    pl_wire *w = &body->wire;
    if (w->nrefs || w->refs || w->data != w->inline_buf) pl_wire_free(w); /* else nothing to free */
    if (body->slab)
        pl_msgslab_release(body->slab, body, block_size(body));
    else
        free(body);
}

void pl_msgbody_trim(pl_msgbody *body)
{
    pl_wire *w = &body->wire;
    /* the inline bytes end the block */
    if (body->slab && w->data == w->inline_buf &&
        pl_msgslab_trim(body->slab, w->data + w->cap, w->data + w->len))
        w->cap = w->len;
}

/* A copy of a slab body in a block of its own, which takes over its wire
 * (bytes and references). The slab body is left with an empty wire, for
 * the caller to free (pl_msgbody_free: only its slab is released, which
 * may give the slab back to pages.c, so not under the mailbox lock). NULL
 * when out of memory (body untouched). Only for a body no queue holds. */
static pl_msgbody *unslab(pl_msgbody *body)
{
    size_t head = sizeof *body + body->topic_len + 1;
    int in = body->wire.data == body->wire.inline_buf;
    size_t bytes = in ? body->wire.len : 0; /* the inline bytes in use */
    pl_msgbody *copy = malloc(head + bytes);
    if (!copy) return NULL;
    memcpy(copy, body, head);
    if (bytes) memcpy(pl_msgbody_inline(copy), body->wire.data, bytes);
    copy->slab = NULL;
    for (int p = 0; p < 2; p++)
        copy->node[p].body = copy;
    copy->wire.inline_buf = pl_msgbody_inline(copy);
    if (in) {
        copy->wire.data = copy->wire.inline_buf;
        copy->wire.cap = bytes;
    }
    /* the wire's heap bytes and references are the copy's now; the body
     * keeps its inline bytes' size, for its release */
    size_t cap = in ? body->wire.cap : 0;
    pl_wire_init_inline(&body->wire, pl_msgbody_inline(body), cap);
    return copy;
}

size_t pl_msgbody_size(const pl_msgbody *body)
{
    /* the wire's bytes, inline or not, and its references */
    size_t n = sizeof *body + body->topic_len + 1 + body->wire.cap;
    return n + body->wire.refcap * sizeof *body->wire.refs;
}

void pl_msg_done(pl_msg *msg)
{
    pl_msgbody *body = msg->body;
    /* acq_rel: the last holder must see the other holder's reads finished
     * before it frees (the two holders are the serial and parallel runs). */
    if (atomic_fetch_sub_explicit(&body->refs, 1, memory_order_acq_rel) == 1) pl_msgbody_free(body);
}

/* Frees a scratch list of bodies (outside the lock). */
static void free_bodies(pl_msgbody *b)
{
    while (b) {
        pl_msgbody *next = b->link;
        pl_msgbody_free(b);
        b = next;
    }
}

static void q_push(pl_msgq *q, pl_msg *m)
{
    m->next = NULL;
    if (q->tail)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    q->len++;
}

/* relaxed: readers that must not miss a message fence (see mailbox.h) */
static void sync_nready(pl_mailbox *mb, int p)
{
    atomic_store_explicit(&mb->nready[p], mb->ready[p].len, memory_order_relaxed);
}

/* ---- topics: a chained hash table ---- */

static pl_topic *find_topic(pl_mailbox *mb, const char *name, size_t len, size_t hash)
{
    if (!mb->nbuckets) return NULL;
    for (pl_topic *t = mb->buckets[hash & (mb->nbuckets - 1)]; t; t = t->hnext)
        if (t->hash == hash && t->len == len && memcmp(t->name, name, len) == 0) return t;
    return NULL;
}

/* Rehashes into n buckets (a power of two); keeps the old table if out of
 * memory (still correct, only slower). */
static void rehash(pl_mailbox *mb, size_t n)
{
    pl_topic **b = calloc(n, sizeof *b);
    if (!b) return;
    for (size_t i = 0; i < mb->nbuckets; i++) {
        for (pl_topic *t = mb->buckets[i], *next; t; t = next) {
            next = t->hnext;
            t->hnext = b[t->hash & (n - 1)];
            b[t->hash & (n - 1)] = t;
        }
    }
    free(mb->buckets);
    mb->buckets = b;
    mb->nbuckets = n;
}

static pl_topic *add_topic(pl_mailbox *mb, const char *name, size_t len, size_t hash)
{
    if (mb->ntopics >= mb->nbuckets) rehash(mb, mb->nbuckets ? mb->nbuckets * 2 : 16);
    if (!mb->nbuckets) return NULL;
    pl_topic *t = malloc(sizeof *t + len + 1);
    if (!t) return NULL;
    memset(t, 0, sizeof *t);
    t->hash = hash;
    t->len = len;
    memcpy(t->name, name, len);
    t->name[len] = '\0';
    pl_topic **slot = &mb->buckets[hash & (mb->nbuckets - 1)];
    t->hnext = *slot;
    *slot = t;
    mb->ntopics++;
    return t;
}

static int is_bound(const pl_topic *t)
{
    return t->nbound[0] > 0 || t->nbound[1] > 0;
}

/* I4: forgets a topic nobody needs any more (shrinking the table: not
 * while walking it). */
static void maybe_drop_topic(pl_mailbox *mb, pl_topic *t)
{
    if (is_bound(t) || t->waiting.len || t->flush_pending) return;
    pl_topic **p = &mb->buckets[t->hash & (mb->nbuckets - 1)];
    while (*p != t)
        p = &(*p)->hnext;
    *p = t->hnext;
    free(t);
    mb->ntopics--;
    if (mb->nbuckets > 16 && mb->ntopics < mb->nbuckets / 8) rehash(mb, mb->nbuckets / 2);
}

/* ---- routing ---- */

/* Puts body into the ready queues its topic is bound in; lock held. */
static int route_ready(pl_mailbox *mb, pl_topic *t, pl_msgbody *body)
{
    int mask = 0;
    for (int p = 0; p < 2; p++)
        if (t->nbound[p] > 0) mask |= 1 << p;
    atomic_store_explicit(&body->refs, mask == 3 ? 2 : 1, memory_order_relaxed);
    for (int p = 0; p < 2; p++) {
        if (!(mask & (1 << p))) continue;
        q_push(&mb->ready[p], &body->node[p]);
        t->queued_in[p]++;
        sync_nready(mb, p);
    }
    return mask;
}

static void wait_on(pl_mailbox *mb, pl_topic *t, pl_msgbody *body)
{
    atomic_store_explicit(&body->refs, 1, memory_order_relaxed);
    q_push(&t->waiting, &body->node[PL_SERIAL]);
    mb->nwaiting++;
    mb->waiting_bytes += pl_msgbody_size(body);
}

static size_t waiting_limit(const pl_mailbox *mb)
{
    return mb->max_waiting_bytes ? mb->max_waiting_bytes : PL_MAILBOX_DEFAULT_WAITING_BYTES;
}

int pl_mailbox_post(pl_mailbox *mb, pl_msgbody **bodyp)
{
    int mask;
    pl_msgbody *body = *bodyp;
    pl_msgbody_trim(body); /* its wire is written: posting is its sender's last use */
again:;
    size_t size = pl_msgbody_size(body);
    body->delivered = 0;
    uv_mutex_lock(&mb->lock);
    pl_topic *t = find_topic(mb, body->topic, body->topic_len, body->hash);
    if (t && is_bound(t) && t->waiting.len == 0) {
        body->seq = mb->seq++;
        body->tref = t;
        mask = route_ready(mb, t, body);
    } else if (body->slab) {
        /* It would wait, and a waiting body must not pin its slab: copied
         * out of it (outside the lock), then routed again, since a binding
         * may have come meanwhile. Nothing was queued: order holds. */
        uv_mutex_unlock(&mb->lock);
        pl_msgbody *copy = unslab(body);
        if (!copy) return PL_ENOMEM;
        pl_msgbody_free(body);
        *bodyp = body = copy;
        goto again;
    } else if (t && is_bound(t)) {
        /* Bound, but older messages still wait for the flush: queue behind
         * them so the sender's order holds (past the limit too: the flush
         * is due). */
        body->seq = mb->seq++;
        body->tref = t;
        wait_on(mb, t, body);
        mask = 0;
    } else if (mb->waiting_bytes >= waiting_limit(mb) ||
               size > waiting_limit(mb) - mb->waiting_bytes) {
        mask = PL_EFULL;
    } else if (!t && !(t = add_topic(mb, body->topic, body->topic_len, body->hash))) {
        mask = PL_ENOMEM;
    } else {
        body->seq = mb->seq++;
        body->tref = t;
        wait_on(mb, t, body);
        mask = 0;
    }
    uv_mutex_unlock(&mb->lock);
    return mask;
}

/* Merges the sorted scratch list *src (bodies of topic t) into q through
 * node[p], each before the first message of t with a higher seq (I1).
 * Stops at q's end: what is left stays in *src. */
static void merge_before(pl_msgq *q, int p, pl_topic *t, pl_msgbody **src)
{
    pl_msg **at = &q->head;
    while (*src && *at) {
        pl_msgbody *n = (*at)->body;
        if (n->tref == t && n->seq > (*src)->seq) {
            pl_msgbody *b = *src;
            *src = b->link;
            b->node[p].next = *at;
            *at = &b->node[p];
            q->len++;
        }
        at = &(*at)->next;
    }
    /* inserting before a message never changes the tail */
}

static void append_all(pl_msgq *q, int p, pl_msgbody *src)
{
    for (; src; src = src->link)
        q_push(q, &src->node[p]);
}

/* Places bodies of t (sorted, each held by nobody else, not delivered),
 * never behind a newer message of t: in the one phase t is bound in, else
 * waiting (copied out of their slabs: the emptied slab bodies go on
 * *gone, to free outside the lock). Returns the mask of ready queues that
 * got some, plus PL_MAILBOX_FLUSH when they wait on a bound topic. */
static int place(pl_mailbox *mb, pl_topic *t, pl_msgbody *src, pl_msgbody **gone)
{
    for (pl_msgbody *b = src; b; b = b->link)
        atomic_store_explicit(&b->refs, 1, memory_order_relaxed);
    int bound[2] = {t->nbound[0] > 0, t->nbound[1] > 0};
    if (t->waiting.len || bound[0] == bound[1]) {
        /* waiting messages are older than any queued in a phase, and flush
         * first: these join them (I1). Bound in both phases happens only
         * when the handler lists and the counts disagree (out of memory
         * while binding): the flush then routes them to both. Slab bodies
         * are copied out of their slabs first, as in pl_mailbox_post, the
         * emptied ones onto *gone (out of memory: kept, pinning the slab
         * until they go). */
        size_t n = 0, bytes = 0;
        for (pl_msgbody **at = &src; *at; at = &(*at)->link) {
            pl_msgbody *b = *at, *copy = b->slab ? unslab(b) : NULL;
            if (copy) {
                *at = copy; /* its link: the rest of src */
                b->link = *gone;
                *gone = b;
            }
            n++;
            bytes += pl_msgbody_size(*at);
        }
        merge_before(&t->waiting, PL_SERIAL, t, &src);
        append_all(&t->waiting, PL_SERIAL, src);
        mb->nwaiting += n;
        mb->waiting_bytes += bytes; /* may pass the limit: they were let in once */
        if (!is_bound(t)) return 0;
        if (!t->flush_pending) {
            t->flush_pending = 1;
            t->fnext = mb->flushq;
            mb->flushq = t;
        }
        return PL_MAILBOX_FLUSH;
    }
    int p = bound[0] ? PL_SERIAL : PL_PARALLEL;
    for (pl_msgbody *b = src; b; b = b->link)
        t->queued_in[p]++;
    merge_before(&mb->batch[p], p, t, &src); /* the owner's: we are the owner */
    if (!src) return 0;
    merge_before(&mb->ready[p], p, t, &src);
    append_all(&mb->ready[p], p, src);
    sync_nready(mb, p);
    return 1 << p;
}

/* Takes t's messages out of q (phase p) into the scratch lists: *move
 * those to route again, *gone those to free. Lock held. */
static void pull_topic(pl_msgq *q, int p, pl_topic *t, pl_msgbody ***move, pl_msgbody **gone)
{
    pl_msg **at = &q->head, *prev = NULL;
    while (*at) {
        pl_msgbody *b = (*at)->body;
        if (b->tref != t) {
            prev = *at;
            at = &(*at)->next;
            continue;
        }
        *at = (*at)->next;
        q->len--;
        t->queued_out[p]++;
        int refs = atomic_load_explicit(&b->refs, memory_order_relaxed);
        if (refs == 2) { /* still queued in the other phase: that one delivers */
            atomic_store_explicit(&b->refs, 1, memory_order_relaxed);
        } else if (b->delivered) { /* I3: delivered in the other phase */
            b->link = *gone;
            *gone = b;
        } else {
            b->link = NULL;
            **move = b;
            *move = &b->link;
        }
    }
    q->tail = prev;
}

/* I2: phase p lost t's last binding; moves t's messages out of it. */
static int move_phase(pl_mailbox *mb, pl_topic *t, int p, pl_msgbody **gone)
{
    if (t->queued_in[p] == t->queued_out[p]) return 0; /* none queued: no scan */
    pl_msgbody *src = NULL, **tail = &src;
    pull_topic(&mb->batch[p], p, t, &tail, gone); /* older than ready[p]'s (I1) */
    pull_topic(&mb->ready[p], p, t, &tail, gone);
    sync_nready(mb, p);
    return src ? place(mb, t, src, gone) : 0;
}

int pl_mailbox_bind(pl_mailbox *mb, const char *topic, size_t len, int phase, int delta)
{
    int rc = 0;
    size_t hash = topic_hash(topic, len);
    pl_msgbody *gone = NULL;
    uv_mutex_lock(&mb->lock);
    pl_topic *t = find_topic(mb, topic, len, hash);
    if (!t && delta > 0) t = add_topic(mb, topic, len, hash);
    if (!t) {
        rc = delta > 0 ? -1 : 0; /* unbinding an unknown topic: nothing to do */
    } else {
        t->nbound[phase] += delta;
        if (delta < 0 && t->nbound[phase] == 0) rc = move_phase(mb, t, phase, &gone);
        if (is_bound(t) && t->waiting.len) {
            rc |= PL_MAILBOX_FLUSH;
            if (!t->flush_pending) {
                t->flush_pending = 1;
                t->fnext = mb->flushq;
                mb->flushq = t;
            }
        }
        maybe_drop_topic(mb, t);
    }
    uv_mutex_unlock(&mb->lock);
    free_bodies(gone);
    return rc;
}

/* Merges two lists sorted by seq (linked through next). */
static pl_msg *merge_seq(pl_msg *a, pl_msg *b)
{
    pl_msg *head = NULL, **tail = &head;
    while (a && b) {
        pl_msg **least = a->body->seq <= b->body->seq ? &a : &b;
        *tail = *least;
        tail = &(*least)->next;
        *least = (*least)->next;
    }
    *tail = a ? a : b;
    return head;
}

int pl_mailbox_flush(pl_mailbox *mb)
{
    int mask = 0;
    pl_msg *sorted[64] = {0}; /* sorted[i] merges 2^i lists: O(n log k) */
    uv_mutex_lock(&mb->lock);
    pl_topic *t = mb->flushq;
    mb->flushq = NULL;
    while (t) {
        pl_topic *next = t->fnext;
        t->flush_pending = 0;
        if (is_bound(t) && t->waiting.len) {
            pl_msg *carry = t->waiting.head;
            mb->nwaiting -= t->waiting.len;
            memset(&t->waiting, 0, sizeof t->waiting);
            int i = 0;
            for (; sorted[i]; i++) {
                carry = merge_seq(sorted[i], carry);
                sorted[i] = NULL;
            }
            sorted[i] = carry;
        }
        maybe_drop_topic(mb, t); /* unbound again before the flush, nothing waiting */
        t = next;
    }
    /* All topics' waiting messages in post order, so messages that waited
     * together reach the ready queues in the order they were sent, across
     * topics too (one sender's order). */
    pl_msg *all = NULL;
    for (int i = 0; i < 64; i++)
        all = merge_seq(sorted[i], all);
    while (all) {
        pl_msg *mnext = all->next;
        mb->waiting_bytes -= pl_msgbody_size(all->body);
        mask |= route_ready(mb, all->body->tref, all->body);
        all = mnext;
    }
    uv_mutex_unlock(&mb->lock);
    return mask;
}

size_t pl_mailbox_take(pl_mailbox *mb, int phase)
{
    pl_msgq *b = &mb->batch[phase];
    uv_mutex_lock(&mb->lock);
    pl_msgq *r = &mb->ready[phase];
    if (r->head) {
        if (b->tail)
            b->tail->next = r->head;
        else
            b->head = r->head;
        b->tail = r->tail;
        b->len += r->len;
        memset(r, 0, sizeof *r);
        sync_nready(mb, phase);
    }
    uv_mutex_unlock(&mb->lock);
    return b->len;
}

pl_msg *pl_mailbox_next(pl_mailbox *mb, int phase)
{
    /* No lock: batch[phase] is the owner's, and so is every change to it
     * (move_phase runs on the owner's thread too). */
    pl_msgq *b = &mb->batch[phase];
    pl_msg *m = b->head;
    if (!m) return NULL;
    b->head = m->next;
    if (!b->head) b->tail = NULL;
    b->len--;
    m->next = NULL;
    m->body->tref->queued_out[phase]++; /* still queued until now: tref valid (I4) */
    return m;
}

int pl_mailbox_reroute(pl_mailbox *mb, pl_msg *msg, int phase)
{
    (void)phase;
    pl_msgbody *body = msg->body;
    int refs = atomic_load_explicit(&body->refs, memory_order_relaxed);
    if (refs == 2 || body->delivered) { /* I3: the other phase has it */
        pl_msg_done(msg);
        return 0;
    }
    int mask;
    pl_msgbody *gone = NULL;
    uv_mutex_lock(&mb->lock);
    /* its tref may be gone (I4): look the topic up again */
    pl_topic *t = find_topic(mb, body->topic, body->topic_len, body->hash);
    if (!t) t = add_topic(mb, body->topic, body->topic_len, body->hash);
    if (t) {
        body->tref = t;
        body->link = NULL;
        mask = place(mb, t, body, &gone);
    } else {
        mask = PL_ENOMEM;
    }
    uv_mutex_unlock(&mb->lock);
    if (mask == PL_ENOMEM) pl_msgbody_free(body);
    free_bodies(gone); /* outside the lock, as every free */
    return mask;
}

/* ---- dropping ---- */

static void drop_queue(pl_msg *m)
{
    while (m) {
        pl_msg *next = m->next;
        pl_msg_done(m);
        m = next;
    }
}

static pl_msg *steal(pl_msgq *q)
{
    pl_msg *m = q->head;
    memset(q, 0, sizeof *q);
    return m;
}

void pl_mailbox_drop_all(pl_mailbox *mb)
{
    pl_msg *queues[4];
    pl_msg *waiting = NULL;
    uv_mutex_lock(&mb->lock);
    for (int p = 0; p < 2; p++) {
        queues[p] = steal(&mb->ready[p]);
        queues[2 + p] = steal(&mb->batch[p]); /* no run holds the VM now */
        sync_nready(mb, p);
    }
    for (pl_topic *t = mb->flushq; t; t = t->fnext)
        t->flush_pending = 0;
    mb->flushq = NULL;
    for (size_t i = 0; i < mb->nbuckets; i++) {
        for (pl_topic *t = mb->buckets[i], *next; t; t = next) {
            next = t->hnext;
            pl_msgq *q = &t->waiting;
            if (q->tail) { /* chain every waiting list into one */
                q->tail->next = waiting;
                waiting = q->head;
            }
            memset(q, 0, sizeof *q);
            memset(t->queued_in, 0, sizeof t->queued_in);
            memset(t->queued_out, 0, sizeof t->queued_out);
        }
    }
    mb->nwaiting = 0;
    mb->waiting_bytes = 0;
    uv_mutex_unlock(&mb->lock);
    /* outside the lock: dropping a message may free an Actor and its mailbox */
    for (int i = 0; i < 4; i++)
        drop_queue(queues[i]);
    drop_queue(waiting);
}

void pl_mailbox_destroy(pl_mailbox *mb)
{
    pl_mailbox_drop_all(mb);
    for (size_t i = 0; i < mb->nbuckets; i++) {
        for (pl_topic *t = mb->buckets[i], *next; t; t = next) {
            next = t->hnext;
            free(t);
        }
    }
    free(mb->buckets);
    uv_mutex_destroy(&mb->lock);
}

size_t pl_mailbox_topics(pl_mailbox *mb)
{
    uv_mutex_lock(&mb->lock);
    size_t n = mb->ntopics;
    uv_mutex_unlock(&mb->lock);
    return n;
}

void pl_mailbox_each_waiting(pl_mailbox *mb,
                             void (*fn)(void *ud, const char *topic, size_t len, size_t n),
                             void *ud)
{
    uv_mutex_lock(&mb->lock);
    for (size_t i = 0; i < mb->nbuckets; i++)
        for (pl_topic *t = mb->buckets[i]; t; t = t->hnext)
            if (t->waiting.len) fn(ud, t->name, t->len, t->waiting.len);
    uv_mutex_unlock(&mb->lock);
}

char *pl_topic_quote(char *buf, size_t size, const char *topic, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)topic[i];
        char tmp[8];
        int n;
        if (c == '\\' || c == '"')
            n = snprintf(tmp, sizeof tmp, "\\%c", c);
        else if (c == '\n')
            n = snprintf(tmp, sizeof tmp, "\\n");
        else if (c == '\0')
            n = snprintf(tmp, sizeof tmp, "\\0");
        else if (c < 0x20 || c > 0x7e)
            n = snprintf(tmp, sizeof tmp, "\\x%02X", c);
        else
            n = snprintf(tmp, sizeof tmp, "%c", c);
        if (o + (size_t)n + 4 > size) { /* room for "..." and the NUL */
            memcpy(buf + o, "...", 4);
            return buf;
        }
        memcpy(buf + o, tmp, (size_t)n);
        o += (size_t)n;
    }
    buf[o] = '\0';
    return buf;
}
