-- Actors and permissions (docs/permissions.md): an Actor's VM gets the set
-- of the VM that creates it (spawn included), or exactly what
-- Instance.new's `allow` option lists, which may only narrow (widening
-- raises at creation, nothing made); nothing widens it afterwards; a clone
-- has no more than its original and its maker; a Script made by a narrower
-- VM cannot start in a wider one; a message handler runs with the
-- receiver's rights, whatever the sender could do.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local P = require("perm")
local U = require("util")
local T = P.fixture()
local DATA, SECRET = T .. "/data", T .. "/secret.txt"

-- Source for a restricted actor: no require (it may not read tests/lua/lib).
local HEAD = string.format([[
local T, DATA, SECRET = %q, %q, %q
local function denied(msg, f, ...)
    local ok, err = pcall(f, ...)
    assert(not ok, "expected a denial: " .. msg)
    err = tostring(err):gsub("^[^:]*:%%d+: ", "")
    assert(err == msg, string.format("\nerror    %%q\nexpected %%q", err, msg))
end
local function signal(name)
    local f = Instance.new("Folder")
    f.Name = name
    f.Parent = workspace
end
]], T, DATA, SECRET)

local function actor(name, source, opts, parent)
    local a = Instance.new("Actor", nil, opts)
    a.Name = name
    local s = Instance.new("Script")
    s.Name = name .. "Script"
    s.Source = "local HEAD = " .. string.format("%q", HEAD) .. "\n" .. HEAD .. source
    s.Parent = a
    if parent ~= false then a.Parent = parent or workspace end
    return a, s
end

