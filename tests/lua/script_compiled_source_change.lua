-- Compiled scripts (docs/design.md, "Compiled scripts") are found by their
-- whole text: a Script whose Source changed runs the new code (restarted,
-- cloned, in the main VM or an actor, a text of the same length that
-- differs in one byte), the old text still runs the old code, and a text
-- that does not compile is never kept: each load gives the compiler's own
-- message, the same every time and the same as load() gives, naming the
-- script that has it.
-- expect-no-stderr
local function stats()
    return parlua.stats().compiled_scripts
end

-- a Script of the main VM (no Actor above it) shares the main globals
local s = Instance.new("Script")
s.Name = "Changing"
s.Source = "seen = 'a'"
s.Parent = workspace
task.wait()
assert(seen == "a", "first Source did not run: " .. tostring(seen))

s.Enabled = false
s.Source = "seen = 'b'" -- same length, one byte apart
local before = stats()
s.Enabled = true -- starts it again, from the top
task.wait()
assert(seen == "b", "changed Source did not run: " .. tostring(seen))
assert(stats().compiled == before.compiled + 1, "the changed text was not compiled")

local old = Instance.new("Script")
old.Source = "seen = 'a'"
before = stats()
old.Parent = workspace
task.wait()
assert(seen == "a", "the old text did not run its own code: " .. tostring(seen))
assert(stats().loaded == before.loaded + 1, "the old text was compiled again")

local clone = s:Clone()
clone.Source = "seen = 'c'"
clone.Parent = workspace
task.wait()
assert(seen == "c", "a clone's changed Source did not run: " .. tostring(seen))
assert(s.Source == "seen = 'b'")

-- actors: each runs the text its Script has when it starts
local function actor_run(text)
    local a = Instance.new("Actor")
    local sc = Instance.new("Script")
    sc.Source = text
    sc.Parent = a
    a.Parent = workspace
    task.wait()
    return sc:GetAttribute("ran")
end
assert(actor_run("script:SetAttribute('ran', 1)") == 1)
assert(actor_run("script:SetAttribute('ran', 2)") == 2)
assert(actor_run("script:SetAttribute('ran', 1)") == 1)

-- a text that does not compile: the same message on every load, as a
-- compile gives it; nothing kept
local broken = "local x = (1 +\nreturn x"
local m = Instance.new("ModuleScript")
m.Name = "Broken"
m.Source = broken
m.Parent = workspace
local _, want = load(broken, "=" .. m:GetFullName())
assert(want:find("^Workspace%.Broken:2: "), want)
before = stats()
for _ = 1, 3 do
    local ok, err = pcall(require, m)
    assert(not ok and err == "require: " .. want, "unexpected: " .. tostring(err))
end
local after = stats()
assert(after.compiled == before.compiled + 3 and after.loaded == before.loaded,
    "a text that did not compile was kept")
assert(after.kept == before.kept)

-- another script with that text names itself
local m2 = Instance.new("ModuleScript")
m2.Name = "AlsoBroken"
m2.Source = broken
m2.Parent = workspace
local _, err2 = pcall(require, m2)
assert(err2 == "require: " .. want:gsub("Workspace%.Broken", "Workspace.AlsoBroken"), err2)

-- fixed, it runs
m.Source = "return 42"
assert(require(m) == 42)

-- a precompiled chunk as Source is refused, every time, with one message
local bin = Instance.new("ModuleScript")
bin.Name = "Bin"
bin.Source = string.dump(function() return 1 end)
bin.Parent = workspace
local _, e1 = pcall(require, bin)
local _, e2 = pcall(require, bin)
assert(e1 == e2 and e1:find("precompiled (binary) chunk", 1, true), e1)
print("OK")
