#include "core/vmheap.h"

#include <stdlib.h>
#include <string.h>

#include "core/pages.h"

struct pl_heap_chunk {
    pl_heap_chunk *next;
    size_t size;
    /* blocks follow, 16-byte aligned */
};

#define CHUNK_HEADER 16 /* keeps the blocks 16-byte aligned */
/* Chunks are 4 KB until the heap holds 16 KB, then about a quarter of
 * what it holds, up to 64 KB: an idle actor (about 16 KB) leaves at most
 * one page of a chunk unused (the pages come from huge pages, so a chunk
 * is resident whole), while a big VM still takes a chunk only now and
 * then. */
#define FIRST_CHUNK (4 * 1024)
#define LAST_CHUNK PL_PAGES_MAX

static size_t next_chunk_size(const pl_heap *h)
{
    size_t size = FIRST_CHUNK;
    while (size < LAST_CHUNK && size * 2 <= h->chunk_bytes / 4)
        size *= 2;
    return size;
}

void pl_heap_init(pl_heap *h)
{
    memset(h, 0, sizeof *h);
}

void pl_heap_destroy(pl_heap *h)
{
    pl_heap_chunk *c = h->chunks;
    while (c) {
        pl_heap_chunk *next = c->next;
        pl_pages_put(c, c->size);
        c = next;
    }
    pl_heap_init(h);
}

/* Classes: 16 bytes apart up to 1 KB (0..63), then four per doubling up
 * to PL_HEAP_SMALL_MAX (1280, 1536, 1792, 2048, 2560, ...): a table's
 * hash part or a string table, the blocks over 1 KB a small VM has,
 * wastes at most a quarter. */
#define FINE_MAX 1024
#define FINE_CLASSES (FINE_MAX / 16)

static size_t class_of(size_t size)
{
    if (size <= FINE_MAX) return (size + 15) / 16 - 1; /* 1..16 -> 0, 17..32 -> 1, ... */
    size_t base = FINE_MAX, d = 0;
    while (size > 2 * base) {
        base *= 2;
        d++;
    }
    size_t quarter = base / 4;
    return FINE_CLASSES + 4 * d + (size - base + quarter - 1) / quarter - 1;
}

static size_t class_bytes(size_t cls)
{
    if (cls < FINE_CLASSES) return (cls + 1) * 16;
    size_t k = cls - FINE_CLASSES, base = (size_t)FINE_MAX << (k / 4);
    return base + (k % 4 + 1) * (base / 4);
}

/* Files the unused rest of the newest chunk on the free lists, in pieces
 * of the fine classes, so none of it is lost when a new chunk starts. */
static void file_tail(pl_heap *h)
{
    while ((size_t)(h->bump_end - h->bump) >= 16) {
        size_t rest = (size_t)(h->bump_end - h->bump);
        size_t piece = rest < FINE_MAX ? rest / 16 * 16 : FINE_MAX;
        size_t rc = piece / 16 - 1;
        memcpy(h->bump, &h->free[rc], sizeof(void *));
        h->free[rc] = h->bump;
        h->bump += piece;
    }
    h->bump = h->bump_end; /* filed: never carved again, even if no chunk comes next */
}

static void *small_alloc(pl_heap *h, size_t size)
{
    size_t cls = class_of(size);
    void *block = h->free[cls];
    if (block) {
        memcpy(&h->free[cls], block, sizeof(void *)); /* next link */
        return block;
    }
    size_t bytes = class_bytes(cls);
    if ((size_t)(h->bump_end - h->bump) < bytes) {
        file_tail(h);
        size_t size_chunk = next_chunk_size(h);
        while (size_chunk < bytes + CHUNK_HEADER)
            size_chunk *= 2;
        pl_heap_chunk *c = pl_pages_get(size_chunk);
        if (!c) return NULL;
        c->next = h->chunks;
        c->size = size_chunk;
        h->chunk_bytes += size_chunk;
        h->chunks = c;
        h->bump = (char *)c + CHUNK_HEADER;
        h->bump_end = (char *)c + size_chunk;
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
