/*
 * The rank's communication thread and its queues (engine/dist.h;
 * docs/distributed.md for the model, docs/design.md "Distributed jobs" for
 * the termination waves).
 *
 * The thread owns the transport: it calls init (MPI_Init_thread with
 * MPI_THREAD_FUNNELED: no other thread ever calls MPI), then loops:
 * take every queued outgoing message, append each to its destination's
 * batch and start one non-blocking send per destination; test the sends
 * in flight; receive every batch that waits (probe, then receive the
 * matched message); drive the termination wave if the serial thread asked
 * for one. Received batches and wave results go on lists under dist->lock,
 * and the serial thread's eventfd is written, so its sleep ends. When a
 * round finds nothing to do the thread sleeps on a condition variable,
 * first for 50 us and up to 1 ms while nothing happens; a post signals it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/grow.h"
#include "engine/dist.h"
#include "engine/runtime.h"

#ifndef PARLUA_MPI_MODULE_DIR /* set by CMake: LIBDIR/parlua, absolute and relative */
#define PARLUA_MPI_MODULE_DIR "/usr/local/lib/parlua"
#define PARLUA_MPI_MODULE_RELDIR "lib/parlua"
#endif
#define MODULE_NAME "parlua_mpi.so"

/* How long the thread keeps looking after its last activity before it
 * sleeps (see comm_main). */
#define SPIN_NS 200000u

/* The largest batch one send carries (MPI counts are int). */
#define BATCH_MAX ((size_t)INT_MAX / 2)

/* ---- the communication thread ---- */

typedef struct outbuf {
    unsigned char *data;
    size_t len, cap;
} outbuf;

typedef struct inflight {
    void *h;
    unsigned char *data;
} inflight;

typedef struct comm {
    pl_dist *d;
    outbuf *batch; /* one per rank */
    inflight *sends;
    size_t nsends, capsends;
} comm;

static void wake_serial(pl_dist *d)
{
    /* acquire: pairs with the release in pl_dist_set_wake_fd, so the
     * eventfd's creation happens before this write to it */
    int fd = atomic_load_explicit(&d->wake_fd, memory_order_acquire);
    if (fd < 0) return;
    uint64_t one = 1;
    ssize_t rc = write(fd, &one, sizeof one);
    (void)rc; /* a full counter already wakes the sleeper */
}

static void fail(pl_dist *d, const char *what)
{
    fprintf(stderr, "parlua[rank %d]: %s failed in the MPI transport; ending the job\n", d->rank,
            what);
    d->tp->abort(1); /* does not return */
    abort();
}

static void push_inbound(pl_dist *d, pl_dist_buf *b)
{
    uv_mutex_lock(&d->lock);
    pl_dist_buf_append(&d->in_head, &d->in_tail, b);
    uv_mutex_unlock(&d->lock);
}

/* Starts the send of dest's batch, if any. */
static void flush_batch(comm *c, int dest)
{
    outbuf *o = &c->batch[dest];
    if (!o->len) return;
    if (c->nsends == c->capsends) {
        inflight *n = pl_grow(c->sends, &c->capsends, c->nsends + 1, sizeof *n);
        if (!n) fail(c->d, "growing the list of sends");
        c->sends = n;
    }
    void *h = c->d->tp->isend(dest, o->data, o->len);
    if (!h) fail(c->d, "MPI_Isend");
    c->sends[c->nsends++] = (inflight){h, o->data};
    *o = (outbuf){NULL, 0, 0};
}

/* Sends what was queued: one batch per destination. 1 if anything went. */
static int send_queued(comm *c, pl_dist_buf *list)
{
    pl_dist *d = c->d;
    int any = list != NULL;
    while (list) {
        pl_dist_buf *b = list;
        list = b->next;
        if (b->rank == d->rank) { /* to this rank: straight to the inbound list */
            push_inbound(d, b);
            wake_serial(d);
            continue;
        }
        outbuf *o = &c->batch[b->rank];
        if (o->len && o->len + b->len > BATCH_MAX) flush_batch(c, b->rank);
        if (o->len + b->len > o->cap) {
            unsigned char *n = pl_grow(o->data, &o->cap, o->len + b->len, 1);
            if (!n) fail(d, "growing a batch");
            o->data = n;
        }
        memcpy(o->data + o->len, b->data, b->len);
        o->len += b->len;
        free(b);
    }
    for (int r = 0; any && r < d->size; r++)
        flush_batch(c, r);
    return any;
}

