/*
 * Lua states with their libraries open, kept for the next VM that starts
 * (docs/design.md, "Reused lthread states" and "Actor states made
 * ahead"). Making a lua_State and opening its libraries was most of a
 * VM's start. Two kinds:
 * - an ended lthread's state, put back as it was after its libraries
 *   opened (the reset hook, lib/reuse.c): the next lthread with the same
 *   permissions takes it;
 * - fresh actor states, made ahead by an idle worker once the program
 *   starts actors: a new actor with the main VM's permissions takes one,
 *   so the serial thread, which starts every script, does not make it.
 *
 * Threads: any thread puts and takes, under the pool's own lock (a leaf:
 * nothing else is taken while it is held). A state belongs to exactly one
 * owner at a time: a VM, or the pool.
 */
#ifndef PL_ENGINE_VMPOOL_H
#define PL_ENGINE_VMPOOL_H

#include "engine/vm.h"

/* Gives vm (an lthread or actor VM without a state) a kept state of its
 * kind with vm's permissions: 1, or 0 when none is kept (then make one). */
int pl_vmpool_take(pl_vm *vm);
/* After an actor started: queues the job that makes actor states ahead,
 * unless enough are ready or it is queued already. Any thread. */
void pl_vmpool_want_prepared(pl_runtime *rt);
/* The job, on a worker: makes states until enough are ready, or until
 * other work waits for a worker. */
void pl_vmpool_prepare(pl_runtime *rt);
/* Resets vm's state (an ended lthread's) and keeps it: vm->L is NULL
 * after. Returns 0 (vm keeps its state: close it) when the state may
 * not be reused or the pool is full. The VM's owner, finalizers run here. */
int pl_vmpool_put(pl_vm *vm);
/* Closes every kept state (shutdown, workers joined). */
void pl_vmpool_free(pl_runtime *rt);

#endif
