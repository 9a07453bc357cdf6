/*
 * The parlua command: runs a script like lua5.4 does (arg, -e, -l, -v, -W,
 * -E, -i, -, LUA_INIT), then runs frames until nothing can happen any more,
 * or opens the console (src/cli/console.c).
 */
#include <errno.h>
#include <lauxlib.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/console.h"
#include "cli/env.h"
#include "cli/perm_options.h"
#include "parlua.h"

static const char *progname = "parlua";

/* --help and the --workers message spell the cap out */
_Static_assert(PARLUA_MAX_WORKERS == 1024, "update the --workers texts");
#define MIN_FPS 1e-6 /* one frame in 11.6 days */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: %s [options] [script [args]]\n"
            "Runs a Lua 5.4 script with Roblox-style Actors on every core.\n"
            "Options:\n"
            "  -e stat       execute string 'stat' (in the main VM, before the script)\n"
            "  -i            enter the console (an interactive prompt) after running the\n"
            "                script; frames keep running while it waits\n"
            "  -l mod        require library 'mod' into global 'mod' (-l g=mod: into 'g')\n"
            "  -v            show version information\n"
            "  -W            turn warnings on\n"
            "  -E            ignore environment variables (LUA_INIT, LUA_PATH, LUA_CPATH)\n"
            "  --workers N   worker threads for the parallel phase, 1 to 1024 (default: one\n"
            "                per core)\n"
            "  --fps N       pace frames at N per second, 0.000001 to 1000000 (default: run\n"
            "                frames while there is work; 60 while the console waits)\n"
            "  --trace FILE  record a timeline: a Chrome trace-event JSON file written at exit\n"
            "                (open it in https://ui.perfetto.dev or chrome://tracing)\n"
            "  --stats       print a summary at exit on stderr: frames, phases, worker\n"
            "                utilisation, messages, time and memory per VM\n"
            "  --frame-budget MS  warn about actors whose single parallel run takes longer\n"
            "                than MS milliseconds (default 100; 0: never): with --fps one line\n"
            "                per actor, at once; without, one summary line at exit\n"
            "  --mailbox-limit MIB  memory that messages waiting for a binding may hold,\n"
            "                per actor, in MiB (default 256); past it SendMessage raises\n"
            "  --mpi         join an MPI job even when no launcher's variables say so;\n"
            "                under mpirun parlua joins by itself (docs/distributed.md)\n"
            "  --no-mpi      run alone even under mpirun\n"
            "  --help        show this help\n"
            "  --            stop handling options\n"
            "  -             stop handling options and execute stdin\n"
            "Without a script, parlua runs standard input, or opens the console when it is\n"
            "a terminal. LUA_INIT_5_4 or LUA_INIT (a chunk, or @file) runs before -e.\n"
            "At the console, Ctrl-C interrupts the running chunk; Ctrl-D or os.exit() leaves.\n",
            progname);
    fputs(perm_options_usage, out); /* cli/perm_options.c */
    fprintf(out, "Exit status: 0 on success, 1 if the script failed to load, any runtime thread\n"
                 "died of an uncaught error or the trace file could not be written at exit, 2 on\n"
                 "a bad command line (or a trace file that cannot be created), 130/143 after\n"
                 "SIGINT/SIGTERM (the frame ends, trace and summary are written; a second signal\n"
                 "ends at once).\n"
                 "Documentation: README.md and docs/ in the parlua source tree.\n");
}

static int bad_usage(const char *fmt, const char *what)
{
    fprintf(stderr, "%s: ", progname);
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\n");
    usage(stderr);
    return 2;
}

/* Parses a number option value from min to max; returns -1 when it is not one. */
static double number_arg(const char *s, int integer, double min, double max)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !(v >= min) || v > max) return -1;
    if (integer && v != (double)(long)v) return -1;
    return v;
}

