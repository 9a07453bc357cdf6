/*
 * The public API (include/parlua.h): creating a runtime, running it until
 * idle or one frame at a time, finishing and freeing it. The one place that
 * joins the engine and the libraries: it sets the engine's hooks to the
 * libraries' functions before the first VM opens.
 */
#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/status.h"
#include "engine/dist.h"
#include "engine/lthread.h"
#include "engine/park.h"
#include "engine/proxy.h"
#include "engine/runtime.h"
#include "engine/sched.h"
#include "engine/vmpool.h"
#include "lib/lib.h"
#include "lib/remote.h"

/* ---- creating and freeing a runtime ---- */

void parlua_config_init(parlua_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
}

int parlua_version(void)
{
    return PARLUA_VERSION_NUM;
}

const char *parlua_strerror(int status)
{
    switch (status) {
#define PARLUA_STATUS_TEXT(name, value, text)                                                      \
    case PARLUA_##name:                                                                            \
        return text;
        PARLUA_STATUS_MAP(PARLUA_STATUS_TEXT)
#undef PARLUA_STATUS_TEXT
    }
    return "unknown status";
}

/* The host's configuration, as big as the header it was built with said:
 * fields it did not know keep their defaults. */
static void copy_config(parlua_config *dst, const parlua_config *src)
{
    parlua_config_init(dst);
    if (!src) return;
    size_t n = src->size < sizeof *dst ? src->size : sizeof *dst;
    memcpy(dst, src, n);
    dst->size = sizeof *dst;
}

static pl_instance *new_service(pl_runtime *rt, const pl_class *cls, const char *name,
                                pl_instance *parent)
{
    pl_instance *inst = pl_instance_new(cls, NULL, &rt->graveyard);
    if (!inst) return NULL;
    if (pl_instance_set_name(inst, name, strlen(name)) != 0 ||
        (parent && pl_instance_set_parent(inst, parent) != PL_OK)) {
        pl_shared_release(&inst->base);
        return NULL;
    }
    inst->parent_locked = PL_LOCKED_SERVICE; /* game, Workspace and RunService stay put */
    return inst;
}

_Static_assert(PARLUA_ALLOW_READ == PL_PERM_READ && PARLUA_ALLOW_WRITE == PL_PERM_WRITE &&
                   PARLUA_ALLOW_RUN == PL_PERM_RUN && PARLUA_ALLOW_ENV == PL_PERM_ENV &&
                   PARLUA_ALLOW_SPAWN == PL_PERM_SPAWN && PARLUA_ALLOW_NATIVE == PL_PERM_NATIVE &&
                   PARLUA_ALLOW_DEBUG == PL_PERM_DEBUG && PARLUA_ALLOW_EXIT == PL_PERM_EXIT,
               "parlua.h's PARLUA_ALLOW_* match engine/perm.h");

/* The main VM's permissions from the configuration (before its state is
 * made: the libraries open according to them). PL_OK, PL_ENOMEM or
 * PL_EINVAL (an empty path). */
static int main_perms(pl_runtime *rt)
{
    pl_perms *p = &rt->main.perms;
    const parlua_config *c = &rt->config;
    if (!c->sandbox) {
        pl_perms_full(p);
        return PL_OK;
    }
    pl_perms_none(p);
    p->flags = c->allow & PL_PERM_ALL & ~(unsigned)(PL_PERM_READ | PL_PERM_WRITE);
    static const int caps[] = {PL_PERM_READ, PL_PERM_WRITE};
    for (int i = 0; i < 2; i++) {
        const char *const *paths = i ? c->allow_write : c->allow_read;
        int rc = PL_OK;
        if (c->allow & (unsigned)caps[i]) rc = pl_perms_add_path(p, caps[i], NULL);
        for (size_t k = 0; rc == PL_OK && paths && paths[k]; k++)
            rc = pl_perms_add_path(p, caps[i], paths[k]);
        if (rc != PL_OK) return rc;
    }
    return PL_OK;
}

