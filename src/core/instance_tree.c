#include "core/instance_tree.h"

#include <stdlib.h>
#include <string.h>

const pl_class pl_class_instance = {"Instance", NULL, 0, 0};
const pl_class pl_class_datamodel = {"DataModel", &pl_class_instance, 0, 0};
const pl_class pl_class_workspace = {"Workspace", &pl_class_instance, 0, 0};
const pl_class pl_class_folder = {"Folder", &pl_class_instance, 1, 0};
const pl_class pl_class_actor = {"Actor", &pl_class_instance, 1, 0};
const pl_class pl_class_luasource = {"LuaSourceContainer", &pl_class_instance, 0, 0};
const pl_class pl_class_script = {"Script", &pl_class_luasource, 1, 0};
const pl_class pl_class_modulescript = {"ModuleScript", &pl_class_luasource, 1, 0};
const pl_class pl_class_runservice = {"RunService", &pl_class_instance, 0, 0};
const pl_class pl_class_bindable = {"BindableEvent", &pl_class_instance, 1, 0};

static const pl_class *const all_classes[] = {
    &pl_class_instance,   &pl_class_datamodel, &pl_class_workspace, &pl_class_folder,
    &pl_class_actor,      &pl_class_luasource, &pl_class_script,    &pl_class_modulescript,
    &pl_class_runservice, &pl_class_bindable,
};

static void destroy(pl_shared *obj);
const pl_shared_type pl_instance_type = {"Instance", "parlua.Instance", destroy, NULL};

const pl_class *pl_class_find(const char *name)
{
    for (size_t i = 0; i < sizeof all_classes / sizeof *all_classes; i++)
        if (strcmp(all_classes[i]->name, name) == 0) return all_classes[i];
    return NULL;
}

static char *dup_bytes(const char *s, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy) return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

pl_instance *pl_instance_new(const pl_class *cls, void *owner, pl_graveyard *g)
{
    pl_instance *inst = calloc(1, sizeof *inst);
    if (!inst) return NULL;
    inst->name =
        dup_bytes(cls->name, strlen(cls->name)); /* a new Instance is named after its class */
    if (!inst->name) {
        free(inst);
        return NULL;
    }
    if (cls->data_size && !(inst->data = calloc(1, cls->data_size))) {
        free(inst->name);
        free(inst);
        return NULL;
    }
    pl_shared_init(&inst->base, &pl_instance_type);
    atomic_init(&inst->local_refs, 0);
    inst->cls = cls;
    inst->owner = owner;
    inst->graveyard = g;
    return inst;
}

void pl_graveyard_init(pl_graveyard *g)
{
    atomic_init(&g->head, NULL);
}

static void free_instance(pl_instance *inst);

void pl_graveyard_drain(pl_graveyard *g)
{
    pl_instance *inst;
    /* acquire: pairs with the release in destroy, so the pusher's last
     * accesses to the instance happen before we free it */
    while ((inst = atomic_exchange_explicit(&g->head, NULL, memory_order_acquire))) {
        while (inst) {
            pl_instance *next = inst->next_dead;
            free_instance(inst); /* may push its children: the outer loop takes them */
            inst = next;
        }
    }
}

static void destroy(pl_shared *obj)
{
    pl_instance *inst = (pl_instance *)obj;
    pl_graveyard *g = inst->graveyard;
    if (!g) {
        free_instance(inst);
        return;
    }
    pl_instance *head = atomic_load_explicit(&g->head, memory_order_relaxed);
    do {
        inst->next_dead = head;
    } while (!atomic_compare_exchange_weak_explicit(&g->head, &head, inst, memory_order_release,
                                                    memory_order_relaxed));
}

static void free_instance(pl_instance *inst)
{
    for (pl_instance *c = inst->first_child, *next; c; c = next) {
        next = c->next_sibling; /* before the release, which may free c */
        c->parent = NULL;
        c->prev_sibling = c->next_sibling = NULL;
        pl_shared_release(&c->base);
    }
    if (inst->vm && inst->free_vm) inst->free_vm(inst->vm);
    /* acquire: pairs with the publishing CAS (src/lib/signal.c) */
    pl_instance_ext *ext = atomic_load_explicit(&inst->ext, memory_order_acquire);
    if (ext) ext->ops->free(ext);
    free(inst->name);
    free(inst->data);
    free(inst->source);
    free(inst->path);
    free(inst);
}

int pl_instance_isa(const pl_instance *inst, const char *class_name)
{
    for (const pl_class *c = inst->cls; c; c = c->base)
        if (strcmp(c->name, class_name) == 0) return 1;
    return 0;
}

int pl_instance_set_name(pl_instance *inst, const char *name, size_t len)
{
    char *copy = dup_bytes(name, len);
    if (!copy) return -1;
    free(inst->name);
    inst->name = copy;
    return 0;
}

int pl_instance_is(const pl_instance *inst, const pl_class *cls)
{
    for (const pl_class *c = inst->cls; c; c = c->base)
        if (c == cls) return 1;
    return 0;
}

static const pl_instance *root_of(const pl_instance *inst)
{
    while (inst->parent)
        inst = inst->parent;
    return inst;
}

int pl_instance_in_game(const pl_instance *inst)
{
    return root_of(inst)->is_root;
}

