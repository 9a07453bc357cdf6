/*
 * The Instance tree: C objects shared by every VM, no Lua here.
 *
 * Ownership: a parent holds one reference to each child; the child's
 * parent pointer is weak (cleared when the parent goes). VMs hold
 * references through their proxies.
 *
 * Freeing: an instance whose last reference goes is not freed at once but
 * put in its graveyard, which the runtime drains on the serial thread
 * between phases. Otherwise a worker dropping a parent's last reference
 * could free it while another worker reads a child's Parent.
 *
 * Threads: the tree's shape and names change only in the serial phase (the
 * members that change them are not Safe in parallel, enforced by the Lua
 * layer), and the phases never overlap, so readers in the parallel phase
 * need no lock: the phase hand-over (the pool's wait) orders every write
 * before them. Reference counts are atomic and may change anywhere.
 */
#ifndef PL_INSTANCE_H
#define PL_INSTANCE_H

#include <stdatomic.h>
#include <stddef.h>

#include "core/check.h"
#include "core/shared.h"
#include "core/status.h"

typedef struct pl_class {
    const char *name;
    const struct pl_class *base;
    int creatable;    /* Instance.new may make one */
    size_t data_size; /* bytes of zeroed host data per instance (a host class) */
} pl_class;

extern const pl_class pl_class_instance, pl_class_datamodel, pl_class_workspace, pl_class_folder,
    pl_class_actor, pl_class_luasource, pl_class_script, pl_class_modulescript, pl_class_runservice,
    pl_class_bindable;
extern const pl_shared_type pl_instance_type;

typedef struct pl_instance pl_instance;
typedef struct pl_instance_ext pl_instance_ext;

typedef struct pl_instance_ext_ops {
    void (*free)(pl_instance_ext *ext); /* the instance is freed */
    /* Clone: copies what a clone keeps (attributes) from `from` to `to`;
     * 0, or -1 when out of memory */
    int (*copy)(const pl_instance *from, pl_instance *to);
} pl_instance_ext_ops;

/* The head of an instance's ext (the Lua layer's part of it). */
struct pl_instance_ext {
    const pl_instance_ext_ops *ops;
};

typedef struct pl_graveyard {
    _Atomic(pl_instance *) head; /* a Treiber stack of unreferenced instances */
} pl_graveyard;

void pl_graveyard_init(pl_graveyard *g);

/* Frees every instance in g, and those their freeing releases; serial
 * thread only, never while a parallel phase runs. */
void pl_graveyard_drain(pl_graveyard *g);

/* Called when a Script joins the tree under the root (game). */
typedef void (*pl_script_added_fn)(void *ud, pl_instance *script);

struct pl_instance {
    pl_shared base;
    /* Of base.refs, those held by the VM that runs this Script (its
     * threads, connections, its global `script`): they do not make an
     * Actor reachable from elsewhere (sched.c, unreachable actors). */
    atomic_size_t local_refs;
    const pl_class *cls;
    char *name;
    pl_instance *parent; /* weak */
    /* children in the order they were parented: a doubly linked list, so
     * removing any child is O(1) (destroying many in creation order stays
     * linear) */
    pl_instance *first_child, *last_child;
    pl_instance *prev_sibling, *next_sibling; /* in the parent's list */
    size_t nchildren;
    void *owner;             /* names the VM that created it (NULL: the runtime); compared only */
    pl_graveyard *graveyard; /* where it goes when unreferenced (NULL: freed at once) */
    pl_instance *next_dead;
    int is_root;                        /* game: descendants of it are "in the game" */
    int parent_locked;                  /* PL_LOCKED_*: Parent can no longer change */
    pl_script_added_fn on_script_added; /* on the root only */
    void *on_script_added_ud;
    /* Script */
    char *source;
    size_t source_len;
    char *path;
    int started;
    int disabled;     /* Script.Enabled is false (serial phase only) */
    unsigned run_gen; /* bumped when the script stops (Destroy, Enabled = false): threads
                         of an older run never resume (serial phase only) */
    /* What the Lua layer keeps per instance (attributes, signal connections,
     * waiters: src/lib/signal.c), made on first use by any thread: published
     * with a compare-and-swap (release), read with acquire; its ops free it
     * with the instance and copy it for Clone. */
    _Atomic(pl_instance_ext *) ext;
    void *data; /* cls->data_size bytes of host data (host classes), or NULL */
    /* Actor: its pl_vm, created with it */
    void *vm;
    void (*free_vm)(void *vm);
};

/* A reference from the VM that runs inst (see local_refs), and its end. */
static inline void pl_instance_hold_local(pl_instance *inst)
{
    pl_shared_retain(&inst->base);
    /* relaxed: read by the serial thread between phases, when the VM that
     * writes it is not running (sched.c) */
    atomic_fetch_add_explicit(&inst->local_refs, 1, memory_order_relaxed);
}
static inline void pl_instance_drop_local(pl_instance *inst)
{
    atomic_fetch_sub_explicit(&inst->local_refs, 1, memory_order_relaxed);
    pl_shared_release(&inst->base); /* last: it may free inst */
}

/* A new instance with one reference owned by the caller; NULL if out of memory. */
pl_instance *pl_instance_new(const pl_class *cls, void *owner, pl_graveyard *g);
const pl_class *pl_class_find(const char *name);
int pl_instance_isa(const pl_instance *inst, const char *class_name);
/* Whether inst's class is cls or derives from it. */
int pl_instance_is(const pl_instance *inst, const pl_class *cls);
/* Sets the name (copied); returns -1 if out of memory. */
int pl_instance_set_name(pl_instance *inst, const char *name, size_t len);

enum { PL_LOCKED_NO = 0, PL_LOCKED_DESTROYED = 1, PL_LOCKED_SERVICE = 2 };
/* Most instances on one path from a root to a leaf. The tree's walks
 * (descendants, clone, destroy, starting scripts) recurse in C; the limit
 * keeps them far from the end of any thread's stack. */
#define PL_INSTANCE_MAX_DEPTH 1000

/* pl_instance_set_parent's results: PL_OK, PL_ECYCLE (it would become its
 * own ancestor), PL_ELOCKED (a service, or destroyed), PL_ETOODEEP (the path
 * would pass PL_INSTANCE_MAX_DEPTH) (core/status.h). */
/* Moves inst under parent (NULL: out of the tree). Reports each Script that
 * thereby joins the root's tree through the root's on_script_added. */
PL_MUST_CHECK int pl_instance_set_parent(pl_instance *inst, pl_instance *parent);
pl_instance *pl_instance_find_child(const pl_instance *inst, const char *name, int recursive);
pl_instance *pl_instance_actor_of(const pl_instance *inst); /* closest Actor ancestor, or NULL */
int pl_instance_in_game(const pl_instance *inst);
/* Deep copy (not parented, scripts not started); NULL if out of memory. */
pl_instance *pl_instance_clone(const pl_instance *inst, void *owner);
/* "Workspace.Folder.Script" (ancestors up to, not including, game; game
 * itself is "game"); malloc'd, or NULL. */
char *pl_instance_full_name(const pl_instance *inst);
/* The same written into buf with a NUL when cap > its length; returns the
 * length either way (so a caller may retry with room for length + 1). */
size_t pl_instance_full_name_to(const pl_instance *inst, char *buf, size_t cap);

#endif
