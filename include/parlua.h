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
#include <stddef.h>

#include "parlua_version.h"

#ifndef PARLUA_API
#if defined(__GNUC__)
#define PARLUA_API extern __attribute__((visibility("default")))
#else
#define PARLUA_API extern
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A runtime: opaque. */
typedef struct parlua_runtime parlua_runtime;

/* Results of the functions below and exit statuses of the command; see
 * parlua_strerror. */
#define PARLUA_STATUS_MAP(X)                                                                       \
    X(OK, 0, "success")                                                                            \
    X(ERROR, 1, "a script failed to load, or a runtime thread died of an uncaught error")          \
    X(DEADLOCK, 2, "threads wait on sync objects and nothing else can run")                        \
    X(NOMEM, 3, "out of memory")                                                                   \
    X(INTERRUPTED, 4, "interrupted by parlua_interrupt (a signal)")

enum {
#define PARLUA_STATUS_ENUM(name, value, text) PARLUA_##name = value,
    PARLUA_STATUS_MAP(PARLUA_STATUS_ENUM)
#undef PARLUA_STATUS_ENUM
};

/* The most worker threads a runtime may have (more only cost start-up time
 * and memory: the parallel phase cannot use more threads than cores). */
#define PARLUA_MAX_WORKERS 1024

/* The runtime's configuration. It grows at its end from version to version:
 * always fill it with parlua_config_init first (which records the size
 * this host was built with), then set the fields you need. */
typedef struct parlua_config {
    size_t size; /* sizeof(parlua_config) as the host saw it: set by parlua_config_init */
    int workers; /* worker threads for the parallel phase; 0: one per core;
                    above PARLUA_MAX_WORKERS parlua_new fails (errno EINVAL) */
    double fps;  /* frames per second for parlua_run; 0: as fast as there is work;
                    negative or NaN: parlua_new fails (errno EINVAL) */
    int quiet;   /* 1: do not print uncaught errors to stderr (still counted) */
    /* Observability (docs/observability.md). */
    const char *trace_path; /* record a timeline; written by parlua_finish as a Chrome
                               trace-event JSON file (Perfetto, chrome://tracing).
                               parlua_new creates/truncates it and fails if it
                               cannot. NULL: no tracing */
    int stats;              /* 1: parlua_finish prints a summary to stderr */
    double long_run_budget; /* seconds: an actor whose one parallel run takes longer
                               gets one warning on stderr (with fps > 0; else one
                               summary line from parlua_finish); 0: 0.1 s; < 0: never */

    /* Memory that messages waiting for a binding may hold, per actor; past
     * it SendMessage raises. 0: 256 MiB. */
    size_t max_waiting_bytes;

    /* Called for every new VM (the main VM in parlua_new, each actor's when
     * its first script starts, each lthread's when it starts), after
     * parlua's and Lua's libraries are open and before any script runs in
     * it: the place to register the host's own functions and libraries in
     * every VM. Main and actor VMs: on the host thread. Lthread VMs: on a
     * worker thread, possibly several at once, so the hook must be
     * thread-safe (it gets only its own VM's L). L is the VM's main thread;
     * leave its stack as it was. It may raise a Lua error: that VM then does
     * not start (reported on stderr; parlua_new returns NULL for the main
     * VM; an lthread fails). NULL: none. */
    void (*open_vm)(lua_State *L, void *ud);
    void *open_vm_ud; /* passed to open_vm */

    /* Called by os.exit, from any VM, on the thread that calls it (a worker
     * in the parallel phase), just before the process ends with status: the
     * place to put a terminal back or flush the host's own output. It must
     * not call parlua. NULL: none. */
    void (*on_exit)(int status, void *ud);
    void *on_exit_ud; /* passed to on_exit */

    /* The main VM's permissions (docs/permissions.md); actors get theirs
     * from the VM that creates them. sandbox 0 (the default): every
     * permission, and the three fields below are ignored. sandbox 1: only
     * what they grant. */
    int sandbox;
    unsigned allow; /* PARLUA_ALLOW_* bits; READ / WRITE here: everywhere */
    /* NULL-terminated lists of paths the main VM may read / write under
     * (resolved by parlua_new against the working directory; an empty
     * path makes parlua_new fail with errno EINVAL). NULL: none. */
    const char *const *allow_read;
    const char *const *allow_write;
    /* A distributed job over MPI (docs/distributed.md): 0 (default) joins
     * one when an MPI launcher started the process (mpirun sets
     * OMPI_COMM_WORLD_SIZE, MPICH's PMI_SIZE), 1 always (parlua --mpi;
     * parlua_new fails without the MPI module), -1 never. */
    int mpi;
} parlua_config;

/* The capabilities of parlua_config.allow (SPEC 8). */
#define PARLUA_ALLOW_READ (1u << 0)   /* read files everywhere */
#define PARLUA_ALLOW_WRITE (1u << 1)  /* write files everywhere */
#define PARLUA_ALLOW_RUN (1u << 2)    /* os.execute, io.popen */
#define PARLUA_ALLOW_ENV (1u << 3)    /* os.getenv */
#define PARLUA_ALLOW_SPAWN (1u << 4)  /* new Actors, lthreads */
#define PARLUA_ALLOW_NATIVE (1u << 5) /* C modules, package.loadlib, binary chunks */
#define PARLUA_ALLOW_DEBUG (1u << 6)  /* the debug library */
#define PARLUA_ALLOW_EXIT (1u << 7)   /* os.exit */

/* Fills cfg with the defaults. Any thread. */
PARLUA_API void parlua_config_init(parlua_config *cfg);

