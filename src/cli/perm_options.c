/*
 * --sandbox and --allow-*: the main VM's permissions from the command line
 * (SPEC 8 and 9). Without --sandbox the command has every permission, as
 * lua5.4; --sandbox starts from none and each --allow-* grants one.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/perm_options.h"

const char perm_options_usage[] =
    "Permissions (docs/permissions.md; default: everything, as lua5.4):\n"
    "  --sandbox     start from no permission; the options below grant (the script\n"
    "                itself may always be read)\n"
    "  --allow-read[=PATH]   read files under PATH (repeatable; no PATH: everywhere)\n"
    "  --allow-write[=PATH]  write, create, remove files under PATH (the same)\n"
    "  --allow-run   os.execute, io.popen     --allow-env    os.getenv\n"
    "  --allow-spawn new Actors, lthreads     --allow-native C modules, binary chunks\n"
    "  --allow-debug the debug library        --allow-exit   os.exit\n";

static const struct {
    const char *name;
    unsigned bit;
} flags[] = {
    {"--allow-read", PARLUA_ALLOW_READ},   {"--allow-write", PARLUA_ALLOW_WRITE},
    {"--allow-run", PARLUA_ALLOW_RUN},     {"--allow-env", PARLUA_ALLOW_ENV},
    {"--allow-spawn", PARLUA_ALLOW_SPAWN}, {"--allow-native", PARLUA_ALLOW_NATIVE},
    {"--allow-debug", PARLUA_ALLOW_DEBUG}, {"--allow-exit", PARLUA_ALLOW_EXIT},
};

/* Appends path to a NULL-terminated list. 0 or -1 (out of memory). */
static int push_path(const char ***list, size_t *n, const char *path)
{
    const char **grown = realloc(*list, (*n + 2) * sizeof *grown);
    if (!grown) return -1;
    grown[(*n)++] = path;
    grown[*n] = NULL;
    *list = grown;
    return 0;
}

int perm_option(perm_options *po, const char *arg, const char **err)
{
    if (strcmp(arg, "--sandbox") == 0) {
        po->sandbox = 1;
        return 1;
    }
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
        size_t len = strlen(flags[i].name);
        if (strncmp(arg, flags[i].name, len) != 0 || (arg[len] && arg[len] != '=')) continue;
        int paths = flags[i].bit == PARLUA_ALLOW_READ || flags[i].bit == PARLUA_ALLOW_WRITE;
        if (!po->first_grant) po->first_grant = flags[i].name;
        if (!arg[len]) {
            po->allow |= flags[i].bit;
            return 1;
        }
        if (!paths) {
            *err = "'%s': this permission takes no PATH (it is a yes or no)";
            return -1;
        }
        if (!arg[len + 1]) {
            *err = "'%s' needs a PATH after '=' (or no '=' for everywhere)";
            return -1;
        }
        int rc = flags[i].bit == PARLUA_ALLOW_READ
                     ? push_path(&po->read, &po->nread, arg + len + 1)
                     : push_path(&po->write, &po->nwrite, arg + len + 1);
        if (rc != 0) {
            *err = "not enough memory for '%s'";
            return -1;
        }
        return 1;
    }
    return 0;
}

int perm_options_apply(perm_options *po, parlua_config *cfg, const char *script, const char **err)
{
    if (!po->sandbox) {
        if (po->first_grant) {
            *err = "'%s' grants a permission, but without --sandbox the command already has "
                   "every permission: add --sandbox to start from none";
            return -1;
        }
        return 0;
    }
    if (script && strcmp(script, "-") != 0 && push_path(&po->read, &po->nread, script) != 0) {
        *err = "not enough memory for the permissions (%s)";
        return -1;
    }
    cfg->sandbox = 1;
    cfg->allow = po->allow;
    cfg->allow_read = po->read;
    cfg->allow_write = po->write;
    return 0;
}

void perm_options_free(perm_options *po)
{
    free(po->read);
    free(po->write);
    po->read = po->write = NULL;
}
