/*
 * Lightweight threads, the engine's half: starting an lthread's VM, its
 * body, the count hook that makes it share workers and stop when
 * cancelled, its outcome and its end. The contract is in lthread.h; the
 * Lua functions (go, handles, groups, parallel.map) are in lib/lthread.c.
 */
#include "engine/lthread.h"

#include <errno.h>
#include <lauxlib.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/park.h"
#include "engine/runtime.h"
#include "engine/sched.h"
#include "engine/transfer.h"
#include "engine/vmpool.h"

/* The count hook (below) is what stops a busy lthread for a cancel or at
 * the end of its time slice. In Lua 5.4 any count hook, whatever its
 * count, makes the VM call into the debugger before every instruction,
 * which doubles the cost of plain Lua code. So the hook is off while an
 * lthread runs, and armed only when needed: whoever wants the worker
 * back (a cancel, work waiting for a worker) sends the worker SIGURG
 * (pl_lthread_poke), whose handler sets the hook on the Lua thread being
 * resumed there, as lua.c's SIGINT handler does on its own thread. The
 * hook then looks every HOOK_COUNT instructions until it has nothing left
 * to watch, and turns itself off.
 *
 * ThreadSanitizer delivers a signal only when the thread calls into the C
 * library, which a busy Lua loop never does: under it the hook stays on
 * from the VM's start (same decisions, slower code). */
#if defined(__SANITIZE_THREAD__)
#define HOOK_ALWAYS 1
#else
#define HOOK_ALWAYS 0
#endif
#define HOOK_COUNT 1000
#define POKE_SIGNAL SIGURG /* ignored by default: a stray one does nothing */
/* An lthread keeps its worker this long when other work waits for one. */
#define SLICE_NS 2000000u

static uint64_t coarse_ns(void)
{
    struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
    clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- poking a worker (see the top) ----
 * Only the worker itself writes these, and its signal handler reads and
 * writes them: volatile, with signal fences where the order matters. The
 * initial-exec model keeps the handler free of TLS allocation. */
#define TLS static __thread __attribute__((tls_model("initial-exec")))
TLS lua_State *volatile poke_target;    /* the Lua thread being resumed here */
TLS volatile sig_atomic_t poke_pending; /* a poke came while none was */
TLS pl_thread_stats *poke_stats;        /* this worker's slot, while it runs an lthread */

static void lthread_hook(lua_State *L, lua_Debug *ar);
static struct sigaction previous_action;

static void on_poke(int sig, siginfo_t *info, void *uc)
{
    int saved = errno;
    lua_State *L = poke_target;
    if (L)
        lua_sethook(L, lthread_hook, LUA_MASKCOUNT, HOOK_COUNT); /* as lua.c's laction */
    else if (poke_stats)
        poke_pending = 1; /* between two resumes: the next one arms itself */
    else if (previous_action.sa_flags & SA_SIGINFO) /* not ours: the host's */
        previous_action.sa_sigaction(sig, info, uc);
    else if (previous_action.sa_handler != SIG_DFL && previous_action.sa_handler != SIG_IGN)
        previous_action.sa_handler(sig);
    errno = saved;
}

static void install_poke_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_poke;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(POKE_SIGNAL, &sa, &previous_action);
}

void pl_lthread_poke(pl_runtime *rt, int force)
{
    if (HOOK_ALWAYS) return;
    /* relaxed: hints; a poke too many costs a hook look, one too few is
     * made up by the next submit or resubmit */
    if (!atomic_load_explicit(&rt->lthreads_active, memory_order_relaxed)) return;
    if (!force && pl_pool_has_idle(rt->pool)) return; /* an idle worker will take it */
    for (int i = 1; i <= rt->config.workers; i++) {
        pl_thread_stats *ts = &rt->threads[i];
        if (!atomic_load_explicit(&ts->in_lthread, memory_order_acquire)) continue;
        if (!force && atomic_exchange_explicit(&ts->poked, 1, memory_order_relaxed)) continue;
        pthread_kill((pthread_t)atomic_load_explicit(&ts->tid, memory_order_relaxed), POKE_SIGNAL);
    }
}

void pl_lthread_stop_all(pl_runtime *rt)
{
    /* seq_cst: read by the hook and by every step (stop_asked) */
    atomic_store(&rt->lthreads_stop, 1);
    for (int i = 0; i < 5000 && atomic_load(&rt->lthreads_active) > 0; i++) {
        pl_lthread_poke(rt, 1);
        uv_sleep(1); /* ms */
    }
}

