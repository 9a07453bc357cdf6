/*
 * The transport between the ranks of a distributed job (docs/distributed.md):
 * a table of functions that src/dist/mpi_transport.c (built on its own as
 * the module parlua_mpi.so, the only code that includes mpi.h) hands to the
 * runtime when engine/dist.c loads it with dlopen. No Lua here.
 *
 * Threads: every function is called from one thread only, the rank's
 * communication thread (engine/dist.c), which is also the thread that
 * calls init; so the transport asks MPI for MPI_THREAD_FUNNELED and
 * nothing more.
 */
#ifndef PL_TRANSPORT_H
#define PL_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

/* Bumped when the table changes: a module of another version is refused. */
#define PL_TRANSPORT_ABI 2
/* The symbol the module exports: const pl_transport *parlua_transport(void). */
#define PL_TRANSPORT_SYMBOL "parlua_transport"

typedef struct pl_transport {
    int abi;          /* PL_TRANSPORT_ABI */
    const char *name; /* "Open MPI 4.1.4", for --stats and errors */
    /* Starts the transport (MPI_Init_thread): this process's rank, the
     * number of ranks, and how many of them run on this machine. 0, or -1
     * with a reason in err. */
    int (*init)(int *rank, int *size, int *local_size, char *err, size_t errlen);
    /* Starts sending len bytes (len <= INT_MAX) at buf to dest; buf must
     * stay untouched until test says done. A handle, or NULL on failure. */
    void *(*isend)(int dest, const void *buf, size_t len);
    /* 1 when the operation behind h is complete (h is then freed), 0 if not
     * yet, -1 on failure (h freed). For isend and allreduce handles. */
    int (*test)(void *h);
    /* Whether a batch waits to be received: 1 with its source, its length
     * and a handle for recv, 0 if none, -1 on failure. */
    int (*probe)(int *src, size_t *len, void **msg);
    /* Receives the batch probe found into buf (len bytes). 0 or -1. */
    int (*recv)(void *msg, void *buf, size_t len);
    /* Starts summing n counters over every rank into out (every rank calls
     * it, in the same order). A handle for test, or NULL on failure. */
    void *(*allreduce_sum)(const uint64_t *in, uint64_t *out, int n);
    /* Ends every rank of the job now with this status (MPI_Abort). */
    void (*abort)(int status);
    /* Ends the transport (MPI_Finalize); nothing is in flight. */
    void (*finalize)(void);
} pl_transport;

typedef const pl_transport *(*pl_transport_fn)(void);

#endif
