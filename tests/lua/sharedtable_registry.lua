-- SharedTableRegistry (SPEC 4): GetSharedTable(name) makes the table on
-- first use and returns the same one after, in every VM (an actor meets the
-- main script's table by name and sees its writes, and the other way
-- round); SetSharedTable(name, st) replaces it, SetSharedTable(name, nil)
-- removes it (the next Get makes a new one). Misuse raises.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local cfg = SharedTableRegistry:GetSharedTable("config")
assert(tostring(cfg):match("^SharedTable: ") and SharedTable.size(cfg) == 0)
assert(SharedTableRegistry:GetSharedTable("config") == cfg)
cfg.speed = 10

local mine = SharedTable.new({ owner = "main" })
SharedTableRegistry:SetSharedTable("mine", mine)
assert(SharedTableRegistry:GetSharedTable("mine") == mine)
SharedTableRegistry:SetSharedTable("mine", SharedTable.new({ owner = "replaced" }))
assert(SharedTableRegistry:GetSharedTable("mine").owner == "replaced")
SharedTableRegistry:SetSharedTable("gone", SharedTable.new({ x = 1 }))
SharedTableRegistry:SetSharedTable("gone", nil)
assert(SharedTable.size(SharedTableRegistry:GetSharedTable("gone")) == 0, "Get after removal makes a new one")
SharedTableRegistry:SetSharedTable("never-set", nil) -- removing a missing name is fine

U.raises("call it as SharedTableRegistry:GetSharedTable(name, ...)",
    function() SharedTableRegistry.GetSharedTable("config") end)
U.raises_with("bad argument #1 to 'GetSharedTable' (string expected, got no value)",
    function() SharedTableRegistry:GetSharedTable() end)
U.raises_with("bad argument #2 to 'SetSharedTable' (SharedTable expected, got table)",
    function() SharedTableRegistry:SetSharedTable("x", {}) end)

U.actor("Reader", [[
    local cfg = SharedTableRegistry:GetSharedTable("config")
    assert(cfg.speed == 10, "the actor does not see the main script's table")
    assert(SharedTableRegistry:GetSharedTable("mine").owner == "replaced")
    task.desynchronize() -- also from the parallel phase
    local same = SharedTableRegistry:GetSharedTable("config")
    assert(same == cfg, "one proxy per table in a VM")
    SharedTable.increment(cfg, "speed", 5)
    SharedTableRegistry:GetSharedTable("from-actor").made = true
    task.synchronize()
    U.signal("reader_done")
]])
U.wait_signal("reader_done")
assert(cfg.speed == 15, "the main script does not see the actor's write")
assert(SharedTableRegistry:GetSharedTable("from-actor").made == true)
print("OK")
