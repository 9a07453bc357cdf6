/*
 * The wire: a byte buffer holding values in transit between VMs, plus the
 * shared objects they refer to. No Lua here; src/engine/transfer_encode.c reads and
 * writes Lua values with it. The format lives only inside one process (it
 * is never stored or sent elsewhere), so it has no magic, no version and
 * uses the host's limits, but it is one fixed format, described here.
 *
 * Encodings
 *   u8       one byte
 *   varint   unsigned LEB128: 7 bits a byte, least significant group
 *            first, high bit set on every byte but the last; at most 10
 *            bytes, and the 10th may only hold the top bit of a 64-bit value
 *   int      a signed 64-bit integer, zigzag-mapped ((n << 1) ^ (n >> 63))
 *            and written as a varint, so small magnitudes take one byte
 *   double   the 8 bytes of the IEEE 754 bit pattern, little-endian (NaN
 *            payloads, infinities and -0.0 survive exactly)
 *   u32      4 bytes, little-endian
 *   bytes    varint length, then that many raw bytes (binary safe)
 *
 * A message
 *   message  := count:varint value{count}     nothing may follow
 *   value    := tag:u8 payload
 *
 *   tag  name       payload
 *   0    NIL        -
 *   1    FALSE      -
 *   2    TRUE       -
 *   3    INT        int                    a Lua integer
 *   4    FLOAT      double                 a Lua float (1.0 stays a float)
 *   5    STRING     bytes
 *   6    SHARED     index:varint           refs[index], a shared object
 *   7    TABLE      narr:varint nhash:u32 value{narr} (key value){nhash}
 *                   the array part t[1..narr] (NIL entries are holes),
 *                   then the other pairs; a key is never NIL or a NaN
 *   8    BACKREF    id:varint              the table or function with that id
 *   9    FUNCTION   code:u32 byte{code} nup:u8 upvalue{nup}
 *                   Lua bytecode (lua_dump, not stripped), then the
 *                   upvalues in order; an upvalue is a value or a JOIN
 *   10   GLOBALS    -                      the receiving VM's globals table
 *   11   JOIN       id:varint n:u8         only as an upvalue: share upvalue
 *                                          n (1-based) of function id
 *   12   CFUNC      lib:bytes name:bytes   package.loaded[lib][name] of the
 *                                          receiving VM
 *
 * Ids: every TABLE and FUNCTION record takes the next id (0, 1, 2, ... in
 * the order the records start), before its contents are read, so a
 * BACKREF inside a table may name the table itself (cycles).
 *
 * Shared objects are not in the bytes: the wire holds one reference to each
 * in refs[], taken by pl_wire_add_ref and dropped by pl_wire_reset/free.
 *
 * Threads: a pl_wire belongs to one thread at a time while it is written;
 * once complete it may be read by several threads at once (readers never
 * write to it).
 */
#ifndef PL_WIRE_H
#define PL_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/check.h"
#include "core/shared.h"
#include "core/status.h"

enum {
    PL_WIRE_NIL = 0,
    PL_WIRE_FALSE = 1,
    PL_WIRE_TRUE = 2,
    PL_WIRE_INT = 3,
    PL_WIRE_FLOAT = 4,
    PL_WIRE_STRING = 5,
    PL_WIRE_SHARED = 6,
    PL_WIRE_TABLE = 7,
    PL_WIRE_BACKREF = 8,
    PL_WIRE_FUNCTION = 9,
    PL_WIRE_GLOBALS = 10,
    PL_WIRE_JOIN = 11,
    PL_WIRE_CFUNC = 12,
};

/* Longest varint, in bytes. */
#define PL_WIRE_VARINT_MAX 10

typedef struct pl_wire {
    unsigned char *data;
    size_t len, cap;
    unsigned char *inline_buf; /* caller's storage data starts in, or NULL */
    pl_shared **refs;          /* one reference owned per entry */
    size_t nrefs, refcap;
} pl_wire;

/* An empty wire; allocates nothing. */
void pl_wire_init(pl_wire *w);
/* An empty wire whose first cap bytes live in buf (owned by the caller,
 * e.g. inside a message body, so a small message costs one malloc); it
 * moves to the heap only if it outgrows buf. Inline: every message body
 * is made with it. */
static inline void pl_wire_init_inline(pl_wire *w, unsigned char *buf, size_t cap)
{
    w->data = w->inline_buf = buf;
    w->len = 0;
    w->cap = cap;
    w->refs = NULL;
    w->nrefs = w->refcap = 0;
}
/* Releases every reference and frees the memory; w is empty afterwards
 * (as after pl_wire_init) and may be reused. */
