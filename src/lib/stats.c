/*
 * Run statistics (--stats): the summary printed at exit and
 * parlua.stats() in Lua, and parlua.actors(), the listing of actors the
 * console shows. docs/observability.md describes every figure.
 *
 * The counters are written without atomics by their owners (a VM's by
 * the thread running it, a thread's by that thread, the frame totals by
 * the serial thread; see sched.c, run_end). They are read here only by the
 * serial thread while no parallel phase runs, when the pool's wait has
 * ordered every owner's writes before: parlua.stats() refuses to run in
 * the parallel phase for that reason, and the summary is printed after the
 * last frame.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/codecache.h"
#include "engine/runtime.h"
#include "engine/sched.h"
#include "lib/lib.h"

enum { KIND_MAIN, KIND_ACTOR, KIND_LTHREAD, NKINDS };
static const char *const kind_names[NKINDS] = {"main", "actor", "lthread"};

typedef struct vm_row {
    char *name; /* "main" or the actor's full name; NULL if out of memory */
    int kind;
    uint64_t busy[2], runs[2], sent, delivered, longest;
    size_t peak, in_use;
} vm_row;

typedef struct kind_mem {
    size_t vms, peak, peak_sum, current;
} kind_mem;

/* What the stats read of a thread's pl_thread_stats. */
typedef struct thread_row {
    uint64_t busy_ns, runs, sent, delivered, long_runs, lthread_ns, lthread_runs, lthread_sent;
} thread_row;

typedef struct snapshot {
    double wall, serial, parallel, sleep;
    uint64_t frames, parallel_phases;
    int nthreads; /* 1 + workers */
    thread_row *threads;
    uint64_t sent, delivered, long_runs;
    uint64_t lthreads, lthreads_reused, lthread_collections; /* runtime.h's counters */
    vm_row *vms;
    size_t nvms;
    kind_mem mem[NKINDS];
    long rss_peak_kb;
    pl_codecache_stats scripts; /* the process's, not only this runtime's */
} snapshot;

static int by_time(const void *a, const void *b)
{
    const vm_row *x = a, *y = b;
    uint64_t tx = x->busy[0] + x->busy[1], ty = y->busy[0] + y->busy[1];
    return tx < ty ? 1 : tx > ty ? -1 : 0;
}

static void snapshot_free(snapshot *s)
{
    for (size_t i = 0; i < s->nvms; i++)
        free(s->vms[i].name);
    free(s->vms);
    free(s->threads);
}

