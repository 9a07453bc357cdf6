/*
 * Value transfer between VMs: Lua values of one VM are
 * written to a pl_wire (src/core/wire.h, no Lua there) and read back as
 * fresh values in another VM. Values never cross any other way.
 *
 * Neither function raises a Lua error or leaves anything half done: on
 * failure the wire is left empty (encode) or nothing is pushed (decode), and
 * a message naming the value, the rule and the fix is written to err.
 */
#ifndef PL_TRANSFER_H
#define PL_TRANSFER_H

#include <lua.h>
#include <stddef.h>

#include "core/check.h"
#include "core/status.h"
#include "core/wire.h"

/* Deepest nesting of tables/functions a transfer accepts. */
#define PL_TRANSFER_MAX_DEPTH 200

/* Where the values come from, for error messages: "argument 2 to SendMessage". */
typedef struct pl_transfer_origin {
    const char *what; /* e.g. "SendMessage" */
    int first_argno;  /* argument number of the first value */
} pl_transfer_origin;

/* Encodes the n values at stack indices first..first+n-1 of L into out
 * (which must be freshly initialised). Returns PL_OK, or with err set
 * PL_EINVAL (a value that cannot cross) or PL_ENOMEM. */
PL_MUST_CHECK int pl_transfer_encode(lua_State *L, int first, int n,
                                     const pl_transfer_origin *origin, pl_wire *out, char *err,
                                     size_t errlen);

/* Pushes the values held by w onto L, stores their count in *n. Returns
 * PL_OK, or with err set and nothing pushed PL_EMALFORMED or PL_ENOMEM. The wire stays valid (it
 * may be decoded again, e.g. once per receiving VM). With trust_bytecode == 0, functions are
 * refused (used when the bytes did not come from pl_transfer_encode, e.g. by the decoder's
 * randomised tests). */
PL_MUST_CHECK int pl_transfer_decode(lua_State *L, const pl_wire *w, int trust_bytecode, int *n,
                                     char *err, size_t errlen);
/* lua_dump's writer into the pl_wire at ud (its bytes appended). */
int pl_wire_lua_writer(lua_State *L, const void *p, size_t sz, void *ud);
/* Decodes an lthread's start: as pl_transfer_decode (bytecode trusted),
 * and sets *reach to 1 (else leaves it) when what it made, even half
 * way, includes L's globals table, a library's C function or a shared
 * object: a way for code to reach L's library tables (lib/reuse.c). A
 * function at the top level (the lthread's body) is taken from L's
 * function cache when L has one and it holds the same code. */
PL_MUST_CHECK int pl_transfer_decode_start(lua_State *L, const pl_wire *w, int *n, int *reach,
                                           char *err, size_t errlen);
/* Gives L a function cache for pl_transfer_decode_start: a function
 * loaded there is kept, and a later start with the same code takes it
 * (with its upvalues set anew) instead of loading the code again. Only
 * for a state where, when a start is decoded, nothing is left that could
 * reach a function an earlier start took (an lthread's state after its
 * reset: lib/reuse.c). Raises when out of memory. */
void pl_transfer_fncache_open(lua_State *L);
/* Once the program that took functions of L's cache has ended (its
 * state reset): every cached function may be taken again, its upvalues
 * nil so that what they held can be collected. Allocates nothing. */
void pl_transfer_fncache_reset(lua_State *L);
/* As pl_transfer_decode, for a caller that runs protected (under lua_pcall)
 * and drops what it decodes for if an error is raised (message delivery):
 * out of memory may raise instead of returning PL_ENOMEM, which lets
 * numbers, booleans and strings be pushed without a protected call of
 * their own. */
PL_MUST_CHECK int pl_transfer_decode_raising(lua_State *L, const pl_wire *w, int trust_bytecode,
                                             int *n, char *err, size_t errlen);

/* Registers, in L, the function the decoder calls with a library's name
 * when a C function arrives from a library L has not opened yet: it opens
 * that library (a light C function of the VM's own libraries, never user
 * code) and returns it, or nil. */
void pl_transfer_set_opener(lua_State *L, lua_CFunction open_module);

#endif
