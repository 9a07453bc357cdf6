-- A Script under nested Actors (Outer > Folder > Inner > Folder > Script)
-- runs in the closest Actor's VM (SPEC 2.2): GetActor() is Inner, it may
-- bind to Inner's messages but not to Outer's, and it does not share
-- globals with a script in Outer.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local outer = Instance.new("Actor")
outer.Name = "Outer"
local mid = Instance.new("Folder", outer)
local inner = Instance.new("Actor", mid)
inner.Name = "Inner"
local deep = Instance.new("Folder", inner)

local s_inner = Instance.new("Script")
s_inner.Source = U.prelude() .. [[
    local inner = script:GetActor()
    assert(inner.Name == "Inner", "GetActor(): " .. tostring(inner))
    local outer = inner.Parent.Parent
    assert(outer.Name == "Outer" and outer:IsA("Actor"))
    assert(outer_global == nil, "sees a global of Outer's VM")
    inner_global = "inner"
    inner:BindToMessage("t", function() end) -- allowed: this is Inner's VM
    U.raises_with("only a script running in actor", function()
        outer:BindToMessage("t", function() end)
    end)
    task.desynchronize() -- an actor's VM
    task.synchronize()
    U.signal("inner_done")
]]
s_inner.Parent = deep

local s_outer = Instance.new("Script")
s_outer.Source = U.prelude() .. [[
    local outer = script:GetActor()
    assert(outer.Name == "Outer")
    outer_global = "outer"
    outer:BindToMessage("t", function() end)
    U.wait_signal("inner_done")
    assert(inner_global == nil, "sees a global of Inner's VM")
    U.signal("outer_done")
]]
s_outer.Parent = outer

outer.Parent = workspace -- both scripts start now
U.wait_signal("outer_done")
assert(outer_global == nil and inner_global == nil, "an actor's global leaked into main")
print("OK")
