/*
 * The registration table of every built-in class (pl_builtin_classes) and
 * the generator of docs/data-model.md from it. Each library defines its
 * classes' members next to their functions (instance.c, actor.c, ...);
 * this file only lists them, as init.c lists the libraries.
 */
#include "lib/instance.h"

const pl_class_def pl_builtin_classes[] = {
    {&pl_class_instance, pl_instance_members},
    {&pl_class_instance, pl_signal_members},
    {&pl_class_datamodel, pl_datamodel_members},
    {&pl_class_workspace, NULL},
    {&pl_class_folder, NULL},
    {&pl_class_actor, pl_actor_members},
    {&pl_class_luasource, pl_script_members},
    {&pl_class_script, pl_scriptclass_members},
    {&pl_class_modulescript, NULL},
    {&pl_class_runservice, pl_runservice_members},
    {&pl_class_bindable, pl_bindable_members},
    {NULL, NULL},
};

static const char *kind_of(const pl_member *m)
{
    if (m->call) return "Function";
    if (m->flags & PL_MEMBER_SIGNAL) return "Event";
    return m->set ? "Property" : "Property (read-only)";
}

static const char *level_meaning(const pl_member *m)
{
    if (m->call) {
        switch (m->level) {
        case PL_SAFE:
            return "call in either phase";
        case PL_LOCAL_SAFE:
            return "call in parallel only on an instance the caller's actor created";
        default:
            return "serial phase only";
        }
    }
    switch (m->level) {
    case PL_SAFE:
        return m->set ? "read and write in either phase" : "read in either phase";
    case PL_READ_PARALLEL:
        return m->set ? "read in either phase, write in serial only" : "read in either phase";
    case PL_LOCAL_SAFE:
        return "read in either phase; write in parallel only on an instance the caller's "
               "actor created";
    default:
        return "serial phase only";
    }
}

void pl_members_markdown(FILE *f)
{
    fputs("# The data model: classes, members and safety levels\n"
          "\n"
          "<!-- Generated from the registration tables (src/lib/classes.c) by\n"
          "     build/gen-data-model; do not edit: run\n"
          "     `build/gen-data-model > docs/data-model.md` after changing a member.\n"
          "     The test docs/data-model fails when this file differs. -->\n"
          "\n"
          "Every member of every class has a safety level (SPEC 2.3), checked at run\n"
          "time in the parallel phase; in the serial phase every member may be used.\n"
          "\n"
          "| level | property | method |\n"
          "|---|---|---|\n"
          "| Unsafe | no read, no write in parallel | no call in parallel |\n"
          "| ReadParallel | read in parallel, no write | (n/a) |\n"
          "| LocalSafe | read and write by the actor that created the instance; read only "
          "by other actors | call only from the actor that created the instance |\n"
          "| Safe | read and write | call |\n"
          "\n"
          "An instance is owned by the VM that created it (`Instance.new`, `Clone`):\n"
          "an actor's VM, or the main VM. A member registered without a level is\n"
          "Unsafe. A violation raises an error naming the member, its level and the\n"
          "fix, for example `Property Instance.Parent is ReadParallel: it cannot be\n"
          "written in parallel (call task.synchronize() first)`.\n"
          "\n"
          "An lthread (SPEC 7) may use only `SendMessage` of an Instance (and compare\n"
          "and pass Instances); any other member raises `Instance.Name cannot be used\n"
          "from an lthread ...: send a message to an actor instead`.\n"
          "\n"
          "A class has its own members and those of its base classes.\n",
          f);
    for (const pl_class_def *def = pl_builtin_classes; def->cls; def++) {
        const pl_class *cls = def->cls;
        int seen = 0;
        for (const pl_class_def *d = pl_builtin_classes; d < def; d++)
            seen |= d->cls == cls;
        if (seen) continue; /* listed with its first entry */
        fprintf(f, "\n## %s\n\n", cls->name);
        if (cls->base)
            fprintf(f, "Base class: %s.", cls->base->name);
        else
            fputs("The base class of every class.", f);
        fputs(cls->creatable ? " `Instance.new(\"" : "", f);
        if (cls->creatable) fprintf(f, "%s\")` makes one.", cls->name);
        fputs("\n", f);
        int any = 0;
        for (const pl_class_def *d = def; d->cls; d++)
            any |= d->cls == cls && d->members && d->members->name;
        if (!any) {
            fputs("\nNo members of its own.\n", f);
            continue;
        }
        fputs("\n| member | kind | level | in parallel | what it is |\n|---|---|---|---|---|\n", f);
        for (const pl_class_def *d = def; d->cls; d++) {
            if (d->cls != cls || !d->members) continue;
            for (const pl_member *m = d->members; m->name; m++)
                fprintf(f, "| `%s` | %s | %s | %s | %s |\n", m->name, kind_of(m),
                        pl_level_name(m->level), level_meaning(m), m->doc ? m->doc : "");
        }
    }
    fputs("\n## Signals and connections\n"
          "\n"
          "Every member of kind Event is a signal (RBXScriptSignal), whatever its\n"
          "class; its methods and its connections' members are Safe (usable in\n"
          "either phase). See [instances.md](instances.md) for how handlers run.\n"
          "\n"
          "| member | what it is |\n|---|---|\n"
          "| `Connect(fn)` | runs `fn` in the serial phase each time the signal fires; returns a "
          "connection |\n"
          "| `ConnectParallel(fn)` | the same in the parallel phase (a script under an Actor "
          "only) |\n"
          "| `Once(fn)` | runs `fn` the first time only, in the caller's phase |\n"
          "| `Wait()` | waits (the thread parks) until the signal fires; returns its values |\n"
          "| connection `Disconnect()` | stops the handler, at once |\n"
          "| connection `Connected` | whether the handler may still run |\n",
          f);
}
