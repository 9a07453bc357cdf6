/*
 * The timeline recorder; see trace.h for the contract.
 *
 * A buffer's chunks grow from 256 to 16,384 events (14 KB to 900 KB), so
 * a thread that records little costs little and one that records a lot
 * allocates rarely. The writer walks each buffer in order; Perfetto and
 * chrome://tracing sort events by time themselves, so the buffers are not
 * merged.
 */
#include "core/trace.h"

#include "core/grow.h"
#include "core/ptrmap.h"
#include "core/status.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define FIRST_CHUNK 256
#define LAST_CHUNK 16384

struct pl_trace_chunk {
    pl_trace_chunk *next;
    uint32_t size; /* events; every chunk but the last is full */
    pl_trace_event events[];
};

struct pl_trace {
    FILE *f;
    int nbufs;
    pl_trace_buf *bufs;
    char **track_names; /* NULL entries: the default name */
};

pl_trace *pl_trace_new(FILE *f, int nbufs, uint64_t t0)
{
    pl_trace *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->f = f;
    t->nbufs = nbufs;
    t->bufs = aligned_alloc(64, sizeof(pl_trace_buf) * (size_t)nbufs);
    t->track_names = calloc((size_t)nbufs, sizeof(char *));
    if (!t->bufs || !t->track_names) {
        free(t->bufs);
        free(t->track_names);
        free(t);
        return NULL;
    }
    for (int i = 0; i < nbufs; i++) {
        pl_trace_buf *b = &t->bufs[i];
        memset(b, 0, sizeof *b);
        b->capacity = FIRST_CHUNK;
        b->t0 = t0;
    }
    return t;
}

void pl_trace_free(pl_trace *t)
{
    if (!t) return;
    for (int i = 0; i < t->nbufs; i++) {
        pl_trace_chunk *c = t->bufs[i].first;
        while (c) {
            pl_trace_chunk *next = c->next;
            free(c);
            c = next;
        }
        free(t->track_names[i]);
    }
    if (t->f) fclose(t->f);
    free(t->track_names);
    free(t->bufs);
    free(t);
}

pl_trace_buf *pl_trace_buf_at(pl_trace *t, int index)
{
    return &t->bufs[index];
}

void pl_trace_set_track_name(pl_trace *t, int index, const char *name)
{
    free(t->track_names[index]);
    t->track_names[index] = strdup(name); /* NULL: the default name */
}

uint64_t pl_trace_now(const pl_trace_buf *b)
{
    return uv_hrtime() - b->t0;
}

/* The slow path of pl_trace_append: a new chunk, or NULL when full. */
pl_trace_event *pl_trace_grow(pl_trace_buf *b)
{
    if (b->count >= PL_TRACE_MAX_EVENTS) {
        b->dropped++;
        return NULL;
    }
    uint32_t size = b->capacity;
    if (size > PL_TRACE_MAX_EVENTS - b->count) size = PL_TRACE_MAX_EVENTS - b->count;
    pl_trace_chunk *c = malloc(sizeof *c + sizeof(pl_trace_event) * size);
    if (!c) {
        b->dropped++;
        return NULL;
    }
    c->next = NULL;
    c->size = size;
    if (b->last)
        b->last->next = c;
    else
        b->first = c;
    b->last = c;
    if (b->capacity < LAST_CHUNK) b->capacity *= 2;
    b->next = c->events;
    b->end = c->events + size;
    b->count++;
    return b->next++;
}

void pl_trace_begin(pl_trace_buf *b, const char *name, const char *cat)
{
    pl_trace_event *e = pl_trace_append(b);
    if (!e) return;
    memset(e, 0, sizeof *e);
    e->ph = 'B';
    e->ts = pl_trace_now(b);
    e->name = name;
    e->cat = cat;
}

void pl_trace_end(pl_trace_buf *b)
{
    pl_trace_event *e = pl_trace_append(b);
    if (!e) return;
    memset(e, 0, sizeof *e);
    e->ph = 'E';
    e->ts = pl_trace_now(b);
}

