/*
 * The runtime through its public API (include/parlua.h), as a host program
 * such as a game engine drives it: create and free, run a string or a file,
 * step frames itself, read errors. Every test frees what it made, so the
 * AddressSanitizer build checks for leaks too.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <lauxlib.h>

#include "parlua.h"

static parlua_runtime *new_runtime(int workers)
{
    parlua_config cfg;
    parlua_config_init(&cfg);
    cfg.workers = workers;
    cfg.quiet = 1; /* errors are checked through the API, not stderr */
    parlua_runtime *rt = parlua_new(&cfg);
    assert_non_null(rt);
    return rt;
}

/* The value of global `name` in the main VM, as an integer. */
static lua_Integer global_int(parlua_runtime *rt, const char *name)
{
    lua_State *L = parlua_main_state(rt);
    lua_getglobal(L, name);
    lua_Integer v = lua_tointeger(L, -1);
    lua_pop(L, 1);
    return v;
}

/* A config beyond the limits fails with EINVAL instead of starting a
 * million threads or a frame loop that never paces; the limit itself works. */
static void bad_config_is_refused(void **state)
{
    (void)state;
    parlua_config cfg;
    parlua_config_init(&cfg);
    cfg.workers = PARLUA_MAX_WORKERS + 1;
    errno = 0;
    assert_null(parlua_new(&cfg));
    assert_int_equal(errno, EINVAL);
    cfg.workers = 1000000;
    assert_null(parlua_new(&cfg));
    cfg.workers = 1;
    cfg.fps = -1;
    errno = 0;
    assert_null(parlua_new(&cfg));
    assert_int_equal(errno, EINVAL);
    cfg.fps = 0;
    parlua_runtime *rt = parlua_new(&cfg);
    assert_non_null(rt);
    parlua_free(rt);
}

static void create_and_free_many(void **state)
{
    for (int i = 0; i < 50; i++)
        parlua_free(new_runtime(1 + i % 4));
}

/* A host stepping frames itself sees each frame's work happen in order,
 * and parlua_step says when nothing is left. */
static void host_steps_frames(void **state)
{
    parlua_runtime *rt = new_runtime(2);
    assert_int_equal(
        parlua_run_string(rt,
                          "n = 0\n"
                          "task.defer(function() n = n + 1 task.wait() n = n + 10 end)\n",
                          "=setup"),
        PARLUA_OK);
    assert_int_equal(global_int(rt, "n"), 0); /* nothing ran before a frame */
    assert_int_equal(parlua_step(rt, 1.0 / 60), 1);
    assert_int_equal(global_int(rt, "n"), 1); /* the deferred thread, up to its wait */
    int more = parlua_step(rt, 1.0 / 60);
    assert_int_equal(global_int(rt, "n"), 11); /* task.wait() resumed a frame later */
    assert_int_equal(more, 0);
    assert_int_equal(parlua_error_count(rt), 0);
    parlua_free(rt);
}

/* Heartbeat handlers get the dt the host passes to parlua_step. */
static void heartbeat_gets_host_dt(void **state)
{
    parlua_runtime *rt = new_runtime(1);
    assert_int_equal(
        parlua_run_string(rt,
                          "dt_ms = 0\n"
                          "local c\n"
                          "c = game:GetService('RunService').Heartbeat:Connect(function(dt)\n"
                          "  dt_ms = math.floor(dt * 1000 + 0.5) c:Disconnect()\n"
                          "end)\n",
                          "=hb"),
        PARLUA_OK);
    parlua_step(rt, 0.25);
    assert_int_equal(global_int(rt, "dt_ms"), 250);
    assert_int_equal(parlua_step(rt, 0.25), 0); /* disconnected: idle */
    parlua_free(rt);
}

