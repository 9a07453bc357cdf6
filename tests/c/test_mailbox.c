/*
 * Actor mailbox (src/core/mailbox.h): routing to the serial queue, the
 * parallel queue, both, or the topic's waiting list; bind + flush moving
 * waiting messages in order; the waiting limit; reroute; and concurrent
 * posters from several threads with a concurrent consumer, per-sender order
 * checked and nothing lost.
 *
 * Usage: test_mailbox [posters [messages_per_poster]]   (defaults 4, 20000)
 *
 * A message's payload (sender, sequence number) is kept in its wire's bytes
 * (the test owns the bytes; pl_wire_free frees them with free()).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <cmocka.h>

#include "core/mailbox.h"

static int nposters = 4;
static int nmessages = 20000;

static pl_msgbody *mk(const char *topic, uint32_t sender, uint32_t seq)
{
    pl_msgbody *b = pl_msgbody_new(topic, strlen(topic));
    assert_non_null(b);
    uint64_t v = ((uint64_t)sender << 32) | seq;
    b->wire.data = malloc(sizeof v);
    assert_non_null(b->wire.data);
    memcpy(b->wire.data, &v, sizeof v);
    b->wire.len = b->wire.cap = sizeof v;
    return b;
}

static uint32_t seq_of(const pl_msg *m)
{
    uint64_t v;
    memcpy(&v, m->body->wire.data, sizeof v);
    return (uint32_t)v;
}

static uint32_t sender_of(const pl_msg *m)
{
    uint64_t v;
    memcpy(&v, m->body->wire.data, sizeof v);
    return (uint32_t)(v >> 32);
}

static int post(pl_mailbox *mb, const char *topic, uint32_t sender, uint32_t seq)
{
    pl_msgbody *b = mk(topic, sender, seq);
    int mask = pl_mailbox_post(mb, &b);
    if (mask < 0) pl_msgbody_free(b);
    return mask;
}

/* Takes a phase's ready queue and hands its whole batch out, chained
 * through next (as the runtime's delivery pops them one by one). */
static pl_msg *take(pl_mailbox *mb, int phase)
{
    pl_mailbox_take(mb, phase);
    pl_msg *head = NULL, **tail = &head, *m;
    while ((m = pl_mailbox_next(mb, phase))) {
        *tail = m;
        tail = &m->next;
    }
    return head;
}

static int tbind(pl_mailbox *mb, const char *topic, int phase, int delta)
{
    return pl_mailbox_bind(mb, topic, strlen(topic), phase, delta);
}

/* Takes a phase's queue; checks topic and sequence numbers 1..n in order;
 * releases the messages. Returns how many there were. */
static int take_expect(pl_mailbox *mb, int phase, const char *topic, uint32_t first)
{
    int n = 0;
    pl_msg *m = take(mb, phase);
    while (m) {
        pl_msg *next = m->next;
        assert_string_equal(m->body->topic, topic);
        if (seq_of(m) != first + (uint32_t)n)
            fail_msg("phase %d topic %s: got #%u, expected #%u", phase, topic, seq_of(m),
                     first + (uint32_t)n);
        n++;
        pl_msg_done(m);
        m = next;
    }
    return n;
}

typedef struct waiting_count {
    char topic[32];
    size_t n;
    int topics;
} waiting_count;

static void count_waiting(void *ud, const char *topic, size_t len, size_t n)
{
    waiting_count *w = ud;
    assert_int_equal(strlen(topic), len);
    snprintf(w->topic, sizeof w->topic, "%s", topic);
    w->n += n;
    w->topics++;
}