void pl_trace_instant(pl_trace_buf *b, const void *name, int flags, const char *cat)
{
    pl_trace_event *e = pl_trace_append(b);
    if (!e) return;
    memset(e, 0, sizeof *e);
    e->ph = 'i';
    e->flags = (uint8_t)flags;
    e->ts = pl_trace_now(b);
    e->name = name;
    e->cat = cat;
}

void pl_trace_flow(pl_trace_buf *b, char ph, const char *name, uint64_t id)
{
    pl_trace_flow_at(b, ph, name, id, pl_trace_now(b));
}

void pl_trace_flow_at(pl_trace_buf *b, char ph, const char *name, uint64_t id, uint64_t ts)
{
    pl_trace_event *e = pl_trace_append(b);
    if (!e) return;
    e->ph = ph;
    e->flags = 0;
    e->ts = ts;
    e->dur = id;
    e->name = name;
    e->cat = "message";
    e->argnames = NULL;
}

void pl_trace_counter(pl_trace_buf *b, const char *name, const pl_trace_argnames *argnames,
                      uint32_t a, uint32_t b_, uint32_t c)
{
    pl_trace_event *e = pl_trace_append(b);
    if (!e) return;
    e->ph = 'C';
    e->flags = 0;
    e->ts = pl_trace_now(b);
    e->dur = 0;
    e->name = name;
    e->cat = "counter";
    e->argnames = argnames;
    e->args[0] = a;
    e->args[1] = b_;
    e->args[2] = c;
}

/* ---- writing ---- */

/* Subject -> name (malloc'd by the namer), filled on first use. */
typedef struct names {
    pl_ptrmap map;
    pl_trace_namer namer;
    void *ud;
} names;

static const char *name_of(names *m, const void *subject)
{
    int added;
    pl_ptrmap_slot *slot = pl_ptrmap_add(&m->map, subject, &added);
    if (!slot) return "?"; /* out of memory: the trace stays valid, the name is lost */
    if (added) slot->value = m->namer ? m->namer(m->ud, subject) : NULL;
    return slot->value ? slot->value : "?";
}

static void names_free(names *m)
{
    for (size_t i = 0; i < m->map.cap; i++)
        free(m->map.slots[i].value);
    pl_ptrmap_free(&m->map);
}

/* The length of the valid UTF-8 sequence at p (2 to 4 bytes, p[0] >= 0x80),
 * or 0: a stray continuation byte, a truncated sequence, an overlong form, a
 * surrogate or a code point past U+10FFFF. */
static int utf8_sequence(const unsigned char *p)
{
    unsigned c = p[0];
    int n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    if (n == 0 || c > 0xf4) return 0;
    uint32_t cp = c & (0x3fu >> (n - 1));
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0; /* the NUL terminator stops here too */
        cp = cp << 6 | (p[i] & 0x3fu);
    }
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

/* A JSON string (quotes included). JSON text must be UTF-8: a byte that is
 * not part of a valid sequence (names are user data: an actor may be named
 * anything) becomes U+FFFD, as a decoder would show it. */
static void put_string(FILE *f, const char *s)
{
    putc('"', f);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        const unsigned char *plain = p; /* the common case: nothing to escape */
        while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        fwrite(plain, 1, (size_t)(p - plain), f);
        if (!*p) break;
        if (*p == '"' || *p == '\\') {
            fprintf(f, "\\%c", *p++);
        } else if (*p < 0x20) {
            fprintf(f, "\\u%04x", *p++);
        } else {
            int n = utf8_sequence(p);
            if (n) {
                fwrite(p, 1, (size_t)n, f);
                p += n;
            } else {
                fputs("\\ufffd", f);
                p++;
            }
        }
    }
    putc('"', f);
}

/* Microseconds with nanosecond digits, the unit of "ts" and "dur". */
static void put_us(FILE *f, const char *key, uint64_t ns)
{
    fprintf(f, ",\"%s\":%" PRIu64 ".%03u", key, ns / 1000, (unsigned)(ns % 1000));
}