typedef struct options {
    int script; /* index of the script in argv, or 0 */
    int show_version;
    int warnings;
    int interactive; /* -i */
    int no_env;      /* -E */
    parlua_config config;
    perm_options perms; /* --sandbox, --allow-* (cli/perm_options.c) */
} options;

/* Returns -1 when the command line is fine, else the exit status. */
static int parse(int argc, char **argv, options *o)
{
    parlua_config_init(&o->config);
    o->script = 0;
    int i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') break;
        if (strcmp(a, "-") == 0) break;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "-v") == 0) {
            o->show_version = 1;
        } else if (strcmp(a, "-W") == 0) {
            o->warnings = 1;
        } else if (strcmp(a, "-i") == 0) {
            o->interactive = o->show_version = 1; /* as lua5.4: -i implies -v */
        } else if (strcmp(a, "-E") == 0) {
            o->no_env = 1;
        } else if (strcmp(a, "-e") == 0 || strcmp(a, "-l") == 0) {
            if (++i >= argc) return bad_usage("'%s' needs an argument", a);
        } else if (strcmp(a, "--stats") == 0) {
            o->config.stats = 1;
        } else if (strcmp(a, "--mpi") == 0 || strcmp(a, "--no-mpi") == 0) {
            o->config.mpi = a[2] == 'm' ? 1 : -1;
        } else if (strcmp(a, "--trace") == 0) {
            if (++i >= argc) return bad_usage("'%s' needs a file name", a);
            o->config.trace_path = argv[i];
        } else if (strcmp(a, "--frame-budget") == 0) {
            if (++i >= argc) return bad_usage("'%s' needs a number of milliseconds", a);
            double v = strcmp(argv[i], "0") == 0 ? 0 : number_arg(argv[i], 0, 1e-9, 1e6);
            if (v < 0)
                return bad_usage("--frame-budget needs a number of milliseconds (0: no "
                                 "warning), got '%s'",
                                 argv[i]);
            o->config.long_run_budget = v > 0 ? v / 1000 : -1;
        } else if (strcmp(a, "--mailbox-limit") == 0) {
            if (++i >= argc) return bad_usage("'%s' needs a number of MiB", a);
            double v = number_arg(argv[i], 0, 1024 / 1048576.0, (double)(SIZE_MAX / 2) / 1048576.0);
            if (v < 0)
                return bad_usage("--mailbox-limit needs a number of MiB from 0.001 up, got '%s'",
                                 argv[i]);
            o->config.max_waiting_bytes = (size_t)(v * 1048576.0);
        } else if (strcmp(a, "--workers") == 0 || strcmp(a, "--fps") == 0) {
            if (++i >= argc) return bad_usage("'%s' needs a number", a);
            int workers = strcmp(a, "--workers") == 0;
            /* The bounds keep start-up quick (threads) and the frame period
             * within the clock's range (--fps 1e-300 would never pace). */
            double v = workers ? number_arg(argv[i], 1, 1, PARLUA_MAX_WORKERS)
                               : number_arg(argv[i], 0, MIN_FPS, 1e6);
            if (v < 0)
                return bad_usage(workers ? "--workers needs a whole number from 1 to 1024, got '%s'"
                                         : "--fps needs a number of frames per second from "
                                           "0.000001 to 1000000, got '%s'",
                                 argv[i]);
            if (workers)
                o->config.workers = (int)v;
            else
                o->config.fps = v;
        } else {
            /* permissions: cli/perm_options.c */
            const char *err = NULL;
            int rc = perm_option(&o->perms, a, &err);
            if (rc < 0) return bad_usage(err, a);
            if (rc == 0) return bad_usage("unrecognized option '%s'", a);
        }
    }
    o->script = i < argc ? i : 0;
    const char *err = NULL;
    if (perm_options_apply(&o->perms, &o->config, o->script ? argv[o->script] : NULL, &err) != 0)
        return bad_usage(err, o->perms.first_grant ? o->perms.first_grant : "--sandbox");
    return -1;
}

