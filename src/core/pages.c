#include "core/pages.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

#define HUGE_PAGE (2u * 1024 * 1024)
#define REGION (4u * 1024 * 1024) /* mapped at a time: two huge pages */
#define CLASSES 7                 /* 1 KB << 0 .. 1 KB << 6 */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void *free_chunks[CLASSES]; /* given back, by class; linked through their first word */
static char *bump, *bump_end;      /* the unused rest of the newest region */

static int class_of(size_t size)
{
    int c = 0;
    while (((size_t)PL_PAGES_MIN << c) < size)
        c++;
    return c;
}

static void push_free(void *chunk, int c)
{
    *(void **)chunk = free_chunks[c];
    free_chunks[c] = chunk;
}

/* Maps a new region aligned to a huge page, so each of its huge pages can
 * be one (the kernel backs only aligned 2 MB with one). */
static int map_region(void)
{
    size_t len = REGION + HUGE_PAGE;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 0;
    char *start = (char *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (start > p) munmap(p, (size_t)(start - p));
    char *end = start + REGION;
    if (p + len > end) munmap(end, (size_t)(p + len - end));
#ifdef MADV_HUGEPAGE
    madvise(start, REGION, MADV_HUGEPAGE); /* a hint: without it, 4 KB pages */
#endif
    /* The old region's tail, a multiple of PL_PAGES_MIN: into the free
     * lists, largest pieces first, so none of it is lost. */
    for (int c = CLASSES - 1; c >= 0; c--) {
        size_t piece = (size_t)PL_PAGES_MIN << c;
        while ((size_t)(bump_end - bump) >= piece) {
            push_free(bump, c);
            bump += piece;
        }
    }
    bump = start;
    bump_end = end;
    return 1;
}

void *pl_pages_get(size_t size)
{
    int c = class_of(size);
    size_t bytes = (size_t)PL_PAGES_MIN << c;
    pthread_mutex_lock(&lock);
    void *chunk = free_chunks[c];
    if (chunk) {
        free_chunks[c] = *(void **)chunk;
    } else if ((size_t)(bump_end - bump) >= bytes || map_region()) {
        chunk = bump;
        bump += bytes;
    }
    pthread_mutex_unlock(&lock);
    return chunk;
}

void pl_pages_put(void *chunk, size_t size)
{
    pthread_mutex_lock(&lock);
    push_free(chunk, class_of(size));
    pthread_mutex_unlock(&lock);
}
