#include "core/vmheap.h"

#include <stdlib.h>
#include <string.h>

struct pl_heap_chunk {
    pl_heap_chunk *next;
    size_t size;
    /* blocks follow, 16-byte aligned */
};

#define CHUNK_HEADER 16 /* keeps the blocks 16-byte aligned */
#define FIRST_CHUNK 1024
#define LAST_CHUNK (64 * 1024)

void pl_heap_init(pl_heap *h)
{
    memset(h, 0, sizeof *h);
    h->next_chunk = FIRST_CHUNK;
}

void pl_heap_destroy(pl_heap *h)
{
    pl_heap_chunk *c = h->chunks;
    while (c) {
        pl_heap_chunk *next = c->next;
        free(c);
        c = next;
    }
    pl_heap_init(h);
}

static size_t class_of(size_t size)
{
    return (size + 15) / 16 - 1; /* 1..16 -> 0, 17..32 -> 1, ... */
}

static void *small_alloc(pl_heap *h, size_t size)
{
    size_t cls = class_of(size);
    void *block = h->free[cls];
    if (block) {
        memcpy(&h->free[cls], block, sizeof(void *)); /* next link */
        return block;
    }
    size_t bytes = (cls + 1) * 16;
    if ((size_t)(h->bump_end - h->bump) < bytes) {
        /* The old chunk's tail is too small for this class: file it under
         * the largest class it fits, so it is not lost. */
        size_t rest = (size_t)(h->bump_end - h->bump);
        if (rest >= 16) {
            size_t rc = rest / 16 - 1;
            memcpy(h->bump, &h->free[rc], sizeof(void *));
            h->free[rc] = h->bump;
        }
        h->bump = h->bump_end; /* filed: never carved again, even if malloc fails below */
        size_t size_chunk = h->next_chunk;
        while (size_chunk < bytes + CHUNK_HEADER)
            size_chunk *= 2;
        pl_heap_chunk *c = malloc(size_chunk);
        if (!c) return NULL;
        c->next = h->chunks;
        c->size = size_chunk;
        h->chunk_bytes += size_chunk;
        h->chunks = c;
        h->bump = (char *)c + CHUNK_HEADER;
        h->bump_end = (char *)c + size_chunk;
        if (h->next_chunk < LAST_CHUNK) h->next_chunk *= 2;
    }
    block = h->bump;
    h->bump += bytes;
    return block;
}

static void small_free(pl_heap *h, void *block, size_t size)
{
    size_t cls = class_of(size);
    memcpy(block, &h->free[cls], sizeof(void *));
    h->free[cls] = block;
}

void *pl_heap_realloc(pl_heap *h, void *ptr, size_t osize, size_t nsize)
{
    size_t old = ptr ? osize : 0; /* with ptr NULL, osize is Lua's type tag */
    if (nsize == 0) {
        if (ptr) {
            if (old <= PL_HEAP_SMALL_MAX)
                small_free(h, ptr, old);
            else
                free(ptr);
            h->in_use -= old;
        }
        return NULL;
    }
    void *p;
    if (old > PL_HEAP_SMALL_MAX && nsize > PL_HEAP_SMALL_MAX) {
        p = realloc(ptr, nsize);
    } else if (ptr && old <= PL_HEAP_SMALL_MAX && nsize <= PL_HEAP_SMALL_MAX &&
               class_of(old) == class_of(nsize)) {
        p = ptr; /* same class: the block already fits */
    } else {
        p = nsize <= PL_HEAP_SMALL_MAX ? small_alloc(h, nsize) : malloc(nsize);
        if (p && ptr) {
            memcpy(p, ptr, old < nsize ? old : nsize);
            if (old <= PL_HEAP_SMALL_MAX)
                small_free(h, ptr, old);
            else
                free(ptr);
        }
    }
    if (!p && ptr && nsize <= old) {
        /* Lua requires that a shrink never fails (lua_Alloc): keep the old
         * block, big enough. Lua frees it later with the new size, so it
         * goes to a smaller class's free list (a malloc'd one too: out of
         * memory only, it is then kept by the heap instead of freed). */
        p = ptr;
    }
    if (p) {
        h->in_use += nsize - old;
        if (h->in_use > h->peak) h->peak = h->in_use;
    }
    return p;
}