/* Actors run their parallel work during parlua_step, on the workers. */
static void actors_run_in_parallel_phase(void **state)
{
    parlua_runtime *rt = new_runtime(2);
    assert_int_equal(
        parlua_run_string(
            rt,
            "done = 0\n"
            "for i = 1, 8 do\n"
            "  local a = Instance.new('Actor')\n"
            "  local s = Instance.new('Script')\n"
            "  s.Source = [[script:GetActor():BindToMessageParallel('go', function(x)\n"
            "    assert(parlua.phase() == 'parallel')\n"
            "    task.synchronize()\n"
            "    workspace.Sink:SendMessage('done', x)\n"
            "  end)]]\n"
            "  s.Parent = a\n"
            "  a.Parent = workspace\n"
            "  a:SendMessage('go', i)\n"
            "end\n"
            "local sink = Instance.new('Actor')\n"
            "sink.Name = 'Sink'\n"
            "local s = Instance.new('Script')\n"
            "s.Source = [[local sum, c = 0\n"
            "  c = script:GetActor():BindToMessage('done', function(x)\n"
            "    sum = sum + x\n"
            "    if sum == 36 then c:Disconnect() end\n"
            "  end)]]\n"
            "s.Parent = sink\n"
            "sink.Parent = workspace\n",
            "=actors"),
        PARLUA_OK);
    int frames = 0;
    while (parlua_step(rt, 0) && frames < 100)
        frames++;
    assert_true(frames < 100); /* it ends by itself */
    assert_int_equal(parlua_error_count(rt), 0);
    parlua_free(rt);
}

/* cfg.on_exit: os.exit calls it with the status before the process ends,
 * from the serial thread and from a worker in the parallel phase. In a
 * child process, which os.exit ends. */
static int exit_pipe = -1;

static void on_exit_hook(int status, void *ud)
{
    char line[32];
    int n = snprintf(line, sizeof line, "%s %d\n", (const char *)ud, status);
    if (write(exit_pipe, line, (size_t)n) != n) _exit(99);
}

static void os_exit_calls_on_exit(void **state)
{
    static const char *const scripts[] = {
        "os.exit(5)",
        "local a = Instance.new('Actor')\n"
        "local s = Instance.new('Script')\n"
        "s.Source = [[script:GetActor():BindToMessageParallel('go', function()\n"
        "  assert(parlua.phase() == 'parallel'); os.exit(6) end)]]\n"
        "s.Parent = a; a.Parent = workspace; a:SendMessage('go')\n",
    };
    for (int i = 0; i < 2; i++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            exit_pipe = fds[1];
            parlua_config cfg;
            parlua_config_init(&cfg);
            cfg.workers = 2;
            cfg.on_exit = on_exit_hook;
            cfg.on_exit_ud = "exiting";
            parlua_runtime *rt = parlua_new(&cfg);
            if (!rt || parlua_run_string(rt, scripts[i], "=exit") != PARLUA_OK) _exit(98);
            while (parlua_step(rt, 0)) {
            }
            _exit(97); /* os.exit did not end the process */
        }
        close(fds[1]);
        char buf[64] = "";
        ssize_t n = read(fds[0], buf, sizeof buf - 1);
        close(fds[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 5 + i);
        assert_true(n > 0);
        assert_string_equal(buf, i == 0 ? "exiting 5\n" : "exiting 6\n");
    }
}

static void errors_are_counted_and_kept(void **state)
{
    parlua_runtime *rt = new_runtime(1);
    assert_int_equal(parlua_run_string(rt, "task.defer(error, 'boom in a thread')", "=err"),
                     PARLUA_OK);
    assert_int_equal(parlua_run(rt), PARLUA_ERROR);
    assert_int_equal(parlua_error_count(rt), 1);
    assert_non_null(strstr(parlua_last_error(rt), "boom in a thread"));
    /* a load error is the caller's: reported, not counted as a thread's */
    assert_int_equal(parlua_run_string(rt, "this is not lua", "=bad"), PARLUA_ERROR);
    assert_non_null(strstr(parlua_last_error(rt), "bad:1:"));
    assert_int_equal(parlua_error_count(rt), 1);
    parlua_free(rt);
}

