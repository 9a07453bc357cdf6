/*
 * Where VM heaps get their chunks (core/vmheap.c): big regions mapped once
 * per process and hinted for transparent huge pages, carved into chunks of
 * 1 KB to 64 KB (powers of two), and chunks a closed VM gave back.
 *
 * Why not malloc: a VM's first memory is all new to the process, and on a
 * virtual machine every new 4 KB page costs a fault of several
 * microseconds; starting 10,000 actors was mostly page faults in malloc
 * growing its heap (docs/benchmarks.md). A region backed by 2 MB pages
 * faults once per 2 MB. And malloc's arenas belong to threads: a state
 * made on one worker and used on another made both wait on the arena's
 * lock.
 *
 * Memory given back is kept for the next chunk of its size, never
 * returned to the system (as glibc keeps most of its heap).
 *
 * Threads: any thread gets and puts, under one lock (a leaf); a VM gets
 * a chunk only when its current one is used up.
 */
#ifndef PL_PAGES_H
#define PL_PAGES_H

#include <stddef.h>

#define PL_PAGES_MIN 1024        /* the smallest chunk */
#define PL_PAGES_MAX (64 * 1024) /* the largest chunk */

/* A chunk of size bytes (a power of two, PL_PAGES_MIN..PL_PAGES_MAX),
 * aligned to PL_PAGES_MIN (every chunk is carved at a multiple of it from
 * a region aligned to 2 MB: msgslab.c keeps a cache line to itself); NULL
 * when the system has no memory left. */
void *pl_pages_get(size_t size);
/* Gives back a chunk from pl_pages_get with its size. */
void pl_pages_put(void *chunk, size_t size);

#endif
