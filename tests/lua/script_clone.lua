-- The Roblox pattern of SPEC 2.2, with the main script itself:
--   local actor = Instance.new("Actor")
--   script:Clone().Parent = actor   -- not running yet: actor is not in game
--   actor.Parent = workspace        -- now the clone starts, in actor's own VM
-- This file runs twice: as the main script, and as its clone in an actor.
package.path = (script.Path:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local actor = script:GetActor()
if actor then
    -- the clone, in its actor's VM
    assert(actor.Name == "CloneHost", "clone runs under " .. actor.Name)
    assert(script.Parent == actor and script.ClassName == "Script")
    assert(script.Name == "script_clone", "the clone keeps the name: " .. script.Name)
    assert(main_ran == nil, "the clone runs in the main VM (main's global is visible)")
    assert(arg == nil, "the clone sees the main VM's arg")
    -- only a script in the actor's own VM may bind, so this proves the VM
    actor:BindToMessage("ping", function() end)
    task.desynchronize() -- and it is an actor: may go parallel
    task.synchronize()
    U.signal("clone_ran")
    return
end

main_ran = true
local host = Instance.new("Actor")
host.Name = "CloneHost"
local copy = script:Clone()
assert(copy ~= script and copy.ClassName == "Script" and copy.Path == script.Path)
assert(copy.Parent == nil)
copy.Parent = host
-- not in game: must not start, however many frames pass
for _ = 1, 3 do task.wait() end
assert(not workspace:FindFirstChild("clone_ran"), "the clone ran before its actor joined game")
host.Parent = workspace
U.wait_signal("clone_ran")
print("OK")
