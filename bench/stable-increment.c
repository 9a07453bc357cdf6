/*
 * The shared counter without Lua: T threads call pl_stable_increment on one
 * key of one table, N times each, and the rate in total is printed. It is
 * the ceiling of SharedTable.increment from T workers (bench/sharedtable.lua,
 * increment_mps_all): what the table itself allows, all of Lua's own cost
 * left out. Checks that no increment was lost.
 *
 *   bench-stable-increment [threads [increments per thread]]   (2, 2000000)
 *   RESULT c_increment_mps_<threads> value
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/stable.h"

static pl_stable *table;
static long per_thread = 2000000;
static const char KEY[] = "counter";

static pl_skey key(void)
{
    pl_skey k = {PL_SKEY_STR | pl_str_hash(KEY, strlen(KEY)), KEY, strlen(KEY), NULL};
    return k;
}

static void *run(void *arg)
{
    (void)arg;
    pl_skey k = key();
    pl_sval one = {PL_SV_INT, {.i = 1}}, old;
    for (long i = 0; i < per_thread; i++) {
        if (pl_stable_increment(table, &k, &one, &old) != PL_OK) {
            fputs("bench-stable-increment: increment failed\n", stderr);
            exit(1);
        }
    }
    pl_epoch_thread_exit();
    return NULL;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int nthreads = argc > 1 ? atoi(argv[1]) : 2;
    if (argc > 2) per_thread = atol(argv[2]);
    if (nthreads < 1 || nthreads > 64 || per_thread < 1) {
        fputs("usage: bench-stable-increment [threads (1..64) [increments per thread]]\n", stderr);
        return 2;
    }
    table = pl_stable_new(NULL, 0, NULL);
    pl_skey k = key();
    pl_sval zero = {PL_SV_INT, {.i = 0}};
    if (!table || pl_stable_set(table, &k, &zero) != PL_OK) return 1;
    pthread_t th[64];
    double t0 = now();
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&th[i], NULL, run, NULL) != 0) return 1;
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    double t = now() - t0;
    pl_epoch_enter();
    const pl_sval *v = pl_snode_find(pl_stable_root(table), &k);
    long long total = v ? (long long)v->u.i : -1;
    pl_epoch_exit();
    if (total != (long long)nthreads * per_thread) {
        fprintf(stderr, "bench-stable-increment: %lld increments kept of %lld\n", total,
                (long long)nthreads * per_thread);
        return 1;
    }
    printf("RESULT c_increment_mps_%d %.2f\n", nthreads, (double)nthreads * per_thread / t / 1e6);
    pl_stable_release(table);
    pl_epoch_thread_exit();
    return 0;
}