/* Fills s; returns 0, or -1 when out of memory (s freed). */
static int collect(pl_runtime *rt, snapshot *s)
{
    memset(s, 0, sizeof *s);
    s->wall = pl_now(rt);
    s->serial = (double)rt->serial_ns / 1e9;
    s->parallel = (double)rt->parallel_ns / 1e9;
    s->sleep = (double)rt->sleep_ns / 1e9;
    s->frames = rt->frame;
    s->parallel_phases = rt->parallel_phases;
    s->nthreads = 1 + rt->config.workers;
    s->threads = malloc(sizeof(thread_row) * (size_t)s->nthreads);
    if (!s->threads) return -1;
    for (int i = 0; i < s->nthreads; i++) {
        const pl_thread_stats *ts = &rt->threads[i];
        thread_row *t = &s->threads[i];
        /* the plain fields: written in the phases only, read here between */
        t->busy_ns = ts->busy_ns;
        t->runs = ts->runs;
        t->sent = ts->sent;
        t->delivered = ts->delivered;
        t->long_runs = ts->long_runs;
        /* relaxed: counters only (an lthread may be running now) */
        t->lthread_ns = atomic_load_explicit(&ts->lthread_ns, memory_order_relaxed);
        t->lthread_runs = atomic_load_explicit(&ts->lthread_runs, memory_order_relaxed);
        t->lthread_sent = atomic_load_explicit(&ts->lthread_sent, memory_order_relaxed);
        s->sent += t->lthread_sent; /* the VM rows below skip lthreads */
        s->long_runs += t->long_runs;
    }
    /* relaxed: counters only (an lthread may end meanwhile) */
    s->lthreads = atomic_load_explicit(&rt->lthreads_run, memory_order_relaxed);
    s->lthreads_reused = atomic_load_explicit(&rt->lthread_states_reused, memory_order_relaxed);
    s->lthread_collections =
        atomic_load_explicit(&rt->lthread_reset_collections, memory_order_relaxed);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) s->rss_peak_kb = ru.ru_maxrss; /* KB on Linux */
    pl_codecache_get_stats(&s->scripts);

    int failed = 0;
    uv_mutex_lock(&rt->vms_lock); /* no Lua below, only copies */
    size_t n = 0;
    for (pl_vm *vm = rt->all_vms; vm; vm = vm->all_next)
        n++;
    s->vms = malloc(sizeof(vm_row) * (n ? n : 1));
    if (!s->vms) failed = 1;
    for (pl_vm *vm = rt->all_vms; vm && !failed; vm = vm->all_next) {
        /* an lthread's worker writes its fields now (its state too): first */
        if (pl_vm_is_lthread(vm)) continue;
        if (!vm->L && !vm->stats.runs[0] && !vm->stats.runs[1]) continue; /* never ran code */
        vm_row *r = &s->vms[s->nvms++];
        r->kind = vm->actor ? KIND_ACTOR : KIND_MAIN;
        r->name = vm->actor ? pl_instance_full_name(vm->actor) : strdup("main");
        memcpy(r->busy, vm->stats.busy_ns, sizeof r->busy);
        memcpy(r->runs, vm->stats.runs, sizeof r->runs);
        r->sent = vm->stats.sent;
        r->delivered = vm->stats.delivered;
        r->longest = vm->stats.longest_ns;
        r->peak = vm->heap.peak;
        r->in_use = vm->heap.in_use;
    }
    uv_mutex_unlock(&rt->vms_lock);
    if (failed) {
        snapshot_free(s);
        return -1;
    }
    for (size_t i = 0; i < s->nvms; i++) {
        vm_row *r = &s->vms[i];
        kind_mem *k = &s->mem[r->kind];
        k->vms++;
        if (r->peak > k->peak) k->peak = r->peak;
        k->peak_sum += r->peak;
        k->current += r->in_use;
        s->sent += r->sent;
        s->delivered += r->delivered;
    }
    qsort(s->vms, s->nvms, sizeof *s->vms, by_time);
    return 0;
}

/* ---- the summary ---- */

static double pct(double part, double whole)
{
    return whole > 0 ? 100.0 * part / whole : 0.0;
}

/* Bytes in a short human form: "512 B", "12.3 KB", "4.5 MB". */
static const char *human(char *buf, size_t size, double bytes)
{
    if (bytes < 1024)
        snprintf(buf, size, "%.0f B", bytes);
    else if (bytes < 1024 * 1024)
        snprintf(buf, size, "%.1f KB", bytes / 1024);
    else
        snprintf(buf, size, "%.1f MB", bytes / (1024 * 1024));
    return buf;
}

#define TOP_VMS 10

