/*
 * The rank's side of a distributed job (docs/distributed.md): loading the
 * transport module, the communication thread, the queues between it and
 * the rest of the runtime, and the counters of the termination waves.
 * What messages mean (encoding, delivery, the waves' decision) is in
 * src/lib/remote.c; this file moves bytes.
 *
 * Threads: pl_dist_post from any thread (a SendMessage in any VM); the
 * rest from the serial thread. The communication thread is the only one
 * that calls the transport (so MPI_THREAD_FUNNELED). Locks: dist->lock is
 * a leaf, held only for list surgery and flag changes.
 */
#ifndef PL_DIST_H
#define PL_DIST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/check.h"
#include "core/status.h"
#include "core/transport.h"

typedef struct parlua_runtime pl_runtime;

/* One message's bytes on its way out, or one batch on its way in. */
typedef struct pl_dist_buf {
    struct pl_dist_buf *next;
    int rank; /* out: the destination; in: the source */
    size_t len;
    unsigned char data[];
} pl_dist_buf;

typedef struct pl_dist {
    const pl_transport *tp;
    void *module; /* dlopen handle */
    int rank, size;
    int local_size; /* ranks on this machine, this one included */
    uv_thread_t thread;
    uv_mutex_t lock; /* guards everything below up to the counters */
    uv_cond_t cond;  /* the communication thread's sleep */
    pl_dist_buf *out_head, *out_tail;
    pl_dist_buf *in_head, *in_tail;
    int comm_sleeping;
    int started; /* init finished (successfully or not) */
    int init_ok;
    int stop;
    int terminated; /* the waves said the job is over: finalize, do not abort */
    int wave_state; /* 0 none, 1 asked, 2 running, 3 result ready */
    uint64_t wave_in[2], wave_out[2];
    char err[256];
    atomic_int wake_fd; /* the serial thread's eventfd, -1 until set */
    /* the termination waves' count of messages handed to the transport (any
     * thread); the ones delivered are counted by lib/remote.c */
    atomic_uint_fast64_t sent;
    char *trace_path; /* config.trace_path with ".rankN" inserted, or NULL */
} pl_dist;

/* Appends b to the list head..tail (the caller holds the list's lock). */
static inline void pl_dist_buf_append(pl_dist_buf **head, pl_dist_buf **tail, pl_dist_buf *b)
{
    b->next = NULL;
    if (*tail)
        (*tail)->next = b;
    else
        *head = b;
    *tail = b;
}
/* Frees a list of buffers. */
void pl_dist_buf_free_all(pl_dist_buf *b);

/* Whether to start one (config.mpi, or the launcher's environment) and, if
 * so, loads the module, starts the communication thread and waits for its
 * init. PL_OK (rt->dist set, or NULL when not under MPI), or PL_EINVAL
 * after printing the reason on stderr. */
PL_MUST_CHECK int pl_dist_start(pl_runtime *rt);
/* Lets the communication thread wake the serial thread through fd. */
void pl_dist_set_wake_fd(pl_dist *d, int fd);
/* Queues len bytes for dest (taken over: data must be malloc'd as a
 * pl_dist_buf). Any thread. */
void pl_dist_post(pl_dist *d, pl_dist_buf *buf);
/* Takes every batch received so far, oldest first (serial thread). */
pl_dist_buf *pl_dist_take_inbound(pl_dist *d);
/* Starts a wave with this rank's counters (sent, received) unless one runs.
 * Serial thread. */
void pl_dist_wave_start(pl_dist *d, const uint64_t in[2]);
/* 1 with the sums of the last wave in out (and no wave running), 0 if it
 * is not done yet. */
int pl_dist_wave_result(pl_dist *d, uint64_t out[2]);
/* The waves said the job is over: pl_dist_stop then finalizes. */
void pl_dist_terminated(pl_dist *d);
/* Stops the communication thread: finalizes MPI if the waves ended the
 * job, else aborts every rank with status 1 (this rank left early). Frees
 * d. */
void pl_dist_stop(pl_dist *d);

#endif