void pl_lthread_share_workers(pl_runtime *rt)
{
    if (atomic_load_explicit(&rt->lthreads_active, memory_order_relaxed) &&
        pl_pool_has_waiting(rt->pool))
        pl_lthread_poke(rt, 1);
}

/* Before resuming co on this worker: the hook off (what an earlier poke
 * left), then co the target of the next poke; a poke that came in
 * between, or one still standing, is applied now. */
static void arm_for(lua_State *co)
{
    if (HOOK_ALWAYS) return;
    lua_sethook(co, NULL, 0, 0);
    poke_target = co;
    atomic_signal_fence(memory_order_seq_cst);
    /* a poke this step that armed a thread which has stopped running since
     * (its `poked` still set, so no poke comes again) carries over too */
    if (poke_pending ||
        (poke_stats && atomic_load_explicit(&poke_stats->poked, memory_order_relaxed))) {
        poke_pending = 0;
        lua_sethook(co, lthread_hook, LUA_MASKCOUNT, HOOK_COUNT);
    }
}

static void disarm(void)
{
    poke_target = NULL;
    atomic_signal_fence(memory_order_seq_cst);
}

static pl_lthread *record_of(pl_waitobj *obj)
{
    return pl_container_of(obj, pl_lthread, w);
}

/* For deadlock reports: who would end the wait. */
static void holder(pl_waitobj *obj, char *buf, size_t size)
{
    pl_lthread *lt = record_of(obj);
    snprintf(buf, size, "which waits for lthread '%s' to end", lt->name);
}

static const pl_wait_ops lthread_wait_ops = {holder, NULL};

void pl_lthread_init(pl_lthread *lt, pl_runtime *rt)
{
    pl_waitobj_init(&lt->w, &lthread_wait_ops);
    lt->runtime = rt;
    lt->state = PL_LT_RUNNING;
    pl_wire_init(&lt->start);
    pl_wire_init(&lt->outcome);
    atomic_init(&lt->cancel, 0);
    pl_list_init(&lt->link);
    uv_mutex_lock(&rt->lthreads_lock);
    lt->seq = ++rt->lthread_seq;
    pl_list_push_back(&rt->lthreads, &lt->link);
    uv_mutex_unlock(&rt->lthreads_lock);
}

/* One report of a failure nobody joined; counts as an uncaught error. */
static void report_unobserved(pl_lthread *lt)
{
    pl_runtime *rt = lt->runtime;
    lt->observed = 1;
    const char *msg = lt->message ? lt->message : "?";
    char from[160];
    snprintf(from, sizeof from, "lthread '%s'", lt->name);
    pl_report_repeatable(rt, "failure of an lthread nobody joined", msg, from,
                         "%s: lthread '%s' failed and nobody joined it (call wait_result() or "
                         "result() on its handle): %s\n%s\n",
                         pl_report_name(rt), lt->name, msg, lt->traceback ? lt->traceback : "");
    atomic_fetch_add_explicit(&rt->errors, 1, memory_order_relaxed); /* a counter only */
}

void pl_lthread_destroy(pl_lthread *lt)
{
    pl_runtime *rt = lt->runtime;
    if (lt->state == PL_LT_FAILED && !lt->observed) report_unobserved(lt);
    uv_mutex_lock(&rt->lthreads_lock);
    pl_list_remove(&lt->link);
    uv_mutex_unlock(&rt->lthreads_lock);
    pl_wire_free(&lt->start);
    pl_wire_free(&lt->outcome);
    free(lt->message);
    free(lt->traceback);
    free(lt->search_path[0]);
    free(lt->search_path[1]);
    pl_waitobj_destroy(&lt->w);
    free(lt);
}

void pl_lthread_report_unobserved(pl_runtime *rt)
{
    uv_mutex_lock(&rt->lthreads_lock);
    pl_list_each(it, &rt->lthreads)
    {
        pl_lthread *lt = pl_container_of(it, pl_lthread, link);
        /* workers idle: no lthread changes its outcome meanwhile */
        if (lt->state == PL_LT_FAILED && !lt->observed) report_unobserved(lt);
    }
    uv_mutex_unlock(&rt->lthreads_lock);
}