/* The summary of a snapshot, under a title line. */
static void print_summary(pl_runtime *rt, const snapshot *snap, const char *title, FILE *f)
{
    snapshot s = *snap; /* a shallow copy: the arrays stay the caller's */
    char b1[32], b2[32], b3[32];
    double other = s.wall - s.serial - s.parallel - s.sleep;
    if (other < 0) other = 0;
    fprintf(f, "%s\n", title);
    fprintf(f, "  wall time         %9.3f s  %llu frames, %llu with a parallel phase\n", s.wall,
            (unsigned long long)s.frames, (unsigned long long)s.parallel_phases);
    fprintf(f, "  serial phases     %9.3f s  %5.1f%%\n", s.serial, pct(s.serial, s.wall));
    fprintf(f, "  parallel phases   %9.3f s  %5.1f%%\n", s.parallel, pct(s.parallel, s.wall));
    fprintf(f, "  sleeping          %9.3f s  %5.1f%%  (timers, --fps)\n", s.sleep,
            pct(s.sleep, s.wall));
    fprintf(f, "  outside frames    %9.3f s  %5.1f%%  (start-up, the main script's first run)\n",
            other, pct(other, s.wall));
    fprintf(f, "  threads           busy         utilisation (time running VMs)  runs\n");
    fprintf(f, "    serial thread   %9.3f s  %5.1f%% of wall time             %llu\n",
            (double)s.threads[0].busy_ns / 1e9, pct((double)s.threads[0].busy_ns / 1e9, s.wall),
            (unsigned long long)s.threads[0].runs);
    for (int i = 1; i < s.nthreads; i++) {
        double busy = (double)s.threads[i].busy_ns / 1e9;
        fprintf(f, "    worker %-8d %9.3f s  %5.1f%% of parallel phases      %llu", i, busy,
                pct(busy, s.parallel), (unsigned long long)s.threads[i].runs);
        if (s.threads[i].lthread_runs) /* apart: lthreads run outside the phases too */
            fprintf(f, "  and lthreads %.3f s, %llu runs", (double)s.threads[i].lthread_ns / 1e9,
                    (unsigned long long)s.threads[i].lthread_runs);
        fputc('\n', f);
    }
    fprintf(f, "  messages          %llu sent, %llu delivered\n", (unsigned long long)s.sent,
            (unsigned long long)s.delivered);
    fprintf(f,
            "  lthreads run      %llu (%llu on a reused state; %llu full collections at resets)\n",
            (unsigned long long)s.lthreads, (unsigned long long)s.lthreads_reused,
            (unsigned long long)s.lthread_collections);
    fprintf(f, "  compiled scripts  %llu compiled, %llu loaded compiled; %zu kept, %s of %s\n",
            (unsigned long long)s.scripts.misses, (unsigned long long)s.scripts.hits,
            s.scripts.entries, human(b1, sizeof b1, (double)s.scripts.bytes),
            human(b2, sizeof b2, (double)s.scripts.limit));
    if (rt->long_run_ns)
        fprintf(f, "  long runs         %llu parallel runs over the %.0f ms budget\n",
                (unsigned long long)s.long_runs, (double)rt->long_run_ns / 1e6);
    size_t top = s.nvms < TOP_VMS ? s.nvms : TOP_VMS;
    fprintf(f, "  top VMs by time running (%zu of %zu)\n", top, s.nvms);
    fprintf(f, "    %-28s %9s %9s %9s %7s %8s %9s %9s %9s\n", "VM", "time s", "serial s",
            "parallel", "runs", "sent", "delivered", "longest", "peak mem");
    /* longest: the longest parallel run */
    for (size_t i = 0; i < top; i++) {
        vm_row *r = &s.vms[i];
        const char *name = r->name ? r->name : "?";
        size_t len = strlen(name);
        if (r->runs[1])
            snprintf(b2, sizeof b2, "%.1f ms", (double)r->longest / 1e6);
        else
            snprintf(b2, sizeof b2, "-"); /* no parallel run */
        fprintf(f, "    %-28s %9.3f %9.3f %9.3f %7llu %8llu %9llu %9s %9s\n",
                len > 28 ? name + len - 28 : name, (double)(r->busy[0] + r->busy[1]) / 1e9,
                (double)r->busy[0] / 1e9, (double)r->busy[1] / 1e9,
                (unsigned long long)(r->runs[0] + r->runs[1]), (unsigned long long)r->sent,
                (unsigned long long)r->delivered, b2, human(b1, sizeof b1, (double)r->peak));
    }
    fprintf(f, "  peak memory by VM type (Lua heaps)\n");
    for (int k = 0; k < NKINDS; k++) {
        kind_mem *m = &s.mem[k];
        fprintf(f, "    %-8s %6zu VM%s", kind_names[k], m->vms, m->vms == 1 ? " " : "s");
        if (m->vms)
            fprintf(f, "  largest peak %s, sum of peaks %s, now %s",
                    human(b1, sizeof b1, (double)m->peak),
                    human(b2, sizeof b2, (double)m->peak_sum),
                    human(b3, sizeof b3, (double)m->current));
        fputc('\n', f);
    }
    if (!rt->precise_clock)
        fprintf(f, "  (times from the coarse clock: see docs/observability.md)\n");
    if (s.rss_peak_kb)
        fprintf(f, "  process peak RSS  %s\n", human(b1, sizeof b1, (double)s.rss_peak_kb * 1024));
    fflush(f);
}

void pl_stats_print(pl_runtime *rt, FILE *f)
{
    snapshot s;
    if (collect(rt, &s) != 0) {
        fprintf(f, "parlua --stats: not enough memory for the summary\n");
        return;
    }
    char title[64]; /* in a job, the rank: "parlua[rank 1] --stats" */
    snprintf(title, sizeof title, "%s --stats", pl_report_name(rt));
    print_summary(rt, &s, title, f);
    snapshot_free(&s);
}

