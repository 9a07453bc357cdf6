/*
 * The MPI transport (core/transport.h), built as the module parlua_mpi.so:
 * the only file that includes mpi.h, so libparlua and the parlua command
 * do not need MPI's libraries unless a job runs under mpirun
 * (docs/distributed.md). Every function runs on the rank's communication
 * thread, which called init: MPI_THREAD_FUNNELED is enough, and is what we
 * ask for.
 */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/transport.h"

/* Data batches; the termination waves use collectives, which never match
 * point-to-point messages. */
#define TAG_BATCH 1

typedef struct handle {
    MPI_Request req;
} handle;

static char version[64] = "MPI";

static int init(int *rank, int *size, int *local_size, char *err, size_t errlen)
{
    int provided = 0;
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) {
        snprintf(err, errlen, "MPI_Init_thread failed (error %d)", rc);
        return -1;
    }
    if (provided < MPI_THREAD_FUNNELED) {
        snprintf(err, errlen,
                 "this MPI library gives thread level %d, below MPI_THREAD_FUNNELED (%d) that "
                 "parlua's communication thread needs",
                 provided, MPI_THREAD_FUNNELED);
        MPI_Finalize();
        return -1;
    }
    /* errors come back as codes: a failed call must reach our reports */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    /* the ranks that share this machine (they share its cores) */
    MPI_Comm node;
    *local_size = 1;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_size(node, local_size);
        MPI_Comm_free(&node);
    }
    char lib[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (MPI_Get_library_version(lib, &len) == MPI_SUCCESS) {
        /* the first line, as "Open MPI v4.1.4, package: ..." starts */
        int n = 0;
        while (n < len && n < (int)sizeof version - 1 && lib[n] != ',' && lib[n] != '\n')
            n++;
        snprintf(version, sizeof version, "%.*s", n, lib);
    }
    return 0;
}

static void *isend(int dest, const void *buf, size_t len)
{
    if (len > INT_MAX) return NULL;
    handle *h = malloc(sizeof *h);
    if (!h) return NULL;
    if (MPI_Isend(buf, (int)len, MPI_BYTE, dest, TAG_BATCH, MPI_COMM_WORLD, &h->req) !=
        MPI_SUCCESS) {
        free(h);
        return NULL;
    }
    return h;
}

static int test(void *p)
{
    handle *h = p;
    int done = 0;
    int rc = MPI_Test(&h->req, &done, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS || done) free(h);
    return rc != MPI_SUCCESS ? -1 : done;
}

static int probe(int *src, size_t *len, void **msg)
{
    int found = 0, count = 0;
    MPI_Status st;
    MPI_Message m;
    if (MPI_Improbe(MPI_ANY_SOURCE, TAG_BATCH, MPI_COMM_WORLD, &found, &m, &st) != MPI_SUCCESS)
        return -1;
    if (!found) return 0;
    if (MPI_Get_count(&st, MPI_BYTE, &count) != MPI_SUCCESS || count < 0) return -1;
    MPI_Message *keep = malloc(sizeof *keep);
    if (!keep) return -1;
    *keep = m;
    *src = st.MPI_SOURCE;
    *len = (size_t)count;
    *msg = keep;
    return 1;
}

static int recv(void *msg, void *buf, size_t len)
{
    MPI_Message *m = msg;
    int rc = MPI_Mrecv(buf, (int)len, MPI_BYTE, m, MPI_STATUS_IGNORE);
    free(m);
    return rc == MPI_SUCCESS ? 0 : -1;
}

static void *allreduce_sum(const uint64_t *in, uint64_t *out, int n)
{
    handle *h = malloc(sizeof *h);
    if (!h) return NULL;
    if (MPI_Iallreduce(in, out, n, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD, &h->req) != MPI_SUCCESS) {
        free(h);
        return NULL;
    }
    return h;
}

static void abort_job(int status)
{
    MPI_Abort(MPI_COMM_WORLD, status);
}

static void finalize(void)
{
    MPI_Finalize();
}

static pl_transport transport = {
    PL_TRANSPORT_ABI, version, init, isend, test, probe, recv, allreduce_sum, abort_job, finalize,
};

__attribute__((visibility("default"))) const pl_transport *parlua_transport(void)
{
    return &transport;
}
