/*
 * What the two files of the sync library (sync.c, sync_queue.c) share.
 */
#ifndef PL_LIB_SYNC_H
#define PL_LIB_SYNC_H

#include <lua.h>

#include "core/shared.h"

/* Registry name of the metatable of the library's error objects: tables
 * {name = "Empty", message = "..."} whose tostring is "Empty: ...". */
#define PL_SYNC_ERROR_MT "parlua.SyncError"

/* A new zeroed object of size bytes whose head is a pl_shared of type, with
 * one reference (the caller's); raises when out of memory. */
void *pl_sync_alloc(lua_State *L, size_t size, const pl_shared_type *type);
/* Pushes obj's proxy and drops the caller's reference; returns 1 (a
 * constructor's result count). */
int pl_sync_push_new(lua_State *L, pl_shared *obj);

/* The optional timeout at idx: -1 when nil or absent (wait forever), else
 * seconds >= 0; raises naming fn for anything else. */
double pl_sync_timeout(lua_State *L, int idx, const char *fn);
/* The object of the given type at idx, or raises. */
void *pl_sync_check(lua_State *L, int idx, const pl_shared_type *type);
/* The same for an object of either type (other may be NULL). */
void *pl_sync_check_either(lua_State *L, int idx, const pl_shared_type *type,
                           const pl_shared_type *other);
/* Raises an error object named name (Empty, Full, ShutDown, ...) whose
 * message is the printf-style text after the caller's position. */
int pl_sync_raise(lua_State *L, const char *name, const char *fmt, ...);
/* Pushes such an error object without raising it. */
void pl_sync_push_error(lua_State *L, const char *name, const char *fmt, ...);
/* Adds Queue to the sync table on top of L's stack. */
void pl_open_sync_queue(lua_State *L);

#endif
