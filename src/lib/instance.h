/*
 * Instances in Lua: proxies of the instance tree (src/core/instance_tree.h)
 * with a safety level on every member, enforced in the parallel phase.
 * The other libraries (actor, runservice, script) register their classes'
 * members here.
 */
#ifndef PL_LIB_INSTANCE_H
#define PL_LIB_INSTANCE_H

#include <lua.h>
#include <stdio.h>

#include "core/instance_tree.h"
#include "engine/runtime.h"

/* Safety levels (SPEC 2.3). PL_UNSAFE is 0, so a member registered without
 * a level (a zeroed field) is Unsafe. */
typedef enum { PL_UNSAFE = 0, PL_READ_PARALLEL, PL_LOCAL_SAFE, PL_SAFE } pl_level;

/* pl_member.flags */
enum {
    PL_MEMBER_SIGNAL = 1,  /* a read-only property whose value is a signal (an "Event") */
    PL_MEMBER_LTHREAD = 2, /* usable from an lthread (SendMessage only; SPEC 7) */
};

/* One member of a class: a property (get, and set unless read-only), or a
 * method (call). The level is checked before get, set or call runs, by
 * the one access path every member goes through (instance.c), so a member
 * function never checks it itself. */
typedef struct pl_member {
    const char *name;
    pl_level level;
    lua_CFunction get;  /* property: push the value of instance 1 */
    lua_CFunction set;  /* property: assign value 2 to instance 1; NULL: read-only */
    lua_CFunction call; /* method: instance at 1, arguments after it */
    int flags;          /* PL_MEMBER_* */
    const char *doc;    /* one line for docs/data-model.md; may be NULL */
} pl_member;

/* The registration table of a class: the class (its name and base class
 * are in pl_class, src/core/instance_tree.h) and its own members (not its
 * base class's), an array ended by a NULL name; NULL: none. Plain C data,
 * the same for every VM: the runtime's member map (members.c) is built
 * from it, and docs/data-model.md is generated from it
 * (pl_members_markdown), so the docs cannot drift from the code. A host
 * class (SPEC 2.4, 10) is one more pl_class_def, in the runtime's list
 * (hostclass.c), in the same map. */
typedef struct pl_class_def {
    const pl_class *cls;
    const pl_member *members;
} pl_class_def;

/* Every built-in class, base classes first, ended by {NULL, NULL}
 * (classes.c). A class may appear more than once (its members defined in
 * several libraries): each entry adds members. */
extern const pl_class_def pl_builtin_classes[];
/* The member tables of each library (instance.c, actor.c, runservice.c,
 * signal.c...). */
extern const pl_member pl_instance_members[], pl_datamodel_members[], pl_script_members[],
    pl_actor_members[], pl_runservice_members[], pl_bindable_members[], pl_signal_members[],
    pl_scriptclass_members[];

/* Every class's members by (class, name), the members of its base
 * classes included (a class's own member hides a base's of that name):
 * the runtime's, rt->member_map (members.c), immutable while VMs other
 * than main are open, so any thread reads it without a lock. */
typedef struct pl_member_map pl_member_map;
/* The member of cls named name (len bytes) and, in *owner, the class that
 * defines it (cls or a base); NULL when cls has none. */
const pl_member *pl_member_find(const pl_member_map *map, const pl_class *cls, const char *name,
                                size_t len, const pl_class **owner);

/* Writes docs/data-model.md's text, generated from pl_builtin_classes. */
void pl_members_markdown(FILE *f);
/* The name of a level ("ReadParallel"). */
const char *pl_level_name(pl_level level);
void pl_instance_push(lua_State *L, pl_instance *inst);
pl_instance *pl_instance_check(lua_State *L, int idx);
pl_instance *pl_instance_check_class(lua_State *L, int idx, const pl_class *cls);
/* Stops the threads, connections and bindings that Scripts which stopped
 * (run_gen bumped) left in the given VMs (all VMs with all): Destroy and
 * Script.Enabled = false. Serial phase. */
void pl_instance_stop_scripts(pl_runtime *rt, pl_vm **vms, int n, int all);
/* A member function's instance (argument 1), already checked by the path
 * every member access goes through (instance.c: __index and __newindex for
 * a property's getter and setter, the trampoline for a method: class and
 * safety level). */
pl_instance *pl_instance_self(lua_State *L);

#endif
