/*
 * Permissions (SPEC 8): the capability set every VM holds, the checks the
 * sandboxed library functions make, and opening files without following a
 * symbolic link planted after the check.
 *
 * A set is immutable once its VM exists: it is filled before the VM's
 * lua_State is made (pl_vm_ensure_state opens the libraries according to
 * it) and only read afterwards, by the VM's owner. So it needs no lock.
 *
 * Paths in a set are absolute and resolved (symbolic links, `.`, `..`);
 * a path being checked is resolved the same way first, and a prefix
 * matches whole components (/data allows /data/x, never /data2).
 */
#ifndef PL_PERM_H
#define PL_PERM_H

#include <lua.h>
#include <stddef.h>

#include "core/check.h"

/* The capabilities. READ and WRITE carry path lists (or "everywhere"). */
enum {
    PL_PERM_READ = 1 << 0,
    PL_PERM_WRITE = 1 << 1,
    PL_PERM_RUN = 1 << 2,    /* os.execute, io.popen */
    PL_PERM_ENV = 1 << 3,    /* os.getenv */
    PL_PERM_SPAWN = 1 << 4,  /* go, new Actors */
    PL_PERM_NATIVE = 1 << 5, /* package.loadlib, C modules, binary chunks */
    PL_PERM_DEBUG = 1 << 6,  /* the debug library */
    PL_PERM_EXIT = 1 << 7,   /* os.exit */
    PL_PERM_ALL = (1 << 8) - 1,
};

/* One path list: everywhere (all), or under each of n resolved prefixes. */
typedef struct pl_pathlist {
    int all;
    size_t n;
    char **prefix; /* malloc'd, each malloc'd */
} pl_pathlist;

typedef struct pl_perms {
    unsigned flags;          /* the PL_PERM_* bits granted (READ/WRITE: some path) */
    pl_pathlist read, write; /* meaningful when the READ / WRITE bit is set */
} pl_perms;

/* Every permission (the command's default). */
void pl_perms_full(pl_perms *p);
/* No permission at all. */
void pl_perms_none(pl_perms *p);
void pl_perms_free(pl_perms *p);
/* dst = a copy of src (dst holds nothing before). PL_OK or PL_ENOMEM
 * (then dst holds no permission). */
PL_MUST_CHECK int pl_perms_copy(pl_perms *dst, const pl_perms *src);
/* 1 when a and b grant the same (the same bits, the same path lists in
 * the same order). */
int pl_perms_equal(const pl_perms *a, const pl_perms *b);
/* What a child VM gets without `allow` (SPEC 8): the parent's set minus
 * spawn. PL_OK or PL_ENOMEM (then child holds no permission). */
PL_MUST_CHECK int pl_perms_inherit(const pl_perms *parent, pl_perms *child);
/* out = what both a and b allow (out holds nothing before). PL_OK or
 * PL_ENOMEM (then out holds no permission). */
PL_MUST_CHECK int pl_perms_intersect(const pl_perms *a, const pl_perms *b, pl_perms *out);
/* 1 when everything inner allows, outer allows too. */
int pl_perms_subset(const pl_perms *inner, const pl_perms *outer);
/* Adds a path (resolved now, against the working directory) to the read
 * or write list (cap PL_PERM_READ or PL_PERM_WRITE); path NULL: everywhere.
 * PL_OK, PL_ENOMEM, or PL_EINVAL (an empty path). */
PL_MUST_CHECK int pl_perms_add_path(pl_perms *p, int cap, const char *path);

/* The set a new VM gets from an `allow` table at allow_idx of L (the
 * parent's state; parent is the parent VM's set): exactly what it lists.
 * Shape: {read = true | "path" | {"path", ...}, write = (same), run = true,
 * env = true, spawn = true, native = true, debug = true, exit = true}; a
 * false value grants nothing. Raises on a bad shape or when allow lists
 * anything the parent lacks (nothing is allocated then); raises Lua's
 * "not enough memory" if out of memory. `what` names the option in
 * messages ("go", "Instance.new"). out holds nothing before. */
void pl_perms_from_allow(lua_State *L, int allow_idx, const pl_perms *parent, pl_perms *out,
                         const char *what);

/* The set of a new lthread VM that the running VM starts (go,
 * parallel.map): raises `permission denied: spawn lthread (...)` unless
 * the running VM has spawn; then exactly what the allow table at allow_idx
 * lists (pl_perms_from_allow, `what` naming the option in its messages), or
 * with allow_idx 0 or nil there, the running VM's set minus spawn. Raises on
 * any error with nothing allocated; out holds nothing before. Call it in
 * the parent before making the child's lua_State, store the result in
 * child->perms (pl_vm_destroy frees it). */
void pl_perms_for_lthread(lua_State *L, int allow_idx, pl_perms *out, const char *what);

/* The running VM's set. */
const pl_perms *pl_perms_of(lua_State *L);
/* 1 if the running VM has the boolean capability cap. */
int pl_perms_has(lua_State *L, int cap);
/* Raises `permission denied: <cap> <target> (<cap> not granted)` unless
 * the running VM has the boolean capability cap. */
void pl_perms_check(lua_State *L, int cap, const char *target);
/* Resolves path (absolute, `..` and symbolic links; the final component
 * followed unless nofollow_final) into a Lua string pushed on L, then
 * raises the denial unless the running VM may read / write there (cap:
 * PL_PERM_READ, PL_PERM_WRITE or both). Returns the pushed resolved path.
 * Raises Lua's error for a path that cannot be resolved (too long). */
const char *pl_perms_check_path(lua_State *L, int cap, const char *path, int nofollow_final);
/* Resolves path into out (PATH_MAX bytes) as the checks do; 0, or -1 with
 * errno. */
int pl_perms_resolve(const char *path, int nofollow_final, char *out);
/* 1 if p allows cap (READ, WRITE or both) on a resolved path. */
int pl_perms_allows(const pl_perms *p, int cap, const char *resolved);
/* 1 if the running VM may use cap (READ / WRITE) everywhere: no check needed. */
int pl_perms_path_all(lua_State *L, int cap);
/* The name of a capability ("read"). */
const char *pl_perms_name(int cap);

/* Opens a resolved path (as pl_perms_check_path returned it) with open(2)
 * flags, walking it from "/" one component at a time without following
 * any symbolic link: a link planted after the check makes the open fail
 * (ELOOP) instead of leading elsewhere. Returns the descriptor, or -1 with
 * errno set. */
int pl_perms_open(const char *resolved, int flags, int mode);
/* Opens the directory that holds a resolved path's last component, the same
 * way; *base points to that component in resolved. -1 with errno on
 * failure. */
int pl_perms_open_parent(const char *resolved, const char **base);

/* Pushes the running VM's set as a table: {read = true | {prefixes},
 * write = ..., run = bool, env = bool, spawn = bool, native = bool,
 * debug = bool, exit = bool}. */
void pl_perms_push(lua_State *L, const pl_perms *p);

#endif