static void report_scripts(pl_instance *inst, const pl_instance *root)
{
    if (inst->cls == &pl_class_script && !inst->started && root->on_script_added)
        root->on_script_added(root->on_script_added_ud, inst);
    /* the callback never changes the tree, so indices stay valid */
    for (pl_instance *c = inst->first_child; c; c = c->next_sibling)
        report_scripts(c, root);
}

static void detach(pl_instance *inst)
{
    pl_instance *p = inst->parent;
    if (inst->prev_sibling)
        inst->prev_sibling->next_sibling = inst->next_sibling;
    else
        p->first_child = inst->next_sibling;
    if (inst->next_sibling)
        inst->next_sibling->prev_sibling = inst->prev_sibling;
    else
        p->last_child = inst->prev_sibling;
    p->nchildren--;
    inst->prev_sibling = inst->next_sibling = NULL;
    inst->parent = NULL;
}

/* Levels below inst (0 for a leaf); bounded by PL_INSTANCE_MAX_DEPTH. */
static size_t height(const pl_instance *inst)
{
    size_t h = 0;
    for (const pl_instance *child = inst->first_child; child; child = child->next_sibling) {
        size_t c = 1 + height(child);
        if (c > h) h = c;
    }
    return h;
}

int pl_instance_set_parent(pl_instance *inst, pl_instance *parent)
{
    if (inst->parent_locked) return PL_ELOCKED;
    if (parent == inst->parent) return PL_OK;
    size_t depth = 0; /* of parent */
    for (const pl_instance *a = parent; a; a = a->parent, depth++)
        if (a == inst) return PL_ECYCLE;
    if (parent && depth + 1 + height(inst) > PL_INSTANCE_MAX_DEPTH) return PL_ETOODEEP;
    /* The old parent's reference moves to the new parent (or is dropped). */
    int had_parent = inst->parent != NULL;
    if (had_parent) detach(inst);
    if (parent) {
        if (!had_parent) pl_shared_retain(&inst->base);
        inst->prev_sibling = parent->last_child;
        inst->next_sibling = NULL;
        if (parent->last_child)
            parent->last_child->next_sibling = inst;
        else
            parent->first_child = inst;
        parent->last_child = inst;
        parent->nchildren++;
        inst->parent = parent;
        const pl_instance *root = root_of(parent);
        if (root->is_root) report_scripts(inst, root);
    } else if (had_parent) {
        pl_shared_release(&inst->base);
    }
    return PL_OK;
}

pl_instance *pl_instance_find_child(const pl_instance *inst, const char *name, int recursive)
{
    for (pl_instance *c = inst->first_child; c; c = c->next_sibling)
        if (strcmp(c->name, name) == 0) return c;
    if (recursive) {
        for (pl_instance *c = inst->first_child; c; c = c->next_sibling) {
            pl_instance *found = pl_instance_find_child(c, name, 1);
            if (found) return found;
        }
    }
    return NULL;
}

pl_instance *pl_instance_actor_of(const pl_instance *inst)
{
    for (pl_instance *a = inst->parent; a; a = a->parent)
        if (a->cls == &pl_class_actor) return a;
    return NULL;
}

pl_instance *pl_instance_clone(const pl_instance *inst, void *owner)
{
    pl_instance *copy = pl_instance_new(inst->cls, owner, inst->graveyard);
    if (!copy) return NULL;
    if (pl_instance_set_name(copy, inst->name, strlen(inst->name)) != 0) goto fail;
    if (inst->source && !(copy->source = dup_bytes(inst->source, inst->source_len))) goto fail;
    copy->source_len = inst->source_len;
    if (inst->path && !(copy->path = dup_bytes(inst->path, strlen(inst->path)))) goto fail;
    copy->disabled = inst->disabled;
    if (inst->data) memcpy(copy->data, inst->data, inst->cls->data_size);
    pl_instance_ext *ext = atomic_load_explicit(&((pl_instance *)inst)->ext, memory_order_acquire);
    if (ext && ext->ops->copy(inst, copy) != 0) goto fail; /* attributes */
    for (const pl_instance *c = inst->first_child; c; c = c->next_sibling) {
        pl_instance *child = pl_instance_clone(c, owner);
        if (!child) goto fail;
        int rc = pl_instance_set_parent(child, copy); /* copy is not in game: starts nothing */
        pl_shared_release(&child->base);
        if (rc != PL_OK) goto fail;
    }
    return copy;
fail:
    pl_shared_release(&copy->base);
    return NULL;
}

size_t pl_instance_full_name_to(const pl_instance *inst, char *buf, size_t cap)
{
    /* Names from inst up to (not including) the root, joined by dots. */
    size_t len = 0;
    const pl_instance *top = inst;
    for (const pl_instance *a = inst; a && (!a->is_root || a == inst); a = a->parent) {
        len += strlen(a->name) + 1; /* the name and a dot (or the final NUL) */
        top = a;
    }
    if (len > cap) return len - 1;
    size_t end = len - 1;
    buf[end] = '\0';
    for (const pl_instance *a = inst;; a = a->parent) {
        size_t n = strlen(a->name);
        end -= n;
        memcpy(buf + end, a->name, n);
        if (a == top) break;
        buf[--end] = '.';
    }
    return len - 1;
}

char *pl_instance_full_name(const pl_instance *inst)
{
    size_t len = pl_instance_full_name_to(inst, NULL, 0) + 1;
    char *out = malloc(len);
    if (out) pl_instance_full_name_to(inst, out, len);
    return out;
}
