/*
 * The console of the parlua command: lua5.4's interactive prompt, into a
 * runtime whose frames keep running while it waits (docs/guide.md,
 * "The console").
 */
#ifndef PL_CLI_CONSOLE_H
#define PL_CLI_CONSOLE_H

#include <signal.h>

#include "parlua.h"

/* Reads chunks from standard input and runs each one in the main VM, as a
 * runtime thread, until the user leaves (end of input: Ctrl-D) or *stop
 * becomes non-zero (a SIGTERM handler). Frames run while the prompt waits
 * and while a chunk waits, fps of them a second (0: 60). Takes SIGINT over
 * (Ctrl-C interrupts the running chunk, or clears the prompt) and gives it
 * back on return. Call it on the thread that runs the frames, after the
 * script. Returns the exit status (0). */
int pl_console_run(parlua_runtime *rt, double fps, volatile sig_atomic_t *stop);

/* For parlua_config.on_exit: os.exit during a frame run under the prompt
 * puts the terminal and the caught output back before the process ends.
 * Any thread. */
void pl_console_on_exit(int status, void *ud);

#endif
