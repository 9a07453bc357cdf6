/*
 * Instances in Lua: the Instance proxy's metatable, member lookup with
 * thread-safety levels enforced in the parallel phase, the
 * built-in members of Instance, DataModel and Script, Instance.new, and the
 * globals game and workspace.
 *
 * Members are looked up in the runtime's member map (members.c), shared by
 * every VM; a VM keeps only the closures of the methods it read. An
 * unknown name falls back to a child of that name, as in Roblox
 * (workspace.Baseplate).
 */
#include <lauxlib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/connection.h"
#include "engine/proxy.h"
#include "engine/runtime.h"
#include "engine/sched.h"
#include "lib/instance.h"
#include "lib/lib.h"
#include "lib/signal.h"

const char *pl_level_name(pl_level level)
{
    switch (level) {
    case PL_UNSAFE:
        return "Unsafe";
    case PL_READ_PARALLEL:
        return "ReadParallel";
    case PL_LOCAL_SAFE:
        return "LocalSafe";
    default:
        return "Safe";
    }
}

void pl_instance_push(lua_State *L, pl_instance *inst)
{
    if (inst)
        pl_proxy_push(L, &inst->base);
    else
        lua_pushnil(L);
}

pl_instance *pl_instance_check(lua_State *L, int idx)
{
    pl_shared *obj = pl_proxy_test(L, idx, &pl_instance_type);
    if (!obj) luaL_typeerror(L, idx, "Instance");
    return (pl_instance *)obj;
}

/* The instance at idx if its metatable is mt (the address of the Instance
 * metatable, which the caller anchors: a pointer compare, no registry
 * lookup), else raises. A proxy checked before is taken from the VM's
 * entries (engine/proxy.h: no metatable read). With pop unset a metatable
 * read may be left on the stack (a caller that returns its top value
 * need not pay for the pop). */
static inline pl_instance *check_mt(lua_State *L, int idx, const void *mt, int pop)
{
    pl_vm *vm = pl_vm_of(L);
    pl_instance **slot = lua_touserdata(L, idx);
    pl_shared *seen = pl_proxy_seen_get(vm, slot, mt);
    if (seen) return (pl_instance *)seen;
    /* the metatable first: only then is the userdata known to hold a slot
     * (two tables are one when their addresses are: cheaper than rawequal) */
    int ok = lua_type(L, idx) == LUA_TUSERDATA && lua_getmetatable(L, idx);
    if (ok) {
        ok = lua_topointer(L, -1) == mt;
        if (pop) lua_pop(L, 1);
    }
    if (!ok || !*slot) luaL_typeerror(L, idx, "Instance");
    pl_proxy_seen_put(vm, slot, &(*slot)->base, mt);
    return *slot;
}

/* The same, against the metatable at mt_idx (an upvalue of the caller). */
static pl_instance *check_fast(lua_State *L, int idx, int mt_idx)
{
    return check_mt(L, idx, lua_topointer(L, mt_idx), 1);
}

pl_instance *pl_instance_self(lua_State *L)
{
    return *(pl_instance **)lua_touserdata(L, 1);
}

pl_instance *pl_instance_check_class(lua_State *L, int idx, const pl_class *cls)
{
    pl_instance *inst = pl_instance_check(L, idx);
    if (!pl_instance_is(inst, cls))
        luaL_error(L, "expected %s, got %s \"%s\"", cls->name, inst->cls->name, inst->name);
    return inst;
}

/* ---- safety levels ---- */

/* An lthread runs beside both phases, even while the serial phase changes
 * the tree: of an Instance it may use only the members flagged
 * PL_MEMBER_LTHREAD (SendMessage), and compare and pass Instances (SPEC 7). */
static void check_lthread(lua_State *L, const pl_vm *vm, const char *cls, const char *member)
{
    if (pl_vm_is_lthread(vm))
        luaL_error(L,
                   "%s.%s cannot be used from an lthread (an lthread runs beside the frames "
                   "and may only use SendMessage of an Instance): send a message to an actor "
                   "instead",
                   cls, member);
}