/* ---- parlua.stats() ---- */

static int text_of(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    return 1;
}

static void set_number(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void set_integer(lua_State *L, const char *k, uint64_t v)
{
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, k);
}

/* A metatable whose __tostring gives text (a string at the top, popped),
 * so that a result reads well at the console and in print. */
static void set_text(lua_State *L)
{
    lua_createtable(L, 0, 1);
    lua_insert(L, -2);
    lua_pushcclosure(L, text_of, 1);
    lua_setfield(L, -2, "__tostring");
    lua_setmetatable(L, -2);
}

static int stats_push(lua_State *L)
{
    snapshot *s = lua_touserdata(L, 1);
    const char *text = lua_touserdata(L, 2);
    pl_runtime *rt = pl_vm_of(L)->runtime;
    lua_createtable(L, 0, 16);
    set_integer(L, "frames", s->frames);
    set_integer(L, "parallel_phases", s->parallel_phases);
    set_number(L, "wall_time", s->wall);
    set_number(L, "serial_time", s->serial);
    set_number(L, "parallel_time", s->parallel);
    set_number(L, "sleep_time", s->sleep);
    set_number(L, "serial_busy", (double)s->threads[0].busy_ns / 1e9);
    lua_createtable(L, s->nthreads - 1, 0);
    for (int i = 1; i < s->nthreads; i++) {
        double busy = (double)s->threads[i].busy_ns / 1e9;
        lua_createtable(L, 0, 5);
        set_number(L, "busy", busy);
        set_number(L, "utilisation", s->parallel > 0 ? busy / s->parallel : 0);
        set_integer(L, "runs", s->threads[i].runs);
        set_number(L, "lthread_time", (double)s->threads[i].lthread_ns / 1e9);
        set_integer(L, "lthread_runs", s->threads[i].lthread_runs);
        lua_rawseti(L, -2, i);
    }
    lua_setfield(L, -2, "workers");
    set_integer(L, "messages_sent", s->sent);
    set_integer(L, "messages_delivered", s->delivered);
    set_integer(L, "lthreads", s->lthreads);
    set_integer(L, "lthread_states_reused", s->lthreads_reused);
    set_integer(L, "lthread_reset_collections", s->lthread_collections);
    set_integer(L, "long_runs", s->long_runs);
    set_number(L, "long_run_budget", (double)rt->long_run_ns / 1e9);
    lua_pushboolean(L, rt->precise_clock);
    lua_setfield(L, -2, "precise_times");
    lua_createtable(L, (int)s->nvms, 0);
    for (size_t i = 0; i < s->nvms; i++) {
        vm_row *r = &s->vms[i];
        lua_createtable(L, 0, 12);
        lua_pushstring(L, r->name ? r->name : "?");
        lua_setfield(L, -2, "name");
        lua_pushstring(L, kind_names[r->kind]);
        lua_setfield(L, -2, "kind");
        set_number(L, "time", (double)(r->busy[0] + r->busy[1]) / 1e9);
        set_number(L, "serial_time", (double)r->busy[0] / 1e9);
        set_number(L, "parallel_time", (double)r->busy[1] / 1e9);
        set_integer(L, "runs", r->runs[0] + r->runs[1]);
        set_integer(L, "sent", r->sent);
        set_integer(L, "delivered", r->delivered);
        set_number(L, "longest_run", (double)r->longest / 1e9);
        set_integer(L, "peak_memory", r->peak);
        set_integer(L, "memory", r->in_use);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "vms");
    lua_createtable(L, 0, NKINDS);
    for (int k = 0; k < NKINDS; k++) {
        lua_createtable(L, 0, 4);
        set_integer(L, "vms", s->mem[k].vms);
        set_integer(L, "peak", s->mem[k].peak);
        set_integer(L, "peak_sum", s->mem[k].peak_sum);
        set_integer(L, "current", s->mem[k].current);
        lua_setfield(L, -2, kind_names[k]);
    }
    lua_setfield(L, -2, "memory");
    set_integer(L, "rss_peak", (uint64_t)s->rss_peak_kb * 1024);
    lua_createtable(L, 0, 6);
    set_integer(L, "compiled", s->scripts.misses);
    set_integer(L, "loaded", s->scripts.hits);
    set_integer(L, "kept", s->scripts.entries);
    set_integer(L, "bytes", s->scripts.bytes);
    set_integer(L, "limit", s->scripts.limit);
    set_integer(L, "dropped", s->scripts.dropped);
    lua_setfield(L, -2, "compiled_scripts");
    if (text) {
        size_t len = strlen(text);
        lua_pushlstring(L, text, len && text[len - 1] == '\n' ? len - 1 : len); /* print adds one */
        set_text(L);
    }
    return 1;
}

