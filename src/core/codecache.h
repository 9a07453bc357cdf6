/*
 * The code cache: one per process, shared by every runtime and thread. It
 * maps a script's source text to what compiling it gave (opaque bytes here:
 * lib/script.c stores a Lua binary chunk), so that a text compiled once is
 * not parsed again (docs/design.md, "Compiled scripts").
 *
 * Bounded: entries cost their source, their bytes and a header; past the
 * limit (PL_CODECACHE_LIMIT bytes unless pl_codecache_set_limit says
 * otherwise) the least recently used entries are dropped.
 *
 * Threads: any. One mutex (a leaf: nothing else is taken under it, and no
 * Lua runs under it) guards the table and the recency list; an entry's
 * fields never change after it is added, and its reference count is atomic,
 * so a holder reads it without the lock, even after it was dropped from the
 * cache.
 */
#ifndef PL_CODECACHE_H
#define PL_CODECACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define PL_CODECACHE_LIMIT ((size_t)32 << 20) /* 32 MiB */

typedef struct pl_code {
    /* Read-only from pl_codecache_put on. */
    const unsigned char *bytes; /* what the caller stored */
    size_t len;
    size_t mark; /* the caller's: a position in bytes, say */
    /* The cache's own. */
    struct pl_code *chain;         /* hash chain (lock) */
    struct pl_code *newer, *older; /* recency list (lock) */
    atomic_uint refs;              /* the cache's one, and one per holder */
    uint32_t hash;
    size_t src_len;
    size_t cost;          /* what it counts against the limit */
    unsigned char data[]; /* the source, then bytes */
} pl_code;

typedef struct pl_codecache_stats {
    uint64_t hits, misses, added, dropped; /* dropped: evicted to stay within the limit */
    size_t entries, bytes, limit;
} pl_codecache_stats;

/* The entry for the len bytes of source at src (hash: pl_str_hash of them),
 * retained (release it with pl_code_release), now the most recently used;
 * or NULL (a miss). */
pl_code *pl_codecache_get(const char *src, size_t len, uint32_t hash);

void pl_code_release(pl_code *code);

/* Adds a copy of src and of the n bytes at bytes, with mark, evicting the
 * least recently used entries as needed. Returns PL_OK (also when another
 * thread added the same source first: the cache keeps that one), PL_ERANGE
 * when the entry alone would pass the limit (not added), PL_ENOMEM. The
 * cache is best effort: a caller may ignore the status. */
int pl_codecache_put(const char *src, size_t len, uint32_t hash, const void *bytes, size_t n,
                     size_t mark);

/* Sets the limit in bytes, dropping entries past it now; 0 turns the cache
 * off (and empties it). */
void pl_codecache_set_limit(size_t bytes);

/* The limit as last set (read without the lock: a hint, such as "0: do not
 * bother making an entry"). */
size_t pl_codecache_limit(void);

/* Drops every entry (held ones live on until released). */
void pl_codecache_clear(void);

void pl_codecache_get_stats(pl_codecache_stats *out);

#endif
