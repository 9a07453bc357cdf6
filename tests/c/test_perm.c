/*
 * Permission sets (src/engine/perm.c) without a VM: path resolution
 * (relative, `..`, links, a tail that does not exist yet, the last
 * component kept for os.remove), prefixes by whole components, the set
 * algebra (inherit drops spawn, intersect, subset) and the no-link walk of
 * pl_perms_open, which refuses a link planted after the check (the race
 * the walk exists for: simulated by opening a path that the check would
 * have resolved, after a component became a link).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/status.h"
#include "engine/perm.h"
#include "engine/vm.h"
#include "parlua.h"

#include <lauxlib.h>

static char root[PATH_MAX]; /* a fresh folder, resolved (short: under /tmp) */

static void path(char *out, const char *rel)
{
    size_t n = strlen(root), m = strlen(rel);
    assert_true(n + 1 + m < PATH_MAX);
    memcpy(out, root, n);
    out[n] = '/';
    memcpy(out + n + 1, rel, m + 1);
}

static int setup(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/test_perm.XXXXXX";
    if (!mkdtemp(tmpl) || !realpath(tmpl, root)) return -1;
    char p[PATH_MAX], q[PATH_MAX];
    path(p, "data");
    mkdir(p, 0700);
    path(p, "data/sub");
    mkdir(p, 0700);
    path(p, "data2");
    mkdir(p, 0700);
    path(p, "secret");
    fclose(fopen(p, "w"));
    path(p, "data/f");
    fclose(fopen(p, "w"));
    path(q, "data/link"); /* -> secret */
    path(p, "secret");
    if (symlink(p, q) != 0) return -1;
    path(q, "data/up"); /* -> root */
    if (symlink(root, q) != 0) return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 16] = "rm -rf '";
    strcat(cmd, root);
    strcat(cmd, "'");
    return system(cmd) == 0 ? 0 : -1;
}

static void expect_resolved(const char *rel, int nofollow, const char *want_rel)
{
    char in[PATH_MAX], want[PATH_MAX], out[PATH_MAX];
    path(in, rel);
    path(want, want_rel);
    assert_int_equal(pl_perms_resolve(in, nofollow, out), 0);
    assert_string_equal(out, want);
}

static void test_resolve(void **state)
{
    (void)state;
    expect_resolved("data/f", 0, "data/f");
    expect_resolved("data/./sub/../f", 0, "data/f");
    expect_resolved("data/../secret", 0, "secret");
    expect_resolved("data/link", 0, "secret");            /* followed */
    expect_resolved("data/link", 1, "data/link");         /* os.remove: the link itself */
    expect_resolved("data/up/secret", 0, "secret");       /* a folder link */
    expect_resolved("data/new/file", 0, "data/new/file"); /* does not exist yet */
    expect_resolved("data/new/../../secret", 0, "secret");
    expect_resolved("data/up/data/new", 0, "data/new");
    expect_resolved("data/sub/", 0, "data/sub");
    char out[PATH_MAX], cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(root), 0);
    assert_int_equal(pl_perms_resolve("data/../data/f", 0, out), 0); /* relative: the cwd */
    assert_int_equal(chdir(cwd), 0);
    char want[PATH_MAX];
    path(want, "data/f");
    assert_string_equal(out, want);
    assert_int_equal(pl_perms_resolve("", 0, out), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(pl_perms_resolve("/../../..", 0, out), 0);
    assert_string_equal(out, "/");
}

static void test_prefixes(void **state)
{
    (void)state;
    pl_perms p;
    pl_perms_none(&p);
    char data[PATH_MAX], x[PATH_MAX];
    path(data, "data");
    assert_int_equal(pl_perms_add_path(&p, PL_PERM_READ, data), PL_OK);
    assert_int_equal(pl_perms_add_path(&p, PL_PERM_READ, ""), PL_EINVAL);
    path(x, "data");
    assert_true(pl_perms_allows(&p, PL_PERM_READ, x));
    path(x, "data/sub/deeper");
    assert_true(pl_perms_allows(&p, PL_PERM_READ, x));
    path(x, "data2/f"); /* whole components */
    assert_false(pl_perms_allows(&p, PL_PERM_READ, x));
    path(x, "dat");
    assert_false(pl_perms_allows(&p, PL_PERM_READ, x));
    path(x, "data/f");
    assert_false(pl_perms_allows(&p, PL_PERM_WRITE, x));
    assert_false(pl_perms_allows(&p, PL_PERM_READ | PL_PERM_WRITE, x));
    assert_int_equal(pl_perms_add_path(&p, PL_PERM_WRITE, "/"), PL_OK); /* "/" holds everything */
    assert_true(pl_perms_allows(&p, PL_PERM_READ | PL_PERM_WRITE, x));
    pl_perms_free(&p);
}