parlua_runtime *parlua_new(const parlua_config *cfg)
{
    if (cfg && cfg->size < offsetof(parlua_config, workers) + sizeof cfg->workers) {
        errno = EINVAL; /* not filled by parlua_config_init */
        return NULL;
    }
    pl_runtime *rt = aligned_alloc(PL_CACHE_LINE, sizeof *rt); /* it embeds the main VM */
    if (!rt) return NULL;
    memset(rt, 0, sizeof *rt);
    copy_config(&rt->config, cfg);
    if (rt->config.workers > PARLUA_MAX_WORKERS || !(rt->config.fps >= 0)) {
        free(rt);
        errno = EINVAL;
        return NULL;
    }
    /* Under mpirun: MPI starts now, so the trace file's name has the rank. */
    if (pl_dist_start(rt) != PL_OK) {
        pl_dist_stop(rt->dist); /* set if only the trace's name failed */
        free(rt);
        errno = EINVAL;
        return NULL;
    }
    if (rt->config.workers <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        /* in a job, the ranks on one machine share its cores */
        if (rt->dist && n > 0) n = n / rt->dist->local_size > 0 ? n / rt->dist->local_size : 1;
        rt->config.workers = n <= 0 ? 1 : n > PARLUA_MAX_WORKERS ? PARLUA_MAX_WORKERS : (int)n;
    }
    rt->t0 = uv_hrtime();
    rt->precise_clock = rt->config.stats || rt->config.trace_path;
    double budget = rt->config.long_run_budget;
    rt->long_run_ns = budget < 0 || isnan(budget) ? 0 : pl_seconds_to_ns(budget > 0 ? budget : 0.1);
    rt->threads =
        aligned_alloc(PL_CACHE_LINE, sizeof(pl_thread_stats) * (size_t)(1 + rt->config.workers));
    if (!rt->threads) {
        pl_dist_stop(rt->dist);
        free(rt);
        return NULL;
    }
    memset(rt->threads, 0, sizeof(pl_thread_stats) * (size_t)(1 + rt->config.workers));
    if (rt->config.trace_path) {
        FILE *f = fopen(rt->config.trace_path, "w");
        int saved = errno;
        rt->trace = f ? pl_trace_new(f, 1 + rt->config.workers, rt->t0) : NULL;
        if (!rt->trace) {
            if (f) fclose(f);
            free(rt->threads);
            if (rt->dist) /* stopping aborts the job: say why first */
                fprintf(stderr, "%s: cannot create trace file '%s': %s\n", pl_report_name(rt),
                        rt->config.trace_path, strerror(f ? ENOMEM : saved));
            pl_dist_stop(rt->dist);
            free(rt);
            errno = f ? ENOMEM : saved;
            return NULL;
        }
    }
    uv_mutex_init(&rt->timer_lock);
    uv_mutex_init(&rt->heartbeat_lock);
    uv_mutex_init(&rt->vms_lock);
    uv_mutex_init(&rt->error_lock);
    rt->hooks = (pl_engine_hooks){pl_open_libs,         pl_actor_dispatch,   pl_actor_flush,
                                  pl_heartbeat_fire,    pl_sandbox_loadfile, pl_reset_state,
                                  pl_actor_batch_runner};
    pl_timerheap_init(&rt->timers);
    pl_list_init(&rt->heartbeat_vms);
    uv_mutex_init(&rt->parked_lock);
    pl_list_init(&rt->parked);
    atomic_init(&rt->pending[0], NULL);
    atomic_init(&rt->pending[1], NULL);
    atomic_init(&rt->errors, 0);
    atomic_init(&rt->last_vm_id, 0);
    atomic_init(&rt->interrupted, 0);
    atomic_init(&rt->long_run_actors, 0);
    atomic_init(&rt->serial_L, NULL);
    atomic_init(&rt->lthreads_active, 0);
    atomic_init(&rt->lthreads_stop, 0);
    atomic_init(&rt->nprepared, 0);
    atomic_init(&rt->prepare_queued, 0);
    atomic_init(&rt->serial_sleeping, 0);
    atomic_init(&rt->repeats_hidden, 0);
    atomic_init(&rt->lthreads_run, 0);
    atomic_init(&rt->lthread_states_reused, 0);
    atomic_init(&rt->lthread_reset_collections, 0);
    uv_mutex_init(&rt->lthreads_lock);
    uv_mutex_init(&rt->spare_lock);
    pl_list_init(&rt->lthreads);
    /* -1 (no eventfd): the sleep then ends only at its deadline or a signal */
    rt->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (rt->dist) pl_dist_set_wake_fd(rt->dist, rt->wake_fd);
    pl_vm_init(&rt->main, rt, NULL);
    pl_vm_register(&rt->main);
    pl_graveyard_init(&rt->graveyard);
    rt->game = new_service(rt, &pl_class_datamodel, "game", NULL);
    if (rt->game) {
        rt->game->is_root = 1;
        rt->game->on_script_added = pl_script_added;
        rt->game->on_script_added_ud = rt;
        rt->workspace = new_service(rt, &pl_class_workspace, "Workspace", rt->game);
        rt->runservice = new_service(rt, &pl_class_runservice, "RunService", rt->game);
    }
    int perms = main_perms(rt);
    if (perms != PL_OK || !rt->game || !rt->workspace || !rt->runservice ||
        pl_member_map_init(rt) != PL_OK || pl_sharedtable_init(rt) != PL_OK ||
        pl_remote_init(rt) != PL_OK || pl_sched_init(rt) != PL_OK ||
        pl_vm_ensure_state(&rt->main) != 0) {
        rt->finished = 1; /* nothing to report */
        parlua_free(rt);
        if (perms == PL_EINVAL) errno = EINVAL;
        return NULL;
    }
    return rt;
}

