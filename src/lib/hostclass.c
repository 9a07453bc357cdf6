/*
 * Host classes (SPEC 2.4, 10): classes a host program registers through
 * parlua_register_class. Each becomes one more registration table
 * (pl_class_def, lib/instance.h) kept by the runtime, whose members join
 * the runtime's member map (members.c) as a built-in class's do; its
 * members go through the same access path as built-in members, so levels
 * and the lthread rule are enforced the same way.
 *
 * Threads: the list and the map are written by the host thread before any
 * VM but main opened, and only read afterwards (an actor or lthread VM is
 * handed to its worker through the pool's locks).
 */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "engine/proxy.h"
#include "lib/instance.h"
#include "lib/lib.h"

/* What the runtime keeps: the defs, and each class and member array,
 * with the names copied. */
struct pl_host_classes {
    pl_class_def *defs;
    size_t n, cap;
};

const pl_class *pl_host_class_find(pl_runtime *rt, const char *name)
{
    const pl_host_classes *h = rt->host_classes;
    for (size_t i = 0; h && i < h->n; i++)
        if (strcmp(h->defs[i].cls->name, name) == 0) return h->defs[i].cls;
    return NULL;
}

const pl_class_def *pl_host_class_def(pl_runtime *rt, const pl_class *cls)
{
    const pl_host_classes *h = rt->host_classes;
    for (size_t i = 0; h && i < h->n; i++)
        if (h->defs[i].cls == cls) return &h->defs[i];
    return NULL;
}

static void free_def(pl_class_def *def)
{
    pl_class *cls = (pl_class *)def->cls;
    pl_member *members = (pl_member *)def->members;
    for (pl_member *m = members; m && m->name; m++) {
        free((char *)m->name);
        free((char *)m->doc);
    }
    free(members);
    if (cls) free((char *)cls->name);
    free(cls);
}

void pl_host_classes_free(pl_runtime *rt)
{
    pl_host_classes *h = rt->host_classes;
    if (!h) return;
    for (size_t i = 0; i < h->n; i++)
        free_def(&h->defs[i]);
    free(h->defs);
    free(h);
    rt->host_classes = NULL;
}

static int refuse(pl_runtime *rt, const char *what, const char *name)
{
    pl_runtime_set_error(rt, "parlua_register_class: %s%s%s%s", what, name ? " (" : "",
                         name ? name : "", name ? ")" : "");
    return PARLUA_ERROR;
}

/* Checks cls before anything is made; PARLUA_OK or PARLUA_ERROR. */
static int check(pl_runtime *rt, const parlua_class *cls, const pl_class **base)
{
    if (!cls || !cls->name || !cls->name[0])
        return refuse(rt, "a class needs a name (a non-empty string)", NULL);
    if (pl_class_find(cls->name) || pl_host_class_find(rt, cls->name))
        return refuse(rt, "the class name is taken already", cls->name);
    const char *bname = cls->base ? cls->base : "Instance";
    *base = pl_class_find(bname);
    if (!*base) *base = pl_host_class_find(rt, bname);
    if (!*base)
        return refuse(rt, "unknown base class: register it first, or use a built-in class", bname);
    for (const parlua_member *m = cls->members; m && m->name; m++) {
        if (!m->name[0]) return refuse(rt, "a member needs a non-empty name", cls->name);
        int property = m->get != NULL, method = m->call != NULL;
        if (property == method || (m->set && !m->get))
            return refuse(rt,
                          "a member is either a property (get, and set unless read-only) or a "
                          "method (call)",
                          m->name);
        if (m->level < PARLUA_UNSAFE || m->level > PARLUA_SAFE)
            return refuse(rt, "a member's level is not a parlua_level", m->name);
        if (m->level == PARLUA_READ_PARALLEL && method)
            return refuse(rt,
                          "ReadParallel is a level of properties; give a method Safe, "
                          "LocalSafe or Unsafe",
                          m->name);
    }
    int opened = 0;
    uv_mutex_lock(&rt->vms_lock);
    for (pl_vm *vm = rt->all_vms; vm && !opened; vm = vm->all_next)
        opened = vm != &rt->main && vm->L;
    uv_mutex_unlock(&rt->vms_lock); /* before refuse, which takes error_lock */
    if (opened)
        return refuse(rt,
                      "register classes before running scripts that start actors (an actor "
                      "VM is open already)",
                      cls->name);
    return PARLUA_OK;
}

static char *dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

int pl_host_class_add(pl_runtime *rt, const parlua_class *cls)
{
    const pl_class *base;
    int rc = check(rt, cls, &base);
    if (rc != PARLUA_OK) return rc;
    if (!rt->host_classes && !(rt->host_classes = calloc(1, sizeof *rt->host_classes)))
        return PARLUA_NOMEM;
    pl_host_classes *h = rt->host_classes;
    if (h->n == h->cap) {
        pl_class_def *more = pl_grow(h->defs, &h->cap, h->n + 1, sizeof *h->defs);
        if (!more) return PARLUA_NOMEM;
        h->defs = more;
    }
    size_t n = 0;
    while (cls->members && cls->members[n].name)
        n++;
    pl_class *c = calloc(1, sizeof *c);
    pl_member *members = calloc(n + 1, sizeof *members);
    pl_class_def def = {c, members};
    int ok = c && members && (c->name = dup(cls->name));
    for (size_t i = 0; ok && i < n; i++) {
        const parlua_member *m = &cls->members[i];
        members[i] = (pl_member){NULL, (pl_level)m->level, m->get, m->set, m->call, 0, NULL};
        ok = (members[i].name = dup(m->name)) && (!m->doc || (members[i].doc = dup(m->doc)));
    }
    if (!ok) {
        free_def(&def);
        return PARLUA_NOMEM;
    }
    c->base = base;
    c->creatable = cls->creatable != 0;
    c->data_size = cls->data_size;
    h->defs[h->n++] = def;
    if (pl_member_map_add(rt, c) != PL_OK) { /* the map is as it was */
        free_def(&h->defs[--h->n]);
        return PARLUA_NOMEM;
    }
    return PARLUA_OK;
}

void *pl_host_instance_data(lua_State *L, int idx, const char *class_name)
{
    pl_instance *inst = pl_instance_check(L, idx);
    if (!pl_instance_isa(inst, class_name))
        luaL_error(L, "expected %s, got %s \"%s\"", class_name, inst->cls->name, inst->name);
    return inst->data;
}
