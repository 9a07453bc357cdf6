/*
 * The shared objects of a message between ranks (the format is in
 * lib/remote.h): an Actor becomes a remote reference to it, a SharedTable
 * a frozen copy of one snapshot of it (nested tables too; a table met
 * twice in one message, or a cycle, keeps its shape); anything else
 * cannot leave its process.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/grow.h"
#include "core/ptrmap.h"
#include "core/stable.h"
#include "engine/transfer.h"
#include "lib/lib.h"
#include "lib/remote.h"

enum { OBJ_ACTOR = 1, OBJ_TABLE = 2, OBJ_BACKREF = 3 };
enum { KEY_INT = 0, KEY_STR = 1 };
enum { SV_BOOL = 0, SV_INT = 1, SV_FLOAT = 2, SV_STR = 3, SV_OBJ = 4 };

/* ---- writing ---- */

typedef struct enc {
    pl_wire *out;
    int my_rank;
    pl_ptrmap seen; /* table -> its id + 1 */
    size_t next_id;
    char *err;
    size_t errlen;
} enc;

static int enc_obj(enc *e, pl_shared *obj, int depth);

static int refuse(enc *e, const char *fmt, const char *name)
{
    snprintf(e->err, e->errlen, fmt, name);
    return PL_EINVAL;
}

static int enc_actor(enc *e, int rank, const char *path, size_t len)
{
    if (pl_wire_put_u8(e->out, OBJ_ACTOR) != 0 || pl_wire_put_varint(e->out, (uint64_t)rank) != 0 ||
        pl_wire_put_bytes(e->out, path, len) != 0)
        return PL_ENOMEM;
    return PL_OK;
}

static int enc_sval(enc *e, const pl_sval *v, int depth)
{
    pl_wire *w = e->out;
    switch (v->tag) {
    case PL_SV_BOOL:
        return pl_wire_put_u8(w, SV_BOOL) != 0 || pl_wire_put_u8(w, (unsigned)v->u.b) != 0
                   ? PL_ENOMEM
                   : PL_OK;
    case PL_SV_INT:
        return pl_wire_put_u8(w, SV_INT) != 0 || pl_wire_put_int(w, v->u.i) != 0 ? PL_ENOMEM
                                                                                 : PL_OK;
    case PL_SV_FLOAT:
        return pl_wire_put_u8(w, SV_FLOAT) != 0 || pl_wire_put_double(w, v->u.n) != 0 ? PL_ENOMEM
                                                                                      : PL_OK;
    case PL_SV_STR:
        return pl_wire_put_u8(w, SV_STR) != 0 ||
                       pl_wire_put_bytes(w, v->u.s->data, v->u.s->len) != 0
                   ? PL_ENOMEM
                   : PL_OK;
    default: /* a table or another shared object */
        if (pl_wire_put_u8(w, SV_OBJ) != 0) return PL_ENOMEM;
        return enc_obj(e, v->u.o, depth);
    }
}

static int enc_table(enc *e, pl_stable *t, int depth)
{
    int added;
    pl_ptrmap_slot *slot = pl_ptrmap_add(&e->seen, t, &added);
    if (!slot) return PL_ENOMEM;
    if (!added)
        return pl_wire_put_u8(e->out, OBJ_BACKREF) != 0 ||
                       pl_wire_put_varint(e->out, (uint64_t)(uintptr_t)slot->value - 1) != 0
                   ? PL_ENOMEM
                   : PL_OK;
    slot->value = (void *)(uintptr_t)++e->next_id;
    if (depth > PL_TRANSFER_MAX_DEPTH)
        return refuse(e,
                      "a SharedTable nests deeper than %s levels: it cannot be copied to "
                      "another rank",
                      "200");
    pl_snode *root = pl_stable_snapshot(t); /* one version, whatever writers do */
    int rc = pl_wire_put_u8(e->out, OBJ_TABLE) != 0 ||
                     pl_wire_put_varint(e->out, pl_snode_count(root)) != 0
                 ? PL_ENOMEM
                 : PL_OK;
    pl_scursor c;
    pl_scursor_init(&c, root);
    const pl_sentry *en;
    while (rc == PL_OK && (en = pl_scursor_next(&c))) {
        if (pl_sentry_is_str(en))
            rc = pl_wire_put_u8(e->out, KEY_STR) != 0 ||
                         pl_wire_put_bytes(e->out, pl_sentry_kdata(en), en->klen) != 0
                     ? PL_ENOMEM
                     : PL_OK;
        else
            rc = pl_wire_put_u8(e->out, KEY_INT) != 0 || pl_wire_put_varint(e->out, en->ik) != 0
                     ? PL_ENOMEM
                     : PL_OK;
        if (rc == PL_OK) rc = enc_sval(e, &en->v, depth + 1);
    }
    pl_snode_release(root);
    return rc;
}