static void run_file_passes_arguments(void **state)
{
    char path[] = "/tmp/parlua_test_runtime_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *src = "local a, b = ...\nresult = a * b + #script.Name\n";
    assert_int_equal(write(fd, src, strlen(src)), (ssize_t)strlen(src));
    close(fd);

    parlua_runtime *rt = new_runtime(1);
    lua_State *L = parlua_main_state(rt);
    lua_pushinteger(L, 6);
    lua_pushinteger(L, 7);
    assert_int_equal(parlua_run_file(rt, path, 2), PARLUA_OK);
    assert_int_equal(global_int(rt, "result"), 42 + (lua_Integer)strlen(strrchr(path, '/') + 1));
    assert_int_equal(lua_gettop(L), 0); /* the arguments were taken */
    assert_int_equal(parlua_run(rt), PARLUA_OK);
    unlink(path);

    assert_int_equal(parlua_run_file(rt, "/nonexistent/script.lua", 0), PARLUA_ERROR);
    assert_non_null(strstr(parlua_last_error(rt), "cannot open"));
    parlua_free(rt);
}

/* An uncaught error in the first run of a string or file is an error of
 * the call (include/parlua.h): PARLUA_ERROR, the message in last_error,
 * counted once; the runtime carries on; the next call starts clean. */
static void first_run_error_is_returned(void **state)
{
    parlua_runtime *rt = new_runtime(1);
    assert_int_equal(parlua_run_string(rt, "reached = 1 error('boom in the first run')", "=e"),
                     PARLUA_ERROR);
    assert_non_null(strstr(parlua_last_error(rt), "e:1: boom in the first run"));
    assert_int_equal(parlua_error_count(rt), 1);
    assert_int_equal(global_int(rt, "reached"), 1);
    /* an error after the first run is the runtime's, not the call's */
    assert_int_equal(parlua_run_string(rt, "task.defer(error, 'later')", "=later"), PARLUA_OK);
    assert_int_equal(parlua_run(rt), PARLUA_ERROR);
    assert_int_equal(parlua_error_count(rt), 2);

    /* a script it starts that fails to load is that script's error, not the run's */
    assert_int_equal(parlua_run_string(rt,
                                       "local s = Instance.new('Script')\n"
                                       "s.Source = 'not lua'\n"
                                       "s.Parent = workspace\n",
                                       "=starts"),
                     PARLUA_OK);
    assert_int_equal(parlua_error_count(rt), 3);

    char path[] = "/tmp/parlua_test_runtime_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *src = "local a = ...\nerror('file says ' .. a)\n";
    assert_int_equal(write(fd, src, strlen(src)), (ssize_t)strlen(src));
    close(fd);
    lua_State *L = parlua_main_state(rt);
    lua_pushliteral(L, "hi");
    assert_int_equal(parlua_run_file(rt, path, 1), PARLUA_ERROR);
    unlink(path);
    assert_non_null(strstr(parlua_last_error(rt), ":2: file says hi"));
    assert_int_equal(parlua_error_count(rt), 4);
    assert_int_equal(lua_gettop(L), 0);
    parlua_free(rt);
}

/* parlua_run_chunk passes values by value, as `...`. */
static void run_chunk_passes_arguments(void **state)
{
    parlua_runtime *rt = new_runtime(1);
    lua_State *L = parlua_main_state(rt);
    lua_pushliteral(L, "a \"quoted\" ]] name");
    lua_pushinteger(L, 5);
    assert_int_equal(parlua_run_chunk(rt, "local k, v = ... _G[k] = v", "=chunk", 2), PARLUA_OK);
    assert_int_equal(lua_gettop(L), 0);
    assert_int_equal(global_int(rt, "a \"quoted\" ]] name"), 5);
    lua_pushinteger(L, 1);
    assert_int_equal(parlua_run_chunk(rt, "local x = ... error(x + 1)", "=chunk", 1), PARLUA_ERROR);
    assert_int_equal(lua_gettop(L), 0);
    lua_pushinteger(L, 1);
    assert_int_equal(parlua_run_chunk(rt, "not lua", "=bad", 1), PARLUA_ERROR);
    assert_int_equal(lua_gettop(L), 0);
    parlua_free(rt);
}

/* Freeing a runtime with work still pending (parked threads, timers,
 * messages waiting for bindings, actors that never ran) leaks nothing. */