/* SIGINT/SIGTERM: the first ends the current frame, then the trace and the
 * summary are written and the command exits 128 + the signal; the handler
 * resets itself (SA_RESETHAND), so a second signal ends the process at once.
 * The handler only stores and calls parlua_interrupt (async-signal-safe). */
static volatile sig_atomic_t caught_signal;
static parlua_runtime *signal_rt;

/* Whether the runtime will join an MPI job (engine/dist.c decides the
 * same way): --mpi, or a launcher's variables without --no-mpi. */
static int mpi_job(int mpi)
{
    return mpi > 0 || (mpi == 0 && (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") ||
                                    getenv("PMIX_RANK")));
}

static void on_signal(int sig)
{
    caught_signal = sig;
    parlua_interrupt(signal_rt);
}

static void catch_signals(parlua_runtime *rt)
{
    signal_rt = rt;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* arg[0] is the script, arg[1..] its arguments, negative indices the rest. */
static void create_arg_table(lua_State *L, int argc, char **argv, int script)
{
    int base = script ? script : argc;
    lua_createtable(L, argc - base, base);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i - base);
    }
    lua_setglobal(L, "arg");
}

/* -l [g=]mod, as lua 5.4.6 does it: g = require(mod), by value. Without
 * "g=", the global is the module name cut at its first '-' (a version
 * suffix: -l mod-2 stores require("mod-2") in mod). */
static int run_library(parlua_runtime *rt, const char *arg)
{
    lua_State *L = parlua_main_state(rt);
    const char *eq = strchr(arg, '=');
    const char *mod = eq ? eq + 1 : arg;
    size_t glen = eq ? (size_t)(eq - arg) : strcspn(arg, "-");
    if (!lua_checkstack(L, 2)) return PARLUA_NOMEM;
    lua_pushlstring(L, arg, glen);
    lua_pushstring(L, mod);
    return parlua_run_chunk(rt, "local global, module = ...; _ENV[global] = require(module)",
                            "=(command line)", 2);
}

/* Runs -e and -l in command-line order. Returns 0, or 1 after reporting:
 * as lua5.4, the first error stops the command before the script runs. */
static int run_early_options(parlua_runtime *rt, int argc, char **argv, int stop)
{
    for (int i = 1; i < stop; i++) {
        int is_e = strcmp(argv[i], "-e") == 0, is_l = strcmp(argv[i], "-l") == 0;
        if (!is_e && !is_l) {
            if (strcmp(argv[i], "--workers") == 0 || strcmp(argv[i], "--fps") == 0 ||
                strcmp(argv[i], "--trace") == 0 || strcmp(argv[i], "--frame-budget") == 0)
                i++;
            continue;
        }
        const char *v = argv[++i];
        int errors = parlua_error_count(rt);
        int rc = is_e ? parlua_run_string(rt, v, "=(command line)") : run_library(rt, v);
        if (rc != PARLUA_OK) {
            /* an error in the run itself was reported already, with its traceback */
            if (parlua_error_count(rt) == errors)
                fprintf(stderr, "%s: %s\n", progname, parlua_last_error(rt));
            return 1;
        }
    }
    return 0;
}

/* The banner of -v and of the console, as lua5.4's names Lua. */
static void print_version(void)
{
    printf("parlua %s (%s)\n", PARLUA_VERSION_STRING, LUA_COPYRIGHT);
    fflush(stdout);
}

/* LUA_INIT (unless -E), -e and -l, then the script: lua5.4's order.
 * Returns 0, or 1 when one of them failed to load or raised in the main
 * chunk (already reported); *script_ok says whether the script ran
 * without failing. */
