/* The CPU-bound loop of bench/cpu-work.lua written in C: the same sum of
 * sin(i) * 0.5, once on one thread and once split over N threads (default:
 * the cores), so make bench can print what this machine allows for a
 * perfectly parallel loop beside parlua's speedup (on a VM, two vCPUs
 * rarely give exactly 2).
 *   bench-cpu-threads [threads [iterations]]
 * Prints RESULT c_cpu_speedup (the least one-thread time of 3 over the
 * least split time of 3). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    long first, last;
    double sum;
} share;

static double sum_range(long first, long last)
{
    double s = 0.0;
    for (long i = first; i <= last; i++)
        s += sin((double)i) * 0.5;
    return s;
}

static void *run_share(void *arg)
{
    share *sh = arg;
    sh->sum = sum_range(sh->first, sh->last);
    return NULL;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int nthreads = argc > 1 ? atoi(argv[1]) : (int)(ncpu > 0 ? ncpu : 1);
    long n = argc > 2 ? atol(argv[2]) : 40000000L;
    if (nthreads < 1 || nthreads > 256 || n < nthreads) {
        fprintf(stderr, "usage: bench-cpu-threads [threads 1-256 [iterations]]\n");
        return 2;
    }
    double best_one = INFINITY, best_split = INFINITY, check = 0.0;
    for (int round = 0; round < 3; round++) {
        double t0 = now();
        volatile double whole = sum_range(1, n);
        double t1 = now();
        share *sh = calloc((size_t)nthreads, sizeof *sh);
        pthread_t *th = calloc((size_t)nthreads, sizeof *th);
        if (!sh || !th) return 1;
        long per = n / nthreads;
        for (int i = 0; i < nthreads; i++) {
            sh[i].first = (long)i * per + 1;
            sh[i].last = i == nthreads - 1 ? n : (long)(i + 1) * per;
            if (pthread_create(&th[i], NULL, run_share, &sh[i]) != 0) return 1;
        }
        double split = 0.0;
        for (int i = 0; i < nthreads; i++) {
            pthread_join(th[i], NULL);
            split += sh[i].sum;
        }
        double t2 = now();
        check = fabs(split - whole);
        free(sh);
        free(th);
        if (t1 - t0 < best_one) best_one = t1 - t0;
        if (t2 - t1 < best_split) best_split = t2 - t1;
    }
    if (check > 1e-6 * n) {
        fprintf(stderr, "bench-cpu-threads: the split sum differs by %g\n", check);
        return 1;
    }
    printf("RESULT c_cpu_speedup %.3f\n", best_one / best_split);
    return 0;
}
