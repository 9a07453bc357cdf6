/*
 * Signals (ChildAdded, ChildRemoved, Destroying, AttributeChanged,
 * GetAttributeChangedSignal(name), BindableEvent.Event, RunService's
 * Heartbeat): one Lua type with Connect, ConnectParallel, Once and Wait;
 * attributes; WaitForChild. What the Lua layer keeps per instance (the
 * instance's "ext": attributes, connections, WaitForChild's waiters) is
 * here too.
 *
 * How a signal reaches a handler in another VM: a connection records its
 * VM (through its Actor) and phase; firing posts one message per
 * connection to that VM's mailbox, on an internal topic bound for the
 * phase (the path actor messages take), with the connection's id and the
 * arguments (transferred, SPEC 5). The VM's message dispatch hands it to
 * pl_signal_deliver, which runs the handler as a runtime thread of the
 * Script that connected it, in that phase. So handlers always run in their
 * own VM, in their own phase, after the firing code yields (Roblox's
 * deferred signal behaviour); a signal fired in parallel runs serial
 * handlers in the next serial phase.
 *
 * Threads: an instance's ext is made on first use by any VM (published by
 * compare-and-swap) and guarded by its own mutex, held only for list and
 * array surgery, never while Lua runs or raises.
 */
#ifndef PL_LIB_SIGNAL_H
#define PL_LIB_SIGNAL_H

#include <lua.h>

#include "engine/connection.h"
#include "engine/runtime.h"
#include "lib/instance.h"

enum {
    PL_SIG_HEARTBEAT,
    PL_SIG_CHILD_ADDED,
    PL_SIG_CHILD_REMOVED,
    PL_SIG_DESTROYING,
    PL_SIG_ATTRIBUTE_CHANGED,
    PL_SIG_ATTRIBUTE_NAMED, /* GetAttributeChangedSignal(name) */
    PL_SIG_EVENT,           /* BindableEvent.Event */
};

/* Pushes a signal of inst (NULL for Heartbeat); attr names the attribute
 * of PL_SIG_ATTRIBUTE_NAMED. */
void pl_signal_push(lua_State *L, pl_instance *inst, int sig, const char *attr, size_t len);
/* Whether inst's signal sig may have connections (a cheap check before
 * pushing arguments). Any thread. */
int pl_signal_connected(pl_instance *inst, int sig);
/* Fires inst's signal with the nargs values from first: posts them to
 * every connection (each in its own VM and phase). Raises when a value
 * cannot be transferred or out of memory (nothing was posted then). */
void pl_signal_fire(lua_State *L, pl_instance *inst, int sig, const char *attr, size_t len,
                    int first, int nargs);
/* Disconnects every connection to inst's signals (Destroy), telling each
 * connection's VM to drop its Lua side. Never raises. */
void pl_signal_disconnect_all(lua_State *L, pl_instance *inst);
/* Wakes the threads in parent:WaitForChild (a child was added or renamed). */
void pl_signal_children_changed(pl_instance *parent);

/* The internal message topics of signal deliveries, by phase (actor.c). */
int pl_signal_is_topic(const char *topic, size_t len);
/* actor.c's dispatch: runs the handler of a delivered signal; the decoded
 * values are at first..first+n-1 (the connection's id first). */
void pl_signal_deliver(lua_State *L, int phase, int first, int n);

/* The Heartbeat connections' operations (runservice.c). */
extern const pl_conn_ops pl_heartbeat_ops;

#endif