/* The name of a VM's track events: the actor's full name, or "main". */
static char *trace_vm_name(void *ud, const void *subject)
{
    const pl_vm *vm = subject;
    if (vm->kind == PL_VM_LTHREAD) return pl_vm_name((pl_vm *)vm);
    return vm->actor ? pl_instance_full_name(vm->actor) : strdup("main");
}

/* Without --fps (a batch program), the long-run warning is one line at exit. */
static void report_long_runs(pl_runtime *rt)
{
    int actors = atomic_load(&rt->long_run_actors);
    if (!actors) return;
    uint64_t runs = 0, longest = 0;
    for (int i = 1; i <= rt->config.workers; i++)
        runs += rt->threads[i].long_runs;
    char *name = NULL;
    uv_mutex_lock(&rt->vms_lock);
    pl_vm *worst = NULL;
    for (pl_vm *vm = rt->all_vms; vm; vm = vm->all_next)
        if (vm->stats.longest_ns > longest) longest = (worst = vm)->stats.longest_ns;
    if (worst) name = pl_vm_name(worst);
    uv_mutex_unlock(&rt->vms_lock);
    fprintf(stderr,
            "%s: warning: %d actor%s had parallel runs over the %.0f ms budget (%llu run%s; "
            "longest: %s, %.0f ms): in a frame-paced program a long parallel run blocks the "
            "frame; split the work (task.wait() between pieces, or more actors), or pass "
            "--frame-budget 0 in a batch program\n",
            pl_report_name(rt), actors, actors == 1 ? "" : "s", (double)rt->long_run_ns / 1e6,
            (unsigned long long)runs, runs == 1 ? "" : "s", name ? name : "?",
            (double)longest / 1e6);
    free(name);
}