/* name: the event's name (an 'E' takes its 'B''s) */
static void put_event(FILE *f, const char *name, const pl_trace_event *e, int tid)
{
    fprintf(f, ",\n{\"ph\":\"%c\",\"pid\":1,\"tid\":%d", e->ph, tid);
    put_us(f, "ts", e->ts);
    fputs(",\"name\":", f);
    put_string(f, name ? name : "?");
    if (e->cat) {
        fputs(",\"cat\":", f);
        put_string(f, e->cat);
    }
    switch (e->ph) {
    case 'X':
        put_us(f, "dur", e->dur);
        break;
    case 's':
        fprintf(f, ",\"id\":\"0x%" PRIx64 "\"", e->dur);
        break;
    case 'f':
        fprintf(f, ",\"id\":\"0x%" PRIx64 "\",\"bp\":\"e\"", e->dur);
        break;
    case 'i':
        fputs(",\"s\":\"t\"", f);
        break;
    }
    if (e->argnames) {
        fputs(",\"args\":{", f);
        for (int i = 0, n = 0; i < 3; i++) {
            if (!e->argnames->name[i]) continue;
            if (n++) putc(',', f);
            put_string(f, e->argnames->name[i]);
            fprintf(f, ":%" PRIu32, e->args[i]);
        }
        putc('}', f);
    }
    putc('}', f);
}

static void put_meta(FILE *f, int tid, const char *what, const char *key, const char *value,
                     int number)
{
    fprintf(f, ",\n{\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"ts\":0,\"name\":", tid);
    put_string(f, what);
    fputs(",\"args\":{", f);
    put_string(f, key);
    putc(':', f);
    if (value)
        put_string(f, value);
    else
        fprintf(f, "%d", number);
    fputs("}}", f);
}

int pl_trace_write(pl_trace *t, pl_trace_namer namer, void *ud, uint64_t *dropped)
{
    FILE *f = t->f;
    t->f = NULL;
    names m = {PL_PTRMAP_INIT, namer, ud};
    uint64_t lost = 0;
    uint64_t now = uv_hrtime() - t->bufs[0].t0;
    fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n", f);
    fputs("{\"ph\":\"M\",\"pid\":1,\"tid\":0,\"ts\":0,\"name\":\"process_name\","
          "\"args\":{\"name\":\"parlua\"}}",
          f);
    for (int i = 0; i < t->nbufs; i++) {
        char def[32];
        if (i == 0)
            snprintf(def, sizeof def, "serial");
        else
            snprintf(def, sizeof def, "worker %d", i);
        put_meta(f, i, "thread_name", "name", t->track_names[i] ? t->track_names[i] : def, 0);
        put_meta(f, i, "thread_sort_index", "sort_index", NULL, i);
    }
    const char **open = NULL; /* names of the open B spans of a buffer */
    size_t depth = 0, cap = 0;
    int out_of_memory = 0;
    for (int i = 0; i < t->nbufs; i++) {
        pl_trace_buf *b = &t->bufs[i];
        lost += b->dropped;
        depth = 0;
        for (pl_trace_chunk *c = b->first; c; c = c->next) {
            pl_trace_event *end = c == b->last ? b->next : c->events + c->size;
            for (pl_trace_event *e = c->events; e < end; e++) {
                const char *name = (e->flags & PL_TRACE_SUBJECT) ? name_of(&m, e->name) : e->name;
                if (e->ph == 'B') {
                    const char **grown = pl_grow(open, &cap, depth + 1, sizeof *open);
                    if (!grown) {
                        out_of_memory = 1; /* the file is ended, and reported as failed */
                        goto end;
                    }
                    open = grown;
                    open[depth++] = name;
                } else if (e->ph == 'E') {
                    if (depth == 0) continue; /* its B was dropped */
                    name = open[--depth];
                }
                put_event(f, name, e, i);
            }
        }
        while (depth > 0) { /* still open: close at the end */
            pl_trace_event e = {.ph = 'E', .ts = now};
            put_event(f, open[--depth], &e, i);
        }
    }
end:
    free(open);
    fprintf(f, "\n],\"otherData\":{\"generator\":\"parlua\",\"dropped_events\":%" PRIu64 "}}\n",
            lost);
    names_free(&m);
    int failed = ferror(f) || out_of_memory;
    int saved = out_of_memory ? ENOMEM : errno;
    if (fclose(f) != 0) {
        failed = 1;
        saved = errno;
    }
    if (dropped) *dropped = lost;
    if (failed) {
        errno = saved ? saved : EIO;
        return PL_EIO;
    }
    return PL_OK;
}