int pl_lthread_launch(pl_lthread *lt, pl_perms *perms)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_poke_handler);
    pl_runtime *rt = lt->runtime;
    pl_vm *vm = aligned_alloc(PL_CACHE_LINE, sizeof *vm); /* sizeof is a multiple of it */
    if (!vm) {
        pl_perms_free(perms);
        return PL_ENOMEM;
    }
    pl_vm_init(vm, rt, NULL);
    vm->perms = *perms; /* moved in: before its state opens (docs/permissions.md) */
    vm->kind = PL_VM_LTHREAD;
    vm->lthread = lt;
    pl_shared_retain(&lt->w.base); /* the VM's: released when it ends */
    lt->vm = vm;                   /* nobody else sees lt yet: no lock needed */
    pl_vm_register(vm);
    pl_sched_mark(vm, PL_PARALLEL); /* onto the pool (sched.c: lthread VMs) */
    return PL_OK;
}

int pl_lthread_cancel(pl_lthread *lt)
{
    uv_mutex_lock(&lt->w.lock);
    int running = lt->state == PL_LT_RUNNING;
    if (running) {
        /* seq_cst: pairs with the fence at the end of run_lthread's run
         * (sched.c): either that run sees the flag, or this mark sees the
         * VM idle and queues it, and its next step sees the flag */
        atomic_store(&lt->cancel, 1);
        if (lt->vm) pl_sched_mark(lt->vm, PL_PARALLEL); /* it stops even while parked */
    }
    uv_mutex_unlock(&lt->w.lock);
    if (running) pl_lthread_poke(lt->runtime, 1); /* and while it runs a busy loop */
    return running;
}

static int stop_asked(pl_vm *vm)
{
    /* relaxed: a flag polled every few thousand instructions; the step
     * that ends the VM reads it again after the run's fence */
    return atomic_load_explicit(&vm->lthread->cancel, memory_order_relaxed) ||
           atomic_load_explicit(&vm->runtime->lthreads_stop, memory_order_relaxed);
}

/* The count hook of every Lua thread of an lthread VM. At a cancel, or at
 * the end of the time slice while other work waits for a worker, the
 * runtime thread that runs gives the worker up: it yields (hooks may
 * yield, with no values) and is queued again. A user's coroutine, or code
 * that cannot yield (a C call such as table.sort's comparator), is left
 * alone by the slice; a cancel raises there instead, and the next look
 * in yieldable code stops it for good (pcall cannot catch a yield). */
static void lthread_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    pl_vm *vm = pl_vm_of(L);
    int stop = stop_asked(vm);
    if (!stop && !pl_pool_has_waiting(vm->runtime->pool)) {
        if (!HOOK_ALWAYS) { /* nothing to watch any more: full speed again */
            lua_sethook(L, NULL, 0, 0);
            if (poke_stats) atomic_store_explicit(&poke_stats->poked, 0, memory_order_relaxed);
        }
        return;
    }
    if (!stop && coarse_ns() < vm->slice_end) return; /* its slice is not over yet */
    pl_rthread *th = pl_ctx_of(L)->rt;
    if (th && th->by_runtime && th->state == PL_RT_RUNNING && lua_isyieldable(L)) {
        th->phase = PL_PARALLEL;
        pl_sched_enqueue(vm, th);
        lua_yield(L, 0);
        return;
    }
    if (stop) {
        /* Raised where it cannot yield (a comparator of table.sort under a
         * pcall in a loop would catch it every time): look again at the
         * very next instruction, which may be back in yieldable code. */
        lua_sethook(L, lthread_hook, LUA_MASKCOUNT, 1);
        luaL_error(L, "lthread '%s' was cancelled", vm->lthread->name);
    }
}

/* ---- the outcome ---- */

/* Records the outcome (state and what the wires hold) and wakes every
 * joiner. The VM's owner, once. */
static void set_outcome(pl_vm *vm, int state, pl_wire *values, int n, char *message,
                        char *traceback)
{
    pl_lthread *lt = vm->lthread;
    uv_mutex_lock(&lt->w.lock);
    if (lt->state == PL_LT_RUNNING) {
        lt->state = state;
        if (values) {
            lt->outcome = *values; /* moved in */
            pl_wire_init(values);
        }
        lt->nresults = n;
        lt->message = message;
        lt->traceback = traceback;
        message = traceback = NULL;
        pl_waiter *w;
        while ((w = pl_waiter_first(&lt->w)))
            pl_wake(w);
    }
    uv_mutex_unlock(&lt->w.lock);
    free(message);
    free(traceback);
    if (values) pl_wire_free(values);
    vm->lt_done = 1;
}