int parlua_finish(parlua_runtime *rt)
{
    if (rt->finished) return PARLUA_OK;
    rt->finished = 1;
    pl_report_repeats(rt);
    pl_warn_suspended(rt);
    report_long_runs(rt);
    if (rt->config.stats) {
        /* In a job the ranks share one stderr: one write keeps each
         * rank's summary in one piece. */
        char *buf = NULL;
        size_t len = 0;
        FILE *f = rt->dist ? open_memstream(&buf, &len) : NULL;
        pl_stats_print(rt, f ? f : stderr);
        pl_remote_stats(rt, f ? f : stderr);
        if (f && fclose(f) == 0) fwrite(buf, 1, len, stderr);
        free(buf);
    }
    if (!rt->trace) return PARLUA_OK;
    uint64_t dropped = 0;
    if (pl_trace_write(rt->trace, trace_vm_name, rt, &dropped) != 0) {
        pl_runtime_set_error(rt, "cannot write trace file '%s': %s", rt->config.trace_path,
                             strerror(errno));
        return PARLUA_ERROR;
    }
    if (dropped)
        fprintf(stderr,
                "%s: the trace file '%s' lacks %llu events: a thread recorded more than %u\n",
                pl_report_name(rt), rt->config.trace_path, (unsigned long long)dropped,
                PL_TRACE_MAX_EVENTS);
    return PARLUA_OK;
}

int parlua_register_class(parlua_runtime *rt, const parlua_class *cls)
{
    if (!rt) return PARLUA_ERROR;
    return pl_host_class_add(rt, cls);
}

void *parlua_instance_data(lua_State *L, int idx, const char *class_name)
{
    return pl_host_instance_data(L, idx, class_name);
}

void parlua_free(parlua_runtime *rt)
{
    if (!rt) return;
    pl_lthread_stop_all(rt); /* before the workers are joined */
    pl_sched_free(rt);
    /* Only now are the workers' trace buffers and stats settled for sure
     * (a host may free a runtime without waiting for a frame's end). */
    if (!rt->finished && parlua_finish(rt) != PARLUA_OK)
        fprintf(stderr, "%s: %s\n", pl_report_name(rt), rt->last_error);
    pl_sched_drop_parked(rt);
    /* Close every Lua state and drop every message: their proxies and
     * arguments release instances. Releases only fill the graveyard, so no
     * VM is freed while we walk the list. */
    for (pl_vm *vm = rt->all_vms; vm; vm = vm->all_next) {
        pl_vm_close(vm);
        pl_mailbox_drop_all(&vm->mailbox);
    }
    pl_lthread_free_vms(rt); /* their records may hold instances: before the graveyard */
    pl_vmpool_free(rt);
    pl_sharedtable_free(rt); /* tables may hold instances: before the graveyard */
    if (rt->runservice) pl_shared_release(&rt->runservice->base);
    if (rt->workspace) pl_shared_release(&rt->workspace->base);
    if (rt->game) pl_shared_release(&rt->game->base);
    /* Each actor VM that ran code holds its Actor; the Actor frees the VM. */
    for (pl_vm *vm = rt->all_vms; vm; vm = vm->all_next) {
        if (vm->holds_actor) {
            vm->holds_actor = 0;
            pl_shared_release(&vm->actor->base);
        }
    }
    while (rt->zombies) { /* killed actor VMs kept for the trace's names */
        pl_vm *vm = rt->zombies;
        rt->zombies = vm->all_next;
        pl_shared_release(&vm->actor->base);
        pl_mailbox_destroy(&vm->mailbox);
        uv_mutex_destroy(&vm->wake_lock);
        pl_perms_free(&vm->perms);
        free(vm);
    }
    pl_graveyard_drain(&rt->graveyard); /* frees the actor VMs, which unlink themselves */
    pl_mailbox_destroy(&rt->main.mailbox);
    uv_mutex_destroy(&rt->main.wake_lock);
    pl_perms_free(&rt->main.perms);
    pl_timerheap_free(&rt->timers);
    uv_mutex_destroy(&rt->timer_lock);
    uv_mutex_destroy(&rt->heartbeat_lock);
    uv_mutex_destroy(&rt->vms_lock);
    uv_mutex_destroy(&rt->parked_lock);
    uv_mutex_destroy(&rt->error_lock);
    uv_mutex_destroy(&rt->lthreads_lock);
    uv_mutex_destroy(&rt->spare_lock);
    if (rt->wake_fd >= 0) close(rt->wake_fd);
    pl_trace_free(rt->trace);
    pl_host_classes_free(rt);
    pl_member_map_free(rt);
    pl_remote_free(rt);
    pl_dist_stop(rt->dist); /* last: it owns the ranked trace path */
    free(rt->threads);
    free(rt);
}

