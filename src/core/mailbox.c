#include "core/mailbox.h"

#include <stdlib.h>
#include <string.h>

void pl_mailbox_init(pl_mailbox *mb)
{
    memset(mb, 0, sizeof *mb);
    uv_mutex_init(&mb->lock);
    atomic_init(&mb->nready[0], 0);
    atomic_init(&mb->nready[1], 0);
}

pl_msgbody *pl_msgbody_new(const char *topic, size_t len)
{
    pl_msgbody *body = malloc(sizeof *body + len + 1);
    if (!body) return NULL;
    body->topic = (char *)(body + 1);
    for (int p = 0; p < 2; p++) {
        body->node[p].next = NULL;
        body->node[p].body = body;
    }
    atomic_init(&body->refs, 0);
    pl_wire_init_inline(&body->wire, body->inline_wire, sizeof body->inline_wire);
    body->topic_len = len;
    memcpy(body->topic, topic, len);
    body->topic[len] = '\0';
    return body;
}

void pl_msgbody_free(pl_msgbody *body)
{
    pl_wire_free(&body->wire);
    free(body);
}

void pl_msg_done(pl_msg *msg)
{
    pl_msgbody *body = msg->body;
    /* acq_rel: the last holder must see the other holder's reads finished
     * before it frees (the two holders are the serial and parallel runs). */
    if (atomic_fetch_sub_explicit(&body->refs, 1, memory_order_acq_rel) == 1) pl_msgbody_free(body);
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

static pl_topic *find_topic(pl_mailbox *mb, const char *name, size_t len)
{
    for (size_t i = 0; i < mb->ntopics; i++) {
        pl_topic *t = &mb->topics[i];
        if (t->len == len && memcmp(t->name, name, len) == 0) return t;
    }
    return NULL;
}

static pl_topic *add_topic(pl_mailbox *mb, const char *name, size_t len)
{
    if (mb->ntopics == mb->cap) {
        size_t cap = mb->cap ? mb->cap * 2 : 4;
        pl_topic *topics = realloc(mb->topics, cap * sizeof *topics);
        if (!topics) return NULL;
        mb->topics = topics;
        mb->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) return NULL;
    memcpy(copy, name, len);
    copy[len] = '\0';
    pl_topic *t = &mb->topics[mb->ntopics++];
    memset(t, 0, sizeof *t);
    t->name = copy;
    t->len = len;
    return t;
}

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
        /* relaxed: readers that must not miss it fence (see mailbox.h) */
        atomic_store_explicit(&mb->nready[p], mb->ready[p].len, memory_order_relaxed);
    }
    return mask;
}

static void wait_on(pl_mailbox *mb, pl_topic *t, pl_msgbody *body)
{
    atomic_store_explicit(&body->refs, 1, memory_order_relaxed);
    q_push(&t->waiting, &body->node[PL_SERIAL]);
    mb->nwaiting++;
}

int pl_mailbox_post(pl_mailbox *mb, pl_msgbody *body)
{
    int mask = -1;
    uv_mutex_lock(&mb->lock);
    pl_topic *t = find_topic(mb, body->topic, body->topic_len);
    int bound = t && (t->nbound[0] > 0 || t->nbound[1] > 0);
    if (bound && t->waiting.len == 0) {
        mask = route_ready(mb, t, body);
    } else if (bound) {
        /* Bound, but older messages still wait for the flush: queue behind
         * them so the sender's order holds (past the limit too: the flush
         * is due). */
        wait_on(mb, t, body);
        mask = 0;
    } else if (mb->nwaiting < PL_MAILBOX_MAX_WAITING) {
        if (!t) t = add_topic(mb, body->topic, body->topic_len);
        if (t) {
            wait_on(mb, t, body);
            mask = 0;
        }
    }
    uv_mutex_unlock(&mb->lock);
    return mask;
}

int pl_mailbox_bind(pl_mailbox *mb, const char *topic, size_t len, int phase, int delta)
{
    int rc;
    uv_mutex_lock(&mb->lock);
    pl_topic *t = find_topic(mb, topic, len);
    if (!t) t = add_topic(mb, topic, len);
    if (!t) {
        rc = -1;
    } else {
        t->nbound[phase] += delta;
        rc = (t->nbound[0] > 0 || t->nbound[1] > 0) && t->waiting.len > 0;
    }
    uv_mutex_unlock(&mb->lock);
    return rc;
}