static void test_routing(void **state)
{
    (void)state;
    pl_mailbox mb;
    pl_mailbox_init(&mb);
    assert_int_equal(tbind(&mb, "s", PL_SERIAL, 1), 0); /* bound, nothing waiting */
    assert_int_equal(tbind(&mb, "p", PL_PARALLEL, 1), 0);
    assert_int_equal(tbind(&mb, "b", PL_SERIAL, 1), 0);
    assert_int_equal(tbind(&mb, "b", PL_PARALLEL, 1), 0);

    assert_int_equal(post(&mb, "s", 0, 1), 1 << PL_SERIAL);
    assert_int_equal(post(&mb, "p", 0, 1), 1 << PL_PARALLEL);
    assert_int_equal(post(&mb, "b", 0, 1), (1 << PL_SERIAL) | (1 << PL_PARALLEL));
    assert_int_equal(post(&mb, "w", 0, 1), 0); /* unbound: waits */
    assert_int_equal(pl_mailbox_ready(&mb, PL_SERIAL), 2);
    assert_int_equal(pl_mailbox_ready(&mb, PL_PARALLEL), 2);

    /* serial queue: s then b; parallel: p then b, the same body as serial's b */
    pl_msg *ser = take(&mb, PL_SERIAL);
    assert_int_equal(pl_mailbox_ready(&mb, PL_SERIAL), 0);
    assert_non_null(ser);
    assert_string_equal(ser->body->topic, "s");
    assert_non_null(ser->next);
    assert_string_equal(ser->next->body->topic, "b");
    assert_null(ser->next->next);
    pl_msg *par = take(&mb, PL_PARALLEL);
    assert_non_null(par);
    assert_string_equal(par->body->topic, "p");
    assert_string_equal(par->next->body->topic, "b");
    assert_null(par->next->next);
    assert_ptr_equal(par->next->body, ser->next->body); /* shared body */
    assert_int_equal(atomic_load(&ser->next->body->refs), 2);
    assert_null(take(&mb, PL_SERIAL)); /* empty now */

    /* release (the shared body goes with its second holder: ASan checks) */
    pl_msg *sb = ser->next, *pb = par->next;
    pl_msg_done(ser);
    pl_msg_done(par);
    pl_msg_done(sb);
    pl_msg_done(pb);

    waiting_count w = {"", 0, 0};
    pl_mailbox_each_waiting(&mb, count_waiting, &w);
    assert_int_equal(w.n, 1);
    assert_int_equal(w.topics, 1);
    assert_string_equal(w.topic, "w");

    /* unbinding: later messages wait */
    assert_int_equal(tbind(&mb, "s", PL_SERIAL, -1), 0);
    assert_int_equal(post(&mb, "s", 0, 2), 0);
    /* one of two bindings left: still routed to that phase only */
    assert_int_equal(tbind(&mb, "b", PL_SERIAL, -1), 0);
    assert_int_equal(post(&mb, "b", 0, 2), 1 << PL_PARALLEL);
    assert_int_equal(take_expect(&mb, PL_PARALLEL, "b", 2), 1);
    pl_mailbox_destroy(&mb); /* drops the waiting ones */
}

static void test_bind_flush_order(void **state)
{
    (void)state;
    pl_mailbox mb;
    pl_mailbox_init(&mb);
    enum { N = 300 };
    for (uint32_t i = 1; i <= N; i++) {
        assert_int_equal(post(&mb, "a", 0, i), 0);
        assert_int_equal(post(&mb, "b", 0, i), 0);
        assert_int_equal(post(&mb, "c", 0, i), 0);
    }
    assert_int_equal(pl_mailbox_ready(&mb, PL_SERIAL), 0);
    /* bind a (serial) and b (both): bind reports waiting messages */
    assert_int_equal(tbind(&mb, "a", PL_SERIAL, 1), PL_MAILBOX_FLUSH);
    assert_int_equal(tbind(&mb, "b", PL_SERIAL, 1), PL_MAILBOX_FLUSH);
    assert_int_equal(tbind(&mb, "b", PL_PARALLEL, 1), PL_MAILBOX_FLUSH);
    /* nothing moves before the flush */
    assert_int_equal(pl_mailbox_ready(&mb, PL_SERIAL), 0);
    int mask = pl_mailbox_flush(&mb);
    assert_int_equal(mask, (1 << PL_SERIAL) | (1 << PL_PARALLEL));
    assert_int_equal(pl_mailbox_ready(&mb, PL_SERIAL), 2 * N);
    assert_int_equal(pl_mailbox_ready(&mb, PL_PARALLEL), N);
    /* serial: every a and b, each topic in order */
    uint32_t next_a = 1, next_b = 1;
    pl_msg *m = take(&mb, PL_SERIAL);
    int n = 0;
    while (m) {
        pl_msg *next = m->next;
        if (strcmp(m->body->topic, "a") == 0)
            assert_int_equal(seq_of(m), next_a++);
        else if (strcmp(m->body->topic, "b") == 0)
            assert_int_equal(seq_of(m), next_b++);
        else
            fail_msg("unbound topic %s flushed", m->body->topic);
        pl_msg_done(m);
        m = next;
        n++;
    }
    assert_int_equal(n, 2 * N);
    assert_int_equal(take_expect(&mb, PL_PARALLEL, "b", 1), N);
    /* c still waits, all of it */
    waiting_count w = {"", 0, 0};
    pl_mailbox_each_waiting(&mb, count_waiting, &w);
    assert_int_equal(w.n, N);
    assert_string_equal(w.topic, "c");
    /* a second flush moves nothing */
    assert_int_equal(pl_mailbox_flush(&mb), 0);
    /* bound later, c flushes in order too */
    assert_int_equal(tbind(&mb, "c", PL_PARALLEL, 1), PL_MAILBOX_FLUSH);
    assert_int_equal(pl_mailbox_flush(&mb), 1 << PL_PARALLEL);
    assert_int_equal(take_expect(&mb, PL_PARALLEL, "c", 1), N);
    pl_mailbox_destroy(&mb);
}

/* Messages from one sender arrive in the order sent. A message
 * posted after the topic's first binding but before the flush must not
 * overtake the messages that were waiting. */
static void test_post_between_bind_and_flush(void **state)
{
    (void)state;
    pl_mailbox mb;
    pl_mailbox_init(&mb);
    assert_int_equal(post(&mb, "t", 0, 1), 0);
    assert_int_equal(post(&mb, "t", 0, 2), 0);
    assert_int_equal(tbind(&mb, "t", PL_SERIAL, 1), PL_MAILBOX_FLUSH);
    post(&mb, "t", 0, 3); /* the binding code is still running */
    post(&mb, "t", 0, 4);
    pl_mailbox_flush(&mb);
    post(&mb, "t", 0, 5);
    assert_int_equal(take_expect(&mb, PL_SERIAL, "t", 1), 5);
    pl_mailbox_destroy(&mb);
}