/* check_level's work once the VM is an lthread or in the parallel phase. */
static void check_level_slow(lua_State *L, pl_vm *vm, const pl_instance *inst,
                             const pl_class *owner_cls, const pl_member *m, int write)
{
    if (!(m->flags & PL_MEMBER_LTHREAD)) check_lthread(L, vm, owner_cls->name, m->name);
    if (vm->phase != PL_PARALLEL || m->level == PL_SAFE) return;
    int own = inst->owner == pl_vm_token(vm);
    if (m->call) {
        if (m->level == PL_LOCAL_SAFE && own) return;
        luaL_error(
            L, "Function %s.%s is not safe to call in parallel%s (call task.synchronize() first)",
            owner_cls->name, m->name,
            m->level == PL_LOCAL_SAFE ? " on an instance another actor created" : "");
    }
    if (!write && m->level != PL_UNSAFE) return;
    if (write && m->level == PL_LOCAL_SAFE && own) return;
    luaL_error(
        L, "Property %s.%s is %s: it cannot be %s in parallel%s (call task.synchronize() first)",
        owner_cls->name, m->name, pl_level_name(m->level), write ? "written" : "read",
        m->level == PL_LOCAL_SAFE ? " by an actor that did not create the instance" : "");
}

/* Raises if the running code may not use member m of inst in this way now.
 * Only the parallel phase restricts anything, and lthreads (check_lthread):
 * in a serial phase nothing more than two compares. */
static inline void check_level(lua_State *L, const pl_instance *inst, const pl_class *owner_cls,
                               const pl_member *m, int write)
{
    pl_vm *vm = pl_vm_of(L);
    if (vm->phase == PL_PARALLEL || pl_vm_is_lthread(vm))
        check_level_slow(L, vm, inst, owner_cls, m, write);
}

/* ---- member lookup ---- */

/* __index's upvalues: the Instance metatable, this VM's methods (a
 * table: each method's closure by its pl_member, made on the first read),
 * its method cache (below; both made on the first method read, so a VM
 * that reads none does not pay for them), then the cache's entries: for
 * entry i, its key string (anchored) and its method. __newindex has the
 * metatable. Members are found in the runtime's member map (members.c),
 * which the VM shares with every other: a VM builds nothing per class. */
#define UV_INSTANCE_MT lua_upvalueindex(1)
#define UV_METHODS lua_upvalueindex(2)
#define UV_MCACHE lua_upvalueindex(3)
#define UV_MCACHE_KEY(i) lua_upvalueindex(4 + 2 * (int)(i))
#define UV_MCACHE_FN(i) lua_upvalueindex(5 + 2 * (int)(i))

/* The methods __index found last, by (class, key): `actor:SendMessage(...)`
 * in a loop finds its method by two pointer compares instead of hashing
 * the name. A full userdata holding the (class, key) pairs; entry i's key
 * string is anchored in upvalue UV_MCACHE_KEY(i) (so the address in `key`
 * cannot be reused by another string while cached: the same address is
 * the same string) and its method is upvalue UV_MCACHE_FN(i) (an upvalue
 * is pushed for less than a user value). Methods only: their level is
 * checked when called (method_trampoline); properties are checked on
 * every read. Never emptied: what (class, key) finds in the member map
 * never changes (a host class registered later adds that class's members
 * only). */
#define MCACHE_SLOTS 4
#define INDEX_UPVALUES (3 + 2 * MCACHE_SLOTS)
typedef struct mcache {
    struct {
        const pl_class *cls;
        const void *key; /* the key string object's address (lua_topointer) */
    } e[MCACHE_SLOTS];
    const void *mt; /* the Instance metatable's address (UV_INSTANCE_MT) */
} mcache;

static unsigned mcache_slot(const pl_class *cls, const void *key)
{
    return (unsigned)(((uintptr_t)key >> 4) ^ ((uintptr_t)cls >> 4)) & (MCACHE_SLOTS - 1);
}

/* What a method's closure knows: its only upvalue, a full userdata whose
 * user value anchors the metatable mt points to. One upvalue read instead
 * of three (member, class, metatable) on every call. */
typedef struct tramp {
    const pl_member *m;
    const pl_class *cls; /* the class that defines m */
    const void *mt;      /* the Instance metatable's address */
} tramp;

static int method_trampoline(lua_State *L)
{
    const tramp *t = lua_touserdata(L, lua_upvalueindex(1));
    const pl_member *m = t->m;
    const pl_class *cls = t->cls;
    pl_instance *inst = check_mt(L, 1, t->mt, 1);
    /* its own class first: one compare for the usual call */
    if (inst->cls != cls && !pl_instance_is(inst, cls))
        return luaL_error(L, "%s is not a valid member of %s \"%s\"", m->name, inst->cls->name,
                          inst->name);
    check_level(L, inst, cls, m, 0);
    return m->call(L);
}

