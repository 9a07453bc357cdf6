/*
 * The wire's buffer management (format: wire.h). The byte buffer grows by
 * doubling from a small first size, so a message of a few values costs one
 * malloc; the reference array exists only when a shared object is sent.
 */
#include "core/wire.h"

#include "core/grow.h"

#include <stdlib.h>
#include <string.h>

/* First byte buffer: room for a small message without a second malloc. */
#define FIRST_CAP 64

void pl_wire_init(pl_wire *w)
{
    w->data = w->inline_buf = NULL;
    w->len = w->cap = 0;
    w->refs = NULL;
    w->nrefs = w->refcap = 0;
}

void pl_wire_truncate(pl_wire *w, size_t len, size_t nrefs)
{
    while (w->nrefs > nrefs)
        pl_shared_release(w->refs[--w->nrefs]);
    if (w->len > len) w->len = len;
}

void pl_wire_reset(pl_wire *w)
{
    pl_wire_truncate(w, 0, 0);
}

void pl_wire_free(pl_wire *w)
{
    pl_wire_reset(w);
    if (w->data != w->inline_buf) free(w->data);
    free(w->refs);
    pl_wire_init(w);
}

int pl_wire_grow(pl_wire *w, size_t extra)
{
    if (extra > SIZE_MAX - w->len) return PL_ERANGE;
    size_t need = w->len + extra;
    if (need <= w->cap) return PL_OK;
    size_t cap = w->cap ? w->cap : FIRST_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    unsigned char *data;
    if (w->data == w->inline_buf) { /* leave the caller's storage */
        data = malloc(cap);
        if (data && w->len) memcpy(data, w->data, w->len);
    } else {
        data = realloc(w->data, cap);
    }
    if (!data) return PL_ENOMEM;
    w->data = data;
    w->cap = cap;
    return PL_OK;
}

int pl_wire_add_ref(pl_wire *w, pl_shared *obj, size_t *index)
{
    pl_shared **refs = pl_grow(w->refs, &w->refcap, w->nrefs + 1, sizeof *refs);
    if (!refs) return PL_ENOMEM;
    w->refs = refs;
    pl_shared_retain(obj);
    *index = w->nrefs;
    w->refs[w->nrefs++] = obj;
    return PL_OK;
}