/* Bytes that n test messages (one-letter topic) hold. */
static size_t bytes_of(size_t n)
{
    pl_msgbody *b = mk("x", 0, 0);
    size_t size = pl_msgbody_size(b);
    pl_msgbody_free(b);
    return n * size;
}

enum { LIMIT_MSGS = 1000 };

static void test_waiting_limit(void **state)
{
    (void)state;
    pl_mailbox mb;
    pl_mailbox_init(&mb);
    mb.max_waiting_bytes = bytes_of(LIMIT_MSGS);
    /* the limit is per actor, over all topics */
    for (uint32_t i = 0; i < LIMIT_MSGS; i++)
        if (post(&mb, (i & 1) ? "x" : "y", 0, i / 2 + 1) != 0) fail_msg("post %u refused", i);
    pl_msgbody *extra = mk("x", 0, 999999);
    assert_int_equal(pl_mailbox_post(&mb, &extra), PL_EFULL);
    /* body untouched: the caller still owns it and can post it later */
    assert_int_equal(atomic_load(&extra->refs), 0);
    assert_int_equal(post(&mb, "z", 0, 1), PL_EFULL);
    /* a bound topic is not limited */
    assert_int_equal(tbind(&mb, "bound", PL_SERIAL, 1), 0);
    assert_int_equal(post(&mb, "bound", 0, 1), 1 << PL_SERIAL);
    /* binding y and flushing frees room */
    assert_int_equal(tbind(&mb, "y", PL_SERIAL, 1), PL_MAILBOX_FLUSH);
    pl_mailbox_flush(&mb);
    assert_int_equal(pl_mailbox_post(&mb, &extra), 0); /* now it waits */
    waiting_count w = {"", 0, 0};
    pl_mailbox_each_waiting(&mb, count_waiting, &w);
    assert_int_equal(w.n, LIMIT_MSGS / 2 + 1);
    assert_int_equal(w.topics, 1);
    assert_string_equal(w.topic, "x");
    pl_mailbox_destroy(&mb);
}

static void test_reroute(void **state)
{
    (void)state;
    pl_mailbox mb;
    pl_mailbox_init(&mb);
    /* bound serial, taken, then the serial binding went away and a parallel
     * one came: the message moves to the parallel queue */
    tbind(&mb, "t", PL_SERIAL, 1);
    assert_int_equal(post(&mb, "t", 0, 1), 1 << PL_SERIAL);
    pl_msg *m = take(&mb, PL_SERIAL);
    assert_non_null(m);
    tbind(&mb, "t", PL_SERIAL, -1);
    tbind(&mb, "t", PL_PARALLEL, 1);
    assert_int_equal(pl_mailbox_reroute(&mb, m, PL_SERIAL), 1 << PL_PARALLEL);
    assert_int_equal(take_expect(&mb, PL_PARALLEL, "t", 1), 1);

    /* no binding at all: back to waiting, delivered after a new bind */
    assert_int_equal(post(&mb, "t", 0, 2), 1 << PL_PARALLEL);
    m = take(&mb, PL_PARALLEL);
    tbind(&mb, "t", PL_PARALLEL, -1);
    assert_int_equal(pl_mailbox_reroute(&mb, m, PL_PARALLEL), 0);
    waiting_count w = {"", 0, 0};
    pl_mailbox_each_waiting(&mb, count_waiting, &w);
    assert_int_equal(w.n, 1);
    assert_int_equal(tbind(&mb, "t", PL_SERIAL, 1), PL_MAILBOX_FLUSH);
    assert_int_equal(pl_mailbox_flush(&mb), 1 << PL_SERIAL);
    assert_int_equal(take_expect(&mb, PL_SERIAL, "t", 2), 1);

    /* held by both queues: rerouting from one phase only drops that hold,
     * the other queue still delivers it */
    tbind(&mb, "t", PL_PARALLEL, 1);
    assert_int_equal(post(&mb, "t", 0, 3), 3);
    pl_msg *ms = take(&mb, PL_SERIAL);
    tbind(&mb, "t", PL_SERIAL, -1);
    assert_int_equal(pl_mailbox_reroute(&mb, ms, PL_SERIAL), 0);
    assert_int_equal(take_expect(&mb, PL_PARALLEL, "t", 3), 1);
    w.n = 0;
    w.topics = 0;
    pl_mailbox_each_waiting(&mb, count_waiting, &w);
    assert_int_equal(w.n, 0);

    /* reroute never fails for lack of room, even at the waiting limit */
    tbind(&mb, "t", PL_PARALLEL, -1);
    tbind(&mb, "r", PL_SERIAL, 1);
    assert_int_equal(post(&mb, "r", 0, 1), 1 << PL_SERIAL);
    pl_msg *mr = take(&mb, PL_SERIAL);
    tbind(&mb, "r", PL_SERIAL, -1);
    mb.max_waiting_bytes = bytes_of(LIMIT_MSGS) + LIMIT_MSGS * 3; /* "full" is 3 bytes longer */
    for (uint32_t i = 0; i < LIMIT_MSGS; i++)
        assert_int_equal(post(&mb, "full", 0, i), 0);
    assert_int_equal(post(&mb, "full", 0, 0), PL_EFULL);
    assert_int_equal(pl_mailbox_reroute(&mb, mr, PL_SERIAL), 0);
    w.n = 0;
    pl_mailbox_each_waiting(&mb, count_waiting, &w);
    assert_int_equal(w.n, LIMIT_MSGS + 1);
    pl_mailbox_destroy(&mb);
}

