-- Only a script running in an actor's own VM may bind to its messages
-- (SPEC 3): BindToMessage and BindToMessageParallel raise in the main VM,
-- for an actor whose VM has not started, and in another actor's VM (serial
-- and parallel). In the actor itself both work.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local target = U.actor("Target", [[
    local me = script:GetActor()
    me:BindToMessage("x", function() end)
    me:BindToMessageParallel("x", function() end)
    U.signal("target_ok")
]])

-- from the main VM, before and after the target's VM exists
for _, fn in ipairs({ "BindToMessage", "BindToMessageParallel" }) do
    U.raises_with("only a script running in actor", function() target[fn](target, "x", print) end)
end
-- a fresh actor that is not in the game (its VM has no state yet)
local loose = Instance.new("Actor")
U.raises_with("only a script running in actor", function() loose:BindToMessage("x", print) end)

U.actor("Other", [[
    local target = workspace.Target
    for _, fn in ipairs({ "BindToMessage", "BindToMessageParallel" }) do
        U.raises_with("only a script running in actor", function() target[fn](target, "x", print) end)
    end
    task.desynchronize()
    U.raises_with("only a script running in actor", function()
        target:BindToMessageParallel("y", print)
    end)
    task.synchronize()
    U.signal("other_ok")
]])

U.wait_signal("target_ok")
U.wait_signal("other_ok")
-- the method called on something that is not an Actor is an error too
local bind = target.BindToMessage
U.raises_with('BindToMessage is not a valid member of Workspace', function() bind(workspace, "x", print) end)
print("OK")