/* Pushes this VM's closure of method m of class owner: made on its first
 * read and kept (UV_METHODS), so every read of a method gives the same
 * function. */
static void push_method(lua_State *L, const pl_member *m, const pl_class *owner)
{
    if (lua_type(L, UV_METHODS) != LUA_TTABLE) {
        lua_createtable(L, 0, 4); /* room for a few: not rehashed at each */
        lua_replace(L, UV_METHODS);
    } else if (lua_rawgetp(L, UV_METHODS, m) == LUA_TFUNCTION) {
        return;
    } else {
        lua_pop(L, 1);
    }
    tramp *t = lua_newuserdatauv(L, sizeof *t, 1);
    t->m = m;
    t->cls = owner;
    t->mt = lua_topointer(L, UV_INSTANCE_MT);
    lua_pushvalue(L, UV_INSTANCE_MT);
    lua_setiuservalue(L, -2, 1);
    lua_pushcclosure(L, method_trampoline, 1);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, UV_METHODS, m);
}

/* inst's member named key (len bytes), and in *owner the class that
 * defines it; NULL when it has none. */
static const pl_member *find_member(lua_State *L, const pl_instance *inst, const char *key,
                                    size_t len, const pl_class **owner)
{
    return pl_member_find(pl_vm_of(L)->runtime->member_map, inst->cls, key, len, owner);
}

static int not_a_member(lua_State *L, const pl_instance *inst, const char *key)
{
    return luaL_error(L, "%s is not a valid member of %s \"%s\"", key, inst->cls->name, inst->name);
}

static int inst_index(lua_State *L)
{
    /* a metatable read may be left on the stack: every path returns its
     * top value */
    mcache *mc = lua_touserdata(L, UV_MCACHE);
    pl_instance *inst = mc ? check_mt(L, 1, mc->mt, 0) : check_fast(L, 1, UV_INSTANCE_MT);
    /* the key's identity (its string object's address) finds a cached
     * method: no length, no conversion */
    const void *id = lua_topointer(L, 2);
    unsigned slot = mcache_slot(inst->cls, id);
    if (mc && mc->e[slot].key == id && mc->e[slot].cls == inst->cls) {
        lua_pushvalue(L, UV_MCACHE_FN(slot));
        return 1;
    }
    size_t len;
    const char *key = lua_tolstring(L, 2, &len);
    if (!key) key = luaL_checklstring(L, 2, &len); /* raises */
    const pl_class *owner;
    const pl_member *m = find_member(L, inst, key, len, &owner);
    if (!m) { /* a child of that name (workspace.Baseplate) */
        check_lthread(L, pl_vm_of(L), "Instance", key);
        pl_instance *child = pl_instance_find_child(inst, key, 0);
        if (!child) return not_a_member(L, inst, key);
        pl_instance_push(L, child);
        return 1;
    }
    if (!m->call) { /* a property */
        check_level(L, inst, owner, m, 0);
        lua_settop(L, 2);
        return m->get(L);
    }
    push_method(L, m, owner);
    if (!mc) { /* made on the first method read */
        mc = lua_newuserdatauv(L, sizeof *mc, 0);
        memset(mc, 0, sizeof *mc);
        mc->mt = lua_topointer(L, UV_INSTANCE_MT); /* anchored by the upvalue */
        lua_replace(L, UV_MCACHE);
    }
    /* the key is a string (a number key was converted in place, and is a
     * new string object: its address is anchored all the same) */
    id = lua_topointer(L, 2);
    slot = mcache_slot(inst->cls, id);
    mc->e[slot].cls = inst->cls;
    mc->e[slot].key = id;
    lua_pushvalue(L, 2);
    lua_replace(L, UV_MCACHE_KEY(slot));
    lua_pushvalue(L, -1);
    lua_replace(L, UV_MCACHE_FN(slot));
    return 1;
}

static int inst_newindex(lua_State *L)
{
    pl_instance *inst = check_fast(L, 1, UV_INSTANCE_MT);
    size_t len;
    const char *key = luaL_checklstring(L, 2, &len);
    const pl_class *owner;
    const pl_member *m = find_member(L, inst, key, len, &owner);
    if (!m || m->call) {
        check_lthread(L, pl_vm_of(L), "Instance", key);
        return not_a_member(L, inst, key);
    }
    if (!m->set) return luaL_error(L, "Unable to assign property %s. Property is read only", key);
    check_level(L, inst, owner, m, 1);
    lua_settop(L, 3);
    lua_remove(L, 2); /* setters see (instance, value) */
    return m->set(L);
}