void pl_wire_free(pl_wire *w);
/* Releases every reference and empties w, keeping its memory for reuse. */
void pl_wire_reset(pl_wire *w);
/* Drops bytes past len and references past nrefs (releasing them): undoes
 * everything written since len and nrefs were read. */
void pl_wire_truncate(pl_wire *w, size_t len, size_t nrefs);
/* Makes room for extra more bytes. Returns PL_OK, or PL_ENOMEM when out of memory (PL_ERANGE when
 * the size overflows) (w unchanged). */
PL_MUST_CHECK int pl_wire_grow(pl_wire *w, size_t extra);
/* Takes one reference to obj (retained) and stores its index in *index.
 * Returns PL_OK, or PL_ENOMEM when out of memory (nothing retained). */
PL_MUST_CHECK int pl_wire_add_ref(pl_wire *w, pl_shared *obj, size_t *index);

/* The writers: each returns PL_OK, or PL_ENOMEM when out of memory, in which case w
 * holds what it held before the call. The small ones are inline because
 * the codec calls them once per value. */

PL_MUST_CHECK static inline int pl_wire_reserve(pl_wire *w, size_t extra)
{
    return w->cap - w->len >= extra ? 0 : pl_wire_grow(w, extra);
}

PL_MUST_CHECK static inline int pl_wire_put_u8(pl_wire *w, unsigned v)
{
    if (w->len == w->cap && pl_wire_grow(w, 1) != 0) return PL_ENOMEM;
    w->data[w->len++] = (unsigned char)v;
    return PL_OK;
}

PL_MUST_CHECK static inline int pl_wire_put_varint(pl_wire *w, uint64_t v)
{
    if (pl_wire_reserve(w, PL_WIRE_VARINT_MAX) != 0) return PL_ENOMEM;
    unsigned char *p = w->data + w->len;
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    w->len = (size_t)(p - w->data);
    return PL_OK;
}

static inline uint64_t pl_wire_zigzag(int64_t n)
{
    /* unsigned arithmetic: shifting a negative value left is undefined */
    uint64_t u = (uint64_t)n;
    return (u << 1) ^ (n < 0 ? UINT64_MAX : 0);
}

static inline int64_t pl_wire_unzigzag(uint64_t u)
{
    uint64_t x = (u >> 1) ^ (0 - (u & 1));
    int64_t n;
    memcpy(&n, &x, sizeof n); /* no implementation-defined conversion */
    return n;
}

PL_MUST_CHECK static inline int pl_wire_put_int(pl_wire *w, int64_t n)
{
    return pl_wire_put_varint(w, pl_wire_zigzag(n));
}

/* n bytes of v, least significant first (the wire is little-endian). */
static inline void pl_wire_store_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline void pl_wire_store_u64(unsigned char *p, uint64_t v)
{
    pl_wire_store_le(p, v, 8);
}

PL_MUST_CHECK static inline int pl_wire_put_double(pl_wire *w, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    if (pl_wire_reserve(w, 8) != 0) return PL_ENOMEM;
    pl_wire_store_u64(w->data + w->len, bits);
    w->len += 8;
    return PL_OK;
}

static inline void pl_wire_store_u32(unsigned char *p, uint32_t v)
{
    pl_wire_store_le(p, v, 4);
}

PL_MUST_CHECK static inline int pl_wire_put_u32(pl_wire *w, uint32_t v)
{
    if (pl_wire_reserve(w, 4) != 0) return PL_ENOMEM;
    pl_wire_store_u32(w->data + w->len, v);
    w->len += 4;
    return PL_OK;
}

/* Raw bytes, no length. */
PL_MUST_CHECK static inline int pl_wire_put_raw(pl_wire *w, const void *p, size_t n)
{
    if (pl_wire_reserve(w, n) != 0) return PL_ENOMEM;
    if (n) memcpy(w->data + w->len, p, n);
    w->len += n;
    return PL_OK;
}

/* Length-prefixed bytes. */
PL_MUST_CHECK static inline int pl_wire_put_bytes(pl_wire *w, const void *p, size_t n)
{
    /* one reservation for both parts, so a failure leaves nothing behind */
    if (n > SIZE_MAX - PL_WIRE_VARINT_MAX || pl_wire_reserve(w, n + PL_WIRE_VARINT_MAX) != 0)
        return PL_ENOMEM;
    PL_CANNOT_FAIL(pl_wire_put_varint(w, n)); /* reserved */
    memcpy(w->data + w->len, p, n);
    w->len += n;
    return PL_OK;
}

