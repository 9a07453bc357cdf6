/*
 * What the two halves of the transfer codec share (transfer_encode.c,
 * transfer_decode.c). The codec writes Lua values to a pl_wire in the
 * format documented in src/core/wire.h and reads them back into another
 * lua_State.
 *
 * Failure handling. Any Lua API call that allocates can raise a memory
 * error (a longjmp), so everything that may allocate runs inside lua_pcall
 * of a C function, with a context struct passed as a light userdata; the
 * caller's side only cleans up afterwards (the wire is truncated back, the
 * stack is reset). Expected failures (a coroutine in the data, bad bytes)
 * are not Lua errors: the workers return -1 after writing a message into
 * the context, so the error text is built in C without allocating.
 *
 * Speed. A message made only of nil, booleans, numbers and strings (the
 * common case) is encoded without lua_pcall: reading those values cannot
 * raise. It costs one reservation of the wire and no Lua allocation.
 * Tables and functions get ids so that cycles and shared sub-tables keep
 * their shape; the first SMALL_IDS of them are kept in stack slots, the
 * ids of the first SMALL_IDS upvalues (to find upvalues shared between
 * functions) in the encoder's struct, and an identity table (a Lua
 * allocation) is made only past that. The map of library functions is
 * built on the first C function and cached in the registry. On the
 * receiving side, a message of nil, booleans and numbers is pushed without
 * lua_pcall too (pushing those cannot raise); anything else is decoded
 * under lua_pcall.
 *
 * Trust. Bytecode is only ever produced by pl_transfer_encode in this same
 * process, and lua_load on hostile bytecode can crash the VM, so the
 * decoder runs lua_load only when the caller says the wire came from the
 * encoder (trust_bytecode). Everything else in the wire is validated
 * whatever the flag: bounds, tags, reference and back-reference indices,
 * counts, depth, upvalue indices.
 */
#ifndef PL_TRANSFER_INTERNAL_H
#define PL_TRANSFER_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>

/* Stack slots each nesting level may use, checked with lua_checkstack. */
#define LEVEL_SLOTS 8

/* The first SMALL_IDS tables and functions of a message are kept in stack
 * slots and found by a linear scan, so a message with a table or two needs
 * no identity table (a Lua table allocation) on either side. */
#define SMALL_IDS 8

/* Largest size hint given to lua_createtable from a count in the wire:
 * a bigger table is still decoded, it just grows as it fills. */
#define MAX_TABLE_HINT (1 << 20)

static inline void setmsg(char *buf, size_t len, const char *fmt, ...)
{
    if (!buf || !len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

#endif
