/*
 * The timeline recorder behind `--trace FILE`: events appended to
 * per-thread buffers while the runtime runs, written out once as a Chrome
 * trace-event JSON file (Perfetto, chrome://tracing) when nothing runs.
 *
 * Why per-thread buffers: the events come from the hottest paths (every
 * actor run, every message), on every worker at once. Each recording thread
 * (the serial thread, each worker) appends to its own buffer, a list of
 * chunks that only grows, so an append takes no lock and touches no line
 * another thread writes. The buffers are read only by the writer, on the
 * serial thread, after the workers went idle: the pool's wait (or its
 * shutdown) orders every append before the read.
 *
 * Tracks: buffer 0 is the serial thread ("serial"), buffer i (1..n) is
 * worker i. A future thread kind (an lthread scheduler, a blocking-wait
 * reporter) takes a buffer of its own in the same way; events that can
 * stay open (a blocking wait, an lthread) use pl_trace_begin/end, and the
 * writer closes any span still open at the end of the trace.
 *
 * The names of events are static strings, or "subjects" (an actor's VM)
 * that the writer names through a callback at write-out, so recording
 * never copies or allocates a name.
 *
 * A buffer keeps its first PL_TRACE_MAX_EVENTS events; later ones are
 * counted as dropped and reported by the writer.
 *
 * No Lua here.
 */
#ifndef PL_TRACE_H
#define PL_TRACE_H

#include <stdint.h>
#include <stdio.h>

#include "core/check.h"

#define PL_TRACE_MAX_EVENTS (1u << 20) /* per buffer: 56 MB at most */

/* Argument names of an event: a static array of up to 3 names (NULL for
 * the unused ones). The values are unsigned integers. */
typedef struct pl_trace_argnames {
    const char *name[3];
} pl_trace_argnames;

enum {
    PL_TRACE_SUBJECT = 1, /* name is a subject, named by the writer's callback */
};

typedef struct pl_trace_event {
    uint64_t ts;                       /* ns since the trace's t0 */
    uint64_t dur;                      /* 'X': duration in ns; 's'/'f': the flow id */
    const void *name;                  /* a static string, or a subject (PL_TRACE_SUBJECT) */
    const char *cat;                   /* a static string */
    const pl_trace_argnames *argnames; /* NULL: no arguments */
    uint32_t args[3];
    char ph; /* 'X', 'B', 'E', 's', 'f', 'C', 'i' */
    uint8_t flags;
} pl_trace_event;

typedef struct pl_trace_chunk pl_trace_chunk;

/* One thread's buffer. Owner thread only while recording. */
typedef struct pl_trace_buf {
    pl_trace_event *next, *end; /* free space of the newest chunk */
    pl_trace_chunk *first, *last;
    uint32_t count;    /* events kept */
    uint32_t capacity; /* of the next chunk */
    uint64_t dropped;  /* events past PL_TRACE_MAX_EVENTS, or lost for memory */
    uint64_t t0;       /* uv_hrtime of the trace's start */
} __attribute__((aligned(64))) pl_trace_buf;

typedef struct pl_trace pl_trace;

/* Names a subject for the writer: a malloc'd string, or NULL ("?"). */
typedef char *(*pl_trace_namer)(void *ud, const void *subject);

/* A trace with nbufs buffers (buffer 0: the serial thread), writing to f
 * when written; t0 is the uv_hrtime of time 0. NULL if out of memory. */
pl_trace *pl_trace_new(FILE *f, int nbufs, uint64_t t0);
/* Closes f and frees everything (whether written or not). */
void pl_trace_free(pl_trace *t);
pl_trace_buf *pl_trace_buf_at(pl_trace *t, int index);
/* The name of buffer index's track ("serial", "worker 1", ...). Optional:
 * the default names are those. */
void pl_trace_set_track_name(pl_trace *t, int index, const char *name);

/* Writes the JSON file and closes it. Every buffer must be quiescent (see
 * top). Returns PL_OK, or PL_EIO with errno set (the file is closed either way).
 * The total of dropped events is stored in *dropped. */
PL_MUST_CHECK int pl_trace_write(pl_trace *t, pl_trace_namer namer, void *ud, uint64_t *dropped);

/* Appends one event and returns it to be filled (ph, ts, name... are
 * set by the caller), or NULL when the buffer is full. Owner thread only. */
pl_trace_event *pl_trace_grow(pl_trace_buf *b);
static inline pl_trace_event *pl_trace_append(pl_trace_buf *b)
{
    if (b->next != b->end) {
        b->count++;
        return b->next++;
    }
    return pl_trace_grow(b);
}

/* ns since the trace's t0, from uv_hrtime (CLOCK_MONOTONIC). */
uint64_t pl_trace_now(const pl_trace_buf *b);

/* A complete span [start, end) (ns since t0). */
static inline pl_trace_event *pl_trace_span(pl_trace_buf *b, const void *name, int flags,
                                            const char *cat, uint64_t start, uint64_t end)
{
    pl_trace_event *e = pl_trace_append(b);
    if (e) {
        e->ph = 'X';
        e->flags = (uint8_t)flags;
        e->ts = start;
        e->dur = end - start;
        e->name = name;
        e->cat = cat;
        e->argnames = NULL;
    }
    return e;
}

/* A span that opens now and closes at the next pl_trace_end of this
 * buffer (spans nest); one still open when the trace is written is closed
 * at its end. */
void pl_trace_begin(pl_trace_buf *b, const char *name, const char *cat);
void pl_trace_end(pl_trace_buf *b);
/* An instant event on this thread's track. */
void pl_trace_instant(pl_trace_buf *b, const void *name, int flags, const char *cat);
/* Flow arrows: out at the sender (inside the span it is sent from), in at
 * the receiver (bound to the span it is received in); same id. */
void pl_trace_flow(pl_trace_buf *b, char ph, const char *name, uint64_t id);
/* The same at time ts (ns since t0), for a batch that read the clock once. */
void pl_trace_flow_at(pl_trace_buf *b, char ph, const char *name, uint64_t id, uint64_t ts);
/* A counter track `name` with up to 3 series (argnames) at time now. */
void pl_trace_counter(pl_trace_buf *b, const char *name, const pl_trace_argnames *argnames,
                      uint32_t a, uint32_t b_, uint32_t c);

#endif
