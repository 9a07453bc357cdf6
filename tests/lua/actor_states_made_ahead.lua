-- options: --workers 2
-- Actor states made ahead by an idle worker (docs/design.md, "Actor states
-- made ahead"): once actors start, new ones adopt states a worker opened
-- before. Each must still be its own: its own globals, the main VM's
-- package.path as it is when the actor starts (not when its state was
-- made), and its own permissions: an actor with fewer rights than the main
-- VM never gets a state opened with the main VM's.
local results = SharedTableRegistry:GetSharedTable("results")

local REPORT = [[
local actor = script:GetActor()
local results = SharedTableRegistry:GetSharedTable("results")
local io_ok = pcall(function() local f = io.open("/dev/null") if f then f:close() end end)
results[actor.Name] = table.concat({
    tostring(seen_before), package.path, tostring(io_ok), tostring(go ~= nil) }, "|")
seen_before = actor.Name
]]

local function start(name, opts)
    local a = Instance.new("Actor", nil, opts)
    a.Name = name
    local s = Instance.new("Script")
    s.Source = REPORT
    s.Parent = a
    a.Parent = workspace
    return a
end

-- a first batch: from the second actor on, states made ahead are there
for i = 1, 40 do start("first" .. i) end
task.wait()
for _ = 1, 3 do task.wait() end -- the worker makes more meanwhile

-- the main VM's search path changes; actors started now must see it
package.path = "/made/ahead/?.lua;" .. package.path
for i = 1, 40 do start("second" .. i) end
-- and actors with fewer rights, between them
for i = 1, 5 do start("narrow" .. i, { allow = {} }) end
task.wait()

local n = 0
for name, line in pairs(results) do
    n = n + 1
    local seen, path, io_ok, can_go = line:match("^(.-)|(.*)|(.-)|(.-)$")
    assert(seen == "nil", name .. " saw another actor's global: " .. seen)
    if name:match("^second") then
        assert(path == package.path, name .. " has an old package.path: " .. path)
    end
    if name:match("^narrow") then
        assert(io_ok == "false", name .. " could open a file without the read right")
        assert(can_go == "true", name .. ": go is a global everywhere")
    else
        assert(io_ok == "true", name .. " could not open a file: " .. line)
    end
end
assert(n == 85, "results from " .. n .. " actors, not 85")
assert(parlua.stats().memory.actor.vms == 85)
print("OK")
