/*
 * Proxies: the userdata that stands for a shared object inside one VM.
 *
 * A VM has at most one proxy per object (a weak cache in the registry), so
 * identity and == hold within a VM. The proxy owns one reference to the
 * object and drops it in __gc. The proxy's metatable is the one registered
 * under obj->type->metatable; the registry also maps each proxy metatable
 * to its type, so the transfer codec recognises any shared object by the
 * identity of its metatable (never by a field that user code could set).
 */
#ifndef PL_PROXY_H
#define PL_PROXY_H

#include <lua.h>

#include "core/shared.h"

/* Pushes the VM's proxy for obj, creating it if needed. */
void pl_proxy_push(lua_State *L, pl_shared *obj);
/* The object behind the value at idx, or NULL if it is not a proxy. */
pl_shared *pl_proxy_to(lua_State *L, int idx);
/* Whether L's proxy cache holds a live proxy of obj (which then holds one
 * reference to it). Raises nothing; the VM's owner. */
int pl_proxy_cached(lua_State *L, pl_shared *obj);
/* The object at idx if it is a proxy of the given type, else NULL. */
pl_shared *pl_proxy_test(lua_State *L, int idx, const pl_shared_type *type);
/* Whether pl_proxy_push can make a proxy of type in L: its metatable is
 * there, or the type makes it on first use. */
int pl_proxy_known(lua_State *L, const pl_shared_type *type);
/* Registers make (a light C function, called with no arguments) to make
 * type's metatable, with pl_proxy_newmetatable, the first time the VM
 * meets an object of type (a library opened on first use). If make raises
 * (out of memory), it stays registered and its error propagates. */
void pl_proxy_lazy_metatable(lua_State *L, const pl_shared_type *type, lua_CFunction make);
/* Makes type's metatable and the VM's proxy cache now, as the first push
 * of an object of type would (a VM that will push one anyway makes them
 * while its state opens). May raise (memory). */
void pl_proxy_prepare(lua_State *L, const pl_shared_type *type);
/* Creates the metatable for a type in this VM (with __gc and the marker);
 * leaves it on the stack so the caller can add metamethods. */
void pl_proxy_newmetatable(lua_State *L, const pl_shared_type *type);

#endif