static int inst_tostring(lua_State *L)
{
    pl_instance *inst = pl_instance_check(L, 1);
    check_lthread(L, pl_vm_of(L), "Instance", "Name (tostring)");
    lua_pushstring(L, inst->name);
    return 1;
}

/* ---- Instance members ---- */

/* Raises unless the value at 2 (being assigned to property prop) has type
 * `type`: "Property Folder.Name must be a string, got table". */
static void check_value(lua_State *L, const pl_instance *inst, const char *prop, int type)
{
    int t = lua_type(L, 2);
    if (t == type || (type == LUA_TSTRING && t == LUA_TNUMBER)) return;
    luaL_error(L, "Property %s.%s must be a %s, got %s", inst->cls->name, prop,
               lua_typename(L, type), luaL_typename(L, 2));
}

static int get_name(lua_State *L)
{
    lua_pushstring(L, pl_instance_self(L)->name);
    return 1;
}

static int set_name(lua_State *L)
{
    pl_instance *inst = pl_instance_self(L);
    check_value(L, inst, "Name", LUA_TSTRING);
    size_t len;
    const char *name = lua_tolstring(L, 2, &len);
    if (pl_instance_set_name(inst, name, len) != 0) return luaL_error(L, "not enough memory");
    if (inst->parent) pl_signal_children_changed(inst->parent); /* WaitForChild */
    return 0;
}

static int get_classname(lua_State *L)
{
    lua_pushstring(L, pl_instance_self(L)->cls->name);
    return 1;
}

static int get_parent(lua_State *L)
{
    pl_instance_push(L, pl_instance_self(L)->parent);
    return 1;
}

/* After inst moved from old to its parent: ChildRemoved, ChildAdded,
 * WaitForChild. The instances stay alive meanwhile: the caller's proxies
 * hold inst and the new parent; old is held here. */
static void moved(lua_State *L, pl_instance *inst, pl_instance *old)
{
    pl_instance *now = inst->parent;
    if (now) pl_signal_children_changed(now);
    if (old && pl_signal_connected(old, PL_SIG_CHILD_REMOVED)) {
        pl_instance_push(L, inst);
        pl_signal_fire(L, old, PL_SIG_CHILD_REMOVED, NULL, 0, -1, 1);
        lua_pop(L, 1);
    }
    if (now && pl_signal_connected(now, PL_SIG_CHILD_ADDED)) {
        pl_instance_push(L, inst);
        pl_signal_fire(L, now, PL_SIG_CHILD_ADDED, NULL, 0, -1, 1);
        lua_pop(L, 1);
    }
}

static int set_parent(lua_State *L)
{
    pl_instance *inst = pl_instance_self(L);
    pl_instance *parent = NULL;
    if (!lua_isnil(L, 2)) {
        pl_shared *obj = pl_proxy_test(L, 2, &pl_instance_type);
        if (!obj)
            return luaL_error(L, "Property %s.Parent must be an Instance or nil, got %s",
                              inst->cls->name, luaL_typename(L, 2));
        parent = (pl_instance *)obj;
    }
    pl_sandbox_check_parent(L, inst, parent); /* permissions: before anything changes */
    pl_instance *old = inst->parent;
    if (old) pl_instance_push(L, old); /* holds it while its signals fire */
    switch (pl_instance_set_parent(inst, parent)) {
    case PL_OK:
        if (old != parent) moved(L, inst, old);
        return 0;
    case PL_ECYCLE:
        return luaL_error(L, "Attempt to set parent of %s to %s would result in circular reference",
                          inst->name, parent->name);
    case PL_ELOCKED:
        return luaL_error(L, "The Parent property of %s is locked: %s", inst->name,
                          inst->parent_locked == PL_LOCKED_SERVICE ? "it is a service"
                                                                   : "it was destroyed");
    case PL_ENOMEM:
        return luaL_error(L, "not enough memory");
    case PL_ETOODEEP:
        return luaL_error(L,
                          "Cannot set the parent of %s: a path in the instance tree would "
                          "hold more than %d instances",
                          inst->name, PL_INSTANCE_MAX_DEPTH);
    }
    return 0;
}