/* The text fmt with its one %s replaced by a, malloc'd; NULL when out of
 * memory. */
static char *format(const char *fmt, const char *a)
{
    size_t n = strlen(fmt) + strlen(a) + 1;
    char *s = malloc(n);
    if (s) snprintf(s, n, fmt, a);
    return s;
}

static void set_failed_text(pl_vm *vm, const char *detail)
{
    set_outcome(vm, PL_LT_FAILED, NULL, 0,
                format("cannot start the lthread: %s", detail ? detail : "?"), NULL);
}

static void set_cancelled(pl_vm *vm)
{
    set_outcome(vm, PL_LT_CANCELLED, NULL, 0,
                format("lthread '%s' was cancelled", vm->lthread->name), NULL);
}

static const char TRACEBACK_KEY = 0; /* registry: body_msgh's traceback, until body_k */

/* The body's message handler: keeps the stack where the error happened
 * (in the registry, for body_k) and passes the error on unchanged. */
static int body_msgh(lua_State *L)
{
    luaL_traceback(L, L, NULL, 1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &TRACEBACK_KEY);
    lua_settop(L, 1);
    return 1;
}

/* Under pcall: [1] the error value; returns it as text (lua5.4's rules). */
static int error_text(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER) {
        lua_pushstring(L, lua_tostring(L, 1));
    } else if (!luaL_callmeta(L, 1, "__tostring") || lua_type(L, -1) != LUA_TSTRING) {
        lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    return 1;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* The body failed with the error at the top of L's stack; tb: its
 * traceback (malloc'd, taken) or NULL. */
static void record_failure(lua_State *L, char *tb)
{
    pl_vm *vm = pl_vm_of(L);
    int err = lua_gettop(L);
    char msg[512];
    pl_wire w;
    pl_wire_init(&w);
    pl_transfer_origin origin = {"the error of an lthread", 1};
    if (pl_transfer_encode(L, err, 1, &origin, &w, msg, sizeof msg) != PL_OK) {
        /* an error value that cannot cross (a coroutine...): its text does */
        pl_wire_free(&w);
        pl_wire_init(&w);
    }
    char *text = NULL;
    lua_pushcfunction(L, error_text);
    lua_pushvalue(L, err);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) text = dup_or_null(lua_tostring(L, -1));
    lua_pop(L, 1);
    if (w.len == 0 && text) { /* carry the text instead */
        lua_pushstring(L, text);
        if (pl_transfer_encode(L, -1, 1, &origin, &w, msg, sizeof msg) != PL_OK) {
            pl_wire_free(&w); /* empty, but it may hold memory */
            pl_wire_init(&w);
        }
        lua_pop(L, 1);
    }
    if (!text) text = strdup("(error object could not be converted to a string)");
    set_outcome(vm, PL_LT_FAILED, &w, w.len ? 1 : 0, text, tb);
}

/* After the function returned (status OK or YIELD) or raised. Stack: [1]
 * the message handler, then the results or the error. */
static int body_k(lua_State *L, int status, lua_KContext ctx)
{
    (void)ctx;
    pl_vm *vm = pl_vm_of(L);
    vm->lt_body = NULL; /* it ends here: nothing for close_body, nothing to anchor it for */
    if (status != LUA_OK && status != LUA_YIELD) {
        char *tb = NULL; /* body_msgh's, taken out of the registry (lib/reuse.c) */
        if (lua_rawgetp(L, LUA_REGISTRYINDEX, &TRACEBACK_KEY) == LUA_TSTRING) {
            tb = dup_or_null(lua_tostring(L, -1));
            lua_pushnil(L);
            lua_rawsetp(L, LUA_REGISTRYINDEX, &TRACEBACK_KEY); /* an existing key: no memory */
        }
        lua_pop(L, 1);
        if (stop_asked(vm)) {
            free(tb);
            set_cancelled(vm); /* the cancel's own error, or what it caused */
        } else {
            record_failure(L, tb);
        }
        return 0;
    }
    int n = lua_gettop(L) - 1;
    char msg[512];
    pl_wire w;
    pl_wire_init(&w);
    pl_transfer_origin origin = {"the results of an lthread", 1};
    if (pl_transfer_encode(L, 2, n, &origin, &w, msg, sizeof msg) != PL_OK) {
        pl_wire_free(&w);
        lua_settop(L, 1);
        lua_pushstring(L, msg);
        record_failure(L, NULL);
        return 0;
    }
    set_outcome(vm, PL_LT_DONE, &w, n, NULL, NULL);
    return 0;
}

/* The body thread: [1] the function. */
static int body(lua_State *L)
{
    lua_pushcfunction(L, body_msgh);
    lua_insert(L, 1);
    int status = lua_pcallk(L, 0, LUA_MULTRET, 1, 0, body_k);
    return body_k(L, status, 0);
}

/* Sets every pair of the table at idx as a global of L. */
static void set_globals(lua_State *L, int idx)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
    lua_pop(L, 1);
}

