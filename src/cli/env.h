/*
 * What lua5.4 takes from the environment, done as lua.c does it: LUA_INIT
 * and, with -E, nothing at all (LUA_PATH and LUA_CPATH ignored too).
 */
#ifndef PL_CLI_ENV_H
#define PL_CLI_ENV_H

#include "parlua.h"

/* -E: package.path and package.cpath back to Lua's defaults, as if
 * LUA_PATH and LUA_CPATH (and their _5_4 forms) were not set; actors copy
 * the main VM's paths, so they follow. Returns 0, or 1 after reporting. */
int pl_cli_ignore_env(parlua_runtime *rt, const char *progname);

/* Runs LUA_INIT_5_4, else LUA_INIT: a chunk, or "@file" to run a file, in
 * the main VM before -e and the script. Returns 0, or 1 after reporting
 * (lua5.4 then stops). */
int pl_cli_lua_init(parlua_runtime *rt, const char *progname);

#endif