static int m_get_children(lua_State *L)
{
    pl_instance *inst = pl_instance_self(L);
    lua_createtable(L, (int)inst->nchildren, 0);
    lua_Integer i = 0;
    for (pl_instance *c = inst->first_child; c; c = c->next_sibling) {
        pl_instance_push(L, c);
        lua_rawseti(L, -2, ++i);
    }
    return 1;
}

static void add_descendants(lua_State *L, const pl_instance *inst, lua_Integer *n)
{
    for (const pl_instance *c = inst->first_child; c; c = c->next_sibling) {
        pl_instance_push(L, (pl_instance *)c);
        lua_rawseti(L, -2, ++*n);
        add_descendants(L, c, n);
    }
}

static int m_get_descendants(lua_State *L)
{
    pl_instance *inst = pl_instance_self(L);
    lua_Integer n = 0;
    lua_newtable(L);
    add_descendants(L, inst, &n);
    return 1;
}

static int m_find_first_child(lua_State *L)
{
    pl_instance *inst = pl_instance_self(L);
    const char *name = luaL_checkstring(L, 2);
    pl_instance_push(L, pl_instance_find_child(inst, name, lua_toboolean(L, 3)));
    return 1;
}

static int m_isa(lua_State *L)
{
    lua_pushboolean(L, pl_instance_isa(pl_instance_self(L), luaL_checkstring(L, 2)));
    return 1;
}

static int m_get_actor(lua_State *L)
{
    pl_instance *inst = pl_instance_self(L);
    pl_instance_push(L, inst->cls == &pl_class_actor ? inst : pl_instance_actor_of(inst));
    return 1;
}

static int m_get_full_name(lua_State *L)
{
    char *name = pl_instance_full_name(pl_instance_self(L));
    if (!name) return luaL_error(L, "not enough memory");
    lua_pushstring(L, name);
    free(name);
    return 1;
}

/* Gives every Actor in a freshly cloned tree its own VM, with what both
 * the cloning VM (mine) and the Actor it copies (from, walked in step)
 * allow: a clone never has more rights than its original or its maker. */
static int attach_vms(pl_runtime *rt, pl_instance *inst, const pl_instance *from,
                      const pl_perms *mine)
{
    if (inst->cls == &pl_class_actor && !inst->vm) {
        pl_vm *vm = pl_actor_vm_new(rt, inst);
        if (!vm) return -1;
        const pl_vm *orig = from->vm; /* the Actor copied: its VM, if it still has one */
        if (orig ? pl_perms_intersect(&orig->perms, mine, &vm->perms) != PL_OK
                 : pl_perms_copy(&vm->perms, mine) != PL_OK)
            return -1;
    }
    const pl_instance *f = from->first_child;
    for (pl_instance *c = inst->first_child; c && f; c = c->next_sibling, f = f->next_sibling)
        if (attach_vms(rt, c, f, mine) != 0) return -1;
    return 0;
}

/* 1 if inst's subtree holds an Actor. */
static int has_actor(const pl_instance *inst)
{
    if (inst->cls == &pl_class_actor) return 1;
    for (const pl_instance *c = inst->first_child; c; c = c->next_sibling)
        if (has_actor(c)) return 1;
    return 0;
}

static int m_clone(lua_State *L)
{
    pl_instance *inst = pl_instance_self(L);
    pl_vm *vm = pl_vm_of(L);
    if (has_actor(inst)) pl_perms_check(L, PL_PERM_SPAWN, "Actor");
    pl_instance *copy = pl_instance_clone(inst, pl_vm_token(vm));
    if (copy && attach_vms(vm->runtime, copy, inst, &vm->perms) != 0) {
        pl_shared_release(&copy->base);
        copy = NULL;
    }
    if (!copy) return luaL_error(L, "not enough memory");
    pl_instance_push(L, copy); /* the proxy takes its own reference */
    pl_shared_release(&copy->base);
    return 1;
}

/* The first service (game, Workspace, RunService) in inst's subtree, or
 * NULL: those stay for the runtime's life, so destroying them is refused. */
static const pl_instance *find_service(const pl_instance *inst)
{
    if (inst->parent_locked == PL_LOCKED_SERVICE) return inst;
    for (const pl_instance *c = inst->first_child; c; c = c->next_sibling) {
        const pl_instance *s = find_service(c);
        if (s) return s;
    }
    return NULL;
}

