/*
 * Where a Script may start (docs/permissions.md): a VM may not make a
 * Script run in a VM with a permission it lacks, by placing it (Parent) or
 * by writing the Source or Path of one waiting to start there.
 */
#include <lauxlib.h>
#include <stdlib.h>

#include "engine/runtime.h"
#include "lib/lib.h"

/* Raises unless a Script placed at inst (not started) may run in the VM
 * of actor (NULL: the main VM, only when in_game) with the running VM's
 * rights: that VM must have no permission the running VM lacks.
 * Otherwise a VM could run code of its choosing with more rights, by
 * writing a Script and putting it where a wider VM runs it. */
static void check_script(lua_State *L, const pl_instance *inst, const pl_instance *actor,
                         int in_game, const pl_perms *mine)
{
    if (!actor && !in_game) return; /* where it runs is decided by whoever places it */
    pl_runtime *rt = pl_vm_of(L)->runtime;
    const pl_vm *vm = actor ? actor->vm : &rt->main;
    if (!vm || pl_perms_subset(&vm->perms, mine)) return;
    char *where = actor ? pl_instance_full_name(actor) : NULL;
    lua_pushfstring(L, "Script %s", inst->name);
    lua_pushfstring(L, "it would run in %s%s, which has permissions this VM lacks",
                    actor ? "actor " : "the main VM",
                    where   ? where
                    : actor ? actor->name
                            : "");
    free(where);
    luaL_error(L, "permission denied: spawn %s (%s)", lua_tostring(L, -2), lua_tostring(L, -1));
}

static void check_scripts(lua_State *L, const pl_instance *inst, const pl_instance *actor,
                          int in_game, const pl_perms *mine)
{
    if (inst->cls == &pl_class_actor) actor = inst;
    if (inst->cls == &pl_class_script && !inst->started)
        check_script(L, inst, actor, in_game, mine);
    for (const pl_instance *c = inst->first_child; c; c = c->next_sibling)
        check_scripts(L, c, actor, in_game, mine);
}

static int is_full(const pl_perms *p)
{
    return p->flags == PL_PERM_ALL && p->read.all && p->write.all;
}

void pl_sandbox_check_parent(lua_State *L, pl_instance *inst, pl_instance *parent)
{
    const pl_perms *mine = pl_perms_of(L);
    if (!parent || is_full(mine)) return;
    const pl_instance *top = parent;
    while (top->parent)
        top = top->parent;
    const pl_instance *actor =
        parent->cls == &pl_class_actor ? parent : pl_instance_actor_of(parent);
    check_scripts(L, inst, actor, top->is_root, mine);
}

void pl_sandbox_check_script_write(lua_State *L, pl_instance *script)
{
    const pl_perms *mine = pl_perms_of(L);
    if (is_full(mine) || script->started) return;
    const pl_instance *top = script;
    while (top->parent)
        top = top->parent;
    check_script(L, script, pl_instance_actor_of(script), top->is_root, mine);
}