/* Under pcall in the new VM (no argument): decodes the start wire into
 * [1] the function or the path, [2] the globals (or nil), sets the
 * globals, and leaves the function to run at 1 (a path loaded). */
static int open_start(lua_State *L)
{
    pl_vm *vm = pl_vm_of(L);
    pl_lthread *lt = vm->lthread;
    char err[512];
    int n = 0;
    if (pl_transfer_decode_start(L, &lt->start, &n, &vm->reset_walk, err, sizeof err) != PL_OK)
        return luaL_error(L, "%s", err);
    pl_wire_free(&lt->start); /* read once, by this VM only */
    if (lua_istable(L, 2)) {
        vm->reset_walk = 1; /* _G changed: the reset walks it (lib/reuse.c) */
        set_globals(L, 2);
    }
    lua_settop(L, 1);
    const char *paths[2] = {lt->search_path[0], lt->search_path[1]};
    size_t lens[2] = {paths[0] ? strlen(paths[0]) : 0, paths[1] ? strlen(paths[1]) : 0};
    pl_set_search_paths(L, paths, lens); /* require finds what it finds in go()'s VM */
    if (lua_type(L, 1) == LUA_TSTRING) { /* go(path): the module at path */
        vm->reset_walk = 1;              /* its chunk has _ENV */
        const char *path = lua_tostring(L, 1);
        if (vm->runtime->hooks.loadfile(L, path, "t") != LUA_OK) return lua_error(L);
        lua_replace(L, 1);
    }
    return 1;
}

/* The first step: the state, the globals, the body thread. PL_OK, or the
 * outcome is set (a failure to start). */
static int open_vm(pl_vm *vm)
{
    int rc = pl_vm_ensure_state(vm);
    if (rc != PL_OK) {
        set_failed_text(vm, rc == PL_ENOMEM ? "not enough memory" : "the host's open_vm failed");
        return rc;
    }
    lua_State *L = vm->L;
    if (HOOK_ALWAYS) lua_sethook(L, lthread_hook, LUA_MASKCOUNT, HOOK_COUNT); /* inherited */
    lua_pushcfunction(L, open_start);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
        set_failed_text(vm, lua_tostring(L, -1));
        lua_pop(L, 1);
        return PL_EINVAL;
    }
    lua_pushcfunction(L, body);
    lua_insert(L, -2);
    pl_rthread *th = pl_rthread_new(L, 1); /* pops body and the function */
    if (!th) {
        set_failed_text(vm, "not enough memory");
        return PL_ENOMEM;
    }
    vm->lt_body = th->co; /* anchored by th until it ends (body_k), or until it is forgotten */
    th->phase = PL_PARALLEL;
    pl_sched_enqueue(vm, th);
    return PL_OK;
}