int pl_mailbox_flush(pl_mailbox *mb)
{
    int mask = 0;
    uv_mutex_lock(&mb->lock);
    for (size_t i = 0; i < mb->ntopics; i++) {
        pl_topic *t = &mb->topics[i];
        if (!t->waiting.len || (t->nbound[0] <= 0 && t->nbound[1] <= 0)) continue;
        pl_msg *m = t->waiting.head;
        t->waiting.head = t->waiting.tail = NULL;
        mb->nwaiting -= t->waiting.len;
        t->waiting.len = 0;
        while (m) {
            pl_msg *next = m->next;
            mask |= route_ready(mb, t, m->body);
            m = next;
        }
    }
    uv_mutex_unlock(&mb->lock);
    return mask;
}

pl_msg *pl_mailbox_take(pl_mailbox *mb, int phase)
{
    uv_mutex_lock(&mb->lock);
    pl_msg *head = mb->ready[phase].head;
    mb->ready[phase].head = mb->ready[phase].tail = NULL;
    mb->ready[phase].len = 0;
    atomic_store_explicit(&mb->nready[phase], 0, memory_order_relaxed);
    uv_mutex_unlock(&mb->lock);
    return head;
}

int pl_mailbox_reroute(pl_mailbox *mb, pl_msg *msg, int phase)
{
    pl_msgbody *body = msg->body;
    int mask = 0;
    uv_mutex_lock(&mb->lock);
    pl_topic *t = find_topic(mb, body->topic, body->topic_len);
    /* This queue's hold goes; if the other phase still holds the body it
     * will be delivered (or rerouted) there, so nothing is lost. */
    if (atomic_fetch_sub_explicit(&body->refs, 1, memory_order_acq_rel) == 1) {
        int other = !phase;
        if (t && t->nbound[other] > 0) {
            atomic_store_explicit(&body->refs, 1, memory_order_relaxed);
            q_push(&mb->ready[other], &body->node[other]);
            atomic_store_explicit(&mb->nready[other], mb->ready[other].len, memory_order_relaxed);
            mask = 1 << other;
        } else if (t) {
            wait_on(mb, t, body); /* may pass the limit: it was already counted once */
        } else {
            pl_msgbody_free(body); /* unreachable: a taken message's topic exists */
        }
    }
    uv_mutex_unlock(&mb->lock);
    return mask;
}

static void drop_queue(pl_msg *m)
{
    while (m) {
        pl_msg *next = m->next;
        pl_msg_done(m);
        m = next;
    }
}

void pl_mailbox_drop_all(pl_mailbox *mb)
{
    uv_mutex_lock(&mb->lock);
    pl_msg *queues[2] = {mb->ready[0].head, mb->ready[1].head};
    for (int p = 0; p < 2; p++) {
        memset(&mb->ready[p], 0, sizeof mb->ready[p]);
        atomic_store_explicit(&mb->nready[p], 0, memory_order_relaxed);
    }
    pl_msg *waiting = NULL;
    for (size_t i = 0; i < mb->ntopics; i++) { /* chain every waiting list into one */
        pl_msgq *q = &mb->topics[i].waiting;
        if (q->tail) {
            q->tail->next = waiting;
            waiting = q->head;
        }
        memset(q, 0, sizeof *q);
    }
    mb->nwaiting = 0;
    uv_mutex_unlock(&mb->lock);
    /* outside the lock: dropping a message may free an Actor and its mailbox */
    drop_queue(queues[0]);
    drop_queue(queues[1]);
    drop_queue(waiting);
}

void pl_mailbox_destroy(pl_mailbox *mb)
{
    pl_mailbox_drop_all(mb);
    for (size_t i = 0; i < mb->ntopics; i++)
        free(mb->topics[i].name);
    free(mb->topics);
    uv_mutex_destroy(&mb->lock);
}

void pl_mailbox_each_waiting(pl_mailbox *mb, void (*fn)(void *ud, const char *topic, size_t n),
                             void *ud)
{
    uv_mutex_lock(&mb->lock);
    for (size_t i = 0; i < mb->ntopics; i++)
        if (mb->topics[i].waiting.len) fn(ud, mb->topics[i].name, mb->topics[i].waiting.len);
    uv_mutex_unlock(&mb->lock);
}
