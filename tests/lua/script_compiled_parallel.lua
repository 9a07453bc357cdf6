-- options: --workers 2
-- Compiled scripts (docs/design.md, "Compiled scripts") from several
-- threads at once: actors on two workers require ModuleScripts in the
-- parallel phase (one text shared by all, one text each), so the cache is
-- looked up and filled by both workers together (the ThreadSanitizer build
-- checks it). Each actor gets its own module's code, and the shared text
-- is compiled at most once per worker.
-- expect-no-stderr
local ACTORS = 16
local stamp = " -- " .. os.time() -- texts this process has not compiled yet

local shared = Instance.new("ModuleScript")
shared.Name = "Shared"
shared.Source = "return { n = 7 }" .. stamp
shared.Parent = workspace
for i = 1, ACTORS do
    local own = Instance.new("ModuleScript")
    own.Name = "Own" .. i
    own.Source = "return " .. i .. stamp
    own.Parent = workspace
end

local before = parlua.stats().compiled_scripts
for i = 1, ACTORS do
    local a = Instance.new("Actor")
    a.Name = "User" .. i
    local s = Instance.new("Script")
    s.Source = [[
        local i = tonumber(script.Parent.Name:match("%d+"))
        task.desynchronize()
        local n = require(workspace.Shared).n
        local own = require(workspace["Own" .. i])
        task.synchronize()
        script:SetAttribute("got", n * 100 + own)
    ]]
    s.Parent = a
    a.Parent = workspace
end

local deadline = os.clock() + 30
for i = 1, ACTORS do
    local s = workspace["User" .. i].Script
    while s:GetAttribute("got") == nil do
        assert(os.clock() < deadline, "User" .. i .. " never finished")
        task.wait()
    end
    assert(s:GetAttribute("got") == 700 + i, "User" .. i .. " got " .. s:GetAttribute("got"))
end
local after = parlua.stats().compiled_scripts
local compiled, loaded = after.compiled - before.compiled, after.loaded - before.loaded
-- the script text: 1 compile, 15 loads; Shared: 1 or 2 compiles (one per
-- worker that missed at the same time), the rest loads; each Own: 1 compile
assert(compiled + loaded == 3 * ACTORS, compiled .. " compiled, " .. loaded .. " loaded")
assert(compiled >= 2 + ACTORS and compiled <= 3 + ACTORS, compiled .. " compiled")
print("OK")
