/*
 * Connections: what BindToMessage, BindToMessageParallel, Connect and
 * ConnectParallel return. A connection lives in one VM's list of handlers
 * for one source (a message topic, or a signal such as Heartbeat) and one
 * phase; conn:Disconnect() takes it out and tells the source via on_change.
 */
#ifndef PL_CONNECTION_H
#define PL_CONNECTION_H

#include <lua.h>

enum { PL_CONN_MESSAGE = 0, PL_CONN_SIGNAL = 1 };

/* Called with +1 when a handler joins a list, -1 when it leaves. */
typedef void (*pl_conn_change_fn)(lua_State *L, const char *name, size_t len, int phase, int delta);

/* Adds the function at fn_idx to this VM's handler list (kind, name,
 * phase), pushes the new connection, and calls on_change(+1). */
void pl_conn_add(lua_State *L, int kind, const char *name, size_t len, int phase, int fn_idx,
                 pl_conn_change_fn on_change);
/* Returns how many handlers (kind, name, phase) has. With one, pushes its
 * connection; with more, pushes a copy of the list of connections as an
 * array (so handlers may disconnect while they run); with none, pushes
 * nothing. pl_run_handlers takes what it pushes. */
int pl_conn_push_handlers(lua_State *L, int kind, const char *name, size_t len, int phase);
/* Pushes the handler function of the connection at idx and returns the
 * Script whose thread connected it (NULL: none), which the handler's
 * threads belong to. */
struct pl_instance *pl_conn_push_function(lua_State *L, int idx);
void pl_open_connection(lua_State *L);

#endif