static int parlua_stats(lua_State *L)
{
    pl_vm *vm = pl_vm_of(L);
    if (vm->phase == PL_PARALLEL)
        return luaL_error(L, "Function parlua.stats is not safe to call in parallel (call "
                             "task.synchronize() first)");
    snapshot s;
    if (collect(vm->runtime, &s) != 0) return luaL_error(L, "not enough memory");
    /* Build the table under pcall so that the snapshot is freed even when
     * Lua runs out of memory. */
    /* the summary --stats prints, as the table's __tostring (NULL: no memory) */
    char *text = NULL;
    size_t len;
    FILE *mem = open_memstream(&text, &len);
    if (mem) {
        print_summary(vm->runtime, &s, "parlua.stats()", mem);
        fclose(mem);
    }
    lua_pushcfunction(L, stats_push);
    lua_pushlightuserdata(L, &s);
    lua_pushlightuserdata(L, text);
    int status = lua_pcall(L, 2, 1, 0);
    snapshot_free(&s);
    free(text);
    if (status != LUA_OK) return lua_error(L);
    return 1;
}

/* ---- parlua.actors() ----
 *
 * Every actor VM with its state, for the console. Called on the serial
 * thread in the serial phase (refused elsewhere), where no actor VM runs
 * and none is freed (the reaper and the graveyard run on this thread,
 * between phases): the VMs listed under vms_lock stay valid after it is
 * released, and each figure is then read under its own lock, one lock at
 * a time. */

typedef struct actor_row {
    char *name; /* full name; NULL if out of memory */
    const char *state;
    size_t ready;   /* messages queued for a phase */
    size_t waiting; /* messages waiting for a binding */
    size_t timers;  /* its threads in the timer heap (task.wait, task.delay) */
    int heartbeat;  /* Heartbeat connections */
    size_t memory;  /* Lua heap in use */
    uint64_t runs;
} actor_row;

typedef struct actor_list {
    actor_row *rows;
    size_t n;
} actor_list;

static void actor_list_free(actor_list *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->rows[i].name);
    free(a->rows);
}

static void actor_row_fill(pl_vm *vm, pl_vm *self, actor_row *r)
{
    pl_runtime *rt = vm->runtime;
    r->name = pl_instance_full_name(vm->actor);
    r->ready =
        pl_mailbox_ready(&vm->mailbox, PL_SERIAL) + pl_mailbox_ready(&vm->mailbox, PL_PARALLEL);
    uv_mutex_lock(&vm->mailbox.lock);
    r->waiting = vm->mailbox.nwaiting;
    uv_mutex_unlock(&vm->mailbox.lock);
    uv_mutex_lock(&rt->timer_lock);
    r->timers = vm->ntimers;
    uv_mutex_unlock(&rt->timer_lock);
    uv_mutex_lock(&rt->heartbeat_lock);
    r->heartbeat = vm->heartbeat_count[0] + vm->heartbeat_count[1];
    uv_mutex_unlock(&rt->heartbeat_lock);
    r->memory = vm->heap.in_use;
    r->runs = vm->stats.runs[0] + vm->stats.runs[1];
    /* threads ready to run, or woken from a sync wait (Heartbeat handlers
     * due this frame do not count: a Heartbeat actor is "waiting") */
    int ready = vm->ready[PL_SERIAL].head || vm->ready[PL_PARALLEL].head ||
                atomic_load_explicit(&vm->nwoken, memory_order_relaxed) > 0;
    if (pl_vm_dead(vm))
        r->state = "destroyed";
    else if (vm == self)
        r->state = "running";
    else if (!vm->L)
        r->state = "not started";
    else if (ready || r->ready)
        r->state = "scheduled"; /* runs in the next phase */
    else if (r->timers || r->heartbeat)
        r->state = "waiting"; /* for a timer or the next frame's Heartbeat */
    else
        r->state = "idle"; /* until a message comes */
}

