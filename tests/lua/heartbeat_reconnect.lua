-- Heartbeat connections that all leave and come back (the VM keeps its
-- Heartbeat lists at fixed slots, engine/connection.c): in an actor, in
-- both phases, two handlers connect, both disconnect (the list is empty),
-- new ones connect and run every frame in the right phase; a Script that
-- stops (Enabled = false) loses its Heartbeat handlers while another
-- Script's keep running; the main VM the same in the serial phase.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local results = SharedTable.new({ par = 0, ser = 0, stopped = 0, kept = 0, main = 0 })

local actor = U.actor("Beater", [[
    local RunService = game:GetService("RunService")
    local results = SharedTableRegistry:GetSharedTable("heartbeat_reconnect")
    local function cycle(method, key, phase)
        local a = RunService.Heartbeat[method](RunService.Heartbeat, function() end)
        local b = RunService.Heartbeat[method](RunService.Heartbeat, function() end)
        a:Disconnect()
        b:Disconnect()
        local c
        c = RunService.Heartbeat[method](RunService.Heartbeat, function()
            assert(parlua.phase() == phase, method .. " handler phase: " .. parlua.phase())
            SharedTable.increment(results, key, 1)
            if results[key] == 3 then c:Disconnect() end
        end)
    end
    cycle("ConnectParallel", "par", "parallel")
    cycle("Connect", "ser", "serial")
]])
SharedTableRegistry:SetSharedTable("heartbeat_reconnect", results)

local function script_in(parent, source)
    local s = Instance.new("Script")
    s.Source = source
    s.Parent = parent
    return s
end
local counting = [[
    local results = SharedTableRegistry:GetSharedTable("heartbeat_reconnect")
    game:GetService("RunService").Heartbeat:ConnectParallel(function()
        SharedTable.increment(results, "%s", 1)
    end)
]]
local stopping = script_in(actor, counting:format("stopped"))
script_in(actor, counting:format("kept"))

local RunService = game:GetService("RunService")
local m1 = RunService.Heartbeat:Connect(function() end)
m1:Disconnect()
local main
main = RunService.Heartbeat:Connect(function()
    results.main = results.main + 1
    if results.main == 3 then main:Disconnect() end
end)

while results.kept < 3 do task.wait() end
stopping.Enabled = false
local at_stop = results.stopped
while results.par < 3 or results.ser < 3 or results.main < 3 or results.kept < at_stop + 5 do
    task.wait()
end
task.wait()
task.wait()
assert(results.par == 3 and results.ser == 3 and results.main == 3,
    string.format("handlers ran after Disconnect: %d %d %d", results.par, results.ser, results.main))
assert(results.stopped <= at_stop + 1, "a stopped Script's Heartbeat handler kept running")
actor:Destroy()
print("OK")