static void free_with_work_pending(void **state)
{
    parlua_runtime *rt = new_runtime(2);
    assert_int_equal(parlua_run_string(rt,
                                       "task.delay(100, print, 'never')\n"
                                       "task.defer(function() task.wait(100) end)\n"
                                       "local a = Instance.new('Actor')\n"
                                       "a:SendMessage('t', {1, 2, {3}}, a)\n"
                                       "local b = Instance.new('Actor')\n"
                                       "local s = Instance.new('Script')\n"
                                       "s.Source = 'task.desynchronize() task.wait(100)'\n"
                                       "s.Parent = b\n"
                                       "b.Parent = workspace\n",
                                       "=pending"),
                     PARLUA_OK);
    parlua_step(rt, 0);
    parlua_step(rt, 0);
    assert_int_equal(parlua_error_count(rt), 0);
    parlua_free(rt);
}

/* The header's version and statuses; a configuration from a host built
 * against an older, shorter parlua_config keeps the defaults of the fields
 * it did not know; one never filled by parlua_config_init is refused. */
static void version_statuses_and_config_growth(void **state)
{
    (void)state;
    assert_int_equal(parlua_version(), PARLUA_VERSION_NUM);
    assert_true(PARLUA_VERSION_NUM >= 100);
    assert_string_equal(parlua_strerror(PARLUA_NOMEM), "out of memory");
    assert_string_equal(parlua_strerror(PARLUA_DEADLOCK),
                        "threads wait on sync objects and nothing else can run");
    assert_string_equal(parlua_strerror(-77), "unknown status");

    parlua_config cfg;
    parlua_config_init(&cfg);
    assert_int_equal(cfg.size, sizeof cfg);
    cfg.workers = 2;
    cfg.quiet = 1;
    cfg.stats = 1; /* past the end of the "old" configuration below: ignored */
    cfg.size = offsetof(parlua_config, trace_path);
    parlua_runtime *rt = parlua_new(&cfg);
    assert_non_null(rt);
    assert_int_equal(parlua_run_string(rt, "assert(parlua.workers() == 2)", "=old"), PARLUA_OK);
    parlua_free(rt); /* with stats on, this would print a summary */

    memset(&cfg, 0, sizeof cfg); /* not filled by parlua_config_init */
    errno = 0;
    assert_null(parlua_new(&cfg));
    assert_int_equal(errno, EINVAL);
}

/* The host's per-VM hook: a function of the host is there in every VM. */
static int host_twice(lua_State *L)
{
    lua_pushinteger(L, 2 * luaL_checkinteger(L, 1));
    return 1;
}

typedef struct hook_state {
    int calls;
    int fail_after; /* the hook raises once it was called this many times; 0: never */
} hook_state;

static void open_host_lib(lua_State *L, void *ud)
{
    hook_state *h = ud;
    if (h->fail_after && h->calls >= h->fail_after) luaL_error(L, "host library refused");
    h->calls++;
    lua_register(L, "host_twice", host_twice);
}