int parlua_run_file(parlua_runtime *rt, const char *path, int nargs)
{
    return pl_script_run_file(rt, path, nargs);
}

int parlua_run_chunk(parlua_runtime *rt, const char *source, const char *name, int nargs)
{
    return pl_script_run_chunk(rt, source, name, nargs);
}

int parlua_run_string(parlua_runtime *rt, const char *source, const char *name)
{
    return pl_script_run_chunk(rt, source, name, 0);
}

/* Under lua_pcall in the main VM: [1] the Actor, [2] the topic (both light
 * userdata), then the arguments: actor:SendMessage(topic, ...), with the
 * same checks, codec and delivery as from Lua. */
static int host_send(lua_State *L)
{
    pl_instance *actor = lua_touserdata(L, 1);
    const char *topic = lua_touserdata(L, 2);
    pl_proxy_push(L, &actor->base);
    lua_replace(L, 1);
    lua_pushstring(L, topic);
    lua_replace(L, 2);
    lua_getfield(L, 1, "SendMessage");
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 0);
    return 0;
}

int parlua_send_message(parlua_runtime *rt, const char *actor_path, const char *topic, int nargs)
{
    lua_State *L = rt->main.L;
    pl_instance *actor = pl_remote_find_path(rt, actor_path, strlen(actor_path));
    if (!actor || !pl_instance_is(actor, &pl_class_actor)) {
        lua_pop(L, nargs);
        pl_runtime_set_error(rt,
                             "parlua_send_message: no Actor at '%s' (give its full name, "
                             "as GetFullName returns it, e.g. Workspace.Worker)",
                             actor_path);
        return PARLUA_ERROR;
    }
    if (!lua_checkstack(L, 4)) {
        lua_pop(L, nargs);
        return PARLUA_NOMEM;
    }
    lua_pushcfunction(L, host_send);
    lua_pushlightuserdata(L, actor);
    lua_pushlightuserdata(L, (void *)topic);
    lua_rotate(L, -(nargs + 3), 3); /* host_send, actor, topic, args... */
    if (lua_pcall(L, nargs + 2, 0, 0) != LUA_OK) {
        pl_runtime_set_error(rt, "parlua_send_message: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return PARLUA_ERROR;
    }
    return PARLUA_OK;
}

lua_State *parlua_main_state(parlua_runtime *rt)
{
    return rt->main.L;
}

const char *parlua_last_error(parlua_runtime *rt)
{
    return rt->last_error;
}

int parlua_error_count(parlua_runtime *rt)
{
    return atomic_load(&rt->errors);
}

int parlua_step(parlua_runtime *rt, double dt)
{
    pl_remote_receive(rt); /* messages from other ranks */
    pl_sched_frame(rt, dt);
    int lthreads = atomic_load(&rt->lthreads_active); /* first: see parlua_run */
    return pl_sched_has_work(rt) || pl_sched_next_timer(rt) >= 0 || lthreads > 0;
}

/* ---- undelivered messages at exit ---- */

typedef struct undelivered {
    size_t count;
    char first[256]; /* quoted: a topic is any Lua string */
} undelivered;

static void count_waiting(void *ud, const char *topic, size_t len, size_t n)
{
    undelivered *u = ud;
    if (u->count == 0) pl_topic_quote(u->first, sizeof u->first, topic, len);
    u->count += n;
}

static void report_undelivered(pl_runtime *rt)
{
    size_t total = 0, actors = 0;
    char example[512] = "";
    uv_mutex_lock(&rt->vms_lock);
    for (pl_vm *vm = rt->all_vms; vm; vm = vm->all_next) {
        undelivered u = {0, ""};
        pl_mailbox_each_waiting(&vm->mailbox, count_waiting, &u);
        if (!u.count) continue;
        if (!actors) {
            char *name = pl_vm_name(vm);
            snprintf(example, sizeof example, "topic \"%s\" of %s", u.first, name ? name : "?");
            free(name);
        }
        total += u.count;
        actors++;
    }
    uv_mutex_unlock(&rt->vms_lock);
    if (total)
        fprintf(stderr,
                "%s: %zu message%s never delivered to %zu actor%s: no callback was bound "
                "(e.g. %s)\n",
                pl_report_name(rt), total, total == 1 ? " was" : "s were", actors,
                actors == 1 ? "" : "s", example);
}

static void interrupt_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    luaL_error(L, "interrupted!");
}

