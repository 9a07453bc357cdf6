/*
 * parlua: real multithreading for Lua 5.4. The one public header.
 *
 * A runtime holds a main VM and one VM per Actor, runs frames made of a
 * serial phase and a parallel phase on a worker pool, and delivers actor
 * messages. A host creates a runtime, runs a script in it, then either lets
 * it run until nothing can happen any more (parlua_run) or drives the frames
 * itself (parlua_step).
 *
 * Threads: every function here must be called from one host thread (the
 * "serial thread"), the same for the whole life of the runtime, and never
 * from inside Lua code the runtime is running.
 */
#ifndef PARLUA_H
#define PARLUA_H

#include <lua.h>

#define PARLUA_VERSION_STRING "0.1.0"

#ifndef PARLUA_API
#define PARLUA_API extern
#endif

typedef struct pl_runtime parlua_runtime;

/* Results of the functions below and exit statuses of the command. */
enum {
    PARLUA_OK = 0,       /* done, or nothing went wrong */
    PARLUA_ERROR = 1,    /* a script failed to load, or a runtime thread died of an error */
    PARLUA_DEADLOCK = 2, /* reserved: threads blocked forever */
    PARLUA_NOMEM = 3,
};

typedef struct parlua_config {
    int workers; /* worker threads for the parallel phase; 0: one per core */
    double fps;  /* frames per second for parlua_run; 0: as fast as there is work */
    int quiet;   /* 1: do not print uncaught errors to stderr (still counted) */
    /* Observability (docs/observability.md). */
    const char *trace_path; /* record a timeline; written by parlua_finish as a Chrome
                               trace-event JSON file (Perfetto, chrome://tracing).
                               parlua_new creates/truncates it and fails if it
                               cannot. NULL: no tracing */
    int stats;              /* 1: parlua_finish prints a summary to stderr */
    double long_run_budget; /* seconds: an actor whose one parallel run takes longer
                               gets one warning on stderr; 0: 0.1 s; < 0: never */

    /* Memory that messages waiting for a binding may hold, per actor; past
     * it SendMessage raises. 0: 256 MiB. */
    size_t max_waiting_bytes;
} parlua_config;

/* Fills cfg with the defaults. */
PARLUA_API void parlua_config_init(parlua_config *cfg);

/* A new runtime, or NULL (out of memory, threads could not start, or the
 * trace file could not be opened: then errno is fopen's). */
PARLUA_API parlua_runtime *parlua_new(const parlua_config *cfg);
/* Ends the observation, once: writes the trace file (config.trace_path)
 * and prints the summary (config.stats). Call it after the last frame.
 * Returns PARLUA_OK, or PARLUA_ERROR when the trace file could not be
 * written (see parlua_last_error). parlua_free calls it if the host did
 * not, and then prints such an error on stderr. */
PARLUA_API int parlua_finish(parlua_runtime *rt);
/* Closes every VM and frees the runtime. */
PARLUA_API void parlua_free(parlua_runtime *rt);

/* The main VM's lua_State, for setting globals (e.g. `arg`) before running
 * scripts. Do not run code on it directly. */
PARLUA_API lua_State *parlua_main_state(parlua_runtime *rt);

/* Runs a file as the main script (a Script instance under game), passing
 * the nargs values on top of the main state's stack as `...` (popped). The
 * script runs until it first yields; returns PARLUA_OK or PARLUA_ERROR (load
 * failure or an error in its first run; see parlua_last_error). */
PARLUA_API int parlua_run_file(parlua_runtime *rt, const char *path, int nargs);
/* The same for a chunk of source; name is its chunk name (e.g. "=(command line)"). */
PARLUA_API int parlua_run_string(parlua_runtime *rt, const char *source, const char *name);

/* Runs one frame (timers, Heartbeat with dt, serial phase, parallel phase).
 * Returns 1 if something can still happen, 0 if the runtime is idle. */
PARLUA_API int parlua_step(parlua_runtime *rt, double dt);
/* Runs frames until nothing can happen any more, sleeping while only timers
 * are pending. Returns PARLUA_ERROR if any runtime thread died of an
 * uncaught error, else PARLUA_OK. */
PARLUA_API int parlua_run(parlua_runtime *rt);

/* The last error message of a parlua_* call or uncaught error ("" if none). */
PARLUA_API const char *parlua_last_error(parlua_runtime *rt);
/* Runtime threads that died of an uncaught error so far. */
PARLUA_API int parlua_error_count(parlua_runtime *rt);

#endif