static int enc_obj(enc *e, pl_shared *obj, int depth)
{
    if (obj->type == &pl_remote_type) {
        pl_remote_ref *ref = (pl_remote_ref *)obj;
        return enc_actor(e, ref->rank, ref->path, ref->len);
    }
    if (obj->type == &pl_stable_type) return enc_table(e, (pl_stable *)obj, depth);
    if (obj->type == &pl_instance_type) {
        pl_instance *inst = (pl_instance *)obj;
        if (!pl_instance_is(inst, &pl_class_actor))
            return refuse(e,
                          "cannot send the Instance \"%s\" to another rank: only Actors cross "
                          "ranks (as remote references); send its name or its values instead",
                          inst->name);
        if (!pl_instance_in_game(inst))
            return refuse(e,
                          "cannot send the Actor \"%s\" to another rank: it is not in the game, "
                          "so no path names it there; parent it (under Workspace, say) first",
                          inst->name);
        char *path = pl_instance_full_name(inst);
        if (!path) return PL_ENOMEM;
        int rc = enc_actor(e, e->my_rank, path, strlen(path));
        free(path);
        return rc;
    }
    return refuse(e,
                  "cannot send a %s to another rank: sync objects and lthread handles live in "
                  "one process (SPEC 13); send plain values, a SharedTable (it crosses as a "
                  "frozen copy) or an Actor (a remote reference) instead",
                  obj->type->name);
}

int pl_remote_encode_refs(const pl_wire *w, int my_rank, pl_wire *out, char *err, size_t errlen)
{
    enc e = {out, my_rank, PL_PTRMAP_INIT, 0, err, errlen};
    int rc = pl_wire_put_varint(out, w->nrefs) != 0 ? PL_ENOMEM : PL_OK;
    for (size_t i = 0; rc == PL_OK && i < w->nrefs; i++)
        rc = enc_obj(&e, w->refs[i], 0);
    pl_ptrmap_free(&e.seen);
    if (rc == PL_ENOMEM) snprintf(err, errlen, "not enough memory");
    return rc;
}

/* ---- reading ---- */

typedef struct dec {
    pl_runtime *rt;
    pl_wire_reader *r;
    pl_stable **ids; /* one reference each, dropped at the end */
    size_t nids, capids;
} dec;

static int dec_obj(dec *d, pl_shared **out, int depth);

static int get_u8(dec *d, unsigned *v)
{
    return pl_wire_get_u8(d->r, v);
}

static int dec_sval(dec *d, pl_sval *v, int depth)
{
    unsigned tag, b;
    const unsigned char *p;
    size_t n;
    if (get_u8(d, &tag) != 0) return PL_EMALFORMED;
    switch (tag) {
    case SV_BOOL:
        if (get_u8(d, &b) != 0) return PL_EMALFORMED;
        *v = (pl_sval){.tag = PL_SV_BOOL, .u.b = b != 0};
        return PL_OK;
    case SV_INT:
        v->tag = PL_SV_INT;
        return pl_wire_get_int(d->r, &v->u.i);
    case SV_FLOAT:
        v->tag = PL_SV_FLOAT;
        return pl_wire_get_double(d->r, &v->u.n);
    case SV_STR:
        if (pl_wire_get_bytes(d->r, &p, &n) != 0) return PL_EMALFORMED;
        v->tag = PL_SV_STR;
        v->u.s = pl_sstring_new((const char *)p, n);
        return v->u.s ? PL_OK : PL_ENOMEM;
    case SV_OBJ: {
        pl_shared *o;
        int rc = dec_obj(d, &o, depth);
        if (rc != PL_OK) return rc;
        v->tag = o->type == &pl_stable_type ? PL_SV_TABLE : PL_SV_OBJ;
        v->u.o = o;
        return PL_OK;
    }
    }
    return PL_EMALFORMED;
}

static void release_entries(pl_sentry *es, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pl_sentry_release(&es[i]);
    free(es);
}