/* The VMs whose Scripts a Destroy stopped, to stop their threads after
 * the walk (no Lua, no allocation during it): a few distinct ones, or
 * "all" past that. */
typedef struct stop_set {
    pl_vm *vms[16];
    int n, all;
} stop_set;

static void stop_set_add(stop_set *set, pl_vm *vm)
{
    for (int i = 0; i < set->n; i++)
        if (set->vms[i] == vm) return;
    if (set->n < (int)(sizeof set->vms / sizeof *set->vms))
        set->vms[set->n++] = vm;
    else
        set->all = 1;
}

/* Detaches and locks the subtree, children first; disconnects its
 * signals; stops its Scripts (their threads never resume: run_gen) and
 * each Actor's VM. Nothing in it is a service (checked before), so every
 * detach succeeds. */
static void destroy_tree(lua_State *L, pl_runtime *rt, pl_instance *inst, stop_set *set)
{
    while (inst->last_child)
        destroy_tree(L, rt, inst->last_child, set);
    if (inst->cls == &pl_class_script) {
        pl_instance *actor = pl_instance_actor_of(inst); /* before detaching */
        pl_vm *vm = actor ? actor->vm : &rt->main;
        inst->run_gen++;
        if (vm && inst->started) stop_set_add(set, vm);
    }
    pl_instance *parent = inst->parent;
    if (parent) PL_CANNOT_FAIL(pl_instance_set_parent(inst, NULL)); /* not locked */
    if (parent) pl_signal_children_changed(parent);
    inst->parent_locked = PL_LOCKED_DESTROYED;
    pl_signal_disconnect_all(L, inst);
    if (inst->cls == &pl_class_actor && inst->vm) pl_vm_kill(inst->vm);
}

/* Fires Destroying on inst and its descendants (before anything changes:
 * the handlers run afterwards, deferred, as every signal's do). */
static void fire_destroying(lua_State *L, pl_instance *inst)
{
    if (pl_signal_connected(inst, PL_SIG_DESTROYING))
        pl_signal_fire(L, inst, PL_SIG_DESTROYING, NULL, 0, lua_gettop(L), 0);
    for (pl_instance *c = inst->first_child; c; c = c->next_sibling)
        fire_destroying(L, c);
}

static int drop_stopped(lua_State *L)
{
    return pl_conn_drop_stopped(L);
}

/* Stops what the Scripts that stopped left in vm: queued, timed and parked
 * threads, and connections and message bindings (their waiting messages
 * are then dropped with the binding, as for a Disconnect). Serial phase. */
static void stop_vm(pl_vm *vm)
{
    if (pl_vm_dead(vm) || !vm->L) return;
    pl_vm_stop_stale(vm);
    if (!lua_checkstack(vm->L, 2)) return;
    lua_pushcfunction(vm->L, drop_stopped);
    if (lua_pcall(vm->L, 0, 0, 0) != LUA_OK) { /* out of memory: they stop when they fire */
        pl_report_error(vm, vm->L, "stopping a script's connections failed");
        lua_pop(vm->L, 1);
    }
}

void pl_instance_stop_scripts(pl_runtime *rt, pl_vm **vms, int n, int all)
{
    if (!all) {
        for (int i = 0; i < n; i++)
            stop_vm(vms[i]);
        return;
    }
    /* Every VM: a snapshot of the list, taken under its lock (stop_vm runs
     * Lua, never under a lock). VMs are freed only between frames, so
     * each stays valid meanwhile. */
    uv_mutex_lock(&rt->vms_lock);
    size_t count = 0;
    for (pl_vm *vm = rt->all_vms; vm; vm = vm->all_next)
        count++;
    pl_vm **list = malloc(count * sizeof *list);
    count = 0;
    for (pl_vm *vm = rt->all_vms; list && vm; vm = vm->all_next)
        list[count++] = vm;
    uv_mutex_unlock(&rt->vms_lock);
    if (!list) { /* out of memory: the threads stop when they would resume */
        stop_vm(&rt->main);
        return;
    }
    for (size_t i = 0; i < count; i++)
        stop_vm(list[i]);
    free(list);
}

