-- Thread-safety levels enforced in the parallel phase (SPEC 2.3), with the
-- SPEC's own example messages: writing a ReadParallel property and calling
-- an Unsafe method raise and change nothing; reading ReadParallel
-- properties and calling Safe methods work; in the serial phase everything
-- is allowed again.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local target = Instance.new("Folder")
target.Name = "Target"
target.Parent = workspace

U.actor("Checker", [[
    local target = workspace.Target
    local me = script:GetActor()
    task.desynchronize()
    assert(parlua.phase() == "parallel")

    -- ReadParallel: read yes, write no
    assert(target.Name == "Target" and target.Parent == workspace and target.ClassName == "Folder")
    U.raises("Property Instance.Parent is ReadParallel: it cannot be written in parallel (call task.synchronize() first)",
        function() target.Parent = me end)
    U.raises_with("Property Instance.Name is ReadParallel", function() target.Name = "Renamed" end)
    assert(target.Parent == workspace and target.Name == "Target", "a refused write changed the instance")

    -- Unsafe methods
    U.raises("Function Instance.Destroy is not safe to call in parallel (call task.synchronize() first)",
        function() target:Destroy() end)
    U.raises_with("Function Instance.Clone is not safe to call in parallel", function() target:Clone() end)
    assert(target.Parent == workspace, "a refused Destroy destroyed")

    -- Safe methods
    assert(workspace:FindFirstChild("Target") == target)
    assert(#workspace:GetChildren() >= 2 and target:IsA("Folder") and target:GetFullName() == "Workspace.Target")
    assert(target:GetActor() == nil and me:GetActor() == me)

    -- serial again: all allowed
    task.synchronize()
    target.Name = "Renamed"
    local copy = target:Clone()
    assert(copy.Name == "Renamed")
    copy:Destroy()
    print("OK")
]])
