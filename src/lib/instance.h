/*
 * Instances in Lua: proxies of the instance tree (src/core/instance_tree.h)
 * with a safety level on every member, enforced in the parallel phase.
 * The other libraries (actor, runservice, script) register their classes'
 * members here.
 */
#ifndef PL_LIB_INSTANCE_H
#define PL_LIB_INSTANCE_H

#include <lua.h>

#include "core/instance_tree.h"

typedef enum { PL_UNSAFE, PL_READ_PARALLEL, PL_LOCAL_SAFE, PL_SAFE } pl_level;

typedef struct pl_member {
    const char *name;
    pl_level level;
    lua_CFunction get;  /* property: push the value of instance 1 */
    lua_CFunction set;  /* property: assign value 2 to instance 1; NULL: read-only */
    lua_CFunction call; /* method: instance at 1, arguments after it */
} pl_member;

/* Registers members of cls (array ends with a NULL name) in this VM. */
void pl_register_members(lua_State *L, const pl_class *cls, const pl_member *members);
void pl_instance_push(lua_State *L, pl_instance *inst);
pl_instance *pl_instance_check(lua_State *L, int idx);
pl_instance *pl_instance_check_class(lua_State *L, int idx, const pl_class *cls);
/* A member function's instance (argument 1), already checked by the
 * trampoline every member call goes through (class and safety level). */
pl_instance *pl_instance_self(lua_State *L);

#endif
