/*
 * Shared strings: immutable bytes with their hash, reference counted, so
 * one copy can sit in many versions of many SharedTables and be read by any
 * thread. The bytes are followed by a NUL (not counted in len).
 *
 * Threads: any. A string never changes after pl_sstring_new returns; the
 * reference count is atomic.
 */
#ifndef PL_SSTRING_H
#define PL_SSTRING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct pl_sstring {
    atomic_uint refs;
    uint32_t hash;
    size_t len;
    char data[];
} pl_sstring;

/* The 32-bit hash of len bytes at s (the same in every process and run:
 * SharedTable's order of string keys depends on it). */
uint32_t pl_str_hash(const char *s, size_t len);

/* A new string with one reference, or NULL if out of memory. */
pl_sstring *pl_sstring_new(const char *s, size_t len);
/* The same with a hash already computed by pl_str_hash. */
pl_sstring *pl_sstring_new_hashed(const char *s, size_t len, uint32_t hash);

static inline void pl_sstring_retain(pl_sstring *s)
{
    /* relaxed: the caller holds a reference (or reads it inside an epoch
     * section where the holder cannot drop it), so s cannot go away. */
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void pl_sstring_release(pl_sstring *s);

static inline int pl_sstring_eq(const pl_sstring *s, const char *p, size_t len, uint32_t hash)
{
    return s->hash == hash && s->len == len && memcmp(s->data, p, len) == 0;
}

#endif
