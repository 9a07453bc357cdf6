/*
 * Connections: what BindToMessage, BindToMessageParallel, Connect and
 * ConnectParallel return. A connection lives in one VM's list of handlers
 * for one source (a message topic, or a signal such as Heartbeat) and one
 * phase; conn:Disconnect() takes it out and tells the source via on_change.
 */
#ifndef PL_CONNECTION_H
#define PL_CONNECTION_H

#include <lua.h>

struct pl_instance;

/* Kinds of handler lists: message topics, RunService signals (Heartbeat),
 * and connections to an instance's signals (named by their id: lib/signal.c). */
enum { PL_CONN_MESSAGE = 0, PL_CONN_SIGNAL = 1, PL_CONN_INSTANCE = 2, PL_CONN_KINDS = 3 };

/* Called with +1 when a handler joins a list, -1 when it leaves; ud is the
 * connection's data (pl_conn_add). */
typedef void (*pl_conn_change_fn)(lua_State *L, const char *name, size_t len, int phase, int delta,
                                  void *ud);

/* What a source tells its connections. */
typedef struct pl_conn_ops {
    pl_conn_change_fn change;
    void (*free)(void *ud); /* the connection is collected; NULL: nothing to free */
    int (*alive)(void *ud); /* 0 once the source let go of it (Connected is false); NULL: 1 */
} pl_conn_ops;

/* Adds the function at fn_idx to this VM's handler list (kind, name,
 * phase), pushes the new connection, and calls ops->change(+1). ud is
 * the source's data for this connection, handed to ops (NULL: none). With
 * once, the first run of the handler disconnects it (Signal:Once). */
void pl_conn_add(lua_State *L, int kind, const char *name, size_t len, int phase, int fn_idx,
                 const pl_conn_ops *ops, void *ud, int once);
/* Before a handler of the connection at idx runs (pl_run_handlers): 0 when
 * it must not run (disconnected since the list was read, its source let
 * go of it, or its Script stopped); a once-connection is disconnected
 * here, then runs. When it runs, pushes its handler function and sets
 * *script to the Script whose thread connected it (NULL: none), which the
 * handler's threads belong to. */
int pl_conn_start(lua_State *L, int idx, struct pl_instance **script);
/* pl_conn_start without pushing the function: for a caller that holds it
 * already (the function of a connection never changes). idx: absolute. */
int pl_conn_check(lua_State *L, int idx, struct pl_instance **script);
/* Disconnects the connection at idx (as conn:Disconnect()). */
void pl_conn_disconnect(lua_State *L, int idx);
/* Disconnects every connection of this VM whose Script stopped
 * (pl_instance.run_gen changed since it connected): Destroy and
 * Script.Enabled = false. Run protected; raises only when out of memory. */
int pl_conn_drop_stopped(lua_State *L);
/* Returns how many handlers (kind, name, phase) has. With one, pushes its
 * connection; with more, pushes a copy of the list of connections as an
 * array (so handlers may disconnect while they run); with none, pushes
 * nothing. pl_run_handlers takes what it pushes. */
int pl_conn_push_handlers(lua_State *L, int kind, const char *name, size_t len, int phase);

#endif
