-- Module state is per VM (SPEC 1.1): a real file module (lib/counter_module.lua,
-- found through package.path) required in the main VM and in two actors.
-- Each VM loads it once (require again returns the same table), starts from
-- a fresh state, and never sees the state another VM set.
package.path = (arg[0]:match("^(.*)/") or ".") .. "/lib/?.lua;" .. package.path
local U = require("util")

local M = require("counter_module")
assert(M == require("counter_module"), "require in the same VM returned another table")
assert(M.loads == 1 and M.count == 0)
for _ = 1, 5 do M.inc() end
M.owner = "main"

local actor_source = [[
    local M = require("counter_module")
    assert(M == require("counter_module"), "second require returned another table")
    assert(package.loaded.counter_module == M)
    -- fresh state: neither main's 5 increments nor the other actor's
    assert(M.loads == 1, "module loaded " .. tostring(M.loads) .. " times in this VM")
    assert(M.count == 0, "count leaked into this actor: " .. M.count)
    assert(M.owner == nil, "owner leaked into this actor: " .. tostring(M.owner))
    M.owner = script:GetActor().Name
    local n = tonumber(script:GetActor().Name:match("%d+"))
    for _ = 1, n * 10 do M.inc() end
    task.desynchronize() -- require works in the parallel phase too, same table
    assert(require("counter_module") == M)
    task.wait(0.02)      -- let the other actor run meanwhile
    task.synchronize()
    assert(M.count == n * 10, "count changed by someone else: " .. M.count)
    assert(M.owner == script:GetActor().Name, "owner changed by someone else: " .. tostring(M.owner))
    U.signal("done" .. n)
]]
U.actor("Actor1", actor_source)
U.actor("Actor2", actor_source)

U.wait_signal("done1")
U.wait_signal("done2")
assert(M.count == 5, "main's count changed: " .. M.count)
assert(M.owner == "main", "main's owner changed: " .. tostring(M.owner))
assert(require("counter_module") == M and M.loads == 1)
print("OK")