/* Issue 8 #10: a phase that loses a topic's last binding while messages of
 * it remain in its batch moves them at once, in order: a message posted
 * after that cannot overtake them. */
static void test_unbind_moves_batch_in_order(void **state)
{
    (void)state;
    pl_mailbox mb;
    pl_mailbox_init(&mb);
    tbind(&mb, "t", PL_SERIAL, 1);
    for (uint32_t i = 1; i <= 3; i++)
        assert_int_equal(post(&mb, "t", 0, i), 1 << PL_SERIAL);
    assert_int_equal(post(&mb, "u", 0, 1), 0); /* another topic, waiting */
    assert_int_equal(pl_mailbox_take(&mb, PL_SERIAL), 3);
    pl_msg *m = pl_mailbox_next(&mb, PL_SERIAL);
    assert_int_equal(seq_of(m), 1);
    pl_msg_delivered(m);
    assert_int_equal(tbind(&mb, "t", PL_SERIAL, -1), 0); /* its handler unbinds */
    pl_msg_done(m);
    assert_null(pl_mailbox_next(&mb, PL_SERIAL)); /* 2 and 3 left the batch */
    assert_int_equal(post(&mb, "t", 0, 4), 0);
    assert_int_equal(tbind(&mb, "t", PL_SERIAL, 1), PL_MAILBOX_FLUSH);
    assert_int_equal(pl_mailbox_flush(&mb), 1 << PL_SERIAL);
    assert_int_equal(take_expect(&mb, PL_SERIAL, "t", 2), 3);
    pl_mailbox_destroy(&mb);
}

/* Issue 8 #10: moving a topic from the serial to the parallel phase keeps
 * the order: the serial phase's messages go before newer parallel ones. */
static void test_move_phase_order(void **state)
{
    (void)state;
    pl_mailbox mb;
    pl_mailbox_init(&mb);
    tbind(&mb, "t", PL_SERIAL, 1);
    assert_int_equal(post(&mb, "t", 0, 1), 1 << PL_SERIAL);
    assert_int_equal(post(&mb, "o", 0, 1), 0);
    tbind(&mb, "o", PL_PARALLEL, 1);
    pl_mailbox_flush(&mb);
    assert_int_equal(tbind(&mb, "t", PL_PARALLEL, 1), 0);
    assert_int_equal(post(&mb, "t", 0, 2), 3); /* both phases */
    assert_int_equal(post(&mb, "t", 0, 3), 3);
    assert_int_equal(tbind(&mb, "t", PL_SERIAL, -1), 1 << PL_PARALLEL);
    assert_int_equal(pl_mailbox_ready(&mb, PL_SERIAL), 0);
    pl_msg *m = take(&mb, PL_PARALLEL);
    const char *topics[] = {"o", "t", "t", "t"};
    uint32_t seqs[] = {1, 1, 2, 3};
    for (int i = 0; i < 4; i++) {
        assert_non_null(m);
        assert_string_equal(m->body->topic, topics[i]);
        assert_int_equal(seq_of(m), seqs[i]);
        assert_int_equal(atomic_load(&m->body->refs), 1);
        pl_msg *next = m->next;
        pl_msg_done(m);
        m = next;
    }
    assert_null(m);
    pl_mailbox_destroy(&mb);
}

/* Issue 8 #9: a message delivered in one phase whose other phase then loses
 * its binding is done: never queued again, never left waiting. */
