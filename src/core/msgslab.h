/*
 * Message bodies from per-thread blocks (slabs) instead of one malloc and
 * one free each.
 *
 * A sender allocates bodies by bumping a pointer in its OS thread's
 * current slab (16 KB from core/pages.c); the receiver, on another
 * thread, releases each body with one atomic decrement, and the slab goes
 * back to pages.c when its last body is released after the thread moved
 * on to another slab. A full slab whose bodies are all released already
 * is reused by its thread in place. So a message costs a bump and a
 * decrement, and getting and giving back a slab is shared by the few
 * dozen bodies that fit in it.
 *
 * A body pins its whole slab while it lives: the mailbox keeps no slab
 * body in a waiting list for long (it copies a body that must wait for a
 * binding out of its slab first: mailbox.c), so the waiting limit, which
 * counts bodies' bytes, still bounds the memory waiting messages hold.
 *
 * Threads: any thread may allocate (from its own slab) and release (any
 * body). A thread's slab is handed back when the thread exits (a POSIX
 * key destructor) or calls pl_msgslab_thread_flush.
 */
#ifndef PL_MSGSLAB_H
#define PL_MSGSLAB_H

#include <stddef.h>

typedef struct pl_msgslab pl_msgslab;

/* Largest allocation a slab serves; larger ones are the caller's to
 * malloc. */
#define PL_MSGSLAB_MAX 512
/* The alignment of an allocation (enough for pointers and 64-bit
 * integers, not for every type). */
#define PL_MSGSLAB_ALIGN 8

/* size bytes (at most PL_MSGSLAB_MAX), aligned to PL_MSGSLAB_ALIGN, from
 * the calling thread's slab; *slab is set to the slab, to be released
 * with pl_msgslab_release. NULL when out of memory. */
void *pl_msgslab_alloc(size_t size, pl_msgslab **slab);

/* Shrinks an allocation from slab that ends at end (as asked for) to end
 * at new_end, if it is the calling thread's latest one: the freed tail
 * goes to the next allocation. Returns 1 if it did, else 0 (unchanged). */
int pl_msgslab_trim(pl_msgslab *slab, const void *end, const void *new_end);

/* Releases the allocation p of size bytes (as asked for) from slab (any
 * thread); the slab is freed with its last one once its thread left it. */
void pl_msgslab_release(pl_msgslab *slab, void *p, size_t size);

/* The calling thread leaves its current slab (freed once its bodies are
 * released; the next allocation starts a new one). For a thread that
 * stops sending without exiting (a runtime being closed). */
void pl_msgslab_thread_flush(void);

#endif