static int test_sends(comm *c)
{
    size_t kept = 0;
    for (size_t i = 0; i < c->nsends; i++) {
        int rc = c->d->tp->test(c->sends[i].h);
        if (rc < 0) fail(c->d, "MPI_Test of a send");
        if (rc)
            free(c->sends[i].data);
        else
            c->sends[kept++] = c->sends[i];
    }
    int progressed = kept != c->nsends;
    c->nsends = kept;
    return progressed;
}

static int receive(comm *c)
{
    pl_dist *d = c->d;
    int got = 0;
    for (int i = 0; i < 64; i++) {
        int src;
        size_t len;
        void *msg;
        int rc = d->tp->probe(&src, &len, &msg);
        if (rc < 0) fail(d, "MPI_Improbe");
        if (!rc) break;
        pl_dist_buf *b = malloc(sizeof *b + len);
        if (!b) fail(d, "allocating a received batch");
        b->rank = src;
        b->len = len;
        if (d->tp->recv(msg, b->data, len) != 0) fail(d, "MPI_Mrecv");
        push_inbound(d, b);
        got = 1;
    }
    if (got) wake_serial(d);
    return got;
}

/* Drives the wave: starts it when asked, tests it while it runs. */
static int drive_wave(pl_dist *d, void **h)
{
    if (*h) {
        int rc = d->tp->test(*h);
        if (rc < 0) fail(d, "MPI_Iallreduce");
        if (!rc) return 0;
        *h = NULL;
        uv_mutex_lock(&d->lock);
        d->wave_state = 3;
        uv_mutex_unlock(&d->lock);
        wake_serial(d);
        return 1;
    }
    uv_mutex_lock(&d->lock);
    int asked = d->wave_state == 1;
    if (asked) d->wave_state = 2;
    uv_mutex_unlock(&d->lock);
    /* wave_in is not written again before the result is taken */
    if (asked && !(*h = d->tp->allreduce_sum(d->wave_in, d->wave_out, 2)))
        fail(d, "MPI_Iallreduce");
    return asked;
}

/* This rank stops before the waves ended the job: the others would wait
 * for it forever, so the job ends here with status 1. */
static void leave_early(pl_dist *d)
{
    fprintf(stderr,
            "parlua[rank %d]: this rank stopped before the job ended (an error at start-up, an "
            "interrupt): aborting the other ranks\n",
            d->rank);
    fflush(stderr);
    d->tp->abort(1);
}

static void comm_main(void *arg)
{
    pl_dist *d = arg;
    char err[256] = "";
    int ok = d->tp->init(&d->rank, &d->size, &d->local_size, err, sizeof err) == 0;
    comm c = {d, ok ? calloc((size_t)d->size, sizeof(outbuf)) : NULL, NULL, 0, 0};
    uv_mutex_lock(&d->lock);
    d->init_ok = ok && c.batch;
    if (!ok) snprintf(d->err, sizeof d->err, "%s", err);
    if (ok && !c.batch) snprintf(d->err, sizeof d->err, "out of memory");
    d->started = 1;
    uv_cond_broadcast(&d->cond);
    uv_mutex_unlock(&d->lock);
    if (!d->init_ok) {
        if (ok) d->tp->finalize();
        return;
    }
    void *wave = NULL;
    uint64_t sleep_ns = 0, last_busy = uv_hrtime();
    for (;;) {
        uv_mutex_lock(&d->lock);
        pl_dist_buf *out = d->out_head;
        d->out_head = d->out_tail = NULL;
        int stop = d->stop, terminated = d->terminated;
        uv_mutex_unlock(&d->lock);
        int busy = send_queued(&c, out);
        busy |= test_sends(&c);
        busy |= receive(&c);
        busy |= drive_wave(d, &wave);
        if (stop && !out) {
            if (!terminated) leave_early(d);
            break;
        }
        uint64_t now = uv_hrtime();
        if (busy) {
            sleep_ns = 0;
            last_busy = now;
            continue;
        }
        /* Nothing happened: for SPIN_NS after the last activity keep
         * looking, giving the core away between looks (an answer often
         * comes that soon); then sleep, longer each idle round, until a
         * post. */
        if (now - last_busy < SPIN_NS) {
            sched_yield();
            continue;
        }
        sleep_ns = sleep_ns ? (sleep_ns * 2 > 1000000 ? 1000000 : sleep_ns * 2) : 50000;
        uv_mutex_lock(&d->lock);
        if (!d->out_head && !d->stop && d->wave_state != 1) {
            d->comm_sleeping = 1;
            (void)uv_cond_timedwait(&d->cond, &d->lock, sleep_ns);
            d->comm_sleeping = 0;
        }
        uv_mutex_unlock(&d->lock);
    }
    while (c.nsends) /* the waves saw them received: these complete */
        (void)test_sends(&c);
    free(c.sends);
    for (int r = 0; r < d->size; r++)
        free(c.batch[r].data);
    free(c.batch);
    d->tp->finalize();
}