static void test_delivered_not_rerouted(void **state)
{
    (void)state;
    pl_mailbox mb;
    pl_mailbox_init(&mb);
    tbind(&mb, "t", PL_SERIAL, 1);
    tbind(&mb, "t", PL_PARALLEL, 1);
    assert_int_equal(post(&mb, "t", 0, 1), 3);
    assert_int_equal(post(&mb, "t", 0, 2), 3);
    pl_mailbox_take(&mb, PL_PARALLEL);
    pl_msg *m = pl_mailbox_next(&mb, PL_PARALLEL);
    pl_msg_delivered(m);
    /* the parallel handler of 1 unbinds the serial phase */
    assert_int_equal(tbind(&mb, "t", PL_SERIAL, -1), 0);
    pl_msg_done(m);
    m = pl_mailbox_next(&mb, PL_PARALLEL);
    assert_int_equal(seq_of(m), 2);
    pl_msg_delivered(m);
    pl_msg_done(m);
    assert_int_equal(pl_mailbox_ready(&mb, PL_SERIAL), 0);
    assert_int_equal(pl_mailbox_ready(&mb, PL_PARALLEL), 0);
    /* no binding left: nothing waits for the next one */
    assert_int_equal(tbind(&mb, "t", PL_PARALLEL, -1), 0);
    assert_int_equal(tbind(&mb, "t", PL_SERIAL, 1), 0);
    waiting_count w = {"", 0, 0};
    pl_mailbox_each_waiting(&mb, count_waiting, &w);
    assert_int_equal(w.n, 0);
    /* and a popped message that finds no handler after the other phase
     * delivered it is dropped, not re-queued */
    tbind(&mb, "t", PL_PARALLEL, 1);
    assert_int_equal(post(&mb, "t", 0, 3), 3);
    pl_mailbox_take(&mb, PL_PARALLEL);
    m = pl_mailbox_next(&mb, PL_PARALLEL);
    pl_msg_delivered(m);
    pl_msg_done(m);
    pl_mailbox_take(&mb, PL_SERIAL);
    m = pl_mailbox_next(&mb, PL_SERIAL);
    assert_int_equal(pl_mailbox_reroute(&mb, m, PL_SERIAL), 0);
    assert_int_equal(pl_mailbox_ready(&mb, PL_PARALLEL), 0);
    pl_mailbox_destroy(&mb);
}

/* Issue 8 #11: a topic with no binding and nothing waiting is forgotten. */
static void test_topics_forgotten(void **state)
{
    (void)state;
    pl_mailbox mb;
    pl_mailbox_init(&mb);
    tbind(&mb, "keep", PL_SERIAL, 1);
    char name[32];
    for (uint32_t i = 0; i < 50000; i++) {
        snprintf(name, sizeof name, "request-%u", i);
        assert_int_equal(tbind(&mb, name, i & 1, 1), 0);
        assert_int_equal(post(&mb, name, 0, 1), 1 << (i & 1));
        assert_int_equal(take_expect(&mb, i & 1, name, 1), 1);
        assert_int_equal(tbind(&mb, name, i & 1, -1), 0);
    }
    assert_int_equal(pl_mailbox_topics(&mb), 1);
    assert_true(mb.nbuckets <= 64); /* the table shrank back */
    /* waiting, then bound, flushed, unbound: gone too */
    assert_int_equal(post(&mb, "late", 0, 1), 0);
    assert_int_equal(pl_mailbox_topics(&mb), 2);
    tbind(&mb, "late", PL_SERIAL, 1);
    pl_mailbox_flush(&mb);
    take_expect(&mb, PL_SERIAL, "late", 1);
    tbind(&mb, "late", PL_SERIAL, -1);
    assert_int_equal(pl_mailbox_topics(&mb), 1);
    pl_mailbox_destroy(&mb);
}

static void count_nul(void *ud, const char *topic, size_t len, size_t n)
{
    char *out = ud;
    pl_topic_quote(out, 64, topic, len);
}

/* Checks that every message waiting on topic is a body of its own (not
 * in a slab: core/msgslab.h) and their sequence numbers are first, first
 * + 1, ...; returns how many there are. */
static int waiting_unslabbed(pl_mailbox *mb, const char *topic, uint32_t first)
{
    int n = 0;
    for (size_t i = 0; i < mb->nbuckets; i++) {
        for (pl_topic *t = mb->buckets[i]; t; t = t->hnext) {
            if (strcmp(t->name, topic) != 0) continue;
            for (pl_msg *m = t->waiting.head; m; m = m->next) {
                assert_ptr_equal(m->body->slab, NULL);
                assert_ptr_equal(m->body->node[PL_SERIAL].body, m->body);
                assert_ptr_equal(m->body->node[PL_PARALLEL].body, m->body);
                assert_string_equal(m->body->topic, topic);
                assert_int_equal(seq_of(m), first + (uint32_t)n);
                n++;
            }
        }
    }
    return n;
}

/* A body cut from a slab never waits in it (a waiting body would pin its
 * whole slab, which the waiting limit does not count): posting to an
 * unbound topic copies it out, and so does moving queued bodies back to
 * waiting (unbinding) or rerouting one. Their bytes, wires and order are
 * kept. */
