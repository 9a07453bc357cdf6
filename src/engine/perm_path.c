/*
 * Paths for the permission checks (perm.h): resolving them (absolute, `.`,
 * `..`, symbolic links; the part that does not exist yet applied as text)
 * and opening what a check allowed without following a link.
 *
 * Why resolve first: a prefix check on the text of a path is fooled by
 * `..` and by symbolic links. The longest prefix that exists is passed
 * through realpath(3) and the rest (a file to create) appended with `.` and
 * `..` applied as text.
 *
 * Why walk: between the check and the open, someone with write access to a
 * folder on the path could replace a component by a symbolic link. The
 * resolved path has no link in it, so pl_perms_open walks it one component
 * at a time with O_NOFOLLOW: a link found there is a race, and the open
 * fails instead of following it (docs/permissions.md says what this
 * guarantees and what it does not).
 */
#define _GNU_SOURCE /* O_PATH */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/perm.h"

/* ---- resolving paths ---- */

/* Applies the components of tail to out (a resolved absolute path of
 * length *len, room for PATH_MAX bytes) as text: "." stays, ".." goes up.
 * -1 (ENAMETOOLONG) when it does not fit. */
static int append_lexical(char *out, size_t *len, const char *tail)
{
    const char *p = tail;
    while (*p) {
        while (*p == '/')
            p++;
        size_t n = strcspn(p, "/");
        if (n == 0) break;
        if (n == 1 && p[0] == '.') {
            /* nothing */
        } else if (n == 2 && p[0] == '.' && p[1] == '.') {
            while (*len > 1 && out[*len - 1] != '/')
                (*len)--;
            if (*len > 1) (*len)--; /* the slash, unless it is the root's */
            out[*len] = '\0';
        } else {
            size_t sep = *len > 1 ? 1 : 0;
            if (*len + sep + n >= PATH_MAX) {
                errno = ENAMETOOLONG;
                return -1;
            }
            if (sep) out[(*len)++] = '/';
            memcpy(out + *len, p, n);
            *len += n;
            out[*len] = '\0';
        }
        p += n;
    }
    return 0;
}

/* Resolves an absolute path: realpath of its longest existing prefix, the
 * rest applied as text. out has PATH_MAX bytes. 0, or -1 with errno. */
static int resolve_abs(const char *abs, char *out)
{
    size_t alen = strlen(abs);
    char *cur = malloc(alen + 1);
    if (!cur) return -1;
    memcpy(cur, abs, alen + 1);
    size_t cut = alen; /* cur[0..cut) is tried; abs + cut is the tail */
    for (;;) {
        cur[cut] = '\0';
        if (realpath(cut ? cur : "/", out)) break;
        /* does not exist (or cannot be looked at): try the parent */
        while (cut > 0 && cur[cut - 1] == '/')
            cut--;
        while (cut > 0 && cur[cut - 1] != '/')
            cut--;
        if (cut == 0) { /* "/" always resolves: not reached */
            free(cur);
            return -1;
        }
    }
    free(cur);
    size_t len = strlen(out);
    return append_lexical(out, &len, abs + cut);
}

/* nofollow_final: the last component is not followed if it is a symbolic
 * link (os.remove removes the link, not its target). */
int pl_perms_resolve(const char *path, int nofollow_final, char *out)
{
    char cwd[PATH_MAX];
    if (!*path) { /* names no file (fopen fails), never the working directory */
        errno = ENOENT;
        return -1;
    }
    size_t plen = strlen(path);
    if (path[0] != '/' && !getcwd(cwd, sizeof cwd)) return -1;
    size_t clen = path[0] == '/' ? 0 : strlen(cwd);
    char *abs = malloc(clen + 1 + plen + 1);
    if (!abs) return -1;
    if (clen) {
        memcpy(abs, cwd, clen);
        abs[clen] = '/';
        memcpy(abs + clen + 1, path, plen + 1);
    } else {
        memcpy(abs, path, plen + 1);
    }
    int rc;
    /* The last component, without trailing slashes. */
    size_t end = strlen(abs);
    while (end > 1 && abs[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && abs[start - 1] != '/')
        start--;
    size_t n = end - start;
    int dots =
        (n == 1 && abs[start] == '.') || (n == 2 && abs[start] == '.' && abs[start + 1] == '.');
    if (!nofollow_final || n == 0 || dots) {
        rc = resolve_abs(abs, out);
    } else {
        char *base = strndup(abs + start, n);
        abs[start] = '\0';
        rc = base ? resolve_abs(start ? abs : "/", out) : -1;
        if (rc == 0) {
            size_t len = strlen(out);
            rc = append_lexical(out, &len, base);
        }
        free(base);
    }
    free(abs);
    return rc;
}

/* ---- opening without following links ---- */

/* Walks resolved from "/" to its last component (exclusive) through
 * directories only, never following a link; returns that directory's
 * descriptor and points *base at the last component ("" for "/"). */
static int walk_to_parent(const char *resolved, const char **base)
{
    if (resolved[0] != '/') {
        errno = EINVAL;
        return -1;
    }
    int dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    const char *p = resolved + 1;
    while (dir >= 0) {
        const char *slash = strchr(p, '/');
        if (!slash) break;
        size_t n = (size_t)(slash - p);
        char name[NAME_MAX + 1];
        if (n > NAME_MAX) {
            close(dir);
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        /* O_DIRECTORY with O_NOFOLLOW: a link here fails with ENOTDIR */
        int next = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int saved = errno;
        close(dir);
        errno = saved;
        dir = next;
        p = slash + 1;
    }
    *base = p;
    return dir;
}

int pl_perms_open(const char *resolved, int flags, int mode)
{
    const char *base;
    int dir = walk_to_parent(resolved, &base);
    if (dir < 0) return -1;
    int fd = openat(dir, *base ? base : ".", flags | O_NOFOLLOW | O_CLOEXEC, mode);
    int saved = errno;
    close(dir);
    errno = saved;
    return fd;
}

int pl_perms_open_parent(const char *resolved, const char **base)
{
    int dir = walk_to_parent(resolved, base);
    if (dir >= 0 && !**base) {
        close(dir);
        errno = EBUSY; /* the root itself */
        return -1;
    }
    return dir;
}