static int m_destroy(lua_State *L)
{
    pl_instance *inst = pl_instance_self(L);
    const pl_instance *service = find_service(inst);
    if (service) {
        if (service == inst)
            return luaL_error(L,
                              "Cannot destroy %s: it is a service (game, Workspace and "
                              "RunService last as long as the runtime)",
                              inst->name);
        return luaL_error(L,
                          "Cannot destroy %s: it holds the service %s (game, Workspace and "
                          "RunService last as long as the runtime); destroy its other "
                          "children instead",
                          inst->name, service->name);
    }
    if (inst->parent_locked == PL_LOCKED_DESTROYED) return 0; /* again: nothing to do */
    fire_destroying(L, inst);
    pl_instance *parent = inst->parent;
    if (parent && pl_signal_connected(parent, PL_SIG_CHILD_REMOVED)) {
        lua_settop(L, 1);
        pl_signal_fire(L, parent, PL_SIG_CHILD_REMOVED, NULL, 0, 1, 1);
    }
    pl_runtime *rt = pl_vm_of(L)->runtime;
    stop_set set = {{NULL}, 0, 0};
    destroy_tree(L, rt, inst, &set);
    pl_instance_stop_scripts(rt, set.vms, set.n, set.all);
    return 0;
}

const pl_member pl_instance_members[] = {
    {"Name", PL_READ_PARALLEL, get_name, set_name, NULL, 0, "the name (a string)"},
    {"ClassName", PL_READ_PARALLEL, get_classname, NULL, NULL, 0, "the class's name (read-only)"},
    {"Parent", PL_READ_PARALLEL, get_parent, set_parent, NULL, 0,
     "the parent Instance, or nil; setting it moves the instance"},
    {"GetChildren", PL_SAFE, NULL, NULL, m_get_children, 0,
     "the children, in the order they were parented"},
    {"GetDescendants", PL_SAFE, NULL, NULL, m_get_descendants, 0, "every descendant, depth first"},
    {"FindFirstChild", PL_SAFE, NULL, NULL, m_find_first_child, 0,
     "`(name [, recursive])`: the first child named `name`, or nil; with `recursive`, looks at "
     "the children first, then into each child's subtree in order"},
    {"IsA", PL_SAFE, NULL, NULL, m_isa, 0,
     "`(className)`: whether the class is or derives from it"},
    {"GetActor", PL_SAFE, NULL, NULL, m_get_actor, 0,
     "the Actor itself, or the closest Actor ancestor, or nil"},
    {"GetFullName", PL_SAFE, NULL, NULL, m_get_full_name, 0,
     "the dotted path from below `game` (`\"Workspace.Folder.Part\"`; `game` itself: `\"game\"`)"},
    {"Clone", PL_UNSAFE, NULL, NULL, m_clone, 0,
     "a copy of the instance and its descendants, attributes included, with no parent"},
    {"Destroy", PL_UNSAFE, NULL, NULL, m_destroy, 0,
     "fires Destroying, disconnects every connection of the subtree, stops its scripts and "
     "locks Parent at nil"},
    {NULL, 0, NULL, NULL, NULL, 0, NULL},
};

/* ---- Script members ---- */

static int get_source(lua_State *L)
{
    pl_instance *inst = pl_instance_self(L);
    lua_pushlstring(L, inst->source ? inst->source : "", inst->source_len);
    return 1;
}

/* Replaces a malloc'd string field with a copy of the Lua string at 2. */
static void set_string_field(lua_State *L, char **field, size_t *len_out)
{
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    char *copy = malloc(len + 1);
    if (!copy) luaL_error(L, "not enough memory");
    memcpy(copy, s, len + 1);
    free(*field);
    *field = copy;
    if (len_out) *len_out = len;
}

static int set_source(lua_State *L)
{
    pl_instance *inst = pl_instance_self(L);
    check_value(L, inst, "Source", LUA_TSTRING);
    pl_sandbox_check_script_write(L, inst); /* permissions */
    set_string_field(L, &inst->source, &inst->source_len);
    return 0;
}

static int get_path(lua_State *L)
{
    pl_instance *inst = pl_instance_self(L);
    if (inst->path)
        lua_pushstring(L, inst->path);
    else
        lua_pushnil(L);
    return 1;
}

static int set_path(lua_State *L)
{
    pl_instance *inst = pl_instance_self(L);
    check_value(L, inst, "Path", LUA_TSTRING);
    pl_sandbox_check_script_write(L, inst); /* permissions */
    set_string_field(L, &inst->path, NULL);
    return 0;
}