local ok, err = pcall(function()
    -- bad allow tables: clear errors, and no Actor made
    local function bad(msg, opts, class)
        U.raises(msg, Instance.new, class or "Actor", nil, opts)
    end
    local KNOWN = "(known: read, write, run, env, spawn, native, debug, exit)"
    bad("Instance.new: allow.foo is not a permission " .. KNOWN, { allow = { foo = true } })
    bad("Instance.new: allow.run must be a boolean, got string", { allow = { run = "yes" } })
    bad("Instance.new: allow.read must be true, a path or a list of paths, got number", { allow = { read = 5 } })
    bad("Instance.new: allow.read[1] must be a path (a string), got number", { allow = { read = { 5 } } })
    bad("Instance.new: allow must be a table of permissions (e.g. {read = {\"/data\"}}), got number", { allow = 5 })
    bad("Instance.new: options need an allow table", {})
    bad("Instance.new: options (argument 3) are for an Actor only, not for Folder", { allow = {} }, "Folder")

    -- A: narrowed by allow
    actor("Reader", [[
local p = parlua.permissions()
assert(#p.read == 1 and p.read[1] == DATA and p.write == false and not p.spawn and not p.run
       and not p.env and not p.native and not p.debug and not p.exit)
assert(io.open(DATA .. "/f.txt"):read("a") == "data")
denied("permission denied: read " .. SECRET .. " (allowed: read under " .. DATA .. ")", io.open, SECRET)
denied("permission denied: read " .. SECRET .. " (allowed: read under " .. DATA .. ")", io.open, DATA .. "/link")
denied("permission denied: env HOME (env not granted)", os.getenv, "HOME")
denied("permission denied: spawn Actor (spawn not granted)", Instance.new, "Actor")
assert(debug == nil and package.loaded.debug == nil)
-- a handler runs with this actor's rights, whatever the sender may do
script:GetActor():BindToMessage("try", function(open, getenv, st, ld, lf)
    denied("permission denied: native binary chunk (native not granted)", ld, string.dump(function() end))
    denied("permission denied: read " .. SECRET .. " (allowed: read under " .. DATA .. ")", lf, SECRET)
    denied("permission denied: read " .. SECRET .. " (allowed: read under " .. DATA .. ")", open, SECRET)
    denied("permission denied: env HOME (env not granted)", getenv)
    assert(st.note == "data only")
    denied("permission denied: read " .. SECRET .. " (allowed: read under " .. DATA .. ")", io.open, SECRET)
    signal("ReaderHandled")
end)
signal("ReaderDone")
]], { allow = { read = DATA } })

    -- B: no allow: the creator's set, spawn included, so actors make actors
    actor("Plain", [[
local p = parlua.permissions()
assert(p.read == true and p.write == true and p.spawn and p.run and p.native and p.debug and p.exit)
local inner = Instance.new("Actor")
inner.Name = "Inner"
local s = Instance.new("Script")
s.Source = HEAD .. "local p = parlua.permissions() assert(p.spawn and p.read == true) signal('InnerDone')"
s.Parent = inner
inner.Parent = script:GetActor()
signal("PlainDone")
]])

    -- C: allow only narrows, also from an actor; a child without allow gets
    -- its creator's set; allow = {} grants nothing
    actor("Narrow", [==[
local WIDER = "; allow can only narrow permissions"
local HAS = "(it may read only under " .. DATA .. ")"
denied("Instance.new: allow grants read under " .. T .. ", which this VM does not have " .. HAS .. WIDER,
       Instance.new, "Actor", nil, { allow = { read = { T } } })
denied("Instance.new: allow grants read under " .. SECRET .. ", which this VM does not have " .. HAS .. WIDER,
       Instance.new, "Actor", nil, { allow = { read = DATA .. "/../secret.txt" } })
denied("Instance.new: allow grants read under " .. SECRET .. ", which this VM does not have " .. HAS .. WIDER,
       Instance.new, "Actor", nil, { allow = { read = DATA .. "/link" } })
denied("Instance.new: allow grants read everywhere, which this VM does not have " .. HAS .. WIDER,
       Instance.new, "Actor", nil, { allow = { read = true } })
denied("Instance.new: allow grants run, which this VM does not have (it lacks it)" .. WIDER,
       Instance.new, "Actor", nil, { allow = { run = true } })
denied("Instance.new: allow grants write under " .. DATA .. ", which this VM does not have (it has no write permission)" .. WIDER,
       Instance.new, "Actor", nil, { allow = { write = { DATA } } })
local sub = Instance.new("Actor", nil, { allow = { read = { DATA .. "/sub" }, debug = false } })
local none = Instance.new("Actor", nil, { allow = {} })
local same = Instance.new("Actor")
local function run_in(a, name, code)
    a.Name = name
    local s = Instance.new("Script")
    s.Source = HEAD .. code
    s.Parent = a
    a.Parent = script:GetActor()
end
run_in(sub, "Sub", [[
local p = parlua.permissions()
assert(p.read[1] == DATA .. "/sub" and #p.read == 1 and not p.spawn)
denied("permission denied: read " .. DATA .. "/f.txt (allowed: read under " .. DATA .. "/sub)", io.open, DATA .. "/f.txt")
signal("SubDone")
]])
run_in(none, "None", [[
local p = parlua.permissions()
assert(p.read == false and p.write == false and not p.spawn and not p.run and not p.exit)
signal("NoneDone")
]])
run_in(same, "Same", [[
local p = parlua.permissions()
assert(p.read[1] == DATA and p.spawn and not p.run)
signal("SameDone")
]])
-- a Script this actor makes may not start in a VM with more rights
local evil = Instance.new("Script")
evil.Name = "Evil"
evil.Source = "signal_evil = true local f = Instance.new('Folder') f.Name = 'EvilRan' f.Parent = workspace"
denied("permission denied: spawn Script Evil (it would run in the main VM, which has permissions this VM lacks)",
       function() evil.Parent = workspace end)
assert(evil.Parent == nil)
local box = Instance.new("Folder")
evil.Parent = box
denied("permission denied: spawn Script Evil (it would run in actor Workspace.Plain, which has permissions this VM lacks)",
       function() box.Parent = workspace.Plain end)
-- its own actor, or a narrower one, is fine
local mine = Instance.new("Script")
mine.Source = HEAD .. "signal('MineRan')"
mine.Parent = script:GetActor()
-- a clone of a wider actor has no more than this VM
local wide = workspace.Plain:Clone()
wide.Name = "WideClone"
for _, d in ipairs(wide:GetDescendants()) do if d:IsA("Script") then d:Destroy() end end
local s = Instance.new("Script")
s.Source = HEAD .. "local p = parlua.permissions() assert(p.read[1] == DATA and not p.run and p.spawn) signal('WideCloneDone')"
s.Parent = wide
wide.Parent = script:GetActor()
-- the same out of the game: a Script waiting in a wider actor is not ours to
-- write, and ours may not go there
script:GetActor():BindToMessage("holder", function(holder)
    local waiting = holder:FindFirstChild("Waiting")
    local NO = "permission denied: spawn Script Waiting (it would run in actor Holder, which has permissions this VM lacks)"
    denied(NO, function() waiting.Source = "print('injected')" end)
    denied(NO, function() waiting.Path = DATA .. "/inside.lua" end)
    local mine2 = Instance.new("Script")
    mine2.Name = "Waiting"
    mine2.Source = "print('injected')"
    denied(NO, function() mine2.Parent = holder end)
    local f = Instance.new("Folder") -- a folder of ours: its Script goes where it is put
    mine2.Parent = f
    denied(NO, function() f.Parent = holder end)
    signal("HolderChecked")
end)
signal("NarrowDone")
]==], { allow = { read = { DATA }, spawn = true } })

    for _, name in ipairs({ "ReaderDone", "PlainDone", "InnerDone", "NarrowDone", "SubDone", "NoneDone",
        "SameDone", "MineRan", "WideCloneDone" }) do
        U.wait_signal(name, 20)
    end
    assert(workspace:FindFirstChild("EvilRan") == nil and not signal_evil, "the injected Script never ran")
    local holder = Instance.new("Actor")
    holder.Name = "Holder"
    local waiting = Instance.new("Script")
    waiting.Name = "Waiting"
    waiting.Source = "signal_waiting = 'original'"
    waiting.Parent = holder
    workspace.Narrow:SendMessage("holder", holder)
    U.wait_signal("HolderChecked", 20)
    assert(waiting.Source == "signal_waiting = 'original'" and #holder:GetChildren() == 1)

    -- nothing widens an actor after creation
    local reader = workspace.Reader
    U.raises_with("Permissions is not a valid member of Actor", function() reader.Permissions = { read = true } end)
    U.raises_with("allow is not a valid member of Actor", function() reader.allow = { read = true } end)
    -- main may do everything, the handler in Reader may not: it runs with
    -- Reader's rights (the closures' upvalues become Reader's functions)
    local open, getenv, ld, lf = io.open, os.getenv, load, loadfile
    local st = SharedTable.new({ note = "data only" })
    U.raises_with("cannot store a value of type 'function' in a SharedTable", function() st.f = io.open end)
    reader:SendMessage("try", function(p) return open(p) end, function() return getenv("HOME") end, st,
        function(s) return ld(s) end, function(p) return lf(p) end)
    U.wait_signal("ReaderHandled", 20)

    -- a clone of a narrowed actor stays narrowed, even made by main
    local template = actor("Template", [[
local p = parlua.permissions()
assert(p.read[1] == DATA and not p.run and not p.spawn)
signal("TemplateRan")
]], { allow = { read = { DATA } } }, false)
    local copy = template:Clone()
    copy.Name = "Copy"
    copy.Parent = workspace
    U.wait_signal("TemplateRan", 20)
end)
P.cleanup()
assert(ok, err)
print("OK")