/* The library's version, PARLUA_VERSION_NUM of the library actually
 * linked (which may be newer than the header a host was built with). Any
 * thread. */
PARLUA_API int parlua_version(void);
/* A sentence for a PARLUA_* status ("out of memory"). Any thread. */
PARLUA_API const char *parlua_strerror(int status);

/* A new runtime, or NULL (out of memory, threads could not start, the
 * trace file could not be opened: then errno is fopen's, or cfg was not
 * filled by parlua_config_init or holds a bad value: then errno is EINVAL).
 * cfg may be NULL: the defaults. */
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

/* Sends a message from the host to the Actor at actor_path (its full name
 * as GetFullName gives it, e.g. "Workspace.Worker"; a leading "game." is
 * allowed), as actor:SendMessage(topic, ...) from the main VM would: the
 * nargs values on top of the main state's stack (popped) are transferred
 * now, and the actor's callbacks get them in their phase. Host thread,
 * between frames. Returns PARLUA_OK, or PARLUA_ERROR when there is no
 * Actor at that path or a value cannot cross VMs (see parlua_last_error;
 * nothing is sent). */
PARLUA_API int parlua_send_message(parlua_runtime *rt, const char *actor_path, const char *topic,
                                   int nargs);
/* parlua_run_string passing the nargs values on top of the main state's
 * stack as `...` (popped), e.g. to call a function by value. */
PARLUA_API int parlua_run_chunk(parlua_runtime *rt, const char *source, const char *name,
                                int nargs);

/* Runs one frame (timers, Heartbeat with dt, serial phase, parallel phase).
 * Returns 1 if something can still happen, 0 if the runtime is idle. */
PARLUA_API int parlua_step(parlua_runtime *rt, double dt);
/* Runs frames until nothing can happen any more, sleeping while only timers
 * are pending. Returns PARLUA_INTERRUPTED after parlua_interrupt, else
 * PARLUA_DEADLOCK (after printing a "deadlock:" report on stderr) if threads
 * still wait on sync objects, else PARLUA_ERROR if any runtime thread died
 * of an uncaught error, else PARLUA_OK. */
PARLUA_API int parlua_run(parlua_runtime *rt);

/* Asks parlua_run to return after the frame that runs now (it then returns
 * PARLUA_INTERRUPTED), and stops Lua code that runs in the serial phase with
 * the error "interrupted!" (as lua5.4 does on SIGINT). Async-signal-safe:
 * meant for a SIGINT/SIGTERM handler running on the thread that runs the
 * frames (parlua's worker threads block those signals). Parallel code is not
 * stopped: it ends its run first. */
PARLUA_API void parlua_interrupt(parlua_runtime *rt);

/* The last error message of a parlua_* call or uncaught error ("" if none). */
PARLUA_API const char *parlua_last_error(parlua_runtime *rt);
/* Runtime threads that died of an uncaught error so far. */
PARLUA_API int parlua_error_count(parlua_runtime *rt);

/* ---- Host classes (SPEC 2.4): Instances of the host's own classes ----
 *
 * A host registers a class with its members; scripts make instances with
 * Instance.new (if creatable) and use them like the built-in classes, and
 * every member's safety level is enforced with the same errors
 * (docs/data-model.md): an Unsafe WriteVoxels called in parallel raises
 * "Function Terrain.WriteVoxels is not safe to call in parallel (call
 * task.synchronize() first)". A member's functions run in whatever VM and
 * phase its level allows, so they must be safe for that: a ReadParallel
 * getter may run on several workers at once. */

/* Safety levels; zero (a member given none) is Unsafe. */
typedef enum parlua_level {
    PARLUA_UNSAFE = 0,
    PARLUA_READ_PARALLEL = 1,
    PARLUA_LOCAL_SAFE = 2,
    PARLUA_SAFE = 3
} parlua_level;

/* One member: a property (get, and set unless it is read-only) or a method
 * (call), never both. Each function gets the instance at stack index 1
 * (check it with parlua_instance_data); a setter gets the value at 2. */
typedef struct parlua_member {
    const char *name;
    parlua_level level;
    lua_CFunction get;  /* property: push its value, return 1 */
    lua_CFunction set;  /* property: assign the value at 2; NULL: read-only */
    lua_CFunction call; /* method: arguments from 2, returns its results */
    const char *doc;    /* one line for the host's docs; may be NULL */
} parlua_member;

typedef struct parlua_class {
    const char *name;             /* unique among all classes */
    const char *base;             /* a built-in or earlier host class; NULL: "Instance" */
    int creatable;                /* Instance.new(name) makes one */
    size_t data_size;             /* bytes of zeroed host data each instance carries */
    const parlua_member *members; /* ended by a member with a NULL name; copied */
} parlua_class;

/* Registers a class (host thread, before any script started an actor:
 * actor VMs take the classes when they open). PARLUA_OK; PARLUA_ERROR with
 * parlua_last_error saying why (a NULL or empty name, a name already
 * taken, an unknown base class, a member that is neither a property nor
 * a method, or an actor VM already running); PARLUA_NOMEM. */
PARLUA_API int parlua_register_class(parlua_runtime *rt, const parlua_class *cls);
/* In a member function: the host data of the instance at idx, which must
 * be of class_name or a class derived from it (else raises a Lua error
 * naming both classes); NULL when the class has no data (data_size 0).
 * The data lives as long as the instance and is copied byte for byte by
 * Clone. */
PARLUA_API void *parlua_instance_data(lua_State *L, int idx, const char *class_name);

#ifdef __cplusplus
}
#endif

#endif