static void test_waiting_bodies_leave_slabs(void **state)
{
    (void)state;
    pl_mailbox mb;
    pl_mailbox_init(&mb);
    /* posted to a topic nobody binds */
    pl_msgbody *b = mk("w", 0, 1);
    assert_non_null(b->slab); /* a small body comes from the thread's slab */
    pl_msgbody *first = b;
    assert_int_equal(pl_mailbox_post(&mb, &b), 0);
    assert_true(b != first);
    assert_int_equal(post(&mb, "w", 0, 2), 0);
    assert_int_equal(waiting_unslabbed(&mb, "w", 1), 2);
    /* a wire still in the body's inline bytes, trimmed to them, moves with
     * the copy */
    pl_msgbody *in = pl_msgbody_new("i", 1);
    assert_non_null(in);
    assert_int_equal(pl_wire_put_u8(&in->wire, 7), 0);
    assert_ptr_equal(in->wire.data, pl_msgbody_inline(in));
    pl_msgbody_trim(in);
    assert_int_equal(in->wire.cap, 1);
    assert_int_equal(pl_mailbox_post(&mb, &in), 0);
    assert_ptr_equal(in->slab, NULL);
    assert_ptr_equal(in->wire.data, pl_msgbody_inline(in));
    assert_ptr_equal(in->wire.inline_buf, pl_msgbody_inline(in));
    assert_int_equal(in->wire.len, 1);
    assert_int_equal(in->wire.data[0], 7);

    /* queued in a phase, then its last binding went: back to waiting */
    tbind(&mb, "u", PL_SERIAL, 1);
    for (uint32_t i = 1; i <= 3; i++)
        assert_int_equal(post(&mb, "u", 0, i), 1 << PL_SERIAL);
    assert_int_equal(tbind(&mb, "u", PL_SERIAL, -1), 0);
    assert_int_equal(waiting_unslabbed(&mb, "u", 1), 3);

    /* taken for delivery, no handler found, no binding left: rerouted */
    tbind(&mb, "r", PL_PARALLEL, 1);
    assert_int_equal(post(&mb, "r", 0, 1), 1 << PL_PARALLEL);
    pl_msg *m = take(&mb, PL_PARALLEL);
    assert_non_null(m);
    assert_non_null(m->body->slab);
    tbind(&mb, "r", PL_PARALLEL, -1);
    assert_int_equal(pl_mailbox_reroute(&mb, m, PL_PARALLEL), 0);
    assert_int_equal(waiting_unslabbed(&mb, "r", 1), 1);

    /* and they are delivered in order once bound */
    assert_int_equal(tbind(&mb, "u", PL_PARALLEL, 1), PL_MAILBOX_FLUSH);
    assert_int_equal(pl_mailbox_flush(&mb), 1 << PL_PARALLEL);
    assert_int_equal(take_expect(&mb, PL_PARALLEL, "u", 1), 3);
    pl_mailbox_destroy(&mb);
}

/* A body trimmed to its wire's bytes (pl_msgbody_trim) keeps them, and
 * the next body made on the thread starts where the trimmed one ends; a
 * trimmed wire written again moves to the heap. */
