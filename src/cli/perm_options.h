/*
 * The command's permission options (--sandbox, --allow-*), kept apart from
 * main.c's parsing: docs/permissions.md.
 */
#ifndef PL_CLI_PERM_OPTIONS_H
#define PL_CLI_PERM_OPTIONS_H

#include <stddef.h>

#include "parlua.h"

typedef struct perm_options {
    int sandbox;
    unsigned allow;             /* PARLUA_ALLOW_* bits */
    const char *first_grant;    /* the first --allow-* seen, for the "needs --sandbox" error */
    const char **read, **write; /* NULL-terminated, malloc'd; the strings are argv's */
    size_t nread, nwrite;
} perm_options;

/* The lines --help prints for them. */
extern const char perm_options_usage[];

/* Looks at one command-line argument: 0 if it is not a permission option,
 * 1 if it was one (recorded), -1 if it is one used wrongly (*err says
 * how, with %s for the argument). */
int perm_option(perm_options *po, const char *arg, const char **err);
/* Puts the options into cfg; script (NULL or "-": none) may always be
 * read. Returns 0, or -1 with *err set (a grant without --sandbox, out of
 * memory). */
int perm_options_apply(perm_options *po, parlua_config *cfg, const char *script, const char **err);
void perm_options_free(perm_options *po);

#endif
