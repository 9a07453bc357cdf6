#include "core/sstring.h"

#include <stdlib.h>

static inline uint64_t read64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Eight bytes at a time, each folded in by a multiply and an xor-shift,
 * then a final avalanche (SplitMix64's); the upper half is kept. Good
 * enough for a trie indexed by the hash from its high bits down; not
 * meant to resist chosen collisions (they only make a collision node, a
 * linear list, longer). */
uint32_t pl_str_hash(const char *s, size_t len)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (len * 0xff51afd7ed558ccdull);
    while (len >= 8) {
        h = (h ^ read64(s)) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        s += 8;
        len -= 8;
    }
    /* the last 0..7 bytes without a variable-length memcpy: overlapping
     * 4-byte reads, or (1-3 bytes) first, middle and last byte */
    uint64_t tail = 0;
    if (len >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + len - 4, 4);
        tail = (uint64_t)a << 32 | b;
    } else if (len > 0) {
        tail = (uint64_t)(unsigned char)s[0] << 16 | (uint64_t)(unsigned char)s[len >> 1] << 8 |
               (unsigned char)s[len - 1];
    }
    h = (h ^ tail ^ (uint64_t)len << 56) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return (uint32_t)(h >> 32);
}

pl_sstring *pl_sstring_new_hashed(const char *s, size_t len, uint32_t hash)
{
    pl_sstring *str = malloc(sizeof *str + len + 1);
    if (!str) return NULL;
    atomic_init(&str->refs, 1);
    str->hash = hash;
    str->len = len;
    if (len) memcpy(str->data, s, len);
    str->data[len] = '\0';
    return str;
}

pl_sstring *pl_sstring_new(const char *s, size_t len)
{
    return pl_sstring_new_hashed(s, len, pl_str_hash(s, len));
}

void pl_sstring_release(pl_sstring *s)
{
    /* acq_rel: the release half orders this holder's reads before the
     * free; the acquire half makes the last holder see them all. (An
     * acquire fence after a release decrement would do the same, but
     * ThreadSanitizer does not model fences; on x86 both are one locked
     * instruction.) */
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) free(s);
}
