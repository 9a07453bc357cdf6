-- Used by script.pty: an actor counting Heartbeats into a SharedTable.
local counts = SharedTable.new({ n = 0 })
SharedTableRegistry:SetSharedTable("counts", counts)
local actor = Instance.new("Actor")
local s = Instance.new("Script")
s.Source = [[
local t = SharedTableRegistry:GetSharedTable("counts")
game:GetService("RunService").Heartbeat:ConnectParallel(function()
    SharedTable.increment(t, "n", 1)
end)
]]
s.Parent = actor
actor.Name = "Counter"
actor.Parent = workspace
print("script ran with", ...)