/*
 * The reader. Every read checks the bounds first and returns PL_EMALFORMED without
 * moving when the bytes are missing or malformed, so a decoder built on it
 * cannot read outside the buffer whatever the bytes are.
 */
typedef struct pl_wire_reader {
    const unsigned char *p, *end;
    const pl_wire *w;
} pl_wire_reader;

static inline void pl_wire_reader_init(pl_wire_reader *r, const pl_wire *w)
{
    r->p = w->data;
    r->end = w->data ? w->data + w->len : NULL; /* no arithmetic on NULL */
    r->w = w;
}

static inline size_t pl_wire_remaining(const pl_wire_reader *r)
{
    return (size_t)(r->end - r->p);
}

/* Offset of the next byte to read, for error messages. */
static inline size_t pl_wire_offset(const pl_wire_reader *r)
{
    return (size_t)(r->p - r->w->data);
}

PL_MUST_CHECK static inline int pl_wire_get_u8(pl_wire_reader *r, unsigned *v)
{
    if (r->p == r->end) return PL_EMALFORMED;
    *v = *r->p++;
    return PL_OK;
}

PL_MUST_CHECK static inline int pl_wire_get_varint(pl_wire_reader *r, uint64_t *v)
{
    const unsigned char *p = r->p;
    uint64_t x = 0;
    for (int shift = 0; shift < 7 * PL_WIRE_VARINT_MAX; shift += 7) {
        if (p == r->end) return PL_EMALFORMED;
        unsigned b = *p++;
        if (shift == 63 && b > 1) return PL_EMALFORMED; /* more than 64 bits */
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            r->p = p;
            *v = x;
            return PL_OK;
        }
    }
    return PL_EMALFORMED; /* an 11th byte would be needed */
}

PL_MUST_CHECK static inline int pl_wire_get_int(pl_wire_reader *r, int64_t *n)
{
    uint64_t u;
    if (pl_wire_get_varint(r, &u) != 0) return PL_EMALFORMED;
    *n = pl_wire_unzigzag(u);
    return PL_OK;
}

/* Reads n little-endian bytes into *v; -1 if fewer remain. */
PL_MUST_CHECK static inline int pl_wire_get_le(pl_wire_reader *r, int n, uint64_t *v)
{
    if (pl_wire_remaining(r) < (size_t)n) return PL_EMALFORMED;
    uint64_t x = 0;
    for (int i = 0; i < n; i++)
        x |= (uint64_t)r->p[i] << (8 * i);
    *v = x;
    r->p += n;
    return PL_OK;
}

PL_MUST_CHECK static inline int pl_wire_get_double(pl_wire_reader *r, double *d)
{
    uint64_t bits;
    if (pl_wire_get_le(r, 8, &bits) != 0) return PL_EMALFORMED;
    memcpy(d, &bits, sizeof *d);
    return PL_OK;
}

PL_MUST_CHECK static inline int pl_wire_get_u32(pl_wire_reader *r, uint32_t *v)
{
    uint64_t x;
    if (pl_wire_get_le(r, 4, &x) != 0) return PL_EMALFORMED;
    *v = (uint32_t)x;
    return PL_OK;
}

/* n raw bytes: *p points into the wire. */
PL_MUST_CHECK static inline int pl_wire_get_raw(pl_wire_reader *r, size_t n,
                                                const unsigned char **p)
{
    if (pl_wire_remaining(r) < n) return PL_EMALFORMED;
    *p = r->p;
    r->p += n;
    return PL_OK;
}

/* Length-prefixed bytes: *p points into the wire, *n is their length. */
PL_MUST_CHECK static inline int pl_wire_get_bytes(pl_wire_reader *r, const unsigned char **p,
                                                  size_t *n)
{
    const unsigned char *save = r->p;
    uint64_t len;
    if (pl_wire_get_varint(r, &len) != 0 || len > pl_wire_remaining(r)) {
        r->p = save;
        return PL_EMALFORMED;
    }
    *p = r->p;
    *n = (size_t)len;
    r->p += len;
    return PL_OK;
}

/* A reference: the varint index, checked against the wire's refs. */
PL_MUST_CHECK static inline int pl_wire_get_ref(pl_wire_reader *r, pl_shared **obj)
{
    const unsigned char *save = r->p;
    uint64_t i;
    if (pl_wire_get_varint(r, &i) != 0 || i >= r->w->nrefs) {
        r->p = save;
        return PL_EMALFORMED;
    }
    *obj = r->w->refs[i];
    return PL_OK;
}

#endif