int pl_lthread_step(pl_vm *vm, pl_thread_stats *ts)
{
    if (!vm->L && !vm->lt_done && !stop_asked(vm) && open_vm(vm) != PL_OK)
        return PL_LT_STEP_FINISHED;
    pl_pool *pool = vm->runtime->pool;
    vm->slice_end = coarse_ns() + SLICE_NS;
    /* The handler must know this worker runs an lthread before any poker
     * can see it does: a poke it took for someone else's would be lost
     * (and, with `poked` set, not sent again this step). */
    poke_stats = ts;
    atomic_signal_fence(memory_order_seq_cst);
    atomic_store_explicit(&ts->poked, 0, memory_order_relaxed);
    /* release: its tid is there for pl_lthread_poke (acquire) */
    atomic_store_explicit(&ts->in_lthread, 1, memory_order_release);
    int result = PL_LT_STEP_IDLE;
    for (;;) {
        /* stopped: pl_lthread_finish closes the body, then records it */
        if (vm->lt_done || stop_asked(vm)) break;
        pl_park_take_woken(vm);
        pl_rthread *th = pl_sched_next_ready(vm, PL_PARALLEL);
        if (!th) break;
        arm_for(th->co);
        pl_rthread_resume(th, NULL);
        disarm();
        if (!vm->lt_done && coarse_ns() >= vm->slice_end && pl_pool_has_waiting(pool)) {
            result = PL_LT_STEP_PREEMPTED;
            break;
        }
    }
    if (result != PL_LT_STEP_PREEMPTED && (vm->lt_done || stop_asked(vm)))
        result = PL_LT_STEP_FINISHED;
    atomic_store_explicit(&ts->in_lthread, 0, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst);
    poke_stats = NULL;
    return result;
}

/* Runs the pending to-be-closed variables of the body when it did not
 * end by itself (cancelled, or stopped at shutdown), as task.cancel and
 * coroutine.close do. */
static void close_body(pl_vm *vm)
{
    lua_State *co = vm->lt_body;
    if (!co) return;
    lua_sethook(co, NULL, 0, 0); /* a __close must not be stopped in its turn */
    int status = lua_status(co);
    if (status != LUA_YIELD && status != LUA_OK) return; /* died of an error: closed already */
    status = pl_close_coroutine(co, vm->L);
    if (status != LUA_OK) {
        lua_xmove(co, vm->L, 1);
        pl_report_error(vm, vm->L, "error in __close");
        lua_pop(vm->L, 1);
    }
}

void pl_lthread_finish(pl_vm *vm)
{
    pl_runtime *rt = vm->runtime;
    pl_lthread *lt = vm->lthread;
    if (vm->L) {
        lua_sethook(vm->L, NULL, 0, 0);
        if (vm->lt_body) vm->reset_walk = 1; /* dropped below with its reference */
        close_body(vm); /* before the outcome: a joiner finds its locks released */
        pl_sched_forget_threads(vm);
    }
    if (!vm->lt_done) set_cancelled(vm); /* cancelled, or stopped at shutdown */
    uv_mutex_lock(&lt->w.lock);
    lt->vm = NULL; /* cancel() no longer marks it */
    uv_mutex_unlock(&lt->w.lock);
    atomic_store_explicit(&vm->dead, 1, memory_order_relaxed); /* its flag stays set: no queue */
    vm->tbuf = NULL; /* the run has ended: finalizers below are not traced (thread 0's buffer) */
    if (!pl_vmpool_put(vm)) pl_vm_close(vm); /* finalizers run here, on this worker */
    pl_vm_unregister(vm);
    if (rt->trace) { /* the trace names its events by this VM at exit */
        uv_mutex_lock(&rt->lthreads_lock);
        vm->all_next = rt->lthread_zombies;
        rt->lthread_zombies = vm;
        uv_mutex_unlock(&rt->lthreads_lock);
        return;
    }
    pl_vm_destroy(vm);
    free(vm);
    pl_shared_release(&lt->w.base);
}

void pl_lthread_free_vms(pl_runtime *rt)
{
    pl_vm *vm = rt->all_vms, *next;
    for (; vm; vm = next) {
        next = vm->all_next;
        if (vm->kind != PL_VM_LTHREAD) continue;
        pl_lthread *lt = vm->lthread;
        uv_mutex_lock(&lt->w.lock);
        if (lt->state == PL_LT_RUNNING) lt->state = PL_LT_CANCELLED;
        lt->vm = NULL;
        uv_mutex_unlock(&lt->w.lock);
        pl_vm_unregister(vm);
        pl_vm_destroy(vm);
        free(vm);
        pl_shared_release(&lt->w.base);
    }
    while (rt->lthread_zombies) {
        vm = rt->lthread_zombies;
        rt->lthread_zombies = vm->all_next;
        pl_lthread *lt = vm->lthread;
        pl_vm_destroy(vm);
        free(vm);
        pl_shared_release(&lt->w.base);
    }
}