static int run_startup(parlua_runtime *rt, const options *o, int argc, char **argv, int has_e,
                       int *script_ok)
{
    lua_State *L = parlua_main_state(rt);
    *script_ok = 0;
    if (o->no_env ? pl_cli_ignore_env(rt, progname) : pl_cli_lua_init(rt, progname)) return 1;
    if (run_early_options(rt, argc, argv, o->script ? o->script : argc)) return 1;
    if (!o->script && (has_e || o->show_version || o->interactive || isatty(0))) return 0;
    const char *path = o->script ? argv[o->script] : "-";
    int nargs = 0;
    if (o->script && !lua_checkstack(L, argc - o->script + 4)) {
        fprintf(stderr, "%s: too many script arguments (%d)\n", progname, argc - o->script - 1);
        return 1;
    }
    for (int i = o->script + 1; o->script && i < argc; i++, nargs++)
        lua_pushstring(L, argv[i]);
    int errors = parlua_error_count(rt);
    if (parlua_run_file(rt, path, nargs) != PARLUA_OK) {
        if (parlua_error_count(rt) != errors) return 0; /* the runtime carries on */
        fprintf(stderr, "%s: %s\n", progname, parlua_last_error(rt));
        return 1; /* did not load */
    }
    *script_ok = 1;
    return 0;
}

int main(int argc, char **argv)
{
    options o;
    memset(&o, 0, sizeof o);
    int rc = parse(argc, argv, &o);
    if (rc >= 0) {
        perm_options_free(&o.perms);
        return rc;
    }
    int has_e = 0;
    for (int i = 1; i < (o.script ? o.script : argc); i++)
        if (strcmp(argv[i], "-e") == 0) has_e = 1;
    /* As lua5.4: -i, or nothing to run and a terminal on stdin, opens the
     * console; nothing to run and anything else on stdin runs it. */
    int console = o.interactive || (!o.script && !has_e && !o.show_version && isatty(0));
    if (o.show_version || console) print_version();
    /* Fail now, with the reason, rather than after the whole run; in an
     * MPI job each rank writes its own file, its rank in the name, which
     * the runtime creates. */
    if (o.config.trace_path && !mpi_job(o.config.mpi)) {
        FILE *f = fopen(o.config.trace_path, "w");
        if (!f) {
            fprintf(stderr, "%s: cannot create trace file '%s': %s\n", progname,
                    o.config.trace_path, strerror(errno));
            perm_options_free(&o.perms);
            return 2;
        }
        fclose(f);
    }
    if (console) o.config.on_exit = pl_console_on_exit;
    parlua_runtime *rt = parlua_new(&o.config);
    perm_options_free(&o.perms); /* parlua_new resolved and copied the paths */
    if (!rt) {
        int e = errno;
        if (mpi_job(o.config.mpi) && e == EINVAL) /* engine/dist.c said why */
            fprintf(stderr, "%s: cannot join the MPI job (the reason is above)\n", progname);
        else if (mpi_job(o.config.mpi) && o.config.trace_path && e != ENOMEM)
            fprintf(stderr,
                    "%s: cannot create this rank's trace file ('%s', its rank inserted): %s\n",
                    progname, o.config.trace_path, strerror(e));
        else
            fprintf(stderr, "%s: cannot create the runtime (out of memory or threads)\n", progname);
        return 1;
    }
    catch_signals(rt);
    lua_State *L = parlua_main_state(rt);
    if (o.warnings) lua_warning(L, "@on", 0);
    create_arg_table(L, argc, argv, o.script);
    int script_ok;
    int status = run_startup(rt, &o, argc, argv, has_e, &script_ok);
    /* as lua5.4, the console opens only when everything before it ran */
    if (status == 0 && console && (script_ok || !o.script) && !caught_signal)
        status = pl_console_run(rt, o.config.fps, &caught_signal);
    else if (status == 0 && !caught_signal)
        status = parlua_run(rt);
    if (caught_signal) status = 128 + caught_signal; /* as a shell reports a signal */
    if (parlua_finish(rt) != PARLUA_OK) {            /* the trace file could not be written */
        fprintf(stderr, "%s: %s\n", progname, parlua_last_error(rt));
        if (status == 0) status = 1;
    }
    parlua_free(rt);
    if (caught_signal) status = 128 + caught_signal;
    return status;
}