static void open_vm_hook_reaches_every_vm(void **state)
{
    (void)state;
    hook_state h = {0, 0};
    parlua_config cfg;
    parlua_config_init(&cfg);
    cfg.workers = 2;
    cfg.quiet = 1;
    cfg.open_vm = open_host_lib;
    cfg.open_vm_ud = &h;
    parlua_runtime *rt = parlua_new(&cfg);
    assert_non_null(rt);
    assert_int_equal(h.calls, 1); /* the main VM */
    assert_int_equal(
        parlua_run_string(rt,
                          "result = SharedTable.new()\n"
                          "assert(host_twice(4) == 8)\n"
                          "local a = Instance.new('Actor')\n"
                          "local s = Instance.new('Script')\n"
                          "s.Source = [[task.desynchronize()\n"
                          "  SharedTableRegistry:GetSharedTable('r').v = host_twice(21)]]\n"
                          "s.Parent = a\n"
                          "a.Parent = workspace\n",
                          "=hook"),
        PARLUA_OK);
    while (parlua_step(rt, 0)) {
    }
    assert_int_equal(h.calls, 2); /* and the actor's */
    assert_int_equal(
        parlua_run_string(rt, "assert(SharedTableRegistry:GetSharedTable('r').v == 42)", "=check"),
        PARLUA_OK);
    assert_int_equal(parlua_error_count(rt), 0);
    parlua_free(rt);

    /* a hook that raises: that VM does not start, the error is counted */
    h.calls = 0;
    h.fail_after = 1;
    rt = parlua_new(&cfg);
    assert_non_null(rt);
    assert_int_equal(parlua_run_string(rt,
                                       "local a = Instance.new('Actor')\n"
                                       "local s = Instance.new('Script')\n"
                                       "s.Source = 'error(\"never runs\")'\n"
                                       "s.Parent = a\n"
                                       "a.Parent = workspace\n",
                                       "=hook2"),
                     PARLUA_OK);
    while (parlua_step(rt, 0)) {
    }
    assert_int_equal(parlua_error_count(rt), 1);
    assert_non_null(strstr(parlua_last_error(rt), "host library refused"));
    parlua_free(rt);
}

/* The host sends a message to an actor by its path; the values cross VMs
 * by the transfer rules; a bad path or a value that cannot cross sends
 * nothing and says why. */
static void host_sends_messages(void **state)
{
    (void)state;
    parlua_runtime *rt = new_runtime(2);
    assert_int_equal(
        parlua_run_string(rt,
                          "local a = Instance.new('Actor')\n"
                          "a.Name = 'Worker'\n"
                          "local s = Instance.new('Script')\n"
                          "s.Source = [[script:GetActor():BindToMessage('hello',\n"
                          "  function(n, t) local r = SharedTableRegistry:GetSharedTable('m')\n"
                          "    r.n, r.x = n, t.x end)]]\n"
                          "s.Parent = a\n"
                          "a.Parent = workspace\n",
                          "=send"),
        PARLUA_OK);
    lua_State *L = parlua_main_state(rt);
    int top = lua_gettop(L);
    lua_pushinteger(L, 7);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "copied");
    lua_setfield(L, -2, "x");
    assert_int_equal(parlua_send_message(rt, "Workspace.Worker", "hello", 2), PARLUA_OK);
    assert_int_equal(lua_gettop(L), top);
    while (parlua_step(rt, 0)) {
    }
    assert_int_equal(parlua_run_string(rt,
                                       "local r = SharedTableRegistry:GetSharedTable('m')\n"
                                       "assert(r.n == 7 and r.x == 'copied')",
                                       "=check"),
                     PARLUA_OK);

    lua_pushinteger(L, 1);
    assert_int_equal(parlua_send_message(rt, "Workspace.Nobody", "hello", 1), PARLUA_ERROR);
    assert_non_null(strstr(parlua_last_error(rt), "no Actor at 'Workspace.Nobody'"));
    lua_pushcfunction(L, host_twice); /* a host C function cannot cross VMs */
    assert_int_equal(parlua_send_message(rt, "game.Workspace.Worker", "hello", 1), PARLUA_ERROR);
    assert_non_null(strstr(parlua_last_error(rt), "cannot transfer"));
    assert_int_equal(lua_gettop(L), top);
    assert_int_equal(parlua_error_count(rt), 0);
    parlua_free(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_config_is_refused),
        cmocka_unit_test(create_and_free_many),
        cmocka_unit_test(host_steps_frames),
        cmocka_unit_test(heartbeat_gets_host_dt),
        cmocka_unit_test(actors_run_in_parallel_phase),
        cmocka_unit_test(errors_are_counted_and_kept),
        cmocka_unit_test(run_file_passes_arguments),
        cmocka_unit_test(free_with_work_pending),
        cmocka_unit_test(version_statuses_and_config_growth),
        cmocka_unit_test(open_vm_hook_reaches_every_vm),
        cmocka_unit_test(host_sends_messages),
        cmocka_unit_test(first_run_error_is_returned),
        cmocka_unit_test(run_chunk_passes_arguments),
        cmocka_unit_test(os_exit_calls_on_exit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
