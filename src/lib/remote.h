/*
 * Actors on other ranks (docs/distributed.md): remote references, the
 * bytes a message takes between ranks, and the runtime's side of a
 * distributed job (receiving, termination, reports). The communication
 * thread and the transport are in engine/dist.c.
 *
 * A message between ranks is the local wire (core/wire.h: the values'
 * bytes, unchanged) plus its shared objects written out, since a pointer
 * means nothing in another process:
 *
 *   message := path:bytes topic:bytes wire:bytes nrefs:varint obj{nrefs}
 *   obj     := 1 rank:varint path:bytes           an Actor: a remote reference
 *            | 2 count:varint (key sval){count}   a SharedTable (a new table;
 *                                                 it takes the next id, from 0)
 *            | 3 id:varint                        the table with that id again
 *   key     := 0 varint | 1 bytes                 integer or string key
 *   sval    := 0 u8 | 1 int | 2 double | 3 bytes | 4 obj
 *                                                 boolean, integer, float,
 *                                                 string, Actor or table
 *
 * On the wire between ranks each message is preceded by its length (a
 * varint); a batch is messages one after the other. Every rank runs the
 * same build, so the format needs no version.
 */
#ifndef PL_REMOTE_H
#define PL_REMOTE_H

#include <lua.h>

#include "core/shared.h"
#include "core/wire.h"
#include "engine/runtime.h"

typedef struct pl_remote_state pl_remote_state;

/* A reference to the actor at path on rank (parlua.remote). Immutable. */
typedef struct pl_remote_ref {
    pl_shared base;
    int rank;
    size_t len;
    char path[];
} pl_remote_ref;

extern const pl_shared_type pl_remote_type;

/* A new reference with one reference owned by the caller, or NULL. */
pl_remote_ref *pl_remote_ref_new(int rank, const char *path, size_t len);

/* Writes the shared objects of w (refs[]) to out as obj records. PL_OK,
 * PL_ENOMEM, or PL_EINVAL with err naming the value that cannot cross
 * ranks, the rule and the fix. Any thread. */
PL_MUST_CHECK int pl_remote_encode_refs(const pl_wire *w, int my_rank, pl_wire *out, char *err,
                                        size_t errlen);
/* Reads nrefs obj records from r and adds each object to into (its refs,
 * in order). PL_OK, PL_ENOMEM or PL_EMALFORMED (into may then hold some
 * of them: the caller frees it). Serial thread. */
PL_MUST_CHECK int pl_remote_decode_refs(pl_runtime *rt, pl_wire_reader *r, uint64_t nrefs,
                                        pl_wire *into);

/* The instance at a dotted path from game ("Workspace.Worker"; "game."
 * may start it), or NULL. Serial thread, or a VM in the serial phase. */
pl_instance *pl_remote_find_path(pl_runtime *rt, const char *path, size_t len);

/* The runtime's side (runtime.c): state made with the runtime, freed
 * with it. */
PL_MUST_CHECK int pl_remote_init(pl_runtime *rt);
void pl_remote_free(pl_runtime *rt);
/* Posts every message received from other ranks (and sent to this one)
 * to its actor's mailbox. The number handled. Serial thread, between
 * phases. */
size_t pl_remote_receive(pl_runtime *rt);
/* Called when nothing can happen on this rank any more: runs the
 * termination waves, sleeps until something arrives. 1 when the whole job
 * is over (every rank idle, nothing in flight), 0 to look for work again. */
int pl_remote_idle(pl_runtime *rt);
/* At exit: the undelivered messages from other ranks, on stderr; and with
 * --stats the rank's line. */
void pl_remote_report(pl_runtime *rt);
void pl_remote_stats(pl_runtime *rt, FILE *f);
/* parlua.rank, parlua.ranks and parlua.remote into the table on top. */
void pl_remote_add_funcs(lua_State *L);

#endif