static void test_algebra(void **state)
{
    (void)state;
    pl_perms full, narrow, child, both, none;
    pl_perms_full(&full);
    pl_perms_none(&none);
    pl_perms_none(&narrow);
    char data[PATH_MAX], sub[PATH_MAX], data2[PATH_MAX];
    path(data, "data");
    path(sub, "data/sub");
    path(data2, "data2");
    assert_int_equal(pl_perms_add_path(&narrow, PL_PERM_READ, data), PL_OK);
    assert_int_equal(pl_perms_add_path(&narrow, PL_PERM_READ, data2), PL_OK);
    narrow.flags |= PL_PERM_SPAWN | PL_PERM_RUN;

    assert_int_equal(pl_perms_inherit(&full, &child), PL_OK); /* minus spawn */
    assert_int_equal(child.flags, PL_PERM_ALL & ~PL_PERM_SPAWN);
    assert_true(child.read.all && child.write.all);
    assert_true(pl_perms_subset(&child, &full));
    assert_false(pl_perms_subset(&full, &child));
    pl_perms_free(&child);

    assert_true(pl_perms_subset(&narrow, &full));
    assert_false(pl_perms_subset(&full, &narrow));
    assert_true(pl_perms_subset(&none, &narrow));

    pl_perms other;
    pl_perms_none(&other);
    assert_int_equal(pl_perms_add_path(&other, PL_PERM_READ, sub), PL_OK);
    assert_int_equal(pl_perms_add_path(&other, PL_PERM_WRITE, data), PL_OK);
    other.flags |= PL_PERM_RUN;
    assert_int_equal(pl_perms_intersect(&narrow, &other, &both), PL_OK);
    assert_int_equal(both.flags, PL_PERM_READ | PL_PERM_RUN); /* no write: narrow has none */
    assert_int_equal(both.read.n, 1);
    assert_string_equal(both.read.prefix[0], sub);
    assert_true(pl_perms_subset(&both, &narrow) && pl_perms_subset(&both, &other));
    pl_perms_free(&both);
    assert_int_equal(pl_perms_intersect(&full, &narrow, &both), PL_OK);
    assert_true(pl_perms_subset(&both, &narrow) && pl_perms_subset(&narrow, &both));
    pl_perms_free(&both);
    pl_perms_free(&other);
    pl_perms_free(&narrow);
    pl_perms_free(&full);
}

/* The race: the check resolved root/data/sub/f (no link), then someone
 * replaced data/sub by a link to the root. The walk refuses to go through
 * it, for an existing file and for one to create. */
static void test_open_refuses_planted_links(void **state)
{
    (void)state;
    char p[PATH_MAX], q[PATH_MAX];
    path(p, "data/f");
    int fd = pl_perms_open(p, O_RDONLY, 0);
    assert_true(fd >= 0);
    close(fd);
    path(p, "data/link"); /* the final component is a link */
    assert_int_equal(pl_perms_open(p, O_RDONLY, 0), -1);
    assert_int_equal(errno, ELOOP);
    path(p, "data/up/secret"); /* a folder on the way is a link */
    assert_int_equal(pl_perms_open(p, O_RDONLY, 0), -1);
    assert_int_equal(errno, ENOTDIR);
    path(p, "data/up/created");
    assert_int_equal(pl_perms_open(p, O_WRONLY | O_CREAT, 0600), -1);
    path(q, "created");
    assert_int_equal(access(q, F_OK), -1); /* nothing was made through the link */
    path(p, "data/link");
    assert_int_equal(pl_perms_open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600), -1);
    const char *base;
    path(p, "data/up/secret");
    assert_int_equal(pl_perms_open_parent(p, &base), -1);
    path(p, "data/f");
    int dir = pl_perms_open_parent(p, &base);
    assert_true(dir >= 0);
    assert_string_equal(base, "f");
    close(dir);
    assert_int_equal(pl_perms_open_parent("/", &base), -1);
}

/* pl_perms_for_lthread, as go will call it, in a bare state whose extra
 * space names a VM holding the parent's set. */
static pl_vm parent_vm;

static int for_lthread(lua_State *L)
{
    pl_perms *out = lua_touserdata(L, 1);
    pl_perms_for_lthread(L, lua_isnoneornil(L, 2) ? 0 : 2, out, "go");
    return 0;
}

/* Runs for_lthread with allow (Lua source of an expression, NULL: none);
 * returns the error message (static buffer) or NULL. */
static const char *run_for_lthread(lua_State *L, const char *allow, pl_perms *out)
{
    static char msg[1024];
    lua_settop(L, 0);
    lua_pushcfunction(L, for_lthread);
    lua_pushlightuserdata(L, out);
    if (allow) {
        char src[PATH_MAX + 64] = "return ";
        strcat(src, allow);
        assert_int_equal(luaL_dostring(L, src), 0);
    }
    if (lua_pcall(L, allow ? 2 : 1, 0, 0) == LUA_OK) return NULL;
    snprintf(msg, sizeof msg, "%s", lua_tostring(L, -1));
    return msg;
}

