/*
 * The timeline recorder (src/core/trace.h): spans, nesting and the writer's
 * balancing of B/E, flows, counters, names and their escaping, the event
 * cap, and threads appending to their own buffers at once (run it under
 * TSan: no two threads may share anything while recording).
 *
 * The JSON itself is checked by a real parser in tests/lua/trace_json.lua;
 * here the text is only searched.
 *
 * Usage: test_trace [events_per_thread]   (default 200000)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "core/status.h"
#include "core/trace.h"

static long events_per_thread = 200000;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static size_t count(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

static char *subject_name(void *ud, const void *subject)
{
    return strdup(subject == (void *)1 ? "Workspace.\"Quoted\"\n" : "other");
}

static pl_trace *new_trace(const char *path, int nbufs)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    pl_trace *t = pl_trace_new(f, nbufs, uv_hrtime());
    assert_non_null(t);
    return t;
}

static void test_events_and_balance(void **state)
{
    char path[] = "/tmp/test_trace_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    pl_trace *t = new_trace(path, 3);
    pl_trace_set_track_name(t, 2, "lthreads \"x\"");
    pl_trace_buf *b0 = pl_trace_buf_at(t, 0), *b1 = pl_trace_buf_at(t, 1);
    pl_trace_begin(b0, "outer", "wait");
    pl_trace_begin(b0, "inner", "wait");
    pl_trace_end(b0);
    /* "outer" stays open: the writer closes it */
    uint64_t now = pl_trace_now(b0);
    static const pl_trace_argnames args = {{"frame", "sent", NULL}};
    pl_trace_event *e = pl_trace_span(b1, (void *)1, PL_TRACE_SUBJECT, "parallel", now, now + 1500);
    e->argnames = &args;
    e->args[0] = 7;
    e->args[1] = 3;
    pl_trace_span(b1, (void *)1, PL_TRACE_SUBJECT, "parallel", now + 2000, now + 2500);
    pl_trace_flow(b0, 's', "message", 0xabc);
    pl_trace_flow(b1, 'f', "message", 0xabc);
    pl_trace_counter(b0, "messages", &args, 5, 6, 0);
    pl_trace_instant(b1, "long parallel run", 0, "warning");
    pl_trace_end(pl_trace_buf_at(t, 2)); /* a stray E: dropped */
    uint64_t dropped = 1;
    assert_int_equal(pl_trace_write(t, subject_name, NULL, &dropped), 0);
    assert_int_equal(dropped, 0);
    pl_trace_free(t);

    char *s = slurp(path);
    assert_int_equal(count(s, "\"ph\":\"B\""), 2);
    assert_int_equal(count(s, "\"ph\":\"E\""), 2);
    assert_int_equal(count(s, "\"ph\":\"X\""), 2);
    assert_int_equal(count(s, "\"name\":\"outer\""), 2); /* B and the writer's E */
    assert_int_equal(count(s, "\"name\":\"inner\""), 2);
    assert_int_equal(count(s, "\"thread_name\""), 3);
    assert_non_null(strstr(s, "\"name\":\"serial\""));
    assert_non_null(strstr(s, "\"name\":\"worker 1\""));
    assert_non_null(strstr(s, "\"name\":\"lthreads \\\"x\\\"\""));
    /* the subject is named once per event, escaped */
    assert_int_equal(count(s, "\"name\":\"Workspace.\\\"Quoted\\\"\\u000a\""), 2);
    assert_non_null(strstr(s, "\"dur\":1.500"));
    assert_non_null(strstr(s, "\"args\":{\"frame\":7,\"sent\":3}"));
    assert_non_null(strstr(s, "\"ph\":\"s\""));
    assert_non_null(strstr(s, "\"id\":\"0xabc\",\"bp\":\"e\""));
    assert_non_null(strstr(s, "\"ph\":\"C\""));
    assert_non_null(strstr(s, "\"ph\":\"i\""));
    assert_non_null(strstr(s, "\"dropped_events\":0"));
    free(s);
    remove(path);
}

static void test_cap(void **state)
{
    pl_trace *t = new_trace("/dev/null", 1);
    pl_trace_buf *b = pl_trace_buf_at(t, 0);
    for (uint32_t i = 0; i < PL_TRACE_MAX_EVENTS + 10; i++)
        pl_trace_span(b, "x", 0, "c", i, i + 1);
    assert_int_equal(b->count, PL_TRACE_MAX_EVENTS);
    assert_int_equal(b->dropped, 10);
    uint64_t dropped = 0;
    assert_int_equal(pl_trace_write(t, NULL, NULL, &dropped), 0);
    assert_int_equal(dropped, 10);
    pl_trace_free(t);
}

#define THREADS 4

typedef struct job {
    pl_trace_buf *b;
} job;

static void append_many(void *arg)
{
    job *j = arg;
    for (long i = 0; i < events_per_thread; i++) {
        uint64_t now = pl_trace_now(j->b);
        pl_trace_span(j->b, "run", 0, "parallel", now, now + 1);
        if (i % 16 == 0) pl_trace_flow(j->b, 's', "message", (uint64_t)i);
    }
}

static void test_threads_own_buffers(void **state)
{
    pl_trace *t = new_trace("/dev/null", THREADS);
    uv_thread_t th[THREADS];
    job jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i].b = pl_trace_buf_at(t, i);
        assert_int_equal(uv_thread_create(&th[i], append_many, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        uv_thread_join(&th[i]);
    long per = events_per_thread + (events_per_thread + 15) / 16;
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pl_trace_buf_at(t, i)->count,
                         per < PL_TRACE_MAX_EVENTS ? per : PL_TRACE_MAX_EVENTS);
    assert_int_equal(pl_trace_write(t, NULL, NULL, NULL), 0);
    pl_trace_free(t);
}

static void test_write_error(void **state)
{
    FILE *f = fopen("/dev/full", "w");
    if (!f) skip();
    pl_trace *t = pl_trace_new(f, 1, uv_hrtime());
    assert_non_null(t);
    pl_trace_span(pl_trace_buf_at(t, 0), "x", 0, "c", 0, 1);
    assert_int_equal(pl_trace_write(t, NULL, NULL, NULL), PL_EIO);
    pl_trace_free(t);
}

int main(int argc, char **argv)
{
    if (argc > 1) events_per_thread = strtol(argv[1], NULL, 10);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_and_balance),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_threads_own_buffers),
        cmocka_unit_test(test_write_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
