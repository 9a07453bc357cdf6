/*
 * A VM's own small-object heap, behind its lua_Alloc.
 *
 * Why: with glibc's malloc, memory a VM allocated on one thread keeps
 * belonging to that thread's arena (realloc keeps a block where it is, the
 * per-thread cache recycles it), so VMs that move between workers from one
 * phase to the next end up sharing an arena, and the workers queue on its
 * lock: two actors ran at the speed of one. Only a VM's current owner ever
 * allocates or frees its memory (docs/design.md), so a heap per VM needs no
 * lock at all.
 *
 * Blocks up to PL_HEAP_SMALL_MAX bytes come from size classes (16 bytes
 * apart up to 1 KB, then four per doubling), carved from chunks of 4 KB to
 * 64 KB that come from core/pages.h, not from malloc; freed blocks go on
 * their class's free list and are reused by the same VM. Lua passes the
 * old size on every free and realloc, so blocks carry no header. Larger
 * blocks go to malloc. Chunks go back to core/pages.c when the VM closes.
 *
 * Not thread-safe by design: one owner at a time.
 */
#ifndef PL_VMHEAP_H
#define PL_VMHEAP_H

#include <stddef.h>

#define PL_HEAP_SMALL_MAX (16 * 1024)
#define PL_HEAP_CLASSES (1024 / 16 + 4 * 4) /* vmheap.c: class_of */

typedef struct pl_heap_chunk pl_heap_chunk;

typedef struct pl_heap {
    void *free[PL_HEAP_CLASSES]; /* free lists, by class */
    pl_heap_chunk *chunks;       /* every chunk, newest first */
    char *bump, *bump_end;       /* the unused rest of the newest chunk */
    size_t in_use;               /* bytes handed out (small and large) */
    size_t chunk_bytes;          /* bytes of every chunk */
    size_t peak;                 /* the most in_use ever was (stats) */
} pl_heap;

void pl_heap_init(pl_heap *h);
/* Frees every chunk; blocks from malloc must have been freed already (by
 * lua_close, which frees everything the VM allocated). */
void pl_heap_destroy(pl_heap *h);
/* lua_Alloc's contract: (ptr, osize, nsize) -> new block, or NULL. */
void *pl_heap_realloc(pl_heap *h, void *ptr, size_t osize, size_t nsize);

#endif