static void test_trimmed_bodies(void **state)
{
    (void)state;
    pl_mailbox mb;
    pl_mailbox_init(&mb);
    tbind(&mb, "t", PL_PARALLEL, 1);
    pl_msgbody *a = pl_msgbody_new("t", 1);
    assert_non_null(a);
    assert_int_equal(pl_wire_put_int(&a->wire, 1234567), 0);
    size_t len = a->wire.len;
    pl_msgbody_trim(a);
    assert_int_equal(a->wire.cap, len);
    pl_msgbody *b = pl_msgbody_new("t", 1);
    assert_non_null(b);
    if (b->slab == a->slab) /* right after a's bytes, rounded up */
        assert_true((unsigned char *)b - (a->wire.data + len) < PL_MSGSLAB_ALIGN);
    assert_int_equal(pl_wire_put_int(&b->wire, 7), 0);
    pl_msgbody_trim(b);
    assert_int_equal(pl_wire_put_u8(&b->wire, 9), 0); /* past the trim: to the heap */
    assert_true(b->wire.data != b->wire.inline_buf);
    assert_int_equal(pl_mailbox_post(&mb, &a), 1 << PL_PARALLEL);
    assert_int_equal(pl_mailbox_post(&mb, &b), 1 << PL_PARALLEL);
    pl_mailbox_take(&mb, PL_PARALLEL);
    pl_msg *m = pl_mailbox_next(&mb, PL_PARALLEL);
    pl_wire_reader r;
    int64_t v;
    pl_wire_reader_init(&r, &m->body->wire);
    assert_int_equal(pl_wire_get_int(&r, &v), 0);
    assert_int_equal(v, 1234567);
    pl_msg_done(m);
    m = pl_mailbox_next(&mb, PL_PARALLEL);
    pl_wire_reader_init(&r, &m->body->wire);
    unsigned u;
    assert_int_equal(pl_wire_get_int(&r, &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(pl_wire_get_u8(&r, &u), 0);
    assert_int_equal(u, 9);
    pl_msg_done(m);
    pl_mailbox_destroy(&mb);
}

/* Issue 8 #23: topics are Lua strings; NUL bytes must not cut them. */
static void test_topic_with_nul(void **state)
{
    (void)state;
    pl_mailbox mb;
    pl_mailbox_init(&mb);
    pl_msgbody *b = pl_msgbody_new("a\0b\n\"", 5);
    assert_int_equal(pl_mailbox_post(&mb, &b), 0);
    assert_int_equal(pl_mailbox_bind(&mb, "a", 1, PL_SERIAL, 1), 0); /* another topic */
    char out[64] = "";
    pl_mailbox_each_waiting(&mb, count_nul, out);
    assert_string_equal(out, "a\\0b\\n\\\"");
    char small[8];
    assert_string_equal(pl_topic_quote(small, sizeof small, "abcdefghij", 10), "abcd...");
    pl_mailbox_destroy(&mb);
}

/* ---- concurrent posters ---- */

typedef struct shared_run {
    pl_mailbox mb;
    atomic_int posters_done;
    int bind_midway; /* topic "late" bound by the consumer while posting */
    atomic_int refused;
} shared_run;

typedef struct poster {
    shared_run *run;
    uint32_t id;
} poster;

static const char *const TOPICS[] = {"ser", "par", "both", "late"};

static void poster_main(void *arg)
{
    poster *p = arg;
    int ntopics = p->run->bind_midway ? 4 : 3;
    for (uint32_t i = 1; i <= (uint32_t)nmessages; i++) {
        /* one sequence per (sender, topic): message i goes to topic i % n */
        const char *topic = TOPICS[i % (uint32_t)ntopics];
        if (post(&p->run->mb, topic, p->id, i) < 0) atomic_fetch_add(&p->run->refused, 1);
    }
    atomic_fetch_add(&p->run->posters_done, 1);
}

typedef struct tally {
    uint32_t *last; /* [phase][sender][topic]: last sequence number seen */
    long count[2];
} tally;

static uint32_t *last_slot(tally *t, int phase, uint32_t sender, int topic)
{
    return &t->last[((size_t)phase * (size_t)nposters + sender) * 4 + (size_t)topic];
}

static void consume(shared_run *run, tally *t, int phase)
{
    pl_msg *m = take(&run->mb, phase);
    while (m) {
        pl_msg *next = m->next;
        int topic = -1;
        for (int k = 0; k < 4; k++)
            if (strcmp(m->body->topic, TOPICS[k]) == 0) topic = k;
        assert_true(topic >= 0);
        if ((phase == PL_SERIAL && topic == 1) || (phase == PL_PARALLEL && topic == 0))
            fail_msg("topic %s delivered to phase %d", TOPICS[topic], phase);
        uint32_t *last = last_slot(t, phase, sender_of(m), topic);
        if (seq_of(m) <= *last)
            fail_msg("phase %d, sender %u, topic %s: #%u after #%u", phase, sender_of(m),
                     TOPICS[topic], seq_of(m), *last);
        *last = seq_of(m);
        t->count[phase]++;
        pl_msg_done(m);
        m = next;
    }
}

static void run_concurrent(int bind_midway)
{
    shared_run run;
    pl_mailbox_init(&run.mb);
    atomic_init(&run.posters_done, 0);
    atomic_init(&run.refused, 0);
    run.bind_midway = bind_midway;
    tbind(&run.mb, "ser", PL_SERIAL, 1);
    tbind(&run.mb, "par", PL_PARALLEL, 1);
    tbind(&run.mb, "both", PL_SERIAL, 1);
    tbind(&run.mb, "both", PL_PARALLEL, 1);

    tally t;
    t.last = calloc((size_t)2 * (size_t)nposters * 4, sizeof *t.last);
    assert_non_null(t.last);
    t.count[0] = t.count[1] = 0;

    poster *ps = calloc((size_t)nposters, sizeof *ps);
    uv_thread_t *threads = calloc((size_t)nposters, sizeof *threads);
    assert_non_null(ps);
    assert_non_null(threads);
    for (int i = 0; i < nposters; i++) {
        ps[i].run = &run;
        ps[i].id = (uint32_t)i;
        assert_int_equal(uv_thread_create(&threads[i], poster_main, &ps[i]), 0);
    }
    /* consume while they post; bind "late" once some posting happened */
    int bound_late = 0;
    for (;;) {
        int finished = atomic_load(&run.posters_done) == nposters;
        if (bind_midway && !bound_late && (t.count[0] + t.count[1] > nmessages / 4 || finished)) {
            if (tbind(&run.mb, "late", PL_SERIAL, 1) & PL_MAILBOX_FLUSH) {
                /* as the runtime does: the flush comes once the binding
                 * code has run; meanwhile the posters go on */
                uv_sleep(1);
            }
            pl_mailbox_flush(&run.mb);
            bound_late = 1;
        }
        consume(&run, &t, PL_SERIAL);
        consume(&run, &t, PL_PARALLEL);
        if (finished && (!bind_midway || bound_late) && pl_mailbox_ready(&run.mb, PL_SERIAL) == 0 &&
            pl_mailbox_ready(&run.mb, PL_PARALLEL) == 0)
            break;
    }
    for (int i = 0; i < nposters; i++)
        uv_thread_join(&threads[i]);
    consume(&run, &t, PL_SERIAL);
    consume(&run, &t, PL_PARALLEL);
    assert_int_equal(atomic_load(&run.refused), 0);

    /* nothing lost: count per phase, and every sender's last number */
    long expect_serial = 0, expect_parallel = 0;
    int ntopics = bind_midway ? 4 : 3;
    for (uint32_t i = 1; i <= (uint32_t)nmessages; i++) {
        int k = (int)(i % (uint32_t)ntopics);
        if (k == 0 || k == 2 || k == 3) expect_serial++;
        if (k == 1 || k == 2) expect_parallel++;
    }
    assert_int_equal(t.count[PL_SERIAL], expect_serial * nposters);
    assert_int_equal(t.count[PL_PARALLEL], expect_parallel * nposters);
    waiting_count w = {"", 0, 0};
    pl_mailbox_each_waiting(&run.mb, count_waiting, &w);
    assert_int_equal(w.n, 0);

    free(t.last);
    free(ps);
    free(threads);
    pl_mailbox_destroy(&run.mb);
}

static void test_concurrent_posters(void **state)
{
    (void)state;
    run_concurrent(0);
}

/* The same, with one topic unbound at first and bound (bind, then flush a
 * moment later) while the posters are running: per-sender order must hold
 * across the binding too. */
static void test_concurrent_posters_bind_midway(void **state)
{
    (void)state;
    run_concurrent(1);
}

/* Issue 8 #10 under concurrency: posters stream to one topic while the
 * owner keeps moving it between the serial and the parallel phase (bind
 * the new phase, unbind the old one, mid-batch): every message arrives
 * exactly once, each sender's in order across the moves. */
typedef struct mover_run {
    pl_mailbox mb;
    atomic_int posters_done;
} mover_run;

typedef struct mover {
    mover_run *run;
    uint32_t id;
} mover;

static void mover_poster(void *arg)
{
    mover *p = arg;
    mover_run *run = p->run;
    for (uint32_t i = 1; i <= (uint32_t)nmessages; i++)
        assert_true(post(&run->mb, "mv", p->id, i) >= 0);
    atomic_fetch_add(&run->posters_done, 1);
}

static void test_concurrent_phase_moves(void **state)
{
    (void)state;
    mover_run run;
    pl_mailbox_init(&run.mb);
    atomic_init(&run.posters_done, 0);
    int phase = PL_SERIAL;
    tbind(&run.mb, "mv", phase, 1);
    uint32_t *last = calloc((size_t)nposters, sizeof *last);
    mover *ps = calloc((size_t)nposters, sizeof *ps);
    uv_thread_t *threads = calloc((size_t)nposters, sizeof *threads);
    assert_true(last && ps && threads);
    for (int i = 0; i < nposters; i++) {
        ps[i].run = &run;
        ps[i].id = (uint32_t)i;
        assert_int_equal(uv_thread_create(&threads[i], mover_poster, &ps[i]), 0);
    }
    long count = 0, total = (long)nposters * nmessages;
    for (unsigned round = 0; count < total; round++) {
        pl_mailbox_take(&run.mb, phase);
        pl_msg *m;
        int k = 0;
        while ((m = pl_mailbox_next(&run.mb, phase))) {
            uint32_t *l = &last[sender_of(m)];
            if (seq_of(m) != *l + 1)
                fail_msg("sender %u: #%u after #%u", sender_of(m), seq_of(m), *l);
            *l = seq_of(m);
            count++;
            pl_msg_delivered(m);
            pl_msg_done(m);
            if (++k == 7 && (round & 1)) { /* move mid-batch */
                int rc = tbind(&run.mb, "mv", !phase, 1);
                rc |= tbind(&run.mb, "mv", phase, -1);
                if (rc & PL_MAILBOX_FLUSH) pl_mailbox_flush(&run.mb);
                phase = !phase;
                break;
            }
        }
        if (pl_mailbox_flush(&run.mb) & ~(1 << phase)) fail_msg("flushed to a phase not bound");
    }
    for (int i = 0; i < nposters; i++)
        uv_thread_join(&threads[i]);
    assert_int_equal(count, total);
    assert_int_equal(pl_mailbox_ready(&run.mb, PL_SERIAL) + pl_mailbox_ready(&run.mb, PL_PARALLEL),
                     0);
    free(last);
    free(ps);
    free(threads);
    pl_mailbox_destroy(&run.mb);
}

int main(int argc, char **argv)
{
    if (argc > 1) nposters = atoi(argv[1]);
    if (argc > 2) nmessages = atoi(argv[2]);
    if (nposters < 1) nposters = 1;
    if (nmessages < 8) nmessages = 8;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing),
        cmocka_unit_test(test_bind_flush_order),
        cmocka_unit_test(test_post_between_bind_and_flush),
        cmocka_unit_test(test_waiting_limit),
        cmocka_unit_test(test_reroute),
        cmocka_unit_test(test_unbind_moves_batch_in_order),
        cmocka_unit_test(test_move_phase_order),
        cmocka_unit_test(test_delivered_not_rerouted),
        cmocka_unit_test(test_topics_forgotten),
        cmocka_unit_test(test_topic_with_nul),
        cmocka_unit_test(test_waiting_bodies_leave_slabs),
        cmocka_unit_test(test_trimmed_bodies),
        cmocka_unit_test(test_concurrent_posters),
        cmocka_unit_test(test_concurrent_posters_bind_midway),
        cmocka_unit_test(test_concurrent_phase_moves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