const pl_member pl_script_members[] = {
    {"Source", PL_READ_PARALLEL, get_source, set_source, NULL, 0, "the Lua source text"},
    {"Path", PL_READ_PARALLEL, get_path, set_path, NULL, 0,
     "a Lua file to run instead of Source (relative to the working directory)"},
    {NULL, 0, NULL, NULL, NULL, 0, NULL},
};

/* ---- DataModel members ---- */

static int m_get_service(lua_State *L)
{
    pl_runtime *rt = pl_vm_of(L)->runtime;
    const char *name = luaL_checkstring(L, 2);
    if (strcmp(name, "RunService") == 0)
        pl_instance_push(L, rt->runservice);
    else if (strcmp(name, "Workspace") == 0)
        pl_instance_push(L, rt->workspace);
    else
        return luaL_error(
            L, "'%s' is not a valid Service name (parlua has RunService and Workspace)", name);
    return 1;
}

const pl_member pl_datamodel_members[] = {
    {"GetService", PL_SAFE, NULL, NULL, m_get_service, 0,
     "`(name)`: the service `\"RunService\"` or `\"Workspace\"`"},
    {NULL, 0, NULL, NULL, NULL, 0, NULL},
};

/* ---- Instance.new ---- */

/* Instance.new(class [, parent [, options]]): options.allow narrows a new
 * Actor's permissions (docs/permissions.md); without it the Actor's VM
 * gets the creating VM's set. */
static int instance_new(lua_State *L)
{
    const char *class_name = luaL_checkstring(L, 1);
    const pl_class *cls = pl_class_find(class_name);
    if (!cls) cls = pl_host_class_find(pl_vm_of(L)->runtime, class_name);
    if (!cls || !cls->creatable)
        return luaL_error(L, "Unable to create an Instance of type \"%s\"", class_name);
    pl_instance *parent = lua_isnoneornil(L, 2) ? NULL : pl_instance_check(L, 2);
    pl_vm *vm = pl_vm_of(L);
    pl_perms perms;
    pl_perms_none(&perms);
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        if (cls != &pl_class_actor)
            return luaL_error(L,
                              "Instance.new: options (argument 3) are for an Actor only, "
                              "not for %s",
                              cls->name);
        lua_getfield(L, 3, "allow");
        if (lua_isnil(L, -1)) return luaL_error(L, "Instance.new: options need an allow table");
    }
    if (cls == &pl_class_actor) {
        pl_perms_check(L, PL_PERM_SPAWN, "Actor");
        if (!lua_isnoneornil(L, 3))
            pl_perms_from_allow(L, -1, &vm->perms, &perms, "Instance.new"); /* raises first */
        else if (pl_perms_copy(&perms, &vm->perms) != PL_OK)
            return luaL_error(L, "not enough memory");
    }
    pl_instance *inst = pl_instance_new(cls, pl_vm_token(vm), &vm->runtime->graveyard);
    pl_vm *avm = inst && cls == &pl_class_actor ? pl_actor_vm_new(vm->runtime, inst) : NULL;
    if (!inst || (cls == &pl_class_actor && !avm)) {
        pl_perms_free(&perms);
        if (inst) pl_shared_release(&inst->base);
        return luaL_error(L, "not enough memory");
    }
    if (avm) avm->perms = perms; /* fixed from now on: no member changes it */
    pl_instance_push(L, inst);
    pl_shared_release(&inst->base); /* the proxy holds it now */
    if (parent) {
        lua_pushvalue(L, 2);
        lua_setfield(L, -2, "Parent"); /* through __newindex: the level check applies */
    }
    return 1;
}

int pl_make_instance_mt(lua_State *L)
{
    pl_proxy_newmetatable(L, &pl_instance_type);
    lua_pushvalue(L, -1);
    for (int i = 1; i < INDEX_UPVALUES; i++) /* the methods, the cache: made when needed */
        lua_pushnil(L);
    lua_pushcclosure(L, inst_index, INDEX_UPVALUES);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, inst_newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, inst_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
    return 0;
}

int pl_push_instance_lib(lua_State *L)
{
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, instance_new);
    lua_setfield(L, -2, "new");
    return 1;
}

int pl_push_game(lua_State *L)
{
    pl_instance_push(L, pl_vm_of(L)->runtime->game);
    return 1;
}

int pl_push_workspace(lua_State *L)
{
    pl_instance_push(L, pl_vm_of(L)->runtime->workspace);
    return 1;
}