void parlua_interrupt(parlua_runtime *rt)
{
    /* seq_cst store, lock-free: safe in a signal handler; parlua_run reads it
     * between frames and in its sleep. */
    atomic_store(&rt->interrupted, 1);
    pl_sched_wake(rt); /* ends the sleep between frames (a write: async-signal-safe) */
    /* lua_sethook may be called asynchronously (ldebug.c); serial_L is
     * written by this thread only (see pl_rthread_resume): relaxed. */
    lua_State *L = atomic_load_explicit(&rt->serial_L, memory_order_relaxed);
    if (L) lua_sethook(L, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

int parlua_run(parlua_runtime *rt)
{
    double frame_start = pl_now(rt);
    while (!atomic_load(&rt->interrupted)) {
        /* Read before looking for work: an lthread publishes what it did
         * (a message, a woken thread) before it counts itself out. */
        int lthreads = atomic_load(&rt->lthreads_active);
        pl_remote_receive(rt); /* messages from other ranks (and to this one) */
        if (!pl_sched_has_work(rt)) {
            double when = pl_sched_next_timer(rt);
            /* nothing can happen any more; in a distributed job, on any rank */
            if (when < 0 && lthreads == 0 && (!rt->dist || pl_remote_idle(rt))) break;
            if (when < 0 && lthreads == 0) continue;
            if (when < 0 || when > pl_now(rt)) { /* wait for a timer, or the lthreads */
                pl_sched_idle(rt, when, lthreads, 1);
                continue;
            }
        }
        double now = pl_now(rt);
        double dt = now - rt->last_frame_time;
        rt->last_frame_time = now;
        pl_sched_frame(rt, dt);
        if (rt->config.fps > 0) {
            frame_start += 1.0 / rt->config.fps;
            if (frame_start < pl_now(rt)) frame_start = pl_now(rt); /* late: do not catch up */
            /* Until the next frame, timers still fire for lthreads (an
             * actor's thread they make ready waits for that frame). */
            while (!atomic_load(&rt->interrupted) && pl_now(rt) < frame_start) {
                int active = atomic_load(&rt->lthreads_active);
                double when = pl_sched_next_timer(rt);
                pl_sched_idle(rt, when >= 0 && when < frame_start ? when : frame_start, active, 0);
                pl_sched_fire_timers(rt, pl_now(rt));
            }
        }
    }
    if (atomic_load(&rt->interrupted)) return PARLUA_INTERRUPTED; /* messages may still come */
    report_undelivered(rt);
    pl_remote_report(rt);
    pl_lthread_report_unobserved(rt);
    if (pl_park_count(rt) > 0) { /* threads wait on sync objects nobody can release */
        pl_park_report(rt, stderr);
        pl_runtime_set_error(rt, "deadlock: threads wait and nothing else can run");
        return PARLUA_DEADLOCK;
    }
    return atomic_load(&rt->errors) ? PARLUA_ERROR : PARLUA_OK;
}
