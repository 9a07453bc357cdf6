/*
 * The console: lua5.4's interactive prompt (lua.c's doREPL) into a live
 * runtime. The frames go on while the prompt waits: this thread runs them
 * itself, between polls of standard input, so actors, timers and Heartbeat
 * keep running while the user types.
 *
 * A complete chunk runs in the main VM as a runtime thread (through
 * parlua_run_chunk), so it may task.wait, send messages and read
 * SharedTables; the console runs frames until the chunk is over, then
 * prompts again. What lua.c does, this does too: "return " .. line is
 * tried first, so that an expression prints its values; a chunk whose
 * syntax error ends at <eof> is incomplete and asks for more lines (">>");
 * errors print with a traceback and the session goes on; Ctrl-C raises
 * "interrupted!" in the running chunk through a hook.
 *
 * Line editing and history come from libedit (BSD-licensed, through its
 * readline-compatible callback interface) when standard input is a
 * terminal; otherwise lines are read plainly. While the prompt is shown,
 * what the frames write to stdout and stderr (actors' prints, error
 * reports) is caught in a memory file and written above the prompt, which
 * is then drawn again with what the user had typed.
 */
#define _GNU_SOURCE /* memfd_create */
#include "cli/console.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <editline/readline.h>

#define CHUNKNAME "=stdin" /* as lua.c names what is typed */
#define DEFAULT_FPS 60.0

typedef struct console {
    parlua_runtime *rt;
    lua_State *L; /* the main VM's state: only for loading and between frames */
    int tty;      /* standard input is a terminal: libedit */
    volatile sig_atomic_t *stop;
    double period;     /* seconds between frames */
    double next_frame; /* when the next frame is due (now()) */
    double last_frame;
    int active; /* the runtime has something to do (parlua_step's answer) */
    /* the line being read */
    int line_ready;
    char *line; /* malloc'd; NULL with line_ready: end of input */
    int prompt_shown;
    char inbuf[4096]; /* without a terminal: bytes read, not yet a line */
    size_t inlen;
    int in_eof;
    /* what frames write while the prompt is shown (-1: not caught) */
    int cap_fd, out_fd, err_fd;
    /* the chunk that runs */
    int chunk_done;
    int co_ref;     /* registry reference to its coroutine, LUA_NOREF: none */
    lua_State *co;  /* that coroutine */
    int cancel_ref; /* the original task.cancel */
} console;

static console con;

/* Set by the SIGINT handler, read and cleared by the console's loop. */
static volatile sig_atomic_t got_sigint;
/* 1 while parlua_step runs: a second Ctrl-C then ends the process. */
static volatile sig_atomic_t in_frame;
/* Set by the second Ctrl-C in one frame; cleared when the frame ends. */
static volatile sig_atomic_t stuck_frame;
/* The running chunk's coroutine, for the SIGINT handler (same thread:
 * relaxed atomics only keep the compiler from tearing the pointer). */
static _Atomic(lua_State *) interrupt_co;
/* The terminal as it was before libedit changed it, for os.exit. */
static struct termios saved_tty;
static int have_saved_tty;
/* 1 while fd 1 and 2 go to the memory file (capture_begin to capture_end). */
static atomic_int capturing;
static atomic_int exiting; /* pl_console_on_exit ran */
static struct sigaction old_sigint;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- Ctrl-C ---- */

/* lua.c's lstop: runs in the chunk's coroutine at its next instruction. */
static void stop_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