/* ---- the serial side ---- */

static int launcher_env(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

/* dlopen of the module (RTLD_GLOBAL: Open MPI's own plugins look up
 * libmpi's symbols): PARLUA_MPI_MODULE, else beside the running executable
 * (a build tree), else in LIBDIR/parlua relative to it (an installed
 * prefix, wherever it was moved), else LIBDIR/parlua of the configured
 * prefix. */
static void *load_module(char *why, size_t whylen)
{
    const char *env = getenv("PARLUA_MPI_MODULE");
    if (env) {
        void *h = dlopen(env, RTLD_NOW | RTLD_GLOBAL);
        if (!h) snprintf(why, whylen, "%s", dlerror());
        return h;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash = n > 0 ? (exe[n] = '\0', strrchr(exe, '/')) : NULL;
    static const char *const rel[] = {"/" MODULE_NAME,
                                      "/../" PARLUA_MPI_MODULE_RELDIR "/" MODULE_NAME};
    for (size_t i = 0; slash && i < sizeof rel / sizeof rel[0]; i++) {
        char path[PATH_MAX];
        int len = snprintf(path, sizeof path, "%.*s%s", (int)(slash - exe), exe, rel[i]);
        if (len <= 0 || (size_t)len >= sizeof path || access(path, R_OK) != 0) continue;
        void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
        if (h) return h;
    }
    void *h = dlopen(PARLUA_MPI_MODULE_DIR "/" MODULE_NAME, RTLD_NOW | RTLD_GLOBAL);
    if (!h) snprintf(why, whylen, "%s", dlerror());
    return h;
}

/* "trace.json" -> "trace.rank2.json"; "trace" -> "trace.rank2". */
static char *ranked_path(const char *path, int rank)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    if (dot && (slash ? dot < slash || dot == slash + 1 : dot == path)) dot = NULL;
    size_t base = dot ? (size_t)(dot - path) : strlen(path);
    size_t n = strlen(path) + 32;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%.*s.rank%d%s", (int)base, path, rank, dot ? dot : "");
    return out;
}

int pl_dist_start(pl_runtime *rt)
{
    rt->dist = NULL;
    int want = rt->config.mpi;
    if (want < 0 || (want == 0 && !launcher_env())) return PL_OK;
    char why[512] = "";
    void *module = load_module(why, sizeof why);
    pl_transport_fn get = module ? (pl_transport_fn)dlsym(module, PL_TRANSPORT_SYMBOL) : NULL;
    const pl_transport *tp = get ? get() : NULL;
    if (!tp || tp->abi != PL_TRANSPORT_ABI) {
        fprintf(stderr,
                "parlua: %s, but the MPI module %s could not be loaded (%s): build parlua with "
                "Open MPI installed (scripts/install-deps), or name the module with "
                "PARLUA_MPI_MODULE=/path/to/" MODULE_NAME "\n",
                want > 0 ? "--mpi was given" : "started by an MPI launcher (mpirun)", MODULE_NAME,
                !module ? why
                : !tp   ? "no " PL_TRANSPORT_SYMBOL " in it"
                        : "another version");
        if (module) dlclose(module);
        return PL_EINVAL;
    }
    pl_dist *d = calloc(1, sizeof *d);
    if (!d) {
        dlclose(module);
        return PL_ENOMEM;
    }
    d->tp = tp;
    d->module = module;
    atomic_init(&d->wake_fd, -1);
    atomic_init(&d->sent, 0);
    uv_mutex_init(&d->lock);
    uv_cond_init(&d->cond);
    int ok = uv_thread_create(&d->thread, comm_main, d) == 0;
    uv_mutex_lock(&d->lock);
    while (ok && !d->started)
        uv_cond_wait(&d->cond, &d->lock);
    uv_mutex_unlock(&d->lock);
    if (!ok || !d->init_ok) {
        if (ok) uv_thread_join(&d->thread); /* it ended after its failed init */
        fprintf(stderr, "parlua: cannot start MPI: %s\n", ok ? d->err : "no thread");
        uv_cond_destroy(&d->cond);
        uv_mutex_destroy(&d->lock);
        free(d);
        /* the module stays loaded: MPI may have registered exit handlers */
        return PL_EINVAL;
    }
    rt->dist = d;
    if (rt->config.trace_path) {
        d->trace_path = ranked_path(rt->config.trace_path, d->rank);
        if (!d->trace_path) return PL_ENOMEM; /* the caller stops it */
        rt->config.trace_path = d->trace_path;
    }
    snprintf(rt->report_name, sizeof rt->report_name, "parlua[rank %d]", d->rank);
    return PL_OK;
}

void pl_dist_buf_free_all(pl_dist_buf *b)
{
    while (b) {
        pl_dist_buf *next = b->next;
        free(b);
        b = next;
    }
}

void pl_dist_set_wake_fd(pl_dist *d, int fd)
{
    atomic_store_explicit(&d->wake_fd, fd, memory_order_release); /* see wake_serial */
}

void pl_dist_post(pl_dist *d, pl_dist_buf *buf)
{
    /* relaxed: the counter is read by the serial thread only while this
     * rank is idle (no VM runs), after the pool's hand-over or the post's
     * own lock ordered this increment before the read */
    atomic_fetch_add_explicit(&d->sent, 1, memory_order_relaxed);
    uv_mutex_lock(&d->lock);
    pl_dist_buf_append(&d->out_head, &d->out_tail, buf);
    if (d->comm_sleeping) uv_cond_signal(&d->cond);
    uv_mutex_unlock(&d->lock);
}

pl_dist_buf *pl_dist_take_inbound(pl_dist *d)
{
    uv_mutex_lock(&d->lock);
    pl_dist_buf *b = d->in_head;
    d->in_head = d->in_tail = NULL;
    uv_mutex_unlock(&d->lock);
    return b;
}

void pl_dist_wave_start(pl_dist *d, const uint64_t in[2])
{
    uv_mutex_lock(&d->lock);
    if (d->wave_state == 0) {
        d->wave_in[0] = in[0];
        d->wave_in[1] = in[1];
        d->wave_state = 1;
        if (d->comm_sleeping) uv_cond_signal(&d->cond);
    }
    uv_mutex_unlock(&d->lock);
}

int pl_dist_wave_result(pl_dist *d, uint64_t out[2])
{
    uv_mutex_lock(&d->lock);
    int done = d->wave_state == 3;
    if (done) {
        out[0] = d->wave_out[0];
        out[1] = d->wave_out[1];
        d->wave_state = 0;
    }
    uv_mutex_unlock(&d->lock);
    return done;
}

void pl_dist_terminated(pl_dist *d)
{
    uv_mutex_lock(&d->lock);
    d->terminated = 1;
    uv_mutex_unlock(&d->lock);
}

void pl_dist_stop(pl_dist *d)
{
    if (!d) return;
    uv_mutex_lock(&d->lock);
    d->stop = 1;
    uv_cond_signal(&d->cond);
    uv_mutex_unlock(&d->lock);
    uv_thread_join(&d->thread);
    pl_dist_buf_free_all(d->in_head);
    uv_cond_destroy(&d->cond);
    uv_mutex_destroy(&d->lock);
    free(d->trace_path);
    free(d);
    /* the module stays loaded: MPI's exit handlers may still run */
}