/* Returns 0, or -1 when out of memory. */
static int collect_actors(pl_runtime *rt, pl_vm *self, actor_list *a)
{
    a->n = 0;
    uv_mutex_lock(&rt->vms_lock); /* no Lua below */
    size_t n = 0;
    for (pl_vm *vm = rt->all_vms; vm; vm = vm->all_next)
        n += vm->actor && !pl_vm_is_lthread(vm);
    pl_vm **vms = malloc(sizeof *vms * (n ? n : 1));
    if (vms) {
        n = 0;
        for (pl_vm *vm = rt->all_vms; vm; vm = vm->all_next)
            if (vm->actor && !pl_vm_is_lthread(vm)) vms[n++] = vm;
    }
    uv_mutex_unlock(&rt->vms_lock);
    a->rows = vms ? calloc(n ? n : 1, sizeof *a->rows) : NULL;
    if (!a->rows) {
        free(vms);
        return -1;
    }
    for (size_t i = n; i-- > 0;) /* the list is newest first: oldest first here */
        actor_row_fill(vms[i], self, &a->rows[a->n++]);
    free(vms);
    return 0;
}

/* The listing parlua.actors() prints as; NULL when out of memory. */
static char *actors_text(const actor_list *a)
{
    char *text = NULL;
    size_t len;
    FILE *f = open_memstream(&text, &len);
    if (!f) return NULL;
    char mem[32];
    if (!a->n) fprintf(f, "no actors");
    if (a->n)
        fprintf(f, "%-30s %-11s %8s %8s %7s %9s %10s %8s", "actor", "state", "messages", "unbound",
                "timers", "heartbeat", "memory", "runs");
    for (size_t i = 0; i < a->n; i++) {
        const actor_row *r = &a->rows[i];
        const char *name = r->name ? r->name : "?";
        size_t nlen = strlen(name);
        fprintf(f, "\n%-30s %-11s %8zu %8zu %7zu %9d %10s %8llu",
                nlen > 30 ? name + nlen - 30 : name, r->state, r->ready, r->waiting, r->timers,
                r->heartbeat, human(mem, sizeof mem, (double)r->memory),
                (unsigned long long)r->runs);
    }
    fclose(f);
    return text;
}

static int actors_push(lua_State *L)
{
    const actor_list *a = lua_touserdata(L, 1);
    const char *text = lua_touserdata(L, 2);
    lua_createtable(L, (int)a->n, 0);
    for (size_t i = 0; i < a->n; i++) {
        const actor_row *r = &a->rows[i];
        lua_createtable(L, 0, 8);
        lua_pushstring(L, r->name ? r->name : "?");
        lua_setfield(L, -2, "name");
        lua_pushstring(L, r->state);
        lua_setfield(L, -2, "state");
        set_integer(L, "messages", r->ready);
        set_integer(L, "unbound", r->waiting);
        set_integer(L, "timers", r->timers);
        set_integer(L, "heartbeat", (uint64_t)r->heartbeat);
        set_integer(L, "memory", r->memory);
        set_integer(L, "runs", r->runs);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    if (text) {
        lua_pushstring(L, text);
        set_text(L);
    }
    return 1;
}

static int parlua_actors(lua_State *L)
{
    pl_vm *vm = pl_vm_of(L);
    if (vm->phase == PL_PARALLEL || pl_vm_is_lthread(vm))
        return luaL_error(L, "Function parlua.actors is not safe to call in parallel (call "
                             "task.synchronize() first)");
    actor_list a;
    if (collect_actors(vm->runtime, vm, &a) != 0) return luaL_error(L, "not enough memory");
    char *text = actors_text(&a);
    /* under pcall: the list is freed even when Lua runs out of memory */
    lua_pushcfunction(L, actors_push);
    lua_pushlightuserdata(L, &a);
    lua_pushlightuserdata(L, text);
    int status = lua_pcall(L, 2, 1, 0);
    actor_list_free(&a);
    free(text);
    if (status != LUA_OK) return lua_error(L);
    return 1;
}
void pl_stats_add_functions(lua_State *L, int idx)
{
    lua_pushcfunction(L, parlua_stats);
    lua_setfield(L, idx, "stats");
    lua_pushcfunction(L, parlua_actors);
    lua_setfield(L, idx, "actors");
}