static void on_sigint(int sig)
{
    (void)sig;
    if (got_sigint && in_frame && !stuck_frame) {
        /* The frame did not end since the last Ctrl-C: some actor's code
         * does not stop. Stop the serial code that runs now, as a Ctrl-C
         * without the console does (parlua_interrupt); a parallel run is
         * named and waited for. */
        static const char msg[] = "\nparlua: the frame does not end: interrupting the serial code "
                                  "that runs (Ctrl-C again to leave)\n";
        stuck_frame = 1;
        if (atomic_load(&capturing)) { /* show what the frame says from now on */
            dup2(con.out_fd, 1);       /* async-signal-safe */
            dup2(con.err_fd, 2);
        }
        if (write(2, msg, sizeof msg - 1) < 0) { /* nothing to do */
        }
        parlua_interrupt(con.rt);
        return;
    }
    if (got_sigint && in_frame) { /* still stuck: leave as lua5.4 would */
        sigaction(SIGINT, &old_sigint, NULL);
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
        return;
    }
    got_sigint = 1;
    /* lua_sethook may be called asynchronously (lua.c does it so) */
    lua_State *co = atomic_load_explicit(&interrupt_co, memory_order_relaxed);
    if (co)
        lua_sethook(co, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

static void take_sigint(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: the waits below see EINTR */
    sigaction(SIGINT, &sa, &old_sigint);
}

/* ---- output caught while the prompt is shown ---- */

static void capture_open(console *c)
{
    c->cap_fd = c->out_fd = c->err_fd = -1;
    if (!c->tty || !isatty(1)) return; /* stdout elsewhere: nothing to keep apart */
    c->cap_fd = memfd_create("parlua-console", MFD_CLOEXEC);
    if (c->cap_fd < 0) return;
    c->out_fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
    c->err_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    if (c->out_fd < 0 || c->err_fd < 0) {
        close(c->cap_fd);
        c->cap_fd = -1;
    }
}

static void capture_close(console *c)
{
    if (c->cap_fd >= 0) close(c->cap_fd);
    if (c->out_fd >= 0) close(c->out_fd);
    if (c->err_fd >= 0) close(c->err_fd);
    c->cap_fd = c->out_fd = c->err_fd = -1;
}

static void write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

/* fd 1 and 2 go to the memory file (they share its offset) until
 * capture_end; a print is one write, so none is cut in two. */
static void capture_begin(console *c)
{
    fflush(stdout);
    fflush(stderr);
    dup2(c->cap_fd, 1);
    dup2(c->cap_fd, 2);
    atomic_store(&capturing, 1);
}

/* Puts fd 1 and 2 back; what was caught goes above the prompt, which is
 * then drawn again. */
/* Puts fd 1 and 2 back and writes what was caught, over the prompt's
 * line; returns 1 when there was something. */
static int uncapture(console *c)
{
    fflush(stdout);
    fflush(stderr);
    dup2(c->out_fd, 1);
    dup2(c->err_fd, 2);
    atomic_store(&capturing, 0);
    off_t size = lseek(c->cap_fd, 0, SEEK_CUR);
    if (size <= 0) return 0;
    write_all(c->out_fd, "\r\033[K", 4); /* the prompt's line, cleared */
    char buf[65536];
    off_t off = 0;
    int nl = 1;
    while (off < size) {
        ssize_t n = pread(c->cap_fd, buf, sizeof buf, off);
        if (n <= 0) break;
        write_all(c->out_fd, buf, (size_t)n);
        nl = buf[n - 1] == '\n';
        off += n;
    }
    if (!nl) write_all(c->out_fd, "\n", 1); /* an io.write without its line end */
    if (ftruncate(c->cap_fd, 0) != 0) {     /* the next frame appends: harmless */
    }
    lseek(c->cap_fd, 0, SEEK_SET);
    return 1;
}

static void capture_end(console *c)
{
    if (uncapture(c)) rl_forced_update_display();
}

/* os.exit (parlua_config.on_exit), on whichever thread calls it. While
 * the prompt is shown the frames run with the terminal in libedit's mode
 * and their output caught: both are put back, so that the last words of
 * the program show and the shell gets its terminal as it was. A worker
 * calls this while the console's thread waits for the parallel phase to
 * end, so nothing else touches the terminal meanwhile. */
void pl_console_on_exit(int status, void *ud)
{
    (void)status;
    (void)ud;
    if (atomic_exchange(&exiting, 1)) return;
    console *c = &con;
    if (atomic_load(&capturing)) uncapture(c);
    if (have_saved_tty) tcsetattr(0, TCSANOW, &saved_tty); /* cooked already if no prompt */
}

/* ---- frames ---- */

/* Runs a frame when one is due. */
static void frame_if_due(console *c)
{
    double t = now();
    if (!c->active || t < c->next_frame) return;
    int capture = c->prompt_shown && c->cap_fd >= 0;
    if (capture) capture_begin(c);
    in_frame = 1;
    c->active = parlua_step(c->rt, t - c->last_frame);
    in_frame = 0;
    stuck_frame = 0;
    if (capture) capture_end(c);
    c->last_frame = t;
    c->next_frame += c->period;
    if (c->next_frame < now()) c->next_frame = now(); /* late: do not catch up */
}

/* Milliseconds until the next frame, for poll (-1: none is due). */
static int frame_wait_ms(const console *c)
{
    if (!c->active) return -1;
    double left = c->next_frame - now();
    return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

/* The runtime has work again (a chunk ran): frames resume now. */
static void wake(console *c)
{
    if (!c->active) c->next_frame = now();
    c->active = 1;
}

/* ---- reading lines ---- */

static void on_line(char *line)
{
    con.line = line;
    con.line_ready = 1;
    con.prompt_shown = 0;
}

/* The prompt as lua.c finds it: the global _PROMPT or _PROMPT2 (read raw:
 * no metamethod runs outside a runtime thread), else "> " or ">> ". */
static const char *get_prompt(console *c, int first, char *buf, size_t size)
{
    lua_State *L = c->L;
    const char *p = first ? "> " : ">> ";
    if (!lua_checkstack(L, 2)) return p;
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_pushstring(L, first ? "_PROMPT" : "_PROMPT2");
    lua_rawget(L, -2);
    if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
        snprintf(buf, size, "%s", lua_tostring(L, -1));
        p = buf;
    }
    lua_pop(L, 2);
    return p;
}

/* Without a terminal: a whole line from inbuf, or NULL. */
static char *buffered_line(console *c)
{
    char *nl = memchr(c->inbuf, '\n', c->inlen);
    size_t len = nl ? (size_t)(nl - c->inbuf) : c->inlen;
    if (!nl && !(c->in_eof && c->inlen) && c->inlen < sizeof c->inbuf - 1) return NULL;
    char *line = malloc(len + 1);
    if (!line) return NULL;
    memcpy(line, c->inbuf, len);
    line[len] = '\0';
    size_t used = nl ? len + 1 : len;
    memmove(c->inbuf, c->inbuf + used, c->inlen - used);
    c->inlen -= used;
    return line;
}

static void read_plain(console *c)
{
    ssize_t n = read(0, c->inbuf + c->inlen, sizeof c->inbuf - 1 - c->inlen);
    if (n > 0) c->inlen += (size_t)n;
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) c->in_eof = 1;
    char *line = buffered_line(c);
    if (line)
        on_line(line);
    else if (c->in_eof && c->inlen == 0)
        on_line(NULL);
}

/* Ctrl-C at the prompt: drop the line (and a chunk being continued). */
static void clear_prompt(console *c, int discarding)
{
    if (c->tty) {
        rl_replace_line("", 0);
        rl_callback_handler_remove();
    }
    c->prompt_shown = 0;
    fputs("\n", stdout);
    if (!discarding) fputs("(to leave the console: Ctrl-D, or os.exit())\n", stdout);
    fflush(stdout);
}

enum { LINE_OK, LINE_EOF, LINE_CANCEL, LINE_STOP };

/* Shows prompt and reads one line into *out (malloc'd), running frames
 * while it waits. */
static int read_line(console *c, const char *prompt, int discarding, char **out)
{
    c->line_ready = 0;
    c->line = NULL;
    if (c->tty) {
        rl_callback_handler_install(prompt, on_line);
    } else {
        fputs(prompt, stdout);
        fflush(stdout);
        char *line = buffered_line(c);
        if (line) on_line(line);
    }
    c->prompt_shown = 1;
    while (!c->line_ready) {
        if (*c->stop) {
            if (c->tty) rl_callback_handler_remove();
            c->prompt_shown = 0;
            fputs("\n", stdout); /* off the prompt's line */
            fflush(stdout);
            return LINE_STOP;
        }
        if (got_sigint) {
            got_sigint = 0;
            clear_prompt(c, discarding);
            return LINE_CANCEL;
        }
        struct pollfd p = {0, POLLIN, 0};
        int r = poll(&p, 1, frame_wait_ms(c));
        if (r > 0) {
            if (c->tty)
                rl_callback_read_char();
            else
                read_plain(c);
        }
        frame_if_due(c);
    }
    c->prompt_shown = 0;
    if (c->tty) rl_callback_handler_remove();
    if (!c->line) {
        fputs("\n", stdout); /* as lua.c ends the session */
        fflush(stdout);
        return LINE_EOF;
    }
    *out = c->line;
    return LINE_OK;
}

/* ---- loading, as lua.c's loadline ---- */

/* A syntax error that ends at <eof>: the chunk goes on on the next line. */
static int incomplete(lua_State *L, int status)
{
    static const char mark[] = "<eof>";
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    return status == LUA_ERRSYNTAX && msg && len >= sizeof mark - 1 &&
           strcmp(msg + len - (sizeof mark - 1), mark) == 0;
}

static void remember(console *c, const char *chunk)
{
    if (c->tty && chunk[0]) add_history(chunk);
}

/* Reads a chunk and loads it on L: LINE_OK with the function on top,
 * LINE_OK with an error message on top (*failed set), or LINE_EOF,
 * LINE_CANCEL, LINE_STOP with nothing pushed. */
static int load_chunk(console *c, int *failed)
{
    lua_State *L = c->L;
    char pbuf[256];
    char *line;
    *failed = 0;
    int r = read_line(c, get_prompt(c, 1, pbuf, sizeof pbuf), 0, &line);
    if (r != LINE_OK) return r;
    /* a first line "=expr" is "return expr", as in lua.c */
    const char *text = line[0] == '=' ? line + 1 : line;
    if (!lua_checkstack(L, 4)) {
        free(line);
        return LINE_CANCEL;
    }
    const char *ret = lua_pushfstring(L, "return %s", text);
    int status = luaL_loadbuffer(L, ret, strlen(ret), CHUNKNAME);
    lua_remove(L, -2);
    if (status == LUA_OK) {
        remember(c, line);
        free(line);
        return LINE_OK;
    }
    lua_pop(L, 1);
    /* not an expression: a statement, maybe over several lines */
    lua_pushstring(L, text);
    free(line);
    for (;;) {
        size_t len;
        const char *src = lua_tolstring(L, -1, &len);
        status = luaL_loadbuffer(L, src, len, CHUNKNAME);
        if (!incomplete(L, status)) break;
        lua_pop(L, 1); /* the message */
        r = read_line(c, get_prompt(c, 0, pbuf, sizeof pbuf), 1, &line);
        if (r == LINE_EOF) { /* as lua.c: the incomplete chunk's error */
            status = luaL_loadbuffer(L, src, len, CHUNKNAME);
            break;
        }
        if (r != LINE_OK) {
            lua_pop(L, 1);
            return r;
        }
        lua_pushfstring(L, "%s\n%s", src, line);
        free(line);
        lua_remove(L, -2); /* the shorter text */
    }
    remember(c, lua_tostring(L, -2));
    lua_remove(L, -2); /* the text; the function or the message stays */
    *failed = status != LUA_OK;
    return LINE_OK;
}

/* ---- running a chunk ---- */

/* lua.c's msghandler: the message with a traceback. */
static int msghandler(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    luaL_traceback(L, L, msg, 1);
    /* The frames below the chunk are the console's own: end the traceback
     * where lua.c's ends, at the call from C. */
    const char *tb = lua_tostring(L, -1);
    const char *cut = strstr(tb, "\n\t(console):");
    while (cut && cut > tb && cut[-1] != '\n') /* back to the line of `run` */
        cut--;
    if (cut && cut > tb) {
        cut--;
        lua_pushlstring(L, tb, (size_t)(cut - tb));
        lua_pushliteral(L, "\n\t[C]: in ?");
        lua_concat(L, 2);
    }
    return 1;
}

static void chunk_over(console *c, lua_State *L)
{
    atomic_store_explicit(&interrupt_co, NULL, memory_order_relaxed);
    lua_sethook(c->co, NULL, 0, 0); /* a Ctrl-C too late for the chunk */
    luaL_unref(L, LUA_REGISTRYINDEX, c->co_ref);
    c->co_ref = LUA_NOREF;
    c->co = NULL;
    c->chunk_done = 1;
}

/* After the chunk's call: [1] the message handler, then its results or
 * its error message. Prints them as lua.c's l_print and report do. */
static int chunk_finish(lua_State *L, int status, lua_KContext ctx)
{
    (void)ctx;
    console *c = &con;
    chunk_over(c, L);
    fflush(stdout);
    if (status != LUA_OK && status != LUA_YIELD) {
        fprintf(stderr, "%s\n", lua_tostring(L, -1));
        fflush(stderr);
        return 0;
    }
    int n = lua_gettop(L) - 1;
    if (n > 0) {
        luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
        lua_getglobal(L, "print");
        lua_insert(L, 2);
        if (lua_pcall(L, n, 0, 0) != LUA_OK) {
            fprintf(stderr, "error calling 'print' (%s)\n", lua_tostring(L, -1));
            fflush(stderr);
        }
    }
    return 0;
}

/* The chunk's runtime thread: [1] the chunk. Calls it protected, in a way
 * that lets it yield (task.wait), and makes it the target of Ctrl-C. */
static int chunk_run(lua_State *L)
{
    console *c = &con;
    lua_pushthread(L);
    c->co_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* keeps co valid for the handler */
    c->co = L;
    atomic_store_explicit(&interrupt_co, L, memory_order_relaxed);
    if (got_sigint) { /* Ctrl-C came before: interrupt now */
        got_sigint = 0;
        lua_sethook(L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
    }
    lua_pushcfunction(L, msghandler);
    lua_insert(L, 1);
    return chunk_finish(L, lua_pcallk(L, 0, LUA_MULTRET, 1, 0, chunk_finish), 0);
}

/* A chunk waiting (task.wait, a lock) when Ctrl-C came: task.cancel it
 * (its to-be-closed variables run) and say so. */
static void cancel_chunk(console *c)
{
    lua_State *L = c->L;
    if (c->cancel_ref == LUA_NOREF) return; /* no task.cancel: the chunk waits on */
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->cancel_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->co_ref);
    lua_State *co = c->co;
    chunk_over(c, L);
    if (lua_status(co) != LUA_YIELD) { /* nothing to cancel after all */
        lua_pop(L, 2);
        return;
    }
    parlua_run_chunk(c->rt, "local cancel, co = ... cancel(co)", "=(console)", 2);
    fputs("interrupted! (the chunk was waiting: it is cancelled)\n", stderr);
    fflush(stderr);
}

/* The chunk's coroutine ended without chunk_finish (user code cancelled
 * it): nothing will report it. */
static int chunk_vanished(console *c)
{
    lua_Debug ar;
    return !c->chunk_done && c->co && lua_status(c->co) != LUA_YIELD &&
           !lua_getstack(c->co, 0, &ar);
}

/* Runs the function on top of L as a runtime thread of the main VM, and
 * frames until it is over. Returns 0, or -1 when *stop was set. */
static int run_chunk(console *c)
{
    lua_State *L = c->L;
    c->chunk_done = 0;
    c->co = NULL;
    lua_pushcfunction(L, chunk_run);
    lua_insert(L, -2);
    int errors = parlua_error_count(c->rt);
    int rc = parlua_run_chunk(c->rt, "local run, chunk = ... return run(chunk)", "=(console)", 2);
    if (rc != PARLUA_OK) { /* out of memory, or the console's own code failed */
        if (parlua_error_count(c->rt) == errors) fprintf(stderr, "%s\n", parlua_last_error(c->rt));
        if (!c->chunk_done && c->co_ref != LUA_NOREF) chunk_over(c, L);
        atomic_store_explicit(&interrupt_co, NULL, memory_order_relaxed);
        return 0;
    }
    wake(c);
    while (!c->chunk_done) {
        if (*c->stop) return -1;
        if (got_sigint || chunk_vanished(c)) {
            got_sigint = 0;
            if (c->co_ref != LUA_NOREF) cancel_chunk(c);
            c->chunk_done = 1;
            break;
        }
        int ms = frame_wait_ms(c);
        if (ms != 0) {
            /* nothing can happen but a Ctrl-C (a chunk waiting forever) */
            struct timespec ts = {ms < 0 ? 3600 : ms / 1000, ms < 0 ? 0 : (ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        frame_if_due(c);
    }
    got_sigint = 0; /* a Ctrl-C that the chunk took (interrupted!) */
    return 0;
}

/* ---- the session ---- */

/* Under pcall: task.cancel (task opens on first use: a plain read). */
static int get_cancel(lua_State *L)
{
    lua_getglobal(L, "task");
    lua_getfield(L, -1, "cancel");
    return 1;
}

/* Keeps the original task.cancel, whatever the user does to `task`. */
static int find_cancel(console *c)
{
    lua_State *L = c->L;
    if (!lua_checkstack(L, 3)) return -1;
    lua_pushcfunction(L, get_cancel);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK || !lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        return -1;
    }
    c->cancel_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

int pl_console_run(parlua_runtime *rt, double fps, volatile sig_atomic_t *stop)
{
    console *c = &con;
    memset(c, 0, sizeof *c);
    c->rt = rt;
    c->L = parlua_main_state(rt);
    c->stop = stop;
    c->tty = isatty(0);
    c->period = 1.0 / (fps > 0 ? fps : DEFAULT_FPS);
    c->last_frame = c->next_frame = now();
    c->active = 1;
    c->co_ref = c->cancel_ref = LUA_NOREF;
    find_cancel(c);
    if (c->tty) {
        rl_catch_signals = 0;        /* Ctrl-C is the console's */
        rl_readline_name = "parlua"; /* for ~/.editrc */
        have_saved_tty = tcgetattr(0, &saved_tty) == 0;
        using_history();
    }
    capture_open(c);
    take_sigint();
    got_sigint = 0;
    int status = 0;
    for (;;) {
        int failed;
        int r = load_chunk(c, &failed);
        if (r == LINE_EOF || r == LINE_STOP) break;
        if (r == LINE_CANCEL) continue;
        if (failed) {
            fprintf(stderr, "%s\n", lua_tostring(c->L, -1));
            fflush(stderr);
            lua_pop(c->L, 1);
            continue;
        }
        if (run_chunk(c) != 0) break;
    }
    sigaction(SIGINT, &old_sigint, NULL);
    if (c->tty) rl_callback_handler_remove();
    capture_close(c);
    if (c->cancel_ref != LUA_NOREF) luaL_unref(c->L, LUA_REGISTRYINDEX, c->cancel_ref);
    return status;
}
