/*
 * Lua states kept for the next lthread (docs/design.md, "Reused lthread
 * states"). An lthread's VM is made and closed for each lthread; making
 * and closing a lua_State with its libraries was most of an lthread's
 * start. When an lthread ends, its state is put back as it was after its
 * libraries opened (the reset hook, lib/reuse.c) and kept here; the next
 * lthread with the same permissions takes it instead of a new one.
 *
 * Threads: any worker puts and takes, under the pool's own lock (a leaf:
 * nothing else is taken while it is held). A state belongs to exactly one
 * owner at a time: a VM, or the pool.
 */
#ifndef PL_ENGINE_VMPOOL_H
#define PL_ENGINE_VMPOOL_H

#include "engine/vm.h"

/* Gives vm (an lthread VM without a state) a kept state with vm's
 * permissions; PL_OK, or PL_ENOENT when none is kept (then make one). */
int pl_vmpool_take(pl_vm *vm);
/* Resets vm's state (an ended lthread's) and keeps it: vm->L is NULL
 * after. Returns 0 (vm keeps its state: close it) when the state may
 * not be reused or the pool is full. The VM's owner, finalizers run here. */
int pl_vmpool_put(pl_vm *vm);
/* Closes every kept state (shutdown, workers joined). */
void pl_vmpool_free(pl_runtime *rt);

#endif