static int dec_entry(dec *d, pl_sentry *e, int depth)
{
    unsigned kind;
    memset(e, 0, sizeof *e);
    e->v.tag = PL_SV_NIL;
    if (get_u8(d, &kind) != 0) return PL_EMALFORMED;
    if (kind == KEY_INT) {
        uint64_t k;
        if (pl_wire_get_varint(d->r, &k) != 0 || k > PL_SKEY_MAX_INT) return PL_EMALFORMED;
        pl_skey key = pl_skey_int((uint32_t)k);
        pl_sentry_setkey(e, &key);
    } else if (kind == KEY_STR) {
        const unsigned char *p;
        size_t n;
        if (pl_wire_get_bytes(d->r, &p, &n) != 0) return PL_EMALFORMED;
        pl_sstring *s = pl_sstring_new((const char *)p, n);
        if (!s) return PL_ENOMEM;
        pl_skey key = pl_skey_sstring(s);
        pl_sentry_setkey(e, &key);
        if (!e->kshared) pl_sstring_release(s); /* copied into the entry */
    } else {
        return PL_EMALFORMED;
    }
    int rc = dec_sval(d, &e->v, depth + 1);
    if (rc != PL_OK) e->v.tag = PL_SV_NIL;
    return rc;
}

static int dec_table(dec *d, pl_shared **out, int depth)
{
    uint64_t count;
    if (depth > PL_TRANSFER_MAX_DEPTH || pl_wire_get_varint(d->r, &count) != 0 ||
        count > pl_wire_remaining(d->r) / 2) /* an entry takes 2 bytes at least */
        return PL_EMALFORMED;
    if (d->nids == d->capids) {
        pl_stable **n = pl_grow(d->ids, &d->capids, d->nids + 1, sizeof *n);
        if (!n) return PL_ENOMEM;
        d->ids = n;
    }
    pl_stable *t = pl_stable_new(NULL, 1, pl_sharedtable_live(d->rt));
    if (!t) return PL_ENOMEM;
    d->ids[d->nids++] = t; /* before its entries: they may refer back to it */
    pl_sentry *es = count ? calloc((size_t)count, sizeof *es) : NULL;
    if (count && !es) return PL_ENOMEM;
    size_t n = 0;
    int rc = PL_OK;
    while (rc == PL_OK && n < count) {
        rc = dec_entry(d, &es[n], depth);
        n++; /* a failed entry holds at most its key: released below */
    }
    pl_snode *root = NULL;
    if (rc == PL_OK) rc = pl_snode_build(es, n, &root); /* retains keys and values */
    release_entries(es, n);
    if (rc != PL_OK) return rc;
    /* not yet visible to any other thread: the post that publishes the
     * message orders this store before every read */
    atomic_store_explicit(&t->root, root, memory_order_relaxed);
    pl_stable_retain(t);
    *out = &t->base;
    return PL_OK;
}

static int dec_obj(dec *d, pl_shared **out, int depth)
{
    unsigned kind;
    if (get_u8(d, &kind) != 0) return PL_EMALFORMED;
    if (kind == OBJ_ACTOR) {
        uint64_t rank;
        const unsigned char *p;
        size_t n;
        if (pl_wire_get_varint(d->r, &rank) != 0 || rank > INT32_MAX ||
            pl_wire_get_bytes(d->r, &p, &n) != 0)
            return PL_EMALFORMED;
        pl_remote_ref *ref = pl_remote_ref_new((int)rank, (const char *)p, n);
        if (!ref) return PL_ENOMEM;
        *out = &ref->base;
        return PL_OK;
    }
    if (kind == OBJ_TABLE) return dec_table(d, out, depth);
    if (kind == OBJ_BACKREF) {
        uint64_t id;
        if (pl_wire_get_varint(d->r, &id) != 0 || id >= d->nids) return PL_EMALFORMED;
        pl_stable_retain(d->ids[id]);
        *out = &d->ids[id]->base;
        return PL_OK;
    }
    return PL_EMALFORMED;
}

int pl_remote_decode_refs(pl_runtime *rt, pl_wire_reader *r, uint64_t nrefs, pl_wire *into)
{
    dec d = {rt, r, NULL, 0, 0};
    int rc = nrefs > pl_wire_remaining(r) ? PL_EMALFORMED : PL_OK;
    for (uint64_t i = 0; rc == PL_OK && i < nrefs; i++) {
        pl_shared *o;
        rc = dec_obj(&d, &o, 0);
        size_t index;
        if (rc == PL_OK) {
            rc = pl_wire_add_ref(into, o, &index); /* retains */
            pl_shared_release(o);
        }
    }
    for (size_t i = 0; i < d.nids; i++)
        pl_stable_release(d.ids[i]);
    free(d.ids);
    return rc;
}