static void test_for_lthread(void **state)
{
    (void)state;
    lua_State *L = luaL_newstate();
    parent_vm.ctx.vm = &parent_vm;
    *(pl_ctx **)lua_getextraspace(L) = &parent_vm.ctx;
    pl_perms_none(&parent_vm.perms);
    char data[PATH_MAX], sub[PATH_MAX], src[PATH_MAX + 64];
    path(data, "data");
    path(sub, "data/sub");
    assert_int_equal(pl_perms_add_path(&parent_vm.perms, PL_PERM_READ, data), PL_OK);
    parent_vm.perms.flags |= PL_PERM_ENV;
    pl_perms out;
    /* no spawn: refused */
    assert_string_equal(run_for_lthread(L, NULL, &out),
                        "permission denied: spawn lthread (spawn not granted)");
    parent_vm.perms.flags |= PL_PERM_SPAWN;
    /* no allow: the parent's minus spawn */
    assert_null(run_for_lthread(L, NULL, &out));
    assert_int_equal(out.flags, PL_PERM_READ | PL_PERM_ENV);
    assert_string_equal(out.read.prefix[0], data);
    pl_perms_free(&out);
    /* allow narrows, exactly */
    snprintf(src, sizeof src, "{read = {'%s'}, spawn = true}", sub);
    assert_null(run_for_lthread(L, src, &out));
    assert_int_equal(out.flags, PL_PERM_READ | PL_PERM_SPAWN);
    assert_int_equal(out.read.n, 1);
    assert_string_equal(out.read.prefix[0], sub);
    pl_perms_free(&out);
    assert_null(run_for_lthread(L, "{}", &out));
    assert_int_equal(out.flags, 0);
    pl_perms_free(&out);
    assert_null(run_for_lthread(L, "{read = {}, write = false, env = false}", &out));
    assert_int_equal(out.flags, 0); /* an empty list grants nothing */
    pl_perms_free(&out);
    /* widening raises, nothing kept */
    const char *e = run_for_lthread(L, "{run = true}", &out);
    assert_non_null(e);
    assert_string_equal(e, "go: allow grants run, which this VM does not have (it lacks it); allow "
                           "can only narrow permissions");
    snprintf(src, sizeof src, "{read = '%s/..'}", data);
    e = run_for_lthread(L, src, &out);
    assert_non_null(e);
    assert_non_null(strstr(e, "go: allow grants read under "));
    assert_non_null(strstr(e, "(it may read only under "));
    assert_non_null(run_for_lthread(L, "{write = true}", &out));
    assert_non_null(run_for_lthread(L, "{read = {1}}", &out));
    assert_non_null(run_for_lthread(L, "5", &out));
    lua_close(L);
    pl_perms_free(&parent_vm.perms);
}

/* The C API: parlua_config's sandbox, allow bits and path lists set the
 * main VM's set; an empty path is refused. */
static void test_config(void **state)
{
    (void)state;
    char data[PATH_MAX], code[3 * PATH_MAX];
    path(data, "data");
    const char *const readable[] = {data, NULL};
    parlua_config cfg;
    parlua_config_init(&cfg);
    cfg.workers = 1;
    cfg.quiet = 1;
    cfg.sandbox = 1;
    cfg.allow = PARLUA_ALLOW_ENV;
    cfg.allow_read = readable;
    parlua_runtime *rt = parlua_new(&cfg);
    assert_non_null(rt);
    snprintf(code, sizeof code,
             "local p = parlua.permissions() assert(p.read[1] == '%s' and p.env and not p.write "
             "and not p.exit) assert(io.open('%s/f')) os.getenv('HOME')",
             data, data);
    assert_int_equal(parlua_run_string(rt, code, "=ok"), PARLUA_OK);
    assert_int_equal(parlua_run_string(rt, "io.open('/etc/passwd')", "=no"), PARLUA_ERROR);
    char want[2 * PATH_MAX];
    snprintf(want, sizeof want, "permission denied: read /etc/passwd (allowed: read under %s)",
             data);
    assert_non_null(strstr(parlua_last_error(rt), want));
    parlua_free(rt);

    const char *const empty[] = {"", NULL};
    cfg.allow_read = empty;
    errno = 0;
    assert_null(parlua_new(&cfg));
    assert_int_equal(errno, EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve),     cmocka_unit_test(test_prefixes),
        cmocka_unit_test(test_algebra),     cmocka_unit_test(test_open_refuses_planted_links),
        cmocka_unit_test(test_for_lthread), cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
